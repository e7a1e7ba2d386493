// Shared tables report each change of a key's debt to the registry's log, and take the fleet's
// figures without reporting them back; the log hands over from many threads without loss until
// its rings are full, then drops and counts.
#include "stages/ratelimit/deltas.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "stages/ratelimit/config.h"
#include "stages/ratelimit/stage.h"

namespace gh::ratelimit {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kT0 = 1'000 * kMs;

policy::LimitConfig limit(bool shared, bool exact = false) {
  policy::LimitConfig l;
  l.name = "per-ip";
  l.rate = 10;  // T = 100 ms
  l.period = 1000;
  l.burst = 2;
  l.shared = shared;
  l.exact = exact;
  return l;
}

Nanos sum_for(const std::vector<DeltaEntry>& v, const Key& k) {
  Nanos s = 0;
  for (const DeltaEntry& e : v) s += e.key == k ? e.delta : 0;
  return s;
}

TEST(SharedTable, ReportsChargesAndRefundsOnlyWhenShared) {
  Registry reg;
  int urgent = 0;
  reg.share([&] { ++urgent; });
  const policy::LimitConfig shared = limit(true), local = limit(false);
  auto ts = reg.table_for("r", shared, *gcra_of(shared));
  auto tl = reg.table_for("q", local, *gcra_of(local));
  const Key k{1, 2};
  EXPECT_TRUE(ts->decide(k, kT0).allowed);
  EXPECT_TRUE(ts->decide(k, kT0).allowed);
  EXPECT_FALSE(ts->decide(k, kT0).allowed);  // denied: consumes nothing, reports nothing
  ts->refund(k, kT0);
  EXPECT_TRUE(tl->decide(k, kT0).allowed);
  std::vector<DeltaEntry> out;
  reg.drain(out);
  ASSERT_EQ(out.size(), 3u);
  for (const DeltaEntry& e : out) EXPECT_EQ(e.limit, ts->fleet_id());
  EXPECT_EQ(out[0].delta, 100 * kMs);
  EXPECT_EQ(out[2].delta, -100 * kMs);
  EXPECT_EQ(sum_for(out, k), 100 * kMs);
  EXPECT_EQ(urgent, 0);  // not exact
  out.clear();
  reg.drain(out);
  EXPECT_TRUE(out.empty());
}

TEST(SharedTable, FleetIdIsTheSameForTheSameLimitOnAnotherNode) {
  Registry a, b;
  a.share(nullptr);
  b.share(nullptr);
  const policy::LimitConfig l = limit(true);
  policy::LimitConfig other = l;
  other.rate = 11;
  EXPECT_EQ(a.table_for("r", l, *gcra_of(l))->fleet_id(),
            b.table_for("r", l, *gcra_of(l))->fleet_id());
  EXPECT_NE(a.table_for("r", l, *gcra_of(l))->fleet_id(),
            b.table_for("r", other, *gcra_of(other))->fleet_id());
}

TEST(SharedTable, ExactLimitsCallTheUrgentHookOncePerDrain) {
  Registry reg;
  int urgent = 0;
  reg.share([&] { ++urgent; });
  const policy::LimitConfig l = limit(true, true);
  auto t = reg.table_for("r", l, *gcra_of(l));
  t->decide(Key{1, 1}, kT0);
  t->decide(Key{2, 1}, kT0);
  EXPECT_EQ(urgent, 1);
  std::vector<DeltaEntry> out;
  reg.drain(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].exact);
  t->decide(Key{3, 1}, kT0);
  EXPECT_EQ(urgent, 2);
}

TEST(SharedTable, FiguresSetOrAddTheDebtWithoutReportingBack) {
  Registry reg;
  reg.share(nullptr);
  const policy::LimitConfig l = limit(true);
  auto t = reg.table_for("r", l, *gcra_of(l));
  const Key k{7, 7};
  // The fleet says the key owes 150 ms: one of two left (tau = 100 ms).
  reg.set_debts({{t->fleet_id(), k, 150 * kMs}}, kT0);
  EXPECT_EQ(t->peek(k, kT0).remaining, 0u);
  EXPECT_FALSE(t->peek(k, kT0).allowed);
  EXPECT_TRUE(t->peek(k, kT0 + 50 * kMs).allowed);
  reg.add_debts({{t->fleet_id(), k, 100 * kMs}}, kT0);  // local share: 250 ms owed
  EXPECT_FALSE(t->peek(k, kT0 + 100 * kMs).allowed);
  EXPECT_TRUE(t->peek(k, kT0 + 150 * kMs).allowed);
  reg.set_debts({{t->fleet_id() + 1, k, 900 * kMs}}, kT0);  // a limit not loaded: skipped
  std::vector<DeltaEntry> out;
  reg.drain(out);
  EXPECT_TRUE(out.empty());
  reg.set_debts({{t->fleet_id(), k, 0}}, kT0);
  EXPECT_EQ(t->peek(k, kT0).remaining, 2u);
  // Raised, never lowered: an older figure arriving after a newer one changes nothing.
  reg.raise_debts({{t->fleet_id(), k, 150 * kMs}}, kT0);
  reg.raise_debts({{t->fleet_id(), k, 50 * kMs}}, kT0);
  EXPECT_FALSE(t->peek(k, kT0 + 40 * kMs).allowed);
  EXPECT_TRUE(t->peek(k, kT0 + 50 * kMs).allowed);
}

TEST(DeltaLog, ManyThreadsHandOverEveryEntryWhileDrained) {
  DeltaLog log;
  constexpr int kThreads = 4, kEach = 20'000;
  std::atomic<bool> done{false};
  std::map<std::uint64_t, Nanos> sums;
  std::thread drainer([&] {
    std::vector<DeltaEntry> out;
    for (int i = 0; i < 100'000 && !done.load(); ++i) {
      log.drain(out);
      std::this_thread::yield();
    }
    log.drain(out);
    for (const DeltaEntry& e : out) sums[e.key.lo] += e.delta;
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        log.record(1, Key{static_cast<std::uint64_t>(t), 0}, 1, false);
        if (i % 512 == 0) std::this_thread::yield();
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  drainer.join();
  std::vector<DeltaEntry> rest;
  log.drain(rest);
  for (const DeltaEntry& e : rest) sums[e.key.lo] += e.delta;
  Nanos total = 0;
  for (const auto& [k, s] : sums) total += s;
  EXPECT_EQ(total + static_cast<Nanos>(log.dropped()), Nanos{kThreads} * kEach);
}

TEST(DeltaLog, FullRingsDropAndCount) {
  DeltaLog log;
  const std::size_t n = DeltaLog::kRingEntries * DeltaLog::kTries + 100;
  for (std::size_t i = 0; i < n; ++i) log.record(1, Key{i, 0}, 1, false);
  // One thread fills its ring, then drops (it does not take the other threads' rings).
  EXPECT_EQ(log.dropped(), n - DeltaLog::kRingEntries);
  std::vector<DeltaEntry> out;
  log.drain(out);
  EXPECT_EQ(out.size(), DeltaLog::kRingEntries);
  log.record(1, Key{1, 0}, 5, false);  // room again
  out.clear();
  log.drain(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].delta, 5);
}

}  // namespace
}  // namespace gh::ratelimit
