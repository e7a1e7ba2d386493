#include "sim/arrival.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sim/histogram.h"

namespace gh::sim {
namespace {

TEST(PoissonSchedule, GapsHaveExponentialMeanAndVariance) {
  const double rate = 200;  // per second: mean gap 5 ms
  PoissonSchedule s(rate, 0, 12345);
  Nanos prev = 0;
  const int n = 10'000;
  std::vector<double> gaps;
  for (int i = 0; i < n; ++i) {
    Nanos t = s.pop();
    ASSERT_GE(t, prev);
    gaps.push_back(static_cast<double>(t - prev) / 1e9);
    prev = t;
  }
  double mean = 0;
  for (double g : gaps) mean += g;
  mean /= n;
  double var = 0;
  for (double g : gaps) var += (g - mean) * (g - mean);
  var /= n - 1;
  // Exponential: mean 1/rate, variance 1/rate^2. Standard error of the mean is 1%; of the
  // variance about 2% (fourth moment 9/rate^4): allow about 4 sigma.
  EXPECT_NEAR(mean, 1 / rate, 0.04 / rate);
  EXPECT_NEAR(var, 1 / (rate * rate), 0.10 / (rate * rate));
}

TEST(PoissonSchedule, SameSeedSameSchedule) {
  PoissonSchedule a(50, 1000, 9), b(50, 1000, 9), c(50, 1000, 10);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    auto x = a.pop();
    EXPECT_EQ(x, b.pop());
    differs = differs || x != c.pop();
  }
  EXPECT_TRUE(differs);
}

TEST(ArrivalQueue, ReleasesByIntendedTimeAndStopsAtStop) {
  ArrivalQueue q(1000, 0, 1 * kSec, 3, 1'000'000);
  EXPECT_EQ(q.advance(-1), 0u);
  // Over the whole second about 1000 arrive, each intended before `now`, in order.
  std::size_t n = q.advance(5 * kSec);
  EXPECT_NEAR(static_cast<double>(n), 1000, 130);
  Nanos prev = 0;
  while (q.has_waiting()) {
    Nanos t = q.take();
    EXPECT_GE(t, prev);
    EXPECT_LT(t, 1 * kSec);
    prev = t;
  }
  EXPECT_EQ(q.next_due(), INT64_MAX);
}

TEST(ArrivalQueue, OverflowIsCountedNotHidden) {
  ArrivalQueue q(1000, 0, 1 * kSec, 3, 10);
  auto n = q.advance(1 * kSec);
  EXPECT_EQ(q.waiting(), 10u);
  EXPECT_EQ(q.dropped(), n - 10);
}

// One connection to a server that answers in 1 ms, except one answer stalled for 1 s. Arrivals
// keep coming at 100/s during the stall; measured from their intended start they see the stall.
// Measured from when they were actually sent (coordinated omission) only one request would.
TEST(ArrivalQueue, StalledResponseDelaysQueuedIntendedStarts) {
  ArrivalQueue q(100, 0, 10 * kSec, 42, 100'000);
  Histogram from_intended, from_sent;
  bool in_flight = false, stalled = false;
  Nanos busy_until = 0, intended = 0, sent = 0;
  for (Nanos now = 0; now < 13 * kSec; now += 100'000) {  // 100 us steps
    q.advance(now);
    if (in_flight && now >= busy_until) {
      from_intended.record(now - intended);
      from_sent.record(now - sent);
      in_flight = false;
    }
    if (!in_flight && q.has_waiting()) {
      intended = q.take();
      sent = now;
      Nanos service = kMs;
      if (!stalled && now >= 2 * kSec) {
        service = kSec;
        stalled = true;
      }
      busy_until = now + service;
      in_flight = true;
    }
  }
  ASSERT_TRUE(stalled);
  ASSERT_NEAR(static_cast<double>(from_intended.count()), 1000, 130);
  // ~100 arrivals wait behind the stall, from ~1 s down to ~0: the top 1% waited > 0.8 s.
  EXPECT_GT(from_intended.percentile(0.99), 800 * kMs);
  EXPECT_GT(from_intended.percentile(0.95), 400 * kMs);
  // The omission this design avoids: the same run measured from the send hides the stall.
  EXPECT_LT(from_sent.percentile(0.99), 2 * kMs);
  EXPECT_GE(from_sent.max(), static_cast<std::uint64_t>(kSec));
}

}  // namespace
}  // namespace gh::sim
