#include "stages/admission/mode_controller.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "core/duration.h"

namespace gh::admission {

namespace {

using policy::SignupMode;
using policy::TriggerMetric;

double value_of(const Signals& s, TriggerMetric m) {
  switch (m) {
    case TriggerMetric::UpstreamLatency:
      return s.upstream_latency_ms;
    case TriggerMetric::ErrorRate:
      return s.error_rate_pct;
    case TriggerMetric::ShedRate:
      return s.shed_rate_pct;
    case TriggerMetric::RequestRate:
      return s.request_rate;
  }
  return 0;
}

std::string_view unit_of(TriggerMetric m) {
  switch (m) {
    case TriggerMetric::UpstreamLatency:
      return "ms";
    case TriggerMetric::ErrorRate:
    case TriggerMetric::ShedRate:
      return "%";
    case TriggerMetric::RequestRate:
      return "/s";
  }
  return "";
}

// "request_rate 812.0/s above 500/s for 10s"
std::string trigger_text(const policy::TriggerConfig& t, double value, bool above) {
  const std::string_view unit = unit_of(t.metric);
  return fmt::format("{} {:.1f}{} {} {:g}{} for {}", metric_name(t.metric), value, unit,
                     above ? "above" : "below", above ? t.above : t.below, unit,
                     core::format_duration(above ? t.for_ms : t.hold_ms,
                                           core::DurationStyle::Config, core::TimeUnit::Second));
}

}  // namespace

std::string_view mode_name(SignupMode mode) {
  switch (mode) {
    case SignupMode::Open:
      return "open";
    case SignupMode::Challenge:
      return "challenge";
    case SignupMode::Queue:
      return "queue";
    case SignupMode::Closed:
      return "closed";
  }
  return "unknown";
}

std::optional<SignupMode> parse_mode(std::string_view text) {
  for (SignupMode m :
       {SignupMode::Open, SignupMode::Challenge, SignupMode::Queue, SignupMode::Closed}) {
    if (text == mode_name(m)) return m;
  }
  return std::nullopt;
}

std::string_view metric_name(TriggerMetric metric) {
  switch (metric) {
    case TriggerMetric::UpstreamLatency:
      return "upstream_latency";
    case TriggerMetric::ErrorRate:
      return "error_rate";
    case TriggerMetric::ShedRate:
      return "shed_rate";
    case TriggerMetric::RequestRate:
      return "request_rate";
  }
  return "unknown";
}

ModeController::ModeController(std::string route, const policy::SignupConfig& config,
                               Callback on_event, std::int64_t now_ms)
    : route_(std::move(route)),
      base_(config.mode),
      on_event_(std::move(on_event)),
      mode_(static_cast<std::uint8_t>(config.mode)),
      since_ms_(now_ms),
      reason_("configured") {
  triggers_.reserve(config.triggers.size());
  for (const policy::TriggerConfig& t : config.triggers) triggers_.push_back(Trigger{t});
}

std::string ModeController::reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

SignupMode ModeController::target() const {
  // The strictest of the configured mode and every active trigger: a trigger never loosens.
  SignupMode m = base_;
  for (const Trigger& t : triggers_) {
    if (t.active) m = std::max(m, t.config.mode);
  }
  return m;
}

void ModeController::change(SignupMode to, std::string reason, bool manual, std::int64_t now_ms,
                            std::optional<ModeEvent>& out) {
  const SignupMode from = mode();
  if (to != from || manual) since_ms_.store(now_ms, std::memory_order_relaxed);
  mode_.store(static_cast<std::uint8_t>(to), std::memory_order_relaxed);
  reason_ = reason;
  out = ModeEvent{now_ms, route_, from, to, std::move(reason), manual};
}

void ModeController::set_manual(std::optional<SignupMode> mode, std::string reason,
                                std::int64_t now_ms) {
  std::lock_guard order(deliver_mu_);
  std::optional<ModeEvent> event;
  {
    std::lock_guard lock(mu_);
    if (mode) {
      manual_.store(true, std::memory_order_relaxed);
      change(*mode, reason.empty() ? "set by operator" : std::move(reason), true, now_ms, event);
    } else {
      manual_.store(false, std::memory_order_relaxed);
      change(target(), reason.empty() ? "back to automatic" : "back to automatic: " + reason, true,
             now_ms, event);
    }
  }
  if (on_event_) on_event_(*event);
}

void ModeController::tick(const Signals& signals, std::int64_t now_ms) {
  std::lock_guard order(deliver_mu_);
  std::optional<ModeEvent> event;
  {
    std::lock_guard lock(mu_);
    const SignupMode current = mode();
    const std::int64_t since = since_ms_.load(std::memory_order_relaxed);
    std::string fired_reason;  // of the strictest trigger that fired on this tick
    SignupMode fired_mode = SignupMode::Open;
    std::string released_reason;

    for (Trigger& t : triggers_) {
      const policy::TriggerConfig& c = t.config;
      const double v = value_of(signals, c.metric);
      if (!t.active) {
        // Above must hold on every tick for for_ms: one dip restarts the count, so a metric
        // wavering around `above` never fires.
        if (v <= c.above) {
          t.above_since = -1;
          continue;
        }
        if (t.above_since < 0) t.above_since = now_ms;
        if (now_ms - t.above_since < static_cast<std::int64_t>(c.for_ms)) continue;
        t.active = true;
        t.below_since = -1;
        if (fired_reason.empty() || c.mode > fired_mode) {
          fired_mode = c.mode;
          fired_reason = trigger_text(c, v, true);
        }
        continue;
      }
      // Release needs the metric under `below` (not just under `above`: hysteresis) for
      // hold_ms, and the current mode held for hold_ms.
      const bool calm = v < c.below || (c.below <= 0 && v <= 0);
      if (!calm) {
        t.below_since = -1;
        continue;
      }
      if (t.below_since < 0) t.below_since = now_ms;
      const auto hold = static_cast<std::int64_t>(c.hold_ms);
      if (now_ms - t.below_since < hold || now_ms - since < hold) continue;
      t.active = false;
      t.above_since = -1;
      if (released_reason.empty()) released_reason = trigger_text(c, v, false);
    }

    if (!manual()) {
      const SignupMode to = target();
      if (to > current) {
        change(to, fired_reason.empty() ? "trigger active" : std::move(fired_reason), false, now_ms,
               event);
      } else if (to < current) {
        change(to, released_reason.empty() ? "triggers released" : std::move(released_reason),
               false, now_ms, event);
      }
    }
  }
  if (event && on_event_) on_event_(*event);
}

}  // namespace gh::admission
