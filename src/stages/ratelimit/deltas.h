// What the shared limits hand to the fleet: every change of a shared key's debt made here since
// the last drain (README.md, "Shared limits"). Workers record without waiting for anyone: each
// record goes into one of a fixed set of single-consumer rings, taken by a try-flag (a worker
// that finds its ring busy tries the next ones, then drops the entry and counts it), and the
// fleet's thread drains them all. Memory is fixed when sharing starts: kRings × kRingEntries.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "stages/ratelimit/ratelimit-t.h"

namespace gh::ratelimit {

struct DeltaEntry {
  std::uint64_t limit = 0;  // the limit's fleet-wide id (Registry)
  Key key;
  Nanos delta = 0;     // change of the key's debt: emissions × T, negative for a refund
  bool exact = false;  // an exact limit's: its figure is published to the other nodes
};

class DeltaLog {
 public:
  static constexpr std::size_t kRings = 16;
  static constexpr std::size_t kRingEntries = 4096;  // a power of two
  static constexpr std::size_t kTries = 4;

  DeltaLog();
  DeltaLog(const DeltaLog&) = delete;
  DeltaLog& operator=(const DeltaLog&) = delete;

  // Any thread, never waits. `urgent` (an exact limit's key) also calls the urgent hook, once
  // until the next drain.
  void record(std::uint64_t limit, const Key& key, Nanos delta, bool urgent);
  // One thread at a time (the fleet's): appends every entry recorded so far.
  void drain(std::vector<DeltaEntry>& out);
  // Set before any worker records.
  void on_urgent(std::function<void()> hook) { urgent_hook_ = std::move(hook); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct alignas(64) Ring {
    std::atomic<bool> busy{false};       // a producer is writing
    std::atomic<std::uint64_t> head{0};  // written by producers (one at a time)
    std::atomic<std::uint64_t> tail{0};  // written by the consumer
    std::array<DeltaEntry, kRingEntries> entries{};
  };
  std::unique_ptr<Ring[]> rings_;
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<bool> urgent_pending_{false};
  std::function<void()> urgent_hook_;
};

}  // namespace gh::ratelimit
