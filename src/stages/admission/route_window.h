// One route's recent traffic, counted by workers and read once a second by the lead for the
// sign-up triggers. Per-second buckets in a ring; every count is one relaxed atomic add.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "stages/admission/log_buckets.h"
#include "stages/admission/mode-t.h"

namespace gh::admission {

class RouteWindow {
 public:
  static constexpr int kSeconds = 16;
  // Longest window signals() reads: the current second is still being written and the ring
  // keeps one spare, so stale buckets are never mistaken for recent ones.
  static constexpr int kMaxWindowSeconds = kSeconds - 2;
  // Latencies in ms, 8 buckets per power of two (at most 12.5 % wide).
  using LatencyBuckets = LogBuckets<3>;

  RouteWindow() = default;
  RouteWindow(const RouteWindow&) = delete;
  RouteWindow& operator=(const RouteWindow&) = delete;

  // Every request of the route, shed or not.
  void record_request(std::int64_t now_ms);
  // Every upstream answer (or failure: error = true for 5xx, timeouts, connection failures).
  void record_answer(std::int64_t now_ms, std::uint32_t latency_ms, bool error);
  // Requests answered 503 by admission (also counted by record_request).
  void record_shed(std::int64_t now_ms);

  // Over the whole seconds before now's: window_ms rounded up to seconds, 1 to kMaxWindowSeconds.
  // Rates are per second of the window; latency is the p90 of the answers (0 without any).
  Signals signals(std::int64_t now_ms, std::int64_t window_ms) const;

 private:
  struct alignas(64) Second {
    // 2 × the second counted here; odd while a writer resets the bucket for a new second.
    std::atomic<std::int64_t> tag{-2};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> answers{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> shed{0};
    std::array<std::atomic<std::uint32_t>, LatencyBuckets::kCount> latency{};
  };

  // The bucket of now's second, reset first if it still holds an older one. nullptr (the count
  // is dropped) while another writer resets it, or for a time older than the ring holds.
  Second* claim(std::int64_t now_ms);

  std::array<Second, kSeconds> ring_{};
};

}  // namespace gh::admission
