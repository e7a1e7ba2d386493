// The fleet's one line: a node admits only its places among the fleet's next due ones (first-seen
// order across nodes), at its share of the fleet's rate, under the fleet's cap.
#include "fleet/fleet_room.h"

#include <gtest/gtest.h>

namespace gh::fleet {
namespace {

RouteFigures line(std::vector<std::int64_t> heads, std::uint64_t queued, std::uint64_t active) {
  RouteFigures r;
  r.route = "signup";
  r.room = true;
  r.heads = std::move(heads);
  r.queued = queued;
  r.active = active;
  return r;
}

TEST(FleetRoom, CalmFleetSplitsTheRateAndTheCap) {
  const RoomShare s = share_room(line({}, 0, 3), {line({}, 0, 5)}, 60, 100, 2);
  EXPECT_EQ(s.cutoff_ms, kNoCutoff);
  EXPECT_EQ(s.per_minute, 30u);
  EXPECT_EQ(s.max_active, 95u);  // the other node holds 5 of the fleet's 100
}

TEST(FleetRoom, OlderPlacesElsewhereHoldThisNodeBack) {
  // 60/min: one place due per second, two per share window. The other node's two places are older.
  const RoomShare b = share_room(line({3000, 4000}, 2, 0), {line({1000, 2000}, 2, 0)}, 60, 10, 2);
  EXPECT_EQ(b.cutoff_ms, 2000);
  EXPECT_EQ(b.per_minute, 0u);
  // ... and that node admits at the whole rate, up to its cut-off.
  const RoomShare a = share_room(line({1000, 2000}, 2, 0), {line({3000, 4000}, 2, 0)}, 60, 10, 2);
  EXPECT_EQ(a.cutoff_ms, 2000);
  EXPECT_EQ(a.per_minute, 60u);
}

TEST(FleetRoom, InterleavedLinesShareByPlaces) {
  // 120/min: four due per window; two of the first four are here.
  const RoomShare s =
      share_room(line({1000, 3000, 9000}, 3, 0), {line({2000, 4000, 5000}, 3, 0)}, 120, 10, 2);
  EXPECT_EQ(s.cutoff_ms, 4000);
  EXPECT_EQ(s.per_minute, 60u);
}

TEST(FleetRoom, TiesGoToTheOtherNode) {
  const RoomShare s = share_room(line({1000}, 1, 0), {line({1000}, 1, 0)}, 30, 10, 2);
  EXPECT_EQ(s.cutoff_ms, 1000);
  EXPECT_EQ(s.per_minute, 0u);  // one due, and the other node's place of the same time first
}

TEST(FleetRoom, CapFullElsewhere) {
  const RoomShare s = share_room(line({1000}, 1, 0), {line({}, 0, 12)}, 60, 10, 2);
  EXPECT_EQ(s.max_active, 0u);
  EXPECT_EQ(s.per_minute, 60u);
}

TEST(FleetRoom, DueIsBoundedByTheHeads) {
  std::vector<std::int64_t> heads;
  for (std::size_t i = 0; i < kMaxHeads; ++i) heads.push_back(1000 + static_cast<std::int64_t>(i));
  const RoomShare s = share_room(line(heads, 1000, 0), {line(heads, 1000, 0)}, 100'000, 10, 2);
  EXPECT_EQ(s.cutoff_ms, 1000 + static_cast<std::int64_t>(kMaxHeads / 2) - 1);
  EXPECT_EQ(s.per_minute, 50'000u);
}

}  // namespace
}  // namespace gh::fleet
