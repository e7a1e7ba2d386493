// The circuit breaker: back-off below the threshold, open at it, one probe when half-open,
// longer when a probe fails, closed again on success.
#include "fleet/breaker.h"

#include <gtest/gtest.h>

namespace gh::fleet {
namespace {

TEST(Breaker, BacksOffThenOpensThenProbes) {
  Breaker b(3, 1000);
  EXPECT_TRUE(b.allow(0));
  EXPECT_EQ(b.state(0), Breaker::State::Closed);
  b.failure(0);  // 1: retry after 50 ms
  EXPECT_FALSE(b.allow(49));
  EXPECT_TRUE(b.allow(50));
  b.failure(50);  // 2: after 100 ms
  EXPECT_FALSE(b.allow(149));
  EXPECT_TRUE(b.allow(150));
  EXPECT_EQ(b.state(150), Breaker::State::Closed);
  b.failure(150);  // 3: open for 1 s
  EXPECT_EQ(b.opens(), 1u);
  EXPECT_EQ(b.state(151), Breaker::State::Open);
  EXPECT_FALSE(b.allow(1149));
  EXPECT_EQ(b.state(1150), Breaker::State::HalfOpen);
  EXPECT_TRUE(b.allow(1150));
  b.failure(1150);  // the probe failed: open twice as long
  EXPECT_EQ(b.opens(), 1u);
  EXPECT_FALSE(b.allow(3149));
  EXPECT_TRUE(b.allow(3150));
  b.success();
  EXPECT_EQ(b.state(3150), Breaker::State::Closed);
  EXPECT_EQ(b.failures(), 0u);
  EXPECT_TRUE(b.allow(3150));
}

TEST(Breaker, FailedProbesWaitAtMostSixteenTimes) {
  Breaker b(1, 100);
  std::int64_t now = 0;
  b.failure(now);
  for (int i = 0; i < 20; ++i) {
    now = b.next_attempt_ms();
    b.failure(now);
  }
  EXPECT_EQ(b.next_attempt_ms() - now, 1600);
}

}  // namespace
}  // namespace gh::fleet
