// Per-route signals: rates over whole seconds, p90 from the log histogram, ring wrap-around,
// concurrent writers.
#include "stages/admission/route_window.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace gh::admission {
namespace {

TEST(LogBuckets, EveryValueFallsInsideItsBucket) {
  using B = LogBuckets<3>;
  std::size_t prev = 0;
  for (std::uint64_t v = 0; v < (1u << 20); v += 1 + v / 64) {
    const std::size_t i = B::index(static_cast<std::uint32_t>(v));
    ASSERT_LT(i, B::kCount);
    ASSERT_GE(i, prev);
    ASSERT_LE(B::lower(i), v);
    ASSERT_LT(v, B::lower(i) + B::width(i));
    ASSERT_LE(B::width(i) * 8, std::max<std::uint64_t>(8, B::lower(i)));  // <= 12.5 % wide
    prev = i;
  }
  EXPECT_EQ(B::index(0xffff'ffffu), B::kCount - 1);
  EXPECT_EQ(B::lower(B::kCount - 1) + B::width(B::kCount - 1), std::uint64_t{1} << 32);
}

TEST(LogBuckets, QuantileOfKnownData) {
  using B = LogBuckets<4>;
  std::vector<std::uint32_t> counts(B::kCount, 0);
  for (std::uint32_t v = 1; v <= 1000; ++v) ++counts[B::index(v)];
  EXPECT_NEAR(B::quantile(counts.data(), 1000, 0.5), 500, 500 * 0.0625);
  EXPECT_NEAR(B::quantile(counts.data(), 1000, 0.9), 900, 900 * 0.0625);
  EXPECT_EQ(B::quantile(counts.data(), 0, 0.5), 0);
  std::vector<std::uint32_t> small(B::kCount, 0);
  small[7] = 3;
  EXPECT_EQ(B::quantile(small.data(), 3, 0.5), 7);  // exact below 16
}

TEST(RouteWindow, RatesOverWholeSecondsBeforeNow) {
  auto w = std::make_unique<RouteWindow>();
  for (std::int64_t s = 0; s < 10; ++s) {
    for (int i = 0; i < 100; ++i) w->record_request(s * 1000 + i * 7);
    for (int i = 0; i < 10; ++i) w->record_shed(s * 1000 + i);
    for (int i = 0; i < 40; ++i) w->record_answer(s * 1000 + i, 20, i < 10);
  }
  // The current second (10) is partial and left out.
  for (int i = 0; i < 5000; ++i) w->record_request(10'000 + i % 999);
  const Signals sig = w->signals(10'500, 5'000);
  EXPECT_DOUBLE_EQ(sig.request_rate, 100);
  EXPECT_DOUBLE_EQ(sig.shed_rate_pct, 10);
  EXPECT_DOUBLE_EQ(sig.error_rate_pct, 25);
  EXPECT_NEAR(sig.upstream_latency_ms, 20, 20 * 0.125);
  // A window reaching past the first data: rate over the whole window.
  const Signals wide = w->signals(3'000, 10'000);
  EXPECT_DOUBLE_EQ(wide.request_rate, 30);  // 300 requests in seconds 0-2, over 10 s
}

TEST(RouteWindow, P90IgnoresTheFastMajority) {
  auto w = std::make_unique<RouteWindow>();
  for (int i = 0; i < 80; ++i) w->record_answer(2'000, 10, false);
  for (int i = 0; i < 20; ++i) w->record_answer(2'500, 1'000, false);
  const Signals sig = w->signals(3'000, 1'000);
  EXPECT_NEAR(sig.upstream_latency_ms, 1'000, 1'000 * 0.125);
  EXPECT_EQ(sig.error_rate_pct, 0);
  // Spread 1..200 ms: p90 about 180.
  auto v = std::make_unique<RouteWindow>();
  for (std::uint32_t ms = 1; ms <= 200; ++ms) v->record_answer(7'000 + ms, ms, false);
  EXPECT_NEAR(v->signals(8'000, 1'000).upstream_latency_ms, 180, 180 * 0.125);
}

TEST(RouteWindow, EmptyAndStaleSecondsCountAsNothing) {
  auto w = std::make_unique<RouteWindow>();
  Signals none = w->signals(0, 5'000);
  EXPECT_EQ(none.request_rate, 0);
  EXPECT_EQ(none.upstream_latency_ms, 0);
  for (int i = 0; i < 50; ++i) w->record_request(1'000);
  EXPECT_DOUBLE_EQ(w->signals(2'000, 1'000).request_rate, 50);
  // 16 seconds later the same ring slot is reused: the old count must not show up.
  EXPECT_EQ(w->signals(18'000, 1'000).request_rate, 0);
  for (int i = 0; i < 7; ++i) w->record_request(17'000);  // second 17 reuses slot 1
  EXPECT_DOUBLE_EQ(w->signals(18'000, 1'000).request_rate, 7);
  EXPECT_DOUBLE_EQ(w->signals(18'000, 14'000).request_rate, 0.5);  // 7 over 14 s; 1 is too old
  // A writer a whole ring late is dropped, never mixed into the newer second.
  w->record_request(1'500);
  EXPECT_DOUBLE_EQ(w->signals(18'000, 1'000).request_rate, 7);
}

TEST(RouteWindow, WindowIsClamped) {
  auto w = std::make_unique<RouteWindow>();
  for (std::int64_t s = 0; s < 40; ++s) w->record_request(s * 1000);
  EXPECT_DOUBLE_EQ(w->signals(40'000, 1'000'000).request_rate, 1);  // 14 s of one a second
  EXPECT_DOUBLE_EQ(w->signals(40'000, 0).request_rate, 1);
}

TEST(RouteWindow, ConcurrentWritersInAClaimedSecondAreExact) {
  auto w = std::make_unique<RouteWindow>();
  w->record_request(5'000);  // claims second 5
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&w, t] {
      for (int i = 0; i < 10'000; ++i) {
        w->record_request(5'000 + i % 1000);
        w->record_answer(5'000 + i % 1000, static_cast<std::uint32_t>(t * 10 + 5), i % 4 == 0);
      }
    });
  }
  for (auto& th : threads) th.join();
  const Signals s = w->signals(6'000, 1'000);
  EXPECT_DOUBLE_EQ(s.request_rate, 40'001);
  EXPECT_DOUBLE_EQ(s.error_rate_pct, 25);
  EXPECT_NEAR(s.upstream_latency_ms, 35, 35 * 0.125);
}

TEST(RouteWindow, ConcurrentWritersAcrossSecondEdgesLoseAtMostAFew) {
  auto w = std::make_unique<RouteWindow>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&w] {
      for (int i = 0; i < 40'000; ++i) w->record_request(i / 4);  // 10 s of time, 4000 per s
    });
  }
  for (auto& th : threads) th.join();
  const Signals s = w->signals(10'000, 10'000);
  EXPECT_LE(s.request_rate, 16'000);
  EXPECT_GE(s.request_rate, 15'000);  // only a claim race at an edge drops counts
}

}  // namespace
}  // namespace gh::admission
