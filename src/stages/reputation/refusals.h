// Recent refusals per client prefix: the proxy notes every request it refuses (429, ban, deny)
// and the scorer reads the count back (`recent_refusals` rules). Fixed memory, chosen at
// construction; shared by every worker thread without a lock: each slot is one 64-bit atomic
// word changed by compare-and-swap. `now_ms` is always an argument (any monotonic clock).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "client/address-t.h"

namespace gh::reputation {

struct RefusalStats {
  std::uint64_t evictions = 0;  // a live prefix lost its slot to a new one (bucket full)
  std::uint64_t dropped = 0;  // a note() given up after repeated CAS races (counts are approximate)
};

class RefusalTracker {
 public:
  static constexpr std::size_t kWays = 8;           // slots per bucket: one cache line
  static constexpr std::uint32_t kMaxCount = 4095;  // per window; counts saturate there

  // `slots` is rounded up to a whole number of buckets (at least one); `window_ms` (at least 1)
  // is the span a refusal is remembered over: it weighs fully during its own window and fades
  // linearly over the next (a two-window sliding estimate).
  explicit RefusalTracker(std::size_t slots, std::int64_t window_ms);
  RefusalTracker(const RefusalTracker&) = delete;
  RefusalTracker& operator=(const RefusalTracker&) = delete;

  void note(const client::Cidr& prefix, std::int64_t now_ms) noexcept;
  // Refusals of `prefix` within about the last window; 0 when it is not tracked.
  std::uint32_t recent(const client::Cidr& prefix, std::int64_t now_ms) const noexcept;

  std::size_t capacity() const noexcept { return bucket_count_ * kWays; }
  std::size_t memory_bytes() const noexcept { return bucket_count_ * sizeof(Bucket); }
  std::int64_t window_ms() const noexcept { return window_ms_; }
  RefusalStats stats() const noexcept;

 private:
  struct alignas(64) Bucket {
    std::atomic<std::uint64_t> slot[kWays];
  };
  struct Place {
    Bucket* bucket;
    std::uint32_t tag;
  };

  Place place(const client::Cidr& prefix) const noexcept;

  std::unique_ptr<Bucket[]> buckets_;
  std::size_t bucket_count_;
  std::int64_t window_ms_;
  mutable std::atomic<std::uint64_t> evictions_{0};
  mutable std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace gh::reputation
