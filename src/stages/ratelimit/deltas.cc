#include "stages/ratelimit/deltas.h"

namespace gh::ratelimit {
namespace {

std::atomic<unsigned> next_ring{0};
thread_local unsigned my_ring = ~0u;

}  // namespace

DeltaLog::DeltaLog() : rings_(std::make_unique<Ring[]>(kRings)) {}

void DeltaLog::record(std::uint64_t limit, const Key& key, Nanos delta, bool urgent) {
  if (my_ring == ~0u) my_ring = next_ring.fetch_add(1, std::memory_order_relaxed);
  bool done = false;
  for (std::size_t i = 0; i < kTries && !done; ++i) {
    Ring& r = rings_[(my_ring + i) % kRings];
    if (r.busy.exchange(true, std::memory_order_acquire)) continue;  // another worker's turn
    const std::uint64_t head = r.head.load(std::memory_order_relaxed);
    if (head - r.tail.load(std::memory_order_acquire) < kRingEntries) {
      r.entries[head % kRingEntries] = {limit, key, delta, urgent};
      r.head.store(head + 1, std::memory_order_release);
      done = true;
    }
    r.busy.store(false, std::memory_order_release);
    if (!done) break;  // full: the others are as likely full, and the drain is coming
  }
  if (!done) dropped_.fetch_add(1, std::memory_order_relaxed);
  if (urgent && urgent_hook_ && !urgent_pending_.exchange(true, std::memory_order_acq_rel)) {
    urgent_hook_();
  }
}

void DeltaLog::drain(std::vector<DeltaEntry>& out) {
  urgent_pending_.store(false, std::memory_order_release);
  for (std::size_t i = 0; i < kRings; ++i) {
    Ring& r = rings_[i];
    const std::uint64_t head = r.head.load(std::memory_order_acquire);
    std::uint64_t tail = r.tail.load(std::memory_order_relaxed);
    for (; tail != head; ++tail) out.push_back(r.entries[tail % kRingEntries]);
    r.tail.store(tail, std::memory_order_release);
  }
}

}  // namespace gh::ratelimit
