// Monotonic time in integer units: the data plane never uses floating point or wall-clock time
// for decisions.
#pragma once

#include <cstdint>
#include <ctime>

namespace gh::core {

using Nanos = std::int64_t;
using Millis = std::int64_t;

inline Nanos monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline Millis monotonic_ms() {
  return monotonic_ns() / 1'000'000;
}

// Cheap coarse clock for timers (≈1-4 ms resolution, no vDSO fallback cost on most kernels).
inline Millis coarse_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<Millis>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

inline std::int64_t wall_seconds() {
  return static_cast<std::int64_t>(::time(nullptr));
}

// Wall-clock milliseconds since the epoch: for what is signed into cookies or written for people
// (tickets, tokens, events), which must mean the same after a restart.
inline std::int64_t wall_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// The same in microseconds: a waiting-room ticket's first-seen time to the microsecond orders
// people who arrived within one millisecond on different nodes of a fleet.
inline std::int64_t wall_us() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1'000;
}

}  // namespace gh::core
