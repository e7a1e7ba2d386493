// Plain types of the adaptive concurrency limiter (limiter.h): tuning knobs that are not part of
// the operator's config, and the stats snapshot for metrics.
#pragma once

#include <array>
#include <cstdint>

#include "stages/admission/priority-t.h"

namespace gh::admission {

// Controller constants. Defaults follow Envoy's adaptive concurrency filter where it has one.
struct LimiterOptions {
  std::int64_t window_ms = 200;             // recalculation period (Envoy: 100 ms)
  std::uint32_t min_samples = 8;            // a window with fewer answers is extended
  std::uint32_t buffer_pct = 10;            // min_rtt headroom before the gradient drops
  std::uint32_t failure_tolerance_pct = 5;  // failures above this share of a window cut the limit
  std::int64_t probe_interval_ms = 60'000;  // min_rtt re-probe period; 0 = never re-probe
  std::uint32_t probe_drain_windows = 10;   // longest wait for in_flight to fall to min_limit
};

struct PriorityStats {
  std::uint32_t in_flight = 0;
  std::uint64_t acquired = 0;
  std::uint64_t refused = 0;
};

struct LimiterStats {
  std::uint32_t limit = 0;
  std::uint32_t reserved = 0;  // slots only residents may hold
  std::uint32_t in_flight = 0;
  std::array<PriorityStats, kPriorities> by_priority{};
  std::int64_t min_rtt_us = 0;     // 0 until the first window
  std::int64_t sample_rtt_us = 0;  // p50 of the last window with answers
  double gradient = 1.0;           // of the last recalculation
  std::uint64_t windows = 0;       // recalculations done
  std::uint64_t probes = 0;        // min_rtt re-probes started
  std::uint64_t failures = 0;      // releases with upstream_ok = false
  bool probing = false;
};

}  // namespace gh::admission
