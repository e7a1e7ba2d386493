#include "stages/ratelimit/gcra.h"

#include <gtest/gtest.h>

namespace gh::ratelimit {
namespace {

constexpr Nanos kSec = 1'000'000'000;

Limit limit(std::uint32_t rate, Nanos period, std::uint32_t burst) {
  auto l = make_limit(RateSpec{rate, period, burst});
  EXPECT_TRUE(l.has_value());
  return l.value_or(Limit{});
}

TEST(MakeLimit, EmissionIntervalAndTolerance) {
  const Limit five_per_min = limit(5, 60 * kSec, 10);
  EXPECT_EQ(five_per_min.emission_interval, 12 * kSec);
  EXPECT_EQ(five_per_min.tolerance, 9 * 12 * kSec);
  EXPECT_EQ(limit(50, kSec, 1).emission_interval, 20'000'000);
  EXPECT_EQ(limit(100, 15 * 60 * kSec, 5).emission_interval, 9 * kSec);
  EXPECT_EQ(limit(1, kSec, 1).tolerance, 0);
}

TEST(MakeLimit, RoundsTheIntervalUpSoTheRateIsNeverExceeded) {
  EXPECT_EQ(limit(3, kSec, 1).emission_interval, 333'333'334);
  EXPECT_EQ(limit(7, 7, 1).emission_interval, 1);
  EXPECT_EQ(limit(8, 7, 1).emission_interval, 1);  // at least 1 ns
}

TEST(MakeLimit, RejectsZeroesAndOverflow) {
  EXPECT_FALSE(make_limit(RateSpec{0, kSec, 1}));
  EXPECT_FALSE(make_limit(RateSpec{1, 0, 1}));
  EXPECT_FALSE(make_limit(RateSpec{1, -5, 1}));
  EXPECT_FALSE(make_limit(RateSpec{1, kSec, 0}));
  EXPECT_FALSE(make_limit(RateSpec{1, kMaxSpan, 2}));
  EXPECT_TRUE(make_limit(RateSpec{1, kMaxSpan, 1}));
  EXPECT_FALSE(make_limit(RateSpec{1, std::numeric_limits<Nanos>::max(), 1}));
  EXPECT_TRUE(make_limit(RateSpec{1, 365 * 24 * 3600 * kSec, 30}));
  EXPECT_FALSE(make_limit(RateSpec{1, 365 * 24 * 3600 * kSec, 40}));
}

TEST(Gcra, BurstBackToBackThenOnePerInterval) {
  const Limit l = limit(5, 60 * kSec, 10);  // T = 12 s
  const Nanos t0 = 1000 * kSec;
  Nanos tat = 0;
  for (std::uint32_t i = 0; i < 10; ++i) {
    const Decision d = gcra_decide(l, tat, t0, 1);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 9 - i);
    EXPECT_EQ(d.reset, static_cast<Nanos>(i + 1) * 12 * kSec);
    EXPECT_EQ(d.retry_after, 0);
  }
  Decision d = gcra_decide(l, tat, t0, 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 12 * kSec);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.reset, 120 * kSec);
  // One nanosecond early is still too early; on time is fine, and only once.
  EXPECT_FALSE(gcra_decide(l, tat, t0 + 12 * kSec - 1, 1).allowed);
  EXPECT_TRUE(gcra_decide(l, tat, t0 + 12 * kSec, 1).allowed);
  EXPECT_FALSE(gcra_decide(l, tat, t0 + 12 * kSec, 1).allowed);
  EXPECT_TRUE(gcra_decide(l, tat, t0 + 24 * kSec, 1).allowed);
}

TEST(Gcra, PastTatIsTheSameAsNoState) {
  const Limit l = limit(50, kSec, 5);
  const Nanos now = 77 * kSec;
  for (Nanos past : {Nanos{0}, now - 1, now, now - 3 * kSec}) {
    Nanos a = past;
    Nanos b = now;
    const Decision da = gcra_decide(l, a, now, 2);
    const Decision db = gcra_decide(l, b, now, 2);
    EXPECT_EQ(da.allowed, db.allowed);
    EXPECT_EQ(da.remaining, db.remaining);
    EXPECT_EQ(da.reset, db.reset);
    EXPECT_EQ(a, b);
  }
}

TEST(Gcra, PeekDoesNotConsume) {
  const Limit l = limit(1, kSec, 2);
  Nanos tat = 0;
  const Nanos now = 10 * kSec;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(gcra_peek(l, tat, now, 2).allowed);
  EXPECT_EQ(tat, 0);
  EXPECT_EQ(gcra_peek(l, tat, now, 1).remaining, 2u);
  EXPECT_FALSE(gcra_peek(l, tat, now, 3).allowed);
  EXPECT_EQ(gcra_peek(l, tat, now, 3).retry_after, kNever);
}

TEST(Gcra, CostN) {
  const Limit l = limit(1, kSec, 5);  // T = 1 s, tau = 4 s
  const Nanos now = 100 * kSec;
  Nanos tat = 0;
  EXPECT_TRUE(gcra_decide(l, tat, now, 3).allowed);
  EXPECT_EQ(tat, now + 3 * kSec);
  Decision d = gcra_decide(l, tat, now, 3);  // 2 left, 3 asked: wait for one more token
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kSec);
  EXPECT_EQ(d.remaining, 2u);
  EXPECT_EQ(tat, now + 3 * kSec);  // a deny consumes nothing
  EXPECT_TRUE(gcra_decide(l, tat, now, 2).allowed);
  EXPECT_FALSE(gcra_decide(l, tat, now, 1).allowed);
  d = gcra_decide(l, tat, now, 6);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kNever);
  d = gcra_decide(l, tat, now, 0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(tat, now + 5 * kSec);
}

TEST(Gcra, AddCountsUnconditionallyAndIsPaidBack) {
  // Failed logins counted after the fact (peek on arrival, add on failure): 5 per 15 min.
  const Limit l = limit(5, 15 * 60 * kSec, 5);  // T = 180 s
  const Nanos now = 5000 * kSec;
  Nanos tat = 0;
  // Eight requests pass the check concurrently, then all eight fail.
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(gcra_peek(l, tat, now, 1).allowed);
  Decision d;
  for (int i = 0; i < 8; ++i) d = gcra_add(l, tat, now, 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.reset, 8 * 180 * kSec);
  EXPECT_EQ(d.retry_after, (8 - 4) * 180 * kSec);  // debt 8 T, tolerance 4 T
  EXPECT_FALSE(gcra_peek(l, tat, now + 4 * 180 * kSec - 1, 1).allowed);
  EXPECT_TRUE(gcra_peek(l, tat, now + 4 * 180 * kSec, 1).allowed);
  // add() after an allowed decide is just more debt.
  Nanos t2 = 0;
  EXPECT_TRUE(gcra_decide(l, t2, now, 1).allowed);
  d = gcra_add(l, t2, now, 1);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 3u);
}

TEST(Gcra, AddSaturatesInsteadOfOverflowing) {
  const Limit l = limit(1, kMaxSpan, 1);
  const Nanos now = kMaxNow - 1;
  Nanos tat = 0;
  for (int i = 0; i < 10; ++i) gcra_add(l, tat, now, 0xffffffffu);
  EXPECT_EQ(tat, now + kMaxDebt);
  const Decision d = gcra_peek(l, tat, now, 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kMaxDebt);
  EXPECT_TRUE(gcra_limited(l, tat, now));
}

TEST(Gcra, RefundUndoesACharge) {
  const Limit l = limit(5, 15 * 60 * kSec, 5);  // T = 180 s, tau = 720 s
  const Nanos t0 = 5000 * kSec;
  Nanos tat = 0;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(gcra_decide(l, tat, t0, 1).allowed);
  EXPECT_FALSE(gcra_peek(l, tat, t0, 1).allowed);
  Decision d = gcra_refund(l, tat, t0, 1);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 1u);
  EXPECT_EQ(d.reset, 4 * 180 * kSec);
  EXPECT_EQ(tat, t0 + 4 * 180 * kSec);
  // Later, the undo is still exact: the state is what it would be had the charge never been made.
  Nanos with = 0;
  Nanos without = 0;
  gcra_decide(l, with, t0, 1);
  gcra_decide(l, without, t0, 1);
  gcra_decide(l, with, t0 + 10 * kSec, 1);
  d = gcra_refund(l, with, t0 + 100 * kSec, 1);
  EXPECT_EQ(with, without);
  EXPECT_EQ(d.remaining, gcra_peek(l, without, t0 + 100 * kSec, 1).remaining);
}

TEST(Gcra, RefundNeverMakesABucketFullerThanIdle) {
  const Limit l = limit(1, kSec, 3);
  const Nanos now = 50 * kSec;
  Nanos tat = 0;
  gcra_decide(l, tat, now, 1);
  Decision d = gcra_refund(l, tat, now, 3);  // gives back what there was, not more
  EXPECT_EQ(tat, now);
  EXPECT_EQ(d.remaining, 3u);
  EXPECT_EQ(d.reset, 0);
  // Already idle: nothing to give back, and the TAT is left as it was.
  tat = now - 7 * kSec;
  d = gcra_refund(l, tat, now, 1);
  EXPECT_EQ(tat, now - 7 * kSec);
  EXPECT_EQ(d.remaining, 3u);
  // Three decides from idle are followed by exactly three cost-1 decides after three refunds.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(gcra_decide(l, tat, now, 1).allowed);
  for (int i = 0; i < 5; ++i) gcra_refund(l, tat, now, 1);
  int allowed = 0;
  for (int i = 0; i < 5; ++i) allowed += gcra_decide(l, tat, now, 1).allowed ? 1 : 0;
  EXPECT_EQ(allowed, 3);
}

TEST(Gcra, RefundOfAHugeCountDoesNotOverflow) {
  const Limit l = limit(1, kMaxSpan, 1);
  const Nanos now = kMaxNow - 1;
  Nanos tat = 0;
  gcra_add(l, tat, now, 0xffffffffu);
  ASSERT_EQ(tat, now + kMaxDebt);
  gcra_refund(l, tat, now, 1);
  EXPECT_EQ(tat, now + kMaxDebt - kMaxSpan);
  const Decision d = gcra_refund(l, tat, now, 0xffffffffu);
  EXPECT_EQ(tat, now);
  EXPECT_TRUE(d.allowed);
}

TEST(Gcra, LimitedMeansACost1RequestWouldBeDenied) {
  const Limit l = limit(1, kSec, 3);
  const Nanos now = 50 * kSec;
  Nanos tat = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(gcra_limited(l, tat, now));
    gcra_decide(l, tat, now, 1);
  }
  EXPECT_TRUE(gcra_limited(l, tat, now));
  EXPECT_FALSE(gcra_limited(l, tat, now + kSec));
}

TEST(Gcra, WorksAtCompileTime) {
  constexpr auto allowed_after_burst = [] {
    constexpr Limit l{10, 40, 5};
    Nanos tat = 0;
    int n = 0;
    for (int i = 0; i < 7; ++i) n += gcra_decide(l, tat, 1000, 1).allowed ? 1 : 0;
    return n;
  }();
  static_assert(allowed_after_burst == 5);
}

}  // namespace
}  // namespace gh::ratelimit
