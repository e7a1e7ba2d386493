#include "net/balance.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace gh::net {
namespace {

std::string sequence(WeightedRoundRobin& rr, int n, const std::vector<bool>& eligible = {}) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const int k = rr.pick([&](std::size_t j) { return eligible.empty() || eligible[j]; });
    out += k < 0 ? '-' : static_cast<char>('a' + k);
  }
  return out;
}

TEST(WeightedRoundRobin, SpreadsTheHeavyServersTurnsAsNginxDoes) {
  WeightedRoundRobin rr;
  rr.reset({5, 1, 1});
  // nginx's documented order for weights 5, 1, 1: never five a's in a row.
  EXPECT_EQ(sequence(rr, 7), "aabacaa");
  EXPECT_EQ(sequence(rr, 7), "aabacaa");  // and it repeats every total weight
}

TEST(WeightedRoundRobin, EqualWeightsTakeTurns) {
  WeightedRoundRobin rr;
  rr.reset({1, 1, 1});
  EXPECT_EQ(sequence(rr, 6), "abcabc");
}

TEST(WeightedRoundRobin, ProportionsHoldOverManyPicks) {
  WeightedRoundRobin rr;
  rr.reset({3, 1, 6});
  std::map<int, int> n;
  for (int i = 0; i < 10'000; ++i) ++n[rr.pick([](std::size_t) { return true; })];
  EXPECT_EQ(n[0], 3000);
  EXPECT_EQ(n[1], 1000);
  EXPECT_EQ(n[2], 6000);
}

TEST(WeightedRoundRobin, SkipsIneligibleServersAndKeepsTheOthersProportions) {
  WeightedRoundRobin rr;
  rr.reset({2, 1, 1});
  EXPECT_EQ(sequence(rr, 6, {true, false, true}), "acaaca");
  EXPECT_EQ(sequence(rr, 3, {false, false, false}), "---");
  // Back to all three: every server gets its share again.
  std::map<char, int> n;
  for (char c : sequence(rr, 400)) ++n[c];
  EXPECT_EQ(n['a'], 200);
  EXPECT_EQ(n['b'], 100);
  EXPECT_EQ(n['c'], 100);
}

TEST(WeightedRoundRobin, EmptyPicksNothing) {
  WeightedRoundRobin rr;
  rr.reset({});
  EXPECT_EQ(rr.pick([](std::size_t) { return true; }), -1);
}

EjectionConfig ejection(std::uint32_t failures, std::uint32_t window, std::uint32_t duration,
                        std::uint32_t max) {
  EjectionConfig c;
  c.consecutive_failures = failures;
  c.window_ms = window;
  c.duration_ms = duration;
  c.max_duration_ms = max;
  return c;
}

TEST(Ejection, ConsecutiveFailuresWithinTheWindowEject) {
  Ejection e(ejection(3, 1000, 5000, 60'000));
  EXPECT_EQ(e.failure(100), Ejection::Outcome::Counted);
  EXPECT_EQ(e.failure(200), Ejection::Outcome::Counted);
  EXPECT_FALSE(e.ejected(200));
  EXPECT_EQ(e.failure(300), Ejection::Outcome::Ejected);
  EXPECT_TRUE(e.ejected(300));
  EXPECT_TRUE(e.ejected(5299));
  EXPECT_FALSE(e.ejected(5300));
  EXPECT_EQ(e.until(), 5300);
  EXPECT_EQ(e.ejections(), 1u);
}

TEST(Ejection, ASuccessBreaksTheStreak) {
  Ejection e(ejection(3, 1000, 5000, 60'000));
  e.failure(100);
  e.failure(200);
  e.success(250);
  EXPECT_EQ(e.failure(300), Ejection::Outcome::Counted);
  EXPECT_EQ(e.failure(400), Ejection::Outcome::Counted);
  EXPECT_EQ(e.streak(), 2u);
  EXPECT_FALSE(e.ejected(400));
}

TEST(Ejection, FailuresSpreadBeyondTheWindowDoNotAddUp) {
  Ejection e(ejection(3, 1000, 5000, 60'000));
  e.failure(0);
  e.failure(900);
  EXPECT_EQ(e.failure(1500), Ejection::Outcome::Counted);  // the streak began at 0: starts again
  EXPECT_EQ(e.streak(), 1u);
  e.failure(1600);
  EXPECT_EQ(e.failure(1700), Ejection::Outcome::Ejected);
}

TEST(Ejection, FailuresWhileEjectedChangeNothing) {
  Ejection e(ejection(1, 1000, 5000, 60'000));
  EXPECT_EQ(e.failure(0), Ejection::Outcome::Ejected);
  EXPECT_EQ(e.failure(100), Ejection::Outcome::Counted);
  EXPECT_EQ(e.until(), 5000);
  EXPECT_EQ(e.ejections(), 1u);
}

TEST(Ejection, OnProbationOneFailureEjectsAgainForTwiceAsLong) {
  Ejection e(ejection(3, 1000, 1000, 60'000));
  e.failure(0);
  e.failure(1);
  EXPECT_EQ(e.failure(2), Ejection::Outcome::Ejected);  // 1 s
  EXPECT_EQ(e.until(), 1002);
  EXPECT_TRUE(e.probation());
  EXPECT_EQ(e.failure(1100), Ejection::Outcome::Ejected);  // back, fails at once: 2 s
  EXPECT_EQ(e.until(), 3100);
  EXPECT_EQ(e.failure(3200), Ejection::Outcome::Ejected);  // 4 s
  EXPECT_EQ(e.until(), 7200);
  EXPECT_EQ(e.level(), 2u);
  EXPECT_EQ(e.ejections(), 3u);
}

TEST(Ejection, TheBackOffIsCapped) {
  Ejection e(ejection(1, 1000, 1000, 5000));
  std::int64_t now = 0;
  std::vector<std::int64_t> lengths;
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(e.failure(now), Ejection::Outcome::Ejected);
    lengths.push_back(e.until() - now);
    now = e.until() + 10;
  }
  EXPECT_EQ(lengths, (std::vector<std::int64_t>{1000, 2000, 4000, 5000, 5000, 5000}));
}

TEST(Ejection, ASuccessOnProbationEndsItAndAGoodSpellResetsTheBackOff) {
  Ejection e(ejection(2, 1000, 1000, 10'000));
  e.failure(0);
  ASSERT_EQ(e.failure(1), Ejection::Outcome::Ejected);
  e.success(500);  // a request in flight when it was ejected: no proof
  EXPECT_TRUE(e.probation());
  e.success(1500);  // served after its return
  EXPECT_FALSE(e.probation());
  EXPECT_EQ(e.failure(1600), Ejection::Outcome::Counted);  // off probation: a streak again
  // Failing again soon after the return: doubled.
  EXPECT_EQ(e.failure(1700), Ejection::Outcome::Ejected);
  EXPECT_EQ(e.until() - 1700, 2000);
  // Back at 3700; good for longer than max_duration: the next ejection starts from the base.
  e.success(3800);
  e.failure(20'000);
  EXPECT_EQ(e.failure(20'001), Ejection::Outcome::Ejected);
  EXPECT_EQ(e.until() - 20'001, 1000);
  EXPECT_EQ(e.level(), 0u);
}

TEST(Ejection, ReadmitEndsAnEjectionEarly) {
  Ejection e(ejection(1, 1000, 10'000, 60'000));
  e.failure(0);
  ASSERT_TRUE(e.ejected(500));
  e.readmit(500);
  EXPECT_FALSE(e.ejected(500));
  EXPECT_TRUE(e.probation());
  // Early re-admission counts as a return: failing at once doubles.
  EXPECT_EQ(e.failure(600), Ejection::Outcome::Ejected);
  EXPECT_EQ(e.until() - 600, 20'000);
}

TEST(Ejection, ZeroFailuresNeverEjects) {
  Ejection e(ejection(0, 1000, 1000, 1000));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(e.failure(i), Ejection::Outcome::Counted);
  EXPECT_FALSE(e.ejected(50));
}

TEST(HealthStreak, ThresholdsInARow) {
  HealthCheckConfig c;
  c.unhealthy_threshold = 3;
  c.healthy_threshold = 2;
  HealthStreak h;
  EXPECT_TRUE(h.up());
  EXPECT_EQ(h.record(false, c), HealthStreak::Change::None);
  EXPECT_EQ(h.record(false, c), HealthStreak::Change::None);
  EXPECT_EQ(h.record(true, c), HealthStreak::Change::None);  // breaks the run
  EXPECT_EQ(h.record(false, c), HealthStreak::Change::None);
  EXPECT_EQ(h.record(false, c), HealthStreak::Change::None);
  EXPECT_EQ(h.record(false, c), HealthStreak::Change::Down);
  EXPECT_FALSE(h.up());
  EXPECT_EQ(h.record(false, c), HealthStreak::Change::None);
  EXPECT_EQ(h.record(true, c), HealthStreak::Change::None);
  EXPECT_EQ(h.record(true, c), HealthStreak::Change::Up);
  EXPECT_EQ(h.record(true, c), HealthStreak::Change::None);
}

TEST(HealthStreak, StatusesThatPass) {
  EXPECT_TRUE(status_passes(200, {}));
  EXPECT_TRUE(status_passes(302, {}));
  EXPECT_FALSE(status_passes(404, {}));
  EXPECT_FALSE(status_passes(503, {}));
  EXPECT_TRUE(status_passes(204, {200, 204}));
  EXPECT_FALSE(status_passes(302, {200, 204}));
  EXPECT_TRUE(status_passes(503, {503}));
}

}  // namespace
}  // namespace gh::net
