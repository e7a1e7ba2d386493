#include "net/timer.h"

namespace gh::net {

void TimerWheel::arm(Timer& t, std::int64_t deadline_ms) {
  cancel(t);
  std::int64_t tick = deadline_ms / kTickMs;
  if (tick < current_tick_) tick = current_tick_;
  t.deadline_ms = deadline_ms;
  t.slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(tick) % kSlots);
  t.prev = nullptr;
  t.next = slots_[t.slot];
  if (t.next != nullptr) t.next->prev = &t;
  slots_[t.slot] = &t;
  t.armed = true;
  ++armed_;
}

void TimerWheel::cancel(Timer& t) {
  if (!t.armed) return;
  if (t.prev != nullptr) {
    t.prev->next = t.next;
  } else {
    slots_[t.slot] = t.next;
  }
  if (t.next != nullptr) t.next->prev = t.prev;
  t.prev = t.next = nullptr;
  t.armed = false;
  --armed_;
}

std::size_t TimerWheel::advance(std::int64_t now_ms) {
  std::size_t fired = 0;
  const std::int64_t target = now_ms / kTickMs;
  // Bounded: at most one full turn of the wheel per call, whatever the time jump.
  std::int64_t steps = target - current_tick_ + 1;
  if (steps > static_cast<std::int64_t>(kSlots)) steps = kSlots;
  for (std::int64_t i = 0; i < steps; ++i) {
    const std::int64_t tick = (i + 1 == steps) ? target : current_tick_ + i;
    Timer* t = slots_[static_cast<std::uint64_t>(tick) % kSlots];
    while (t != nullptr) {
      Timer* next = t->next;
      if (t->deadline_ms <= now_ms) {
        cancel(*t);
        ++fired;
        t->callback(t->owner);
        // The callback may have cancelled `next`; restart the slot scan to stay safe.
        next = slots_[static_cast<std::uint64_t>(tick) % kSlots];
      }
      t = next;
    }
  }
  current_tick_ = target;
  return fired;
}

int TimerWheel::next_timeout_ms(std::int64_t now_ms) const {
  if (armed_ == 0) return -1;
  std::int64_t wait = (current_tick_ + 1) * kTickMs - now_ms;
  if (wait < 1) wait = 1;
  if (wait > kTickMs) wait = kTickMs;
  return static_cast<int>(wait);
}

}  // namespace gh::net
