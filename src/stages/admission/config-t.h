// The admission sections: an upstream's adaptive concurrency limit (`upstreams.NAME.admission`)
// and a sign-up route's mode with its triggers (`routes[].signup`, which also holds the waiting
// room's settings). Plain types, filled by config.cc in this folder and read by the limiter, the
// wait queue and the mode controller. In gh::policy, the configuration's namespace, like every
// section's.
#pragma once

#include <cstdint>
#include <vector>

#include "config/model-t.h"
#include "stages/waitroom/config-t.h"

namespace gh::policy {

// Adaptive concurrency towards one upstream (Envoy gradient / Netflix Gradient2): the limit
// follows min RTT / sample RTT between a floor and a ceiling; residents own a reserved share.
struct AdmissionConfig {
  bool enabled = false;
  std::uint32_t min_limit = 4;
  std::uint32_t max_limit = 256;
  std::uint32_t initial_limit = 32;
  std::uint32_t resident_percent = 30;  // of the current limit, never lent to other classes
  std::uint32_t queue_max = 1'000;      // waiting for a slot, per process
  Millis queue_timeout = 2'000;         // longest wait for a slot
  Millis codel_target = 5;              // CoDel: deadline once the queue has stood `interval`
  Millis codel_interval = 100;
  std::uint32_t retry_after_s = 5;  // on 503 when shed
};

enum class SignupMode : std::uint8_t { Open, Challenge, Queue, Closed };

// Automatic mode switching: above `above` for `for_ms`, the route goes to `mode`; it returns
// to the configured mode once below `below` for `hold_ms` (and never before `hold_ms`).
enum class TriggerMetric : std::uint8_t {
  UpstreamLatency,  // p90 upstream first-byte latency over the last window, ms
  ErrorRate,        // 5xx from the upstream, percent of answers
  ShedRate,         // admission 503s, percent of requests
  RequestRate,      // requests per second on the route
};

struct TriggerConfig {
  TriggerMetric metric = TriggerMetric::RequestRate;
  double above = 0;
  double below = 0;  // release level (hysteresis); default = above / 2
  SignupMode mode = SignupMode::Queue;
  Millis for_ms = 10'000;
  Millis hold_ms = 60'000;
  SourceMark mark;
};

struct SignupConfig {
  SignupMode mode = SignupMode::Open;  // the configured (base) mode
  WaitingRoomConfig waiting_room;
  std::uint32_t closed_retry_after_s = 1'800;
  std::vector<TriggerConfig> triggers;
};

}  // namespace gh::policy
