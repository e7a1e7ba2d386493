// Adaptive concurrency limit towards one upstream, shared by all workers (README.md, "The
// controller"). The hot path is one CAS on a packed word; the once-per-window recalculation takes
// a mutex with try_lock, so a worker never waits for another. Time is always an argument.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "stages/admission/config-t.h"
#include "stages/admission/limiter-t.h"
#include "stages/admission/log_buckets.h"
#include "stages/admission/priority-t.h"

namespace gh::admission {

class Limiter {
 public:
  // RTT samples in microseconds, 16 buckets per power of two (at most 6.25 % wide).
  using RttBuckets = LogBuckets<4>;

  // Out-of-range settings are made sane (normalized() in config.h).
  explicit Limiter(const policy::AdmissionConfig& config, const LimiterOptions& options = {},
                   std::int64_t now_ms = 0);
  Limiter(const Limiter&) = delete;
  Limiter& operator=(const Limiter&) = delete;

  // Takes a slot if the priority may: residents while in_flight < limit, everyone else while
  // in_flight < limit and non-residents hold fewer than limit - reserved.
  bool try_acquire(Priority p);

  // Gives back a slot taken by try_acquire(p). rtt_us: request sent -> response head received;
  // negative = no sample (the client went away first, the request never reached the upstream).
  // upstream_ok = false for timeouts, connection failures and 502/503/504: such a release is a
  // congestion signal, not an RTT sample (a refused connection is fast and would look healthy).
  void release(Priority p, std::int64_t rtt_us, bool upstream_ok, std::int64_t now_ms);

  // Recalculates if a window is due. release() already does; housekeeping calls it so that the
  // limit moves on (and a probe ends) even when no answer comes back.
  void update(std::int64_t now_ms);

  std::uint32_t limit() const { return static_cast<std::uint32_t>(caps_.load(kRelaxed) >> 32); }
  std::uint32_t reserved() const;
  std::uint32_t in_flight() const { return static_cast<std::uint32_t>(held_.load(kRelaxed) >> 32); }
  // Slots held by everyone but residents (at most limit - reserved when taken).
  std::uint32_t in_flight_others() const {
    return static_cast<std::uint32_t>(held_.load(kRelaxed) & kLow);
  }
  std::uint32_t in_flight(Priority p) const { return per_[index_of(p)].in_flight.load(kRelaxed); }
  LimiterStats stats() const;

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  static constexpr std::uint64_t kLow = 0xffff'ffffu;
  static constexpr std::uint64_t kOneTotal = std::uint64_t{1} << 32;

  enum class Probe : std::uint8_t { None, Draining, Measuring };

  struct alignas(64) PerPriority {
    std::atomic<std::uint32_t> in_flight{0};
    std::atomic<std::uint64_t> acquired{0};
    std::atomic<std::uint64_t> refused{0};
  };

  void recalculate(std::int64_t now_ms);  // mu_ held
  void publish(double limit);             // mu_ held
  std::uint64_t drain_samples(std::array<std::uint32_t, RttBuckets::kCount>& out);
  std::uint64_t pending_samples() const;

  const std::uint32_t min_limit_;
  const std::uint32_t max_limit_;
  const std::uint32_t resident_percent_;
  const LimiterOptions options_;

  // Hot, written by every worker: high half = total in flight, low half = non-residents.
  alignas(64) std::atomic<std::uint64_t> held_{0};
  // Read on every acquire, written once per window: high half = limit, low half = the cap of
  // non-residents (limit - reserved). One word, so the two are always consistent.
  alignas(64) std::atomic<std::uint64_t> caps_{0};
  std::atomic<std::int64_t> next_update_ms_;
  PerPriority per_[kPriorities];

  // This window's answers. A sample is one relaxed add on its bucket.
  alignas(64) std::array<std::atomic<std::uint32_t>, RttBuckets::kCount> rtt_{};
  std::atomic<std::uint32_t> window_failures_{0};
  std::atomic<std::uint64_t> failures_total_{0};

  mutable std::mutex mu_;  // the controller state below
  double limit_f_;
  double min_rtt_us_ = 0;
  double sample_rtt_us_ = 0;
  double gradient_ = 1.0;
  std::uint64_t windows_ = 0;
  std::uint64_t probes_ = 0;
  Probe probe_ = Probe::None;
  std::uint32_t drain_windows_ = 0;
  std::int64_t next_probe_ms_ = 0;
};

}  // namespace gh::admission
