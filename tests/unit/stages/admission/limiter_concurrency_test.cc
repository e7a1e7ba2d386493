// Worker threads share one limiter: the packed counters must never let the total pass the limit
// or the others pass limit - reserved, and every slot must come back.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "stages/admission/limiter.h"

namespace gh::admission {
namespace {

constexpr int kThreads = 4;
constexpr int kIterations = 100'000;

template <typename Fn>
void run_threads(Fn fn) {
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(fn, i);
  for (std::thread& t : threads) t.join();
}

TEST(LimiterConcurrency, FixedLimitIsNeverExceeded) {
  policy::AdmissionConfig c;
  c.min_limit = c.max_limit = c.initial_limit = 16;
  c.resident_percent = 25;
  Limiter l(c);
  ASSERT_EQ(l.reserved(), 4u);
  std::atomic<std::uint32_t> max_total{0}, max_others{0};
  std::atomic<std::uint64_t> admitted{0};
  run_threads([&](int id) {
    std::uint32_t seen_total = 0, seen_others = 0;
    std::uint64_t mine = 0;
    std::vector<Priority> held;
    for (int i = 0; i < kIterations; ++i) {
      const auto p = static_cast<Priority>((i + id) % kPriorities);
      if (l.try_acquire(p)) {
        ++mine;
        held.push_back(p);
        seen_total = std::max(seen_total, l.in_flight());
        seen_others = std::max(seen_others, l.in_flight_others());
      }
      // Hold up to 3 at a time, so that the limit is actually contended.
      if (held.size() > 3 || (i % 7 == 0 && !held.empty())) {
        l.release(held.back(), -1, true, 0);
        held.pop_back();
      }
    }
    for (Priority p : held) l.release(p, -1, true, 0);
    admitted.fetch_add(mine);
    std::uint32_t cur = max_total.load();
    while (cur < seen_total && !max_total.compare_exchange_weak(cur, seen_total)) {
    }
    cur = max_others.load();
    while (cur < seen_others && !max_others.compare_exchange_weak(cur, seen_others)) {
    }
  });
  EXPECT_LE(max_total.load(), 16u);
  EXPECT_LE(max_others.load(), 12u);
  EXPECT_EQ(l.in_flight(), 0u);
  EXPECT_EQ(l.in_flight_others(), 0u);
  const LimiterStats s = l.stats();
  std::uint64_t acquired = 0, refused = 0;
  for (std::size_t p = 0; p < kPriorities; ++p) {
    EXPECT_EQ(s.by_priority[p].in_flight, 0u);
    acquired += s.by_priority[p].acquired;
    refused += s.by_priority[p].refused;
  }
  EXPECT_EQ(acquired, admitted.load());
  EXPECT_EQ(acquired + refused, std::uint64_t{kThreads} * kIterations);
}

// The limit moves while threads acquire (RTTs depend on the in-flight count, time advances on a
// shared clock): in-flight may exceed a limit that just shrank, never the ceiling, and drains.
TEST(LimiterConcurrency, AdaptiveLimitStaysInBoundsAndDrains) {
  policy::AdmissionConfig c;
  c.min_limit = 4;
  c.max_limit = 64;
  c.initial_limit = 16;
  LimiterOptions o;
  o.window_ms = 5;
  o.probe_interval_ms = 200;
  Limiter l(c, o);
  std::atomic<std::int64_t> clock{0};
  std::atomic<std::uint32_t> max_total{0};
  run_threads([&](int id) {
    std::uint32_t seen = 0;
    std::vector<Priority> held;
    for (int i = 0; i < kIterations; ++i) {
      const std::int64_t now = clock.fetch_add(1) / 64;  // ~1 ms per 64 operations
      const auto p = static_cast<Priority>((i * 3 + id) % kPriorities);
      if (l.try_acquire(p)) {
        held.push_back(p);
        seen = std::max(seen, l.in_flight());
        EXPECT_GE(l.limit(), 4u);
        EXPECT_LE(l.limit(), 64u);
      }
      if (held.size() > 6 || (i % 5 == 0 && !held.empty())) {
        // Congestion-like: slower answers when more is in flight.
        const std::int64_t rtt = 500 + 100 * static_cast<std::int64_t>(l.in_flight());
        l.release(held.back(), rtt, i % 50 != 0, now);
        held.pop_back();
      }
    }
    for (Priority p : held) l.release(p, 1000, true, clock.load() / 64);
    std::uint32_t cur = max_total.load();
    while (cur < seen && !max_total.compare_exchange_weak(cur, seen)) {
    }
  });
  EXPECT_LE(max_total.load(), 64u);
  EXPECT_EQ(l.in_flight(), 0u);
  EXPECT_EQ(l.in_flight_others(), 0u);
  EXPECT_GT(l.stats().windows, 10u);
  for (std::size_t p = 0; p < kPriorities; ++p) {
    EXPECT_EQ(l.in_flight(static_cast<Priority>(p)), 0u);
  }
}

}  // namespace
}  // namespace gh::admission
