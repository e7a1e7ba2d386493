// Requests waiting for a limiter slot, one queue per worker (single-threaded, no locks). Ordered by
// priority, FIFO within one; bounded, with eviction that follows the shedding order; CoDel-style
// deadlines (README.md, "The queue"). Storage is one array allocated at construction.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "stages/admission/config.h"
#include "stages/admission/priority-t.h"

namespace gh::admission {

struct QueueStats {
  std::uint64_t queued = 0;     // accepted by push (evicting or not)
  std::uint64_t refused = 0;    // push refused: full of equal or higher priorities
  std::uint64_t evicted = 0;    // pushed out by a higher-priority arrival
  std::uint64_t timed_out = 0;  // given to expire's callback
  std::uint64_t popped = 0;
  std::uint64_t removed = 0;
  std::int64_t last_wait_ms = 0;  // of the last waiter popped
};

inline constexpr std::int64_t kNoDeadline = std::numeric_limits<std::int64_t>::max();

// T: a small handle (session pointer, id), default-constructible, movable, equality-comparable
// (for remove).
template <typename T>
class WaitQueue {
 public:
  enum class Push : std::uint8_t { Queued, Refused, QueuedEvicting };

  // capacity: this worker's share of queue_max. Deadlines from queue_timeout, codel_target and
  // codel_interval.
  WaitQueue(std::size_t capacity, const policy::AdmissionConfig& config)
      : capacity_(capacity),
        timeout_ms_(config.queue_timeout),
        target_ms_(normalized(config).codel_target),
        interval_ms_(config.codel_interval),
        slots_(capacity * kPriorities) {}

  // When full, an arrival of higher priority than the lowest present evicts that priority's
  // newest waiter into *evicted (the caller sheds it); any other arrival is Refused, as is every
  // push that would need to evict when `evicted` is null.
  Push push(T item, Priority p, std::int64_t now_ms, T* evicted) {
    Push result = Push::Queued;
    if (size_ == capacity_) {
      const std::size_t lowest = lowest_present();
      if (capacity_ == 0 || index_of(p) <= lowest || evicted == nullptr) {
        ++stats_.refused;
        return Push::Refused;
      }
      // Newest of the lowest: it has waited least, so shedding it wastes the least waiting.
      Ring& r = rings_[lowest];
      *evicted = std::move(at(lowest, r.count - 1).item);
      --r.count;
      --size_;
      ++stats_.evicted;
      result = Push::QueuedEvicting;
    }
    if (size_ == 0) nonempty_since_ms_ = now_ms;
    Ring& r = rings_[index_of(p)];
    Entry& e = at(index_of(p), r.count);
    e.item = std::move(item);
    e.enqueued_ms = now_ms;
    ++r.count;
    ++size_;
    ++stats_.queued;
    return result;
  }

  // Highest priority first, FIFO within one. Does not check deadlines: call expire() first.
  std::optional<T> pop(std::int64_t now_ms) {
    for (std::size_t i = kPriorities; i-- > 0;) {
      if (rings_[i].count == 0) continue;
      Entry& e = at(i, 0);
      stats_.last_wait_ms = now_ms - e.enqueued_ms;
      std::optional<T> out(std::move(e.item));
      drop_front(i);
      ++stats_.popped;
      return out;
    }
    return std::nullopt;
  }

  // Calls on_timeout(T&&) for every waiter past its deadline, oldest first within a priority.
  // The callback must not touch this queue.
  template <typename F>
  void expire(std::int64_t now_ms, F&& on_timeout) {
    if (size_ == 0) return;
    const std::int64_t wait = allowed_wait(now_ms);
    for (std::size_t i = 0; i < kPriorities; ++i) {
      while (rings_[i].count > 0 && now_ms - at(i, 0).enqueued_ms >= wait) {
        T item = std::move(at(i, 0).item);
        drop_front(i);
        ++stats_.timed_out;
        on_timeout(std::move(item));
      }
    }
  }

  // When expire() next has something to do; kNoDeadline when empty. Accounts for the switch to
  // the CoDel target that happens once the queue has stood for codel_interval.
  std::int64_t next_deadline() const {
    if (size_ == 0) return kNoDeadline;
    std::int64_t oldest = kNoDeadline;
    for (std::size_t i = 0; i < kPriorities; ++i) {
      if (rings_[i].count > 0) oldest = std::min(oldest, at(i, 0).enqueued_ms);
    }
    const std::int64_t standing_at = nonempty_since_ms_ + interval_ms_ + 1;
    return std::min(oldest + timeout_ms_, std::max(standing_at, oldest + target_ms_));
  }

  // A waiter whose client went away. False when it is not queued.
  bool remove(const T& item) {
    for (std::size_t i = 0; i < kPriorities; ++i) {
      Ring& r = rings_[i];
      for (std::size_t k = 0; k < r.count; ++k) {
        if (!(at(i, k).item == item)) continue;
        for (std::size_t j = k; j + 1 < r.count; ++j) at(i, j) = std::move(at(i, j + 1));
        --r.count;
        note_removed();
        ++stats_.removed;
        return true;
      }
    }
    return false;
  }

  // The queue has been non-empty without a break for more than codel_interval: waiters checked
  // now get codel_target instead of queue_timeout.
  bool standing(std::int64_t now_ms) const {
    return size_ > 0 && now_ms - nonempty_since_ms_ > interval_ms_;
  }

  std::size_t size() const { return size_; }
  std::size_t size(Priority p) const { return rings_[index_of(p)].count; }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  const QueueStats& stats() const { return stats_; }

 private:
  struct Entry {
    T item{};
    std::int64_t enqueued_ms = 0;
  };
  struct Ring {
    std::size_t head = 0;
    std::size_t count = 0;
  };

  Entry& at(std::size_t ring, std::size_t k) {
    return slots_[ring * capacity_ + (rings_[ring].head + k) % capacity_];
  }
  const Entry& at(std::size_t ring, std::size_t k) const {
    return slots_[ring * capacity_ + (rings_[ring].head + k) % capacity_];
  }

  void drop_front(std::size_t ring) {
    Ring& r = rings_[ring];
    r.head = (r.head + 1) % capacity_;
    --r.count;
    note_removed();
  }

  void note_removed() {
    if (--size_ == 0) nonempty_since_ms_ = 0;
  }

  std::size_t lowest_present() const {
    for (std::size_t i = 0; i < kPriorities; ++i) {
      if (rings_[i].count > 0) return i;
    }
    return kPriorities;
  }

  std::int64_t allowed_wait(std::int64_t now_ms) const {
    return standing(now_ms) ? target_ms_ : timeout_ms_;
  }

  const std::size_t capacity_;
  const std::int64_t timeout_ms_;
  const std::int64_t target_ms_;
  const std::int64_t interval_ms_;
  // Each priority has its own ring of `capacity` slots, so any mix fits without moving others.
  std::vector<Entry> slots_;
  Ring rings_[kPriorities];
  std::size_t size_ = 0;
  std::int64_t nonempty_since_ms_ = 0;
  QueueStats stats_;
};

}  // namespace gh::admission
