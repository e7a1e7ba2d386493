// The queue gate (gate.h): a new ticket carries its first-seen time to the microsecond, and the
// room orders the line by it, so people who arrived within one millisecond keep their order.
#include "stages/waitroom/gate.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
  client::Cidr prefix;
  prefix.address.is_v4 = true;
  prefix.address.bytes[12] = 10;
  prefix.address.bytes[14] = net;
  prefix.prefix_len = 24;
  TicketContext t{room,       c,     cfg,    1,     99,
                  prefix,     false, true,   {},    wall_ms.value_or(wall_us / 1000),
                  who.ticket, page,  fields, false, wall_us};
  const TicketAnswer a = pass(t);
  ASSERT_FALSE(a.admitted);
  ASSERT_EQ(a.kind, Answer::Kind::Waiting);
  const std::string_view set = fields.view();
  if (const auto at = set.find("gh_ticket="); at != std::string_view::npos) {
    const std::string_view rest = set.substr(at + 10);
    who.ticket = std::string(rest.substr(0, rest.find(';')));
  }
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

}  // namespace
}  // namespace gh::waitroom
