// The adaptive limit and the resident reserve, single-threaded with injected time.
#include "stages/admission/limiter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace gh::admission {
namespace {

constexpr std::int64_t kWindow = 200;
// RTT samples are counted in log buckets 1/16 of a power of two wide.
constexpr double kRttTolerance = 0.0625;

policy::AdmissionConfig config(std::uint32_t min, std::uint32_t max, std::uint32_t initial,
                               std::uint32_t resident_percent = 30) {
  policy::AdmissionConfig c;
  c.enabled = true;
  c.min_limit = min;
  c.max_limit = max;
  c.initial_limit = initial;
  c.resident_percent = resident_percent;
  return c;
}

LimiterOptions no_probe() {
  LimiterOptions o;
  o.window_ms = kWindow;
  o.probe_interval_ms = 0;
  return o;
}

// One window of `n` sequential answers, each `rtt_us`, `failures` of them failed; then the
// window closes. Returns the limit after the recalculation.
std::uint32_t window(Limiter& l, std::int64_t rtt_us, std::int64_t& now, int n = 20,
                     int failures = 0) {
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(l.try_acquire(Priority::Resident));
    l.release(Priority::Resident, rtt_us, i >= failures, now);
  }
  now += kWindow;
  l.update(now);
  return l.limit();
}

TEST(Priority, ShedOrderFollowsClientClassAndRoute) {
  EXPECT_EQ(priority_of(policy::ClientClass::Suspect, true), Priority::Suspect);
  EXPECT_EQ(priority_of(policy::ClientClass::Suspect, false), Priority::Suspect);
  EXPECT_EQ(priority_of(policy::ClientClass::Anonymous, true), Priority::AnonymousSignup);
  EXPECT_EQ(priority_of(policy::ClientClass::Anonymous, false), Priority::AnonymousOther);
  EXPECT_EQ(priority_of(policy::ClientClass::Verified, true), Priority::Verified);
  EXPECT_EQ(priority_of(policy::ClientClass::Resident, true), Priority::Resident);
  EXPECT_LT(Priority::Suspect, Priority::AnonymousSignup);
  EXPECT_LT(Priority::AnonymousSignup, Priority::AnonymousOther);
  EXPECT_LT(Priority::AnonymousOther, Priority::Verified);
  EXPECT_LT(Priority::Verified, Priority::Resident);
  EXPECT_EQ(priority_name(Priority::AnonymousSignup), "anonymous_signup");
}

TEST(Limiter, StartsAtInitialAndSanitisesConfig) {
  Limiter a(config(4, 256, 32), no_probe());
  EXPECT_EQ(a.limit(), 32u);
  EXPECT_EQ(a.reserved(), 10u);  // ceil(32 × 30 %)
  Limiter b(config(0, 0, 0, 250), no_probe());
  EXPECT_EQ(b.limit(), 1u);
  EXPECT_EQ(b.reserved(), 1u);  // percent capped at 100
  Limiter c(config(10, 5, 100), no_probe());
  EXPECT_EQ(c.limit(), 10u);  // max raised to min, initial clamped
}

TEST(Limiter, GrowsToCeilingWhileRttIsFlat) {
  Limiter l(config(4, 100, 16), no_probe());
  std::int64_t now = 0;
  std::uint32_t prev = l.limit();
  for (int w = 0; w < 40; ++w) {
    const std::uint32_t cur = window(l, 1000, now);
    EXPECT_GE(cur, prev);
    EXPECT_LE(cur, 100u);
    prev = cur;
  }
  EXPECT_EQ(l.limit(), 100u);
  EXPECT_NEAR(l.stats().min_rtt_us, 1000, 1000 * kRttTolerance);
  EXPECT_DOUBLE_EQ(l.stats().gradient, 1.0);
}

TEST(Limiter, ConvergesDownWhenRttRisesAndUpWhenItFalls) {
  Limiter l(config(8, 200, 100), no_probe());
  std::int64_t now = 0;
  window(l, 1000, now);  // learns min_rtt = 1 ms
  const std::uint32_t before = l.limit();
  // RTT triples: gradient hits its 0.5 floor; the limit must fall every window to the floor.
  std::uint32_t prev = before;
  for (int w = 0; w < 15; ++w) {
    const std::uint32_t cur = window(l, 3000, now);
    EXPECT_LE(cur, prev);
    prev = cur;
  }
  EXPECT_LT(window(l, 3000, now), before / 4);
  EXPECT_EQ(l.limit(), 8u);  // 0.5 L + sqrt(L) < L down to the floor
  EXPECT_DOUBLE_EQ(l.stats().gradient, 0.5);
  EXPECT_NEAR(l.stats().min_rtt_us, 1000, 1000 * kRttTolerance);  // the rise did not move min_rtt

  // Back to 1 ms: it climbs again.
  for (int w = 0; w < 30; ++w) window(l, 1000, now);
  EXPECT_EQ(l.limit(), 200u);
}

TEST(Limiter, ModerateRiseSettlesBetweenFloorAndCeiling) {
  // sample = 1.25 min_rtt, target = 1.1 min_rtt: g = 0.88, steady state at L = (1/(1-g))^2 ≈ 69.
  Limiter l(config(4, 1000, 500), no_probe());
  std::int64_t now = 0;
  window(l, 1000, now);
  for (int w = 0; w < 200; ++w) window(l, 1250, now);
  EXPECT_GT(l.limit(), 55u);
  EXPECT_LT(l.limit(), 85u);
}

TEST(Limiter, FasterUpstreamLowersMinRtt) {
  Limiter l(config(4, 100, 16), no_probe());
  std::int64_t now = 0;
  window(l, 2000, now);
  EXPECT_NEAR(l.stats().min_rtt_us, 2000, 2000 * kRttTolerance);
  window(l, 500, now);
  EXPECT_NEAR(l.stats().min_rtt_us, 500, 500 * kRttTolerance);
}

TEST(Limiter, SparseWindowsAreExtendedNotJudged) {
  Limiter l(config(4, 100, 16), no_probe());
  std::int64_t now = 0;
  window(l, 1000, now, 3);  // below min_samples (8): nothing recalculated
  EXPECT_EQ(l.stats().windows, 0u);
  EXPECT_EQ(l.limit(), 16u);
  window(l, 1000, now, 5);  // 8 in all now
  EXPECT_EQ(l.stats().windows, 1u);
  EXPECT_GT(l.limit(), 16u);
}

TEST(Limiter, AnswersWithoutSampleDoNotCount) {
  Limiter l(config(4, 100, 16), no_probe());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(l.try_acquire(Priority::Verified));
    l.release(Priority::Verified, -1, false, 0);  // client went away
  }
  l.update(kWindow);
  EXPECT_EQ(l.stats().windows, 0u);
  EXPECT_EQ(l.stats().failures, 0u);
  EXPECT_EQ(l.in_flight(), 0u);
}

TEST(Limiter, FailuresAboveToleranceCutTheLimit) {
  Limiter l(config(4, 200, 100), no_probe());
  std::int64_t now = 0;
  window(l, 1000, now);
  const std::uint32_t before = l.limit();
  // Half the answers are timeouts, the others as fast as ever: the limit halves.
  const std::uint32_t after = window(l, 1000, now, 20, 10);
  EXPECT_EQ(after, before / 2);
  EXPECT_EQ(l.stats().failures, 10u);
  // Only failures in a window: same cut, floor at min_limit.
  for (int w = 0; w < 10; ++w) window(l, 1000, now, 10, 10);
  EXPECT_EQ(l.limit(), 4u);
}

TEST(Limiter, FailuresWithinToleranceAreNoise) {
  Limiter l(config(4, 200, 50), no_probe());
  std::int64_t now = 0;
  window(l, 1000, now, 50);
  const std::uint32_t before = l.limit();
  window(l, 1000, now, 50, 2);  // 4 %
  EXPECT_GT(l.limit(), before);
}

TEST(Limiter, ReprobeRelearnsMinRttAfterAPermanentSlowdown) {
  LimiterOptions o = no_probe();
  o.probe_interval_ms = 10'000;
  Limiter l(config(4, 100, 50), o);
  std::int64_t now = 0;
  window(l, 1000, now);
  // The upstream is twice as slow for good: without a probe the limit would sit at the floor.
  while (now < 9'000) window(l, 2000, now);
  EXPECT_EQ(l.limit(), 4u);
  EXPECT_NEAR(l.stats().min_rtt_us, 1000, 1000 * kRttTolerance);
  // The window that crosses 10 s starts a probe: the limit is pinned to min_limit; nothing is in
  // flight, so the next window measures.
  while (!l.stats().probing) window(l, 2000, now);
  EXPECT_EQ(l.stats().probes, 1u);
  EXPECT_EQ(l.limit(), 4u);
  window(l, 2000, now);
  EXPECT_FALSE(l.stats().probing);
  EXPECT_NEAR(l.stats().min_rtt_us, 2000, 2000 * kRttTolerance);
  for (int w = 0; w < 30; ++w) window(l, 2000, now);
  EXPECT_EQ(l.limit(), 100u);
}

TEST(Limiter, ProbeWaitsForInFlightToDrain) {
  LimiterOptions o = no_probe();
  o.probe_interval_ms = 1'000;
  Limiter l(config(4, 100, 40, 0), o);
  std::int64_t now = 0;
  // 20 long requests stay in flight across the probe's start.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(l.try_acquire(Priority::AnonymousOther));
  while (!l.stats().probing) window(l, 1000, now);
  EXPECT_EQ(l.limit(), 4u);
  EXPECT_FALSE(l.try_acquire(Priority::AnonymousOther));
  // Still draining: answers seen now are discarded, min_rtt stays.
  for (int i = 0; i < 20; ++i) l.release(Priority::AnonymousOther, 50'000, true, now);
  now += kWindow;
  l.update(now);  // drained: in_flight 0 <= 4, measuring from now on
  EXPECT_NEAR(l.stats().min_rtt_us, 1000, 1000 * kRttTolerance);
  EXPECT_TRUE(l.stats().probing);
  window(l, 1100, now);
  EXPECT_FALSE(l.stats().probing);
  EXPECT_NEAR(l.stats().min_rtt_us, 1100, 1100 * kRttTolerance);
  EXPECT_GT(l.limit(), 4u);  // back to the saved limit
}

TEST(Limiter, ResidentsAcquireWhileOthersSaturate) {
  Limiter l(config(10, 10, 10, 30), no_probe());
  ASSERT_EQ(l.reserved(), 3u);
  int others = 0;
  const Priority mix[] = {Priority::Suspect, Priority::AnonymousSignup, Priority::AnonymousOther,
                          Priority::Verified};
  for (int i = 0; i < 100; ++i) others += l.try_acquire(mix[i % 4]) ? 1 : 0;
  EXPECT_EQ(others, 7);
  EXPECT_EQ(l.in_flight_others(), 7u);
  // The reserve is the residents'.
  EXPECT_TRUE(l.try_acquire(Priority::Resident));
  EXPECT_TRUE(l.try_acquire(Priority::Resident));
  EXPECT_TRUE(l.try_acquire(Priority::Resident));
  EXPECT_FALSE(l.try_acquire(Priority::Resident));
  EXPECT_EQ(l.in_flight(), 10u);
  EXPECT_EQ(l.in_flight(Priority::Resident), 3u);
  // A resident leaving does not open a slot to the others: they still hold their whole share.
  l.release(Priority::Resident, -1, true, 0);
  EXPECT_FALSE(l.try_acquire(Priority::Verified));
  EXPECT_TRUE(l.try_acquire(Priority::Resident));
  // Another class leaving does.
  l.release(Priority::Suspect, -1, true, 0);
  EXPECT_TRUE(l.try_acquire(Priority::AnonymousSignup));
  const LimiterStats s = l.stats();
  EXPECT_EQ(s.in_flight, 10u);
  EXPECT_EQ(s.by_priority[index_of(Priority::Resident)].refused, 1u);
  EXPECT_GT(s.by_priority[index_of(Priority::Suspect)].refused, 0u);
}

TEST(Limiter, ResidentsMayUseTheWholeLimit) {
  Limiter l(config(10, 10, 10, 30), no_probe());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(l.try_acquire(Priority::Resident));
  EXPECT_FALSE(l.try_acquire(Priority::Resident));
  EXPECT_FALSE(l.try_acquire(Priority::Verified));  // total is full
}

TEST(Limiter, ZeroPercentReservesNothing) {
  Limiter l(config(8, 8, 8, 0), no_probe());
  EXPECT_EQ(l.reserved(), 0u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(l.try_acquire(Priority::Suspect));
  EXPECT_FALSE(l.try_acquire(Priority::Resident));
}

TEST(Limiter, ShrinkingLimitAdmitsNothingUntilDrained) {
  Limiter l(config(4, 40, 40, 25), no_probe());
  std::int64_t now = 0;
  window(l, 1000, now);
  ASSERT_EQ(l.limit(), 40u);
  ASSERT_EQ(l.reserved(), 10u);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(l.try_acquire(Priority::Verified));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(l.try_acquire(Priority::Resident));
  // Ten slow answers: 40 × 0.5 + sqrt(40) = 26, reserve ceil(6.5) = 7, others' cap 19.
  for (int i = 0; i < 10; ++i) l.release(Priority::Resident, 10'000, true, now);
  now += kWindow;
  l.update(now);
  ASSERT_EQ(l.limit(), 26u);
  ASSERT_EQ(l.reserved(), 7u);
  // 30 still held, over both the limit and the others' cap: nobody gets in.
  EXPECT_FALSE(l.try_acquire(Priority::Verified));
  EXPECT_FALSE(l.try_acquire(Priority::Resident));
  for (int i = 0; i < 11; ++i) l.release(Priority::Verified, -1, true, now);
  // 19 held: residents fit under 26, the others are at their cap.
  EXPECT_FALSE(l.try_acquire(Priority::Verified));
  EXPECT_TRUE(l.try_acquire(Priority::Resident));
  l.release(Priority::Resident, -1, true, now);
  l.release(Priority::Verified, -1, true, now);
  EXPECT_TRUE(l.try_acquire(Priority::Verified));
}

}  // namespace
}  // namespace gh::admission
