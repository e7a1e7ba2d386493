// The last 600 seconds at one-second resolution, for the dashboard (GET /v1/series). Filled once
// a second by the server's housekeeping; read by the admin threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "observe/observe-t.h"

namespace gh::observe {

inline constexpr std::size_t kSeriesSeconds = 600;
inline constexpr std::size_t kSeriesRoutesMax = 16;  // sign-up routes whose mode is charted

struct RouteMode {
  std::string route;
  std::uint8_t mode = 0;  // index into kModeNames (policy::SignupMode)
};

struct Second {
  std::int64_t at_ms = 0;  // wall clock, start of the second
  Figures figures;         // figures.queue_length: the queue length when sampled
  std::vector<RouteMode> modes;
};

class SecondSeries {
 public:
  // Adds one second; a second not later than the newest one replaces nothing and is ignored
  // (clock steps back), so the columns stay sorted.
  void push(Second second);

  // Column form for uPlot, the last `seconds` seconds (at most 600), oldest first:
  // {"t": [unix seconds], "requests": [...], "passed": [...], ... one column per verdict,
  //  "suspect": [...], "suspect_served": [...], ... per class, "latency_p50_ms", "latency_p99_ms",
  //  "queue_length", "admitted", "modes": {route: [mode index or null]}, "mode_names": [...]}
  nlohmann::json json(std::size_t seconds) const;

  // Sums the seconds with from_ms <= at_ms < to_ms into a Minute's figures: counters added,
  // queue length and peak rate the largest, latency p50 the median of the seconds' p50 and p99
  // the largest p99 (an upper bound: percentiles do not add). Modes: the last second's.
  Minute fold(std::int64_t from_ms, std::int64_t to_ms) const;

  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::array<Second, kSeriesSeconds> ring_;
  std::size_t next_ = 0;
  std::size_t count_ = 0;
};

// Adds `f` into `total`: counts add up, queue length and p99 latency keep the highest.
void accumulate(Figures& total, const Figures& f);

}  // namespace gh::observe
