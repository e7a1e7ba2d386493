// Sign-up mode switching: for_ms, hysteresis, hold_ms, the strictest of several triggers, manual
// override, and the events with their reasons. One tick per simulated second.
#include "stages/admission/mode_controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace gh::admission {
namespace {

using policy::SignupMode;
using policy::TriggerMetric;

constexpr std::int64_t kSec = 1000;

policy::TriggerConfig trigger(TriggerMetric metric, double above, double below, SignupMode mode,
                              policy::Millis for_ms = 10'000, policy::Millis hold_ms = 60'000) {
  policy::TriggerConfig t;
  t.metric = metric;
  t.above = above;
  t.below = below;
  t.mode = mode;
  t.for_ms = for_ms;
  t.hold_ms = hold_ms;
  return t;
}

Signals rate(double r) {
  Signals s;
  s.request_rate = r;
  return s;
}

struct Fixture {
  std::vector<ModeEvent> events;
  ModeController c;

  explicit Fixture(policy::SignupConfig config)
      : c("signup", config, [this](const ModeEvent& e) { events.push_back(e); }) {}
};

policy::SignupConfig rate_to_queue() {
  policy::SignupConfig c;
  c.triggers.push_back(trigger(TriggerMetric::RequestRate, 500, 250, SignupMode::Queue));
  return c;
}

TEST(ModeNames, RoundTrip) {
  for (SignupMode m :
       {SignupMode::Open, SignupMode::Challenge, SignupMode::Queue, SignupMode::Closed}) {
    EXPECT_EQ(parse_mode(mode_name(m)), m);
  }
  EXPECT_EQ(mode_name(SignupMode::Queue), "queue");
  EXPECT_FALSE(parse_mode("Queue").has_value());
  EXPECT_FALSE(parse_mode("").has_value());
  EXPECT_FALSE(parse_mode("closedx").has_value());
}

TEST(ModeController, StartsInTheConfiguredMode) {
  policy::SignupConfig cfg;
  cfg.mode = SignupMode::Challenge;
  Fixture f(cfg);
  EXPECT_EQ(f.c.mode(), SignupMode::Challenge);
  EXPECT_EQ(f.c.configured_mode(), SignupMode::Challenge);
  EXPECT_FALSE(f.c.manual());
  EXPECT_EQ(f.c.route(), "signup");
  f.c.tick(rate(1e6), 0);  // no triggers: nothing moves
  EXPECT_TRUE(f.events.empty());
}

TEST(ModeController, FiresOnlyAfterForMsContinuouslyAbove) {
  Fixture f(rate_to_queue());
  for (std::int64_t t = 0; t < 10; ++t) {
    f.c.tick(rate(812), t * kSec);
    EXPECT_EQ(f.c.mode(), SignupMode::Open) << t;
  }
  f.c.tick(rate(812), 10 * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Queue);
  ASSERT_EQ(f.events.size(), 1u);
  const ModeEvent& e = f.events[0];
  EXPECT_EQ(e.at_ms, 10 * kSec);
  EXPECT_EQ(e.route, "signup");
  EXPECT_EQ(e.from, SignupMode::Open);
  EXPECT_EQ(e.to, SignupMode::Queue);
  EXPECT_FALSE(e.manual);
  EXPECT_EQ(e.reason, "request_rate 812.0/s above 500/s for 10s");
  EXPECT_EQ(f.c.reason(), e.reason);
  EXPECT_EQ(f.c.since_ms(), 10 * kSec);
}

TEST(ModeController, OscillatingAroundAboveNeverFires) {
  Fixture f(rate_to_queue());
  for (std::int64_t t = 0; t < 300; ++t) {
    // 9 s above, 1 s just under: the run of 10 s never completes.
    f.c.tick(rate(t % 10 == 9 ? 499 : 501), t * kSec);
  }
  EXPECT_EQ(f.c.mode(), SignupMode::Open);
  EXPECT_TRUE(f.events.empty());
}

TEST(ModeController, HysteresisKeepsTheModeBetweenBelowAndAbove) {
  Fixture f(rate_to_queue());
  std::int64_t t = 0;
  for (; t <= 10; ++t) f.c.tick(rate(600), t * kSec);
  ASSERT_EQ(f.c.mode(), SignupMode::Queue);
  // Wavering around `above` after firing: 300-700 never goes under 250.
  for (; t < 400; ++t) f.c.tick(rate(t % 2 == 0 ? 300 : 700), t * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Queue);
  EXPECT_EQ(f.events.size(), 1u);
  // Under `below` for hold_ms (60 s): back to open, once.
  const std::int64_t calm_from = t;
  for (; t < calm_from + 60; ++t) {
    f.c.tick(rate(120), t * kSec);
    EXPECT_EQ(f.c.mode(), SignupMode::Queue) << t;
  }
  f.c.tick(rate(120), t * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Open);
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[1].from, SignupMode::Queue);
  EXPECT_EQ(f.events[1].to, SignupMode::Open);
  EXPECT_EQ(f.events[1].reason, "request_rate 120.0/s below 250/s for 60s");
  EXPECT_EQ(f.events[1].at_ms, (calm_from + 60) * kSec);
}

TEST(ModeController, OneTickOverBelowRestartsTheCalmPeriod) {
  Fixture f(rate_to_queue());
  std::int64_t t = 0;
  for (; t <= 10; ++t) f.c.tick(rate(600), t * kSec);
  for (int i = 0; i < 200; ++i, ++t) {
    f.c.tick(rate(i % 50 == 49 ? 260 : 100), t * kSec);  // a blip every 50 s
  }
  EXPECT_EQ(f.c.mode(), SignupMode::Queue);
}

TEST(ModeController, HoldMsCountsFromTheChange) {
  policy::SignupConfig cfg;
  cfg.triggers.push_back(
      trigger(TriggerMetric::RequestRate, 500, 250, SignupMode::Queue, 0, 30'000));
  Fixture f(cfg);
  f.c.tick(rate(900), 5 * kSec);  // for_ms = 0: at once
  ASSERT_EQ(f.c.mode(), SignupMode::Queue);
  EXPECT_EQ(f.events[0].reason, "request_rate 900.0/s above 500/s for 0s");
  // Calm from the very next second: released only 30 s after the change.
  std::int64_t t = 6;
  for (; t < 35; ++t) {
    f.c.tick(rate(0), t * kSec);
    ASSERT_EQ(f.c.mode(), SignupMode::Queue) << t;
  }
  f.c.tick(rate(0), 36 * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Open);
}

TEST(ModeController, StrictestOfSeveralTriggersWins) {
  policy::SignupConfig cfg;
  cfg.triggers.push_back(
      trigger(TriggerMetric::UpstreamLatency, 800, 400, SignupMode::Challenge, 3'000, 20'000));
  cfg.triggers.push_back(
      trigger(TriggerMetric::ErrorRate, 20, 5, SignupMode::Closed, 5'000, 30'000));
  cfg.triggers.push_back(trigger(TriggerMetric::ShedRate, 10, 2, SignupMode::Queue, 5'000, 40'000));
  Fixture f(cfg);
  Signals s;
  s.upstream_latency_ms = 1500;
  std::int64_t t = 0;
  for (; t <= 3; ++t) f.c.tick(s, t * kSec);
  ASSERT_EQ(f.c.mode(), SignupMode::Challenge);
  EXPECT_EQ(f.events.back().reason, "upstream_latency 1500.0ms above 800ms for 3s");
  // Errors and shedding both climb at t = 4 and fire together at t = 9: closed beats queue.
  s.error_rate_pct = 35.5;
  s.shed_rate_pct = 50;
  for (; t <= 9; ++t) f.c.tick(s, t * kSec);
  ASSERT_EQ(f.c.mode(), SignupMode::Closed);
  EXPECT_EQ(f.events.back().from, SignupMode::Challenge);
  EXPECT_EQ(f.events.back().reason, "error_rate 35.5% above 20% for 5s");
  // Errors stop (calm from t = 10); shedding and latency stay: closed → queue once the error
  // trigger has been under `below` for its hold.
  s.error_rate_pct = 0;
  for (; t < 10 + 30; ++t) f.c.tick(s, t * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Closed);
  f.c.tick(s, t * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Queue);
  EXPECT_EQ(f.events.back().reason, "error_rate 0.0% below 5% for 30s");
  EXPECT_EQ(f.events.size(), 3u);
}

TEST(ModeController, TriggersNeverLoosenTheConfiguredMode) {
  policy::SignupConfig cfg;
  cfg.mode = SignupMode::Queue;
  cfg.triggers.push_back(
      trigger(TriggerMetric::RequestRate, 10, 5, SignupMode::Challenge, 0, 1'000));
  Fixture f(cfg);
  for (std::int64_t t = 0; t < 20; ++t) f.c.tick(rate(100), t * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Queue);
  EXPECT_TRUE(f.events.empty());
}

TEST(ModeController, ManualOverridesTriggersUntilBackToAutomatic) {
  Fixture f(rate_to_queue());
  f.c.set_manual(SignupMode::Closed, "maintenance of the mail sender", 1 * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Closed);
  EXPECT_TRUE(f.c.manual());
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_TRUE(f.events[0].manual);
  EXPECT_EQ(f.events[0].from, SignupMode::Open);
  EXPECT_EQ(f.events[0].to, SignupMode::Closed);
  EXPECT_EQ(f.events[0].reason, "maintenance of the mail sender");
  // The trigger fires underneath, but the operator's mode holds.
  std::int64_t t = 2;
  for (; t <= 20; ++t) f.c.tick(rate(900), t * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Closed);
  EXPECT_EQ(f.events.size(), 1u);
  // Back to automatic: lands on what the triggers say now (queue).
  f.c.set_manual(std::nullopt, "", t * kSec);
  EXPECT_FALSE(f.c.manual());
  EXPECT_EQ(f.c.mode(), SignupMode::Queue);
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_TRUE(f.events[1].manual);
  EXPECT_EQ(f.events[1].from, SignupMode::Closed);
  EXPECT_EQ(f.events[1].to, SignupMode::Queue);
  EXPECT_EQ(f.events[1].reason, "back to automatic");
  // And then the triggers drive it again.
  const std::int64_t from = ++t;
  for (; t <= from + 61; ++t) f.c.tick(rate(10), t * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Open);
  EXPECT_FALSE(f.events.back().manual);
}

TEST(ModeController, ManualSameModeStillLogsAndBackToAutoWithNoTrigger) {
  Fixture f(rate_to_queue());
  f.c.set_manual(SignupMode::Open, "", 0);
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].reason, "set by operator");
  EXPECT_EQ(f.events[0].from, f.events[0].to);
  f.c.set_manual(SignupMode::Challenge, "bot wave", 5 * kSec);
  f.c.set_manual(std::nullopt, "wave over", 9 * kSec);
  EXPECT_EQ(f.c.mode(), SignupMode::Open);
  EXPECT_EQ(f.events.back().reason, "back to automatic: wave over");
  EXPECT_EQ(f.c.since_ms(), 9 * kSec);
}

TEST(ModeController, CallbackMayReadTheController) {
  SignupMode seen = SignupMode::Open;
  std::string reason;
  ModeController* self = nullptr;
  ModeController c("signup", rate_to_queue(), [&](const ModeEvent&) {
    seen = self->mode();
    reason = self->reason();
  });
  self = &c;
  c.set_manual(SignupMode::Closed, "x", 0);
  EXPECT_EQ(seen, SignupMode::Closed);
  EXPECT_EQ(reason, "x");
}

TEST(ModeController, ConcurrentReadersSeeOnlyValidModes) {
  policy::SignupConfig cfg;
  cfg.triggers.push_back(trigger(TriggerMetric::RequestRate, 500, 250, SignupMode::Closed, 0, 0));
  std::atomic<int> events{0};
  ModeController c("signup", cfg, [&](const ModeEvent&) { events.fetch_add(1); });
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      const auto m = static_cast<int>(c.mode());
      ASSERT_TRUE(m >= 0 && m <= 3);
    }
  });
  for (std::int64_t t = 0; t < 2000; ++t) {
    c.tick(rate(t % 2 == 0 ? 900 : 0), t * kSec);
    if (t % 100 == 0)
      c.set_manual(t % 200 == 0 ? std::optional(SignupMode::Queue) : std::nullopt, "op", t * kSec);
  }
  stop.store(true);
  reader.join();
  EXPECT_GT(events.load(), 100);
}

}  // namespace
}  // namespace gh::admission
