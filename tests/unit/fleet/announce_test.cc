// What is said of Redis being reachable: the first contact and a loss at once, a return once it
// has held; returns that fail again within the settle time are counted, not said.
#include "fleet/announce.h"

#include <gtest/gtest.h>

namespace gh::fleet {
namespace {

TEST(Announcer, FirstContactAndLossAreSaidAtOnce) {
  Announcer a(1000);
  const Announcer::Say first = a.reached(0);
  EXPECT_TRUE(first.now);
  EXPECT_TRUE(first.up);
  EXPECT_TRUE(a.said_up());
  EXPECT_FALSE(a.tick(5000).now);  // said already
  const Announcer::Say lost = a.lost(6000);
  EXPECT_TRUE(lost.now);
  EXPECT_FALSE(lost.up);
  EXPECT_FALSE(a.lost(6100).now);  // a failed reconnect: still the same loss
}

TEST(Announcer, AFlappingReturnIsSaidOnceWhenItHoldsWithItsCount) {
  Announcer a(1000);
  ASSERT_TRUE(a.reached(0).now);
  ASSERT_TRUE(a.lost(100).now);
  // A Cluster slot without a master: reconnect, fail at the next write, five times a second.
  std::int64_t t = 100;
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(a.reached(t += 50).now);
    EXPECT_FALSE(a.tick(t += 16).now);
    EXPECT_FALSE(a.lost(t += 134).now);
  }
  EXPECT_FALSE(a.said_up());
  // The replica is promoted: the return holds.
  EXPECT_FALSE(a.reached(t += 50).now);
  const std::int64_t back = t;
  EXPECT_FALSE(a.tick(back + 999).now);
  const Announcer::Say said = a.tick(back + 1000);
  EXPECT_TRUE(said.now);
  EXPECT_TRUE(said.up);
  EXPECT_EQ(said.flaps, 10u);
  EXPECT_TRUE(a.said_up());
  // The next loss starts a new count.
  ASSERT_TRUE(a.lost(back + 2000).now);
  EXPECT_FALSE(a.reached(back + 2100).now);
  EXPECT_EQ(a.tick(back + 3100).flaps, 0u);
}

TEST(Announcer, NeverReachedSaysTheLossOnceThenTheReturnOnceItHolds) {
  Announcer a(1000);
  EXPECT_TRUE(a.lost(0).now);  // Redis was not there at start
  EXPECT_FALSE(a.lost(50).now);
  EXPECT_FALSE(a.lost(150).now);
  EXPECT_FALSE(a.reached(400).now);
  const Announcer::Say said = a.tick(1400);
  EXPECT_TRUE(said.now && said.up);
  EXPECT_EQ(said.flaps, 0u);  // failed connects are not returns
}

TEST(Announcer, ZeroSettleSaysAReturnAtOnce) {
  Announcer a(0);
  ASSERT_TRUE(a.reached(0).now);
  ASSERT_TRUE(a.lost(10).now);
  const Announcer::Say said = a.reached(20);
  EXPECT_TRUE(said.now && said.up);
}

}  // namespace
}  // namespace gh::fleet
