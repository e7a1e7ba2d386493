// The fleet's one line, as the heartbeats show it: the other nodes' places merged by ticket id
// (one person polling several nodes is one place), in first-seen order, each with the best
// score among its holders, and the part of the fleet's cap the other nodes leave.
#include "fleet/fleet_room.h"

#include <gtest/gtest.h>

#include "stages/waitroom/waitroom-t.h"

namespace gh::fleet {
namespace {

PlaceId id_of(std::uint8_t n) {
  PlaceId id{};
  id[0] = n;
  id[15] = 0x5A;
  return id;
}

RouteFigures line(std::vector<std::pair<std::int64_t, std::uint8_t>> places, std::uint64_t active) {
  RouteFigures r;
  r.route = "signup";
  r.room = true;
  for (auto [t, n] : places) {
    r.heads.push_back(t);
    r.ids.push_back(id_hex(id_of(n)));
  }
  r.queued = places.size();
  r.active = active;
  return r;
}

TEST(FleetRoom, CapIsTheFleetsMinusWhatOthersHold) {
  const RoomShare s = share_room({{1, line({}, 5)}, {2, line({}, 3)}}, 100);
  EXPECT_EQ(s.max_active, 92u);
  EXPECT_TRUE(s.others.empty());
  EXPECT_EQ(share_room({{1, line({}, 120)}}, 100).max_active, 0u);
}

TEST(FleetRoom, PlacesMergeInFirstSeenOrderOncePerId) {
  const std::uint64_t a = node_hash("a"), b = node_hash("b");
  // Person 7 polls both nodes: one place, its holders' best score the rival.
  const RoomShare s =
      share_room({{a, line({{1000, 3}, {2000, 7}}, 0)}, {b, line({{1500, 9}, {2000, 7}}, 0)}}, 10);
  ASSERT_EQ(s.others.size(), 3u);
  EXPECT_EQ(s.others[0].id, id_of(3));
  EXPECT_EQ(s.others[1].id, id_of(9));
  EXPECT_EQ(s.others[2].id, id_of(7));
  EXPECT_EQ(s.others[2].first_seen_ms, 2000);
  EXPECT_EQ(s.others[2].rival, std::max(holder_score(id_of(7), a), holder_score(id_of(7), b)));
  EXPECT_EQ(s.others[0].rival, holder_score(id_of(3), a));
}

TEST(FleetRoom, EqualTimesOrderById) {
  const RoomShare s = share_room({{1, line({{1000, 9}, {1000, 2}}, 0)}}, 10);
  ASSERT_EQ(s.others.size(), 2u);
  EXPECT_EQ(s.others[0].id, id_of(2));
}

TEST(FleetRoom, MicrosecondsOrderWithinAMillisecond) {
  // Person 9 arrived at .100 of the millisecond, person 2 at .700: 9 first, though 2's id is
  // smaller; a node of an older version (no microseconds) counts as .000, and the earliest
  // time any holder saw wins.
  RouteFigures a = line({{1000, 2}, {1000, 9}}, 0);
  a.subs = {700, 100};
  RouteFigures old = line({{1000, 5}}, 0);
  RouteFigures b = line({{1000, 2}}, 0);
  b.subs = {50};
  const RoomShare s = share_room({{1, a}, {2, old}}, 10);
  ASSERT_EQ(s.others.size(), 3u);
  EXPECT_EQ(s.others[0].id, id_of(5));
  EXPECT_EQ(s.others[1].id, id_of(9));
  EXPECT_EQ(s.others[1].first_seen_us, 100);
  EXPECT_EQ(s.others[2].id, id_of(2));
  const RoomShare t = share_room({{1, a}, {3, b}}, 10);
  ASSERT_EQ(t.others.size(), 2u);
  EXPECT_EQ(t.others[0].id, id_of(2));
  EXPECT_EQ(t.others[0].first_seen_us, 50);
}

TEST(FleetRoom, AHeartbeatWithoutIdsAddsSessionsNotPlaces) {
  RouteFigures old = line({{1000, 1}}, 4);
  old.ids.clear();  // a node of an older version
  RouteFigures bad = line({{1000, 2}}, 1);
  bad.ids[0] = std::string(32, 'Z');
  const RoomShare s = share_room({{1, old}, {2, bad}}, 10);
  EXPECT_TRUE(s.others.empty());
  EXPECT_EQ(s.max_active, 5u);
}

TEST(FleetRoom, ScoresAreTheRoomsAndNeverZero) {
  // The room scores itself with waitroom::holder_score: both must agree, or two nodes could
  // each believe it wins a place (or neither).
  for (std::uint8_t n = 0; n < 200; ++n) {
    const std::uint64_t node = node_hash("node-" + std::to_string(n));
    EXPECT_EQ(holder_score(id_of(n), node), waitroom::holder_score(id_of(n), node));
    EXPECT_NE(holder_score(id_of(n), node), 0u);
  }
  EXPECT_NE(node_hash("a"), node_hash("b"));
}

TEST(FleetRoom, IdsRoundTripAsLowercaseHex) {
  const PlaceId id = id_of(0xAB);
  EXPECT_EQ(id_hex(id), "ab00000000000000000000000000005a");
  PlaceId back{};
  ASSERT_TRUE(parse_id_hex(id_hex(id), back));
  EXPECT_EQ(back, id);
  EXPECT_FALSE(parse_id_hex("AB00000000000000000000000000005A", back));
  EXPECT_FALSE(parse_id_hex("ab0000", back));
  EXPECT_FALSE(parse_id_hex(std::string(32, 'g'), back));
}

}  // namespace
}  // namespace gh::fleet
