// Memory layout of the limiter table (README.md, "Memory layout").
#pragma once

#include <atomic>
#include <cstdint>

#include "stages/ratelimit/ratelimit-t.h"

namespace gh::ratelimit {

inline constexpr int kSlotsPerBucket = 7;
inline constexpr std::uint64_t kBannedBit = 1;

// One tracked key. The key itself is not stored: its 63-bit tag (independent of the bucket
// index) stands for it. tag == 0 marks an empty slot.
struct Slot {
  std::uint64_t tag = 0;  // bits 63..1: tag; bit 0: banned
  Nanos tat = 0;          // theoretical arrival time
};

// A probe window: two cache lines, 128-byte aligned so the adjacent-line prefetcher brings both,
// holding the lock word that guards its slots. Slot i starts at byte 16 + 16 i, so none
// straddles the line boundary.
struct alignas(128) Bucket {
  std::atomic<std::uint32_t> lock{0};
  std::uint32_t reserved[3] = {};
  Slot slots[kSlotsPerBucket];
};

static_assert(sizeof(Slot) == 16);
static_assert(sizeof(Bucket) == 128);

// A key's place in one table: its bucket and its tag (banned bit clear, never 0). Made by
// Table::locate, valid only for the table that made it.
struct Ticket {
  Bucket* bucket = nullptr;
  std::uint64_t tag = 0;
  Key key;  // what a shared table reports its changes under
};

// How a table takes part in the fleet (`shared`, `exact`; Registry::share).
enum class Sharing : std::uint8_t { Local, Shared, Exact };

// Counters striped per thread so workers do not bounce one cache line on every decision.
struct alignas(64) CounterStripe {
  std::atomic<std::uint64_t> lookups{0};
  std::atomic<std::uint64_t> inserts{0};
  std::atomic<std::uint64_t> evictions_expired{0};
  std::atomic<std::uint64_t> evictions_least_limited{0};
  std::atomic<std::uint64_t> table_full{0};
  std::atomic<std::uint64_t> tracked{0};  // adds only: slots are reused, never freed
};

inline constexpr int kCounterStripes = 16;

}  // namespace gh::ratelimit
