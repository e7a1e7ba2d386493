// A room in a fleet: its share (fleet/fleet_room.h) holds back places first seen after the
// fleet's cut-off, paces admissions at the node's part of the rate and caps its sessions.
#include <gtest/gtest.h>

#include <cstdint>

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

TEST(RoomFleet, CutoffHoldsNewcomersAndTheLine) {
  Room room(config());
  FleetShare s;
  s.on = true;
  s.cutoff_ms = kT0 - 5 * kSec;  // older places wait on another node
  s.per_minute = 60;
  s.max_active = 10;
  room.set_fleet_share(s);
  // A calm room here, but the fleet's line is not empty: the newcomer queues.
  EXPECT_EQ(room.preview(visitor(1, kT0), kT0).kind, Kind::Waiting);
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0).kind, Kind::Waiting);
  EXPECT_EQ(room.visit(visitor(2, kT0 + kSec), kT0 + kSec).kind, Kind::Waiting);
  EXPECT_EQ(room.heads(8), (std::vector<std::int64_t>{kT0, kT0 + kSec}));
  room.tick(kT0 + 5 * kSec);
  EXPECT_EQ(room.stats().queued, 2u);  // credit enough, but not due
  s.cutoff_ms = kT0;  // the older places elsewhere were admitted: the first here is due
  room.set_fleet_share(s);
  room.tick(kT0 + 6 * kSec);
  EXPECT_EQ(room.stats().queued, 1u);
  EXPECT_EQ(room.heads(8), (std::vector<std::int64_t>{kT0 + kSec}));
  room.set_fleet_share(FleetShare{});  // alone again: the rest goes
  room.tick(kT0 + 7 * kSec);
  EXPECT_EQ(room.stats().queued, 0u);
}

TEST(RoomFleet, ShareOfRateAndCap) {
  Room room(config());
  FleetShare s;
  s.on = true;
  s.per_minute = 0;  // none of the due places are here
  s.max_active = 10;
  room.set_fleet_share(s);
  for (std::uint8_t i = 1; i <= 12; ++i) room.visit(visitor(i, kT0), kT0);  // the burst credit
  const std::uint64_t first = room.stats().admitted_total;
  EXPECT_EQ(first, 1u);  // a share of the burst is at least one, then queued
  room.tick(kT0 + 30 * kSec);
  EXPECT_EQ(room.stats().admitted_total, first);  // no refill at a share of 0
  s.per_minute = 60;
  s.max_active = 6;  // others hold 4 of the fleet's 10
  room.set_fleet_share(s);
  room.tick(kT0 + 60 * kSec);
  EXPECT_EQ(room.stats().active, 6u);  // stopped by this node's part of the cap
}

// Three calm nodes, each a third of the fleet's 60/min: together they let in at most the fleet's
// burst (5 s of the rate) when a crowd arrives at once, not three bursts; alone again, a node's
// bucket may fill to the whole burst.
TEST(RoomFleet, TheBurstIsSharedAsTheRateIs) {
  std::uint64_t at_once = 0;
  for (std::uint8_t node = 0; node < 3; ++node) {
    Room room(config());
    FleetShare s;
    s.on = true;
    s.per_minute = 20;
    s.max_active = 10;
    room.set_fleet_share(s);
    for (std::uint8_t i = 1; i <= 8; ++i) room.visit(visitor(i, kT0), kT0);
    at_once += room.stats().admitted_total;
  }
  EXPECT_LE(at_once, 5u);
  EXPECT_GE(at_once, 3u);  // at least one each

  Room alone(config());
  FleetShare s;
  s.on = true;
  s.per_minute = 20;
  s.max_active = 10;
  alone.set_fleet_share(s);
  alone.set_fleet_share(FleetShare{});
  alone.tick(kT0);
  alone.tick(kT0 + 60 * kSec);  // a calm minute refills the whole configured burst
  for (std::uint8_t i = 1; i <= 8; ++i) alone.visit(visitor(i, kT0 + 60 * kSec), kT0 + 60 * kSec);
  EXPECT_EQ(alone.stats().admitted_total, 5u);
}

}  // namespace
}  // namespace gh::waitroom
