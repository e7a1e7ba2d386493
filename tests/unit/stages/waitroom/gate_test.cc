// The queue gate (gate.h): a new ticket carries its first-seen time to the microsecond, and the
// room orders the line by it, so people who arrived within one millisecond keep their order.
#include "stages/waitroom/gate.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/fields.h"

namespace gh::waitroom {
namespace {

constexpr std::int64_t kWall = 1'800'000'000'000;  // ms

challenge::TokenCodec codec() {
  std::vector<std::uint8_t> key(32, 7);
  return *challenge::TokenCodec::create(key);
}

policy::WaitingRoomConfig config() {
  policy::WaitingRoomConfig c;
  c.new_users_per_minute = 60;
  c.max_active = 0;  // no session free: everyone waits in line
  c.max_per_prefix = 1000;
  return c;
}

// 10.0.NET.0/24: the client's network.
client::Cidr prefix_of(std::uint8_t net) {
  client::Cidr prefix;
  prefix.address.is_v4 = true;
  prefix.address.bytes[12] = 10;
  prefix.address.bytes[14] = net;
  prefix.prefix_len = 24;
  return prefix;
}

// The gh_ticket cookie a response sets, empty when none.
std::string ticket_set(const http::FieldWriter& fields) {
  const std::string_view set = fields.view();
  const auto at = set.find("gh_ticket=");
  if (at == std::string_view::npos) return {};
  const std::string_view rest = set.substr(at + 10);
  return std::string(rest.substr(0, rest.find(';')));
}

struct Client {
  std::string ticket;
  std::uint32_t position = 0;
};

// One visit: the client's ticket (if any) in, the position and the (new) ticket out.
void visit(Room& room, const challenge::TokenCodec& c, const policy::WaitingRoomConfig& cfg,
           Client& who, std::uint8_t net, std::int64_t wall_us,
           std::optional<std::int64_t> wall_ms = std::nullopt) {
  std::string page;
  std::array<char, 512> buf{};
  http::FieldWriter fields(buf.data(), buf.size());
  const client::Cidr prefix = prefix_of(net);
  TicketContext t{room,       c,     cfg,    1,     99,
                  prefix,     false, true,   {},    wall_ms.value_or(wall_us / 1000),
                  who.ticket, page,  fields, false, wall_us};
  const TicketAnswer a = pass(t);
  ASSERT_FALSE(a.admitted);
  ASSERT_EQ(a.kind, Answer::Kind::Waiting);
  if (std::string fresh = ticket_set(fields); !fresh.empty()) who.ticket = std::move(fresh);
  const auto p = page.find("\"position\":");
  ASSERT_NE(p, std::string::npos);
  who.position = static_cast<std::uint32_t>(std::stoul(page.substr(p + 11)));
}

TEST(WaitroomGate, ANewTicketCarriesItsMicroseconds) {
  const challenge::TokenCodec c = codec();
  const policy::WaitingRoomConfig cfg = config();
  Room room(cfg);
  Client a;
  visit(room, c, cfg, a, 1, kWall * 1000 + 345);
  challenge::Token tok;
  ASSERT_EQ(c.decode(a.ticket, challenge::TokenKind::Ticket, kWall, 99, tok), challenge::Check::Ok);
  EXPECT_EQ(tok.issued_ms, kWall);
  EXPECT_EQ(tok.subject, 345u);
  // Without a finer clock (or one that disagrees with wall_ms) the ticket says 0.
  Client b;
  visit(room, c, cfg, b, 2, 0, kWall);
  ASSERT_EQ(c.decode(b.ticket, challenge::TokenKind::Ticket, kWall, 99, tok), challenge::Check::Ok);
  EXPECT_EQ(tok.subject, 0u);
}

TEST(WaitroomGate, ArrivalsWithinAMillisecondKeepTheirOrder) {
  const challenge::TokenCodec c = codec();
  const policy::WaitingRoomConfig cfg = config();
  // Two rooms stand for two nodes: A gets its ticket at .300 on node 1, B at .100 of the same
  // millisecond on node 2. B's place comes first on the node where both queue, whatever the
  // order their tickets come back in.
  Room n1(cfg), n2(cfg);
  Client a, b;
  visit(n1, c, cfg, a, 1, kWall * 1000 + 300);
  visit(n2, c, cfg, b, 2, kWall * 1000 + 100);
  Room both(cfg);
  visit(both, c, cfg, a, 1, (kWall + 5) * 1000);
  visit(both, c, cfg, b, 2, (kWall + 6) * 1000);
  visit(both, c, cfg, a, 1, (kWall + 7) * 1000);
  EXPECT_EQ(b.position, 1u);
  EXPECT_EQ(a.position, 2u);
}

// In a fleet whose line is in Redis, its verdict stands over this room's: a first visit told to
// wait takes no place (whatever this bucket holds), a returning ticket keeps its place here (for
// fail-static) at Redis's position, the room never admits from tick(), and a due verdict lets the
// person through with a ticket marked admitted, which is not asked about again.
TEST(WaitroomGate, TheFleetsLineDecidesWhereItAnswered) {
  const challenge::TokenCodec c = codec();
  policy::WaitingRoomConfig cfg = config();
  cfg.max_active = 1000;
  Room room(cfg);
  FleetShare share;
  share.on = true;
  share.self = 1;
  share.max_active = 1000;
  share.line = true;
  room.set_fleet_share(share);
  std::string page;
  std::array<char, 512> buf{};
  http::FieldWriter fields(buf.data(), buf.size());
  const client::Cidr prefix = prefix_of(0);
  std::string ticket;
  auto context = [&](std::int64_t wall_ms) {
    fields.len = 0;
    return TicketContext{room,   c,     cfg,    1,     99,
                         prefix, false, true,   {},    wall_ms,
                         ticket, page,  fields, false, wall_ms * 1000 + 250};
  };
  auto cookie_out = [&] { return ticket_set(fields); };

  // A first visit: asked with the ticket it will get.
  TicketContext t = context(kWall);
  challenge::Token fresh;
  const LineVisit first = line_visit(t, fresh);
  ASSERT_TRUE(first.ask);
  EXPECT_FALSE(first.ticket);
  EXPECT_TRUE(first.open);
  EXPECT_EQ(first.id, fresh.id);
  EXPECT_EQ(first.first_us, kWall * 1000 + 250);
  t.fresh = &fresh;
  t.line = LineVerdict::Wait;
  t.line_position = 7;
  TicketAnswer a = pass(t);
  EXPECT_FALSE(a.admitted) << "calm here, but not due in the fleet's line";
  EXPECT_EQ(a.kind, Answer::Kind::Waiting);
  EXPECT_NE(page.find("\"position\":7"), std::string::npos) << page;
  EXPECT_EQ(room.stats().queued, 0u) << "a first visit takes no place";
  ticket = cookie_out();
  challenge::Token tok;
  ASSERT_EQ(c.decode(ticket, challenge::TokenKind::Ticket, kWall, 99, tok), challenge::Check::Ok);
  EXPECT_EQ(tok.id, fresh.id) << "the ticket it was asked with";

  // Back with it: asked as a ticket, kept here at Redis's position.
  TicketContext t2 = context(kWall + 1000);
  const LineVisit back = line_visit(t2, fresh);
  ASSERT_TRUE(back.ask);
  EXPECT_TRUE(back.ticket);
  EXPECT_EQ(back.id, fresh.id);
  EXPECT_EQ(back.first_us, kWall * 1000 + 250);
  t2.line = LineVerdict::Wait;
  t2.line_position = 3;
  a = pass(t2);
  EXPECT_EQ(a.kind, Answer::Kind::Waiting);
  EXPECT_NE(page.find("\"position\":3"), std::string::npos) << page;
  EXPECT_EQ(room.stats().queued, 1u);
  room.tick(kWall + 10'000);
  EXPECT_EQ(room.stats().admitted_total, 0u) << "the room does not admit while Redis decides";

  // The line full: refused without a place.
  TicketContext t3 = context(kWall + 11'000);
  t3.line = LineVerdict::Wait;
  t3.line_full = true;
  EXPECT_EQ(pass(t3).kind, Answer::Kind::QueueFull);

  // Due: through, counted here, the ticket marked admitted and not asked about again.
  TicketContext t4 = context(kWall + 12'000);
  t4.line = LineVerdict::Admit;
  a = pass(t4);
  EXPECT_TRUE(a.admitted);
  EXPECT_EQ(room.stats().admitted_total, 1u);
  EXPECT_EQ(room.stats().queued, 0u);
  ticket = cookie_out();
  ASSERT_FALSE(ticket.empty());
  TicketContext t5 = context(kWall + 13'000);
  EXPECT_FALSE(line_visit(t5, fresh).ask);
  EXPECT_TRUE(pass(t5).admitted);

  // Redis away (share.line off, no verdict): the room decides alone again, as before.
  share.line = false;
  room.set_fleet_share(share);
  ticket.clear();
  TicketContext t6 = context(kWall + 14'000);
  EXPECT_TRUE(pass(t6).admitted) << "calm: this room's bucket has credit";
}

}  // namespace
}  // namespace gh::waitroom
