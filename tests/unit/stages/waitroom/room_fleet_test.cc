// A room in a fleet: it ranks its places among the other nodes' (fleet/fleet_room.h), admits a
// place when the fleet's bucket holds a unit for it and every place ahead, on whichever node its
// holder asks, counts each person once (news of admissions elsewhere), and caps its sessions.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "stages/waitroom/room.h"

namespace gh::waitroom {
namespace {

using Kind = Answer::Kind;
constexpr std::int64_t kSec = 1000;
constexpr std::int64_t kT0 = 10 * 3600 * kSec;

Visit visitor(std::uint8_t n, std::int64_t first_seen) {
  Visit v;
  v.id[0] = n;
  v.id[15] = 0x5A;
  v.first_seen_ms = first_seen;
  v.prefix.address.is_v4 = true;
  v.prefix.address.bytes[12] = 10;
  v.prefix.address.bytes[14] = n;
  v.prefix.prefix_len = 24;
  return v;
}

policy::WaitingRoomConfig config() {
  policy::WaitingRoomConfig c;
  c.new_users_per_minute = 60;
  c.max_active = 10;
  c.max_per_prefix = 1000;
  return c;
}

FleetShare share(std::vector<FleetPlace> others = {}, std::uint32_t live = 1) {
  FleetShare s;
  s.on = true;
  s.self = 42;
  s.max_active = 10;
  s.live = live;
  s.others = std::move(others);
  return s;
}

FleetPlace other(std::uint8_t n, std::int64_t first_seen, std::uint64_t rival = 1,
                 std::uint16_t us = 0) {
  return FleetPlace{first_seen, visitor(n, first_seen).id, rival, us};
}

// A place whose every other holder scores below this node: it is this node's to admit.
std::uint64_t losing(const TicketId& id) {
  return holder_score(id, 42) - 1;
}
std::uint64_t winning(const TicketId& id) {
  return holder_score(id, 42) + 1;
}

TEST(RoomFleet, PlacesRankAmongTheOtherNodes) {
  Room room(config());
  // Five older places on other nodes take the whole burst: a newcomer here waits sixth.
  std::vector<FleetPlace> o;
  for (std::uint8_t i = 1; i <= 5; ++i) o.push_back(other(100 + i, kT0 - 10 * kSec + i));
  room.set_fleet_share(share(o));
  EXPECT_EQ(room.preview(visitor(1, kT0), kT0).position, 6u);
  const Answer a = room.visit(visitor(1, kT0), kT0);
  EXPECT_EQ(a.kind, Kind::Waiting);
  EXPECT_EQ(a.position, 6u);
  room.tick(kT0 + kSec);
  EXPECT_EQ(room.stats().queued, 1u);  // credit for five, and five ahead
  // The first of them admitted elsewhere: one ahead less, and the bucket paid for it.
  room.admitted_elsewhere(visitor(101, 0).id, kT0 + kSec);
  EXPECT_EQ(room.stats().admitted_elsewhere_total, 1u);
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0 + kSec).position, 5u);  // 4 units: 4 ahead
  room.tick(kT0 + 2 * kSec);  // 5 units: the four ahead and this one
  EXPECT_EQ(room.stats().queued, 0u);
  EXPECT_EQ(room.stats().pending, 1u);
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0 + 2 * kSec).kind, Kind::Admitted);
}

// Five older places elsewhere, then the news of their admission empties the bucket: the places
// here are due one unit at a time, oldest first.
void drain(Room& room, std::int64_t now) {
  for (std::uint8_t i = 1; i <= 5; ++i) room.admitted_elsewhere(visitor(100 + i, 0).id, now);
}

TEST(RoomFleet, TheWinningHolderAdmitsThoseAwayTheOthersOnlyWhenAsked) {
  Room room(config());
  std::vector<TicketId> told;
  room.on_admit([&](const TicketId& id) { told.push_back(id); });
  const Visit mine = visitor(1, kT0), theirs = visitor(2, kT0 + 1);
  std::vector<FleetPlace> o;
  for (std::uint8_t i = 1; i <= 5; ++i) o.push_back(other(100 + i, kT0 - 10 * kSec + i));
  // Both people polled this node and another: this node wins the first, loses the second.
  o.push_back(other(1, kT0, losing(mine.id)));
  o.push_back(other(2, kT0 + 1, winning(theirs.id)));
  room.set_fleet_share(share(o));
  EXPECT_EQ(room.visit(mine, kT0).position, 6u);
  EXPECT_EQ(room.visit(theirs, kT0).position, 7u);
  drain(room, kT0);
  room.tick(kT0 + 2 * kSec);            // two units: both due
  EXPECT_EQ(room.stats().pending, 1u);  // only the place this node wins, admitted while away
  EXPECT_EQ(room.stats().queued, 1u);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0], mine.id);
  // The other one asks here: due, so let through on this node, and the others told.
  EXPECT_EQ(room.visit(theirs, kT0 + 2 * kSec).kind, Kind::Admitted);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[1], theirs.id);
  EXPECT_EQ(room.stats().active, 2u);
  EXPECT_EQ(room.stats().admitted_total, 2u);
}

TEST(RoomFleet, AnAdmissionElsewhereCountsThePersonOnce) {
  Room room(config());
  std::vector<FleetPlace> o;
  for (std::uint8_t i = 1; i <= 5; ++i) o.push_back(other(100 + i, kT0 - 10 * kSec + i));
  room.set_fleet_share(share(o));
  const Visit p = visitor(1, kT0), q = visitor(2, kT0 + 1), r = visitor(3, kT0 + 2);
  room.visit(p, kT0);
  room.visit(q, kT0);
  // P admitted by another node: it leaves the line here and is let through as that node's.
  room.admitted_elsewhere(p.id, kT0);
  EXPECT_EQ(room.stats().queued, 1u);
  EXPECT_EQ(room.visit(p, kT0 + 100).kind, Kind::Admitted);
  EXPECT_EQ(room.stats().active, 0u);  // counted on the node that admitted it
  EXPECT_EQ(room.stats().guests, 1u);
  EXPECT_EQ(room.visit(p, kT0 + 200).kind, Kind::Admitted);  // and stays a session here
  // News of someone this node never saw: let through when they come.
  room.admitted_elsewhere(r.id, kT0);
  EXPECT_EQ(room.visit(r, kT0 + 300).kind, Kind::Admitted);
  EXPECT_EQ(room.stats().guests, 2u);
  // An admission made here but not collected yields to one made elsewhere (and is refunded).
  // Seven admissions heard of (P, R and five more) against a bucket of five: two units in debt.
  drain(room, kT0);
  room.tick(kT0 + 2 * kSec);
  EXPECT_EQ(room.stats().pending, 0u);
  room.tick(kT0 + 3 * kSec);  // Q wins here (no rival) and is due: pending
  EXPECT_EQ(room.stats().pending, 1u);
  EXPECT_EQ(room.stats().admitted_total, 1u);
  room.admitted_elsewhere(q.id, kT0 + 3 * kSec);
  EXPECT_EQ(room.stats().pending, 0u);
  EXPECT_EQ(room.stats().active, 0u);
  EXPECT_EQ(room.stats().admitted_total, 0u);  // not an admission after all
  EXPECT_EQ(room.visit(q, kT0 + 3 * kSec).kind, Kind::Admitted);
  EXPECT_EQ(room.stats().guests, 3u);
  // Sessions elsewhere end by idleness here too.
  room.tick(kT0 + 10 * 60 * kSec);
  EXPECT_EQ(room.stats().guests, 0u);
}

TEST(RoomFleet, AnAdmittedTicketPassesInAFleetOnly) {
  Room room(config());
  std::vector<FleetPlace> o;
  for (std::uint8_t i = 1; i <= 5; ++i) o.push_back(other(100 + i, kT0 - 10 * kSec + i));
  room.set_fleet_share(share(o));
  Visit v = visitor(1, kT0);
  v.admitted = true;  // signed by the node that admitted it
  EXPECT_EQ(room.preview(v, kT0).kind, Kind::Admitted);
  EXPECT_EQ(room.visit(v, kT0).kind, Kind::Admitted);
  EXPECT_EQ(room.stats().guests, 1u);
  EXPECT_EQ(room.stats().active, 0u);
  // A place already queued here, whose holder comes back with the admitted ticket.
  Visit w = visitor(2, kT0);
  EXPECT_EQ(room.visit(w, kT0).kind, Kind::Waiting);
  w.admitted = true;
  EXPECT_EQ(room.visit(w, kT0).kind, Kind::Admitted);
  EXPECT_EQ(room.stats().queued, 0u);

  // Alone, the mark means nothing: the line decides (five calm admissions, then the line).
  Room alone(config());
  for (std::uint8_t i = 1; i <= 5; ++i)
    EXPECT_EQ(alone.visit(visitor(10 + i, kT0), kT0).kind, Kind::Admitted);
  EXPECT_EQ(alone.visit(visitor(20, kT0), kT0).kind, Kind::Waiting);
  Visit x = visitor(21, kT0);
  x.admitted = true;
  EXPECT_EQ(alone.visit(x, kT0).kind, Kind::Waiting);
}

// Three calm nodes a crowd reaches at once, faster than the news of each other's admissions:
// each bucket holds a third of the burst, so together they let in one burst, not three (at
// least two each where the burst has them: the line's head needs one and the refill goes on).
TEST(RoomFleet, TheBurstIsSplitByTheLiveNodes) {
  auto at_once = [](std::uint32_t per_minute) {
    policy::WaitingRoomConfig c = config();
    c.new_users_per_minute = per_minute;
    c.max_active = 1000;
    std::uint64_t n = 0;
    for (std::uint8_t node = 0; node < 3; ++node) {
      Room room(c);
      FleetShare s = share({}, 3);
      s.max_active = 1000;
      room.set_fleet_share(s);
      for (std::uint8_t i = 1; i <= 80; ++i) room.visit(visitor(i, kT0), kT0);
      n += room.stats().admitted_total;
    }
    return n;
  };
  EXPECT_EQ(at_once(600), 48u);  // a burst of 50: 16 each
  EXPECT_EQ(at_once(60), 6u);    // a burst of 5: 2 each
  EXPECT_EQ(at_once(6), 3u);     // a burst of 1: 1 each

  // With the news, a node pays for the others' admissions: none left for a crowd here.
  Room b(config());
  b.set_fleet_share(share({}, 3));
  b.admitted_elsewhere(visitor(100, 0).id, kT0);
  b.admitted_elsewhere(visitor(101, 0).id, kT0);
  EXPECT_EQ(b.visit(visitor(1, kT0), kT0).kind, Kind::Waiting);

  Room alone(config());
  alone.set_fleet_share(share({}, 3));
  alone.set_fleet_share(FleetShare{});
  alone.tick(kT0);
  alone.tick(kT0 + 60 * kSec);  // alone again: a calm minute refills the whole burst
  for (std::uint8_t i = 1; i <= 8; ++i) alone.visit(visitor(i, kT0 + 60 * kSec), kT0 + 60 * kSec);
  EXPECT_EQ(alone.stats().admitted_total, 5u);
}

// A place waits until every node can know of it (and of anyone older elsewhere); a newcomer to
// a fleet with nobody waiting anywhere goes in at once.
TEST(RoomFleet, APlaceSettlesBeforeItIsDue) {
  Room room(config());
  FleetShare s = share();
  s.settle_ms = 3 * kSec;
  room.set_fleet_share(s);
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0).kind, Kind::Admitted);  // calm
  EXPECT_EQ(room.visit(visitor(2, kT0), kT0).kind, Kind::Admitted);  // calm still (none queued)
  s.others = {other(9, kT0 - 60 * kSec)};  // someone waits on another node
  room.set_fleet_share(s);
  EXPECT_EQ(room.visit(visitor(3, kT0 + 10), kT0 + 10).kind, Kind::Waiting);
  room.admitted_elsewhere(visitor(9, 0).id, kT0 + 10);  // credit 5 - 2 - 1 = 2, none ahead
  room.tick(kT0 + 2 * kSec);
  EXPECT_EQ(room.stats().queued, 1u);  // credit enough, but first seen 2 s ago
  EXPECT_EQ(room.visit(visitor(3, kT0 + 10), kT0 + 2 * kSec).kind, Kind::Waiting);
  EXPECT_EQ(room.visit(visitor(3, kT0 + 10), kT0 + 3 * kSec + 10).kind, Kind::Admitted);
}

TEST(RoomFleet, TheFleetsCapHoldsTheLine) {
  Room room(config());
  FleetShare s = share();
  s.max_active = 2;  // the other nodes hold the rest of the fleet's 10
  room.set_fleet_share(s);
  for (std::uint8_t i = 1; i <= 4; ++i) room.visit(visitor(i, kT0 + i), kT0);
  EXPECT_EQ(room.stats().active, 2u);
  EXPECT_EQ(room.stats().queued, 2u);
  room.tick(kT0 + 30 * kSec);
  EXPECT_EQ(room.stats().queued, 2u);
}

TEST(RoomFleet, WithinAMillisecondTheMicrosecondsRankAcrossNodes) {
  Room room(config());
  // Five older places take the burst; another node's place at .500 of the millisecond kT0 (its
  // id sorts after ours): a place here at .200 ranks before it, one at .800 after it.
  std::vector<FleetPlace> o;
  for (std::uint8_t i = 1; i <= 5; ++i) o.push_back(other(100 + i, kT0 - 10 * kSec + i));
  o.push_back(other(200, kT0, 1, 500));
  room.set_fleet_share(share(o));
  Visit early = visitor(1, kT0);
  early.first_seen_us = 200;
  Visit late = visitor(2, kT0);
  late.first_seen_us = 800;
  EXPECT_EQ(room.visit(late, kT0 + 1).position, 7u);
  EXPECT_EQ(room.visit(early, kT0 + 1).position, 6u);
  EXPECT_EQ(room.visit(late, kT0 + 2).position, 8u);
  const std::vector<Head> heads = room.line_heads(2);
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].id, early.id);
  EXPECT_EQ(heads[0].first_seen_us, 200);
  EXPECT_EQ(heads[1].first_seen_us, 800);
}

}  // namespace
}  // namespace gh::waitroom
