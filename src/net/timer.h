// A hashed timer wheel: O(1) arm and cancel, expiry scanned one slot per tick. Timers beyond the
// wheel's horizon stay in their slot until their round comes (deadlines are absolute).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace gh::net {

struct Timer {
  using Callback = void (*)(void* owner);
  Callback callback = nullptr;
  void* owner = nullptr;
  std::int64_t deadline_ms = 0;
  Timer* prev = nullptr;
  Timer* next = nullptr;
  std::uint32_t slot = 0;
  bool armed = false;
};

class TimerWheel {
 public:
  static constexpr std::int64_t kTickMs = 16;
  static constexpr std::size_t kSlots = 1024;  // horizon ≈ 16 s

  explicit TimerWheel(std::int64_t now_ms) : current_tick_(now_ms / kTickMs) {}

  void arm(Timer& t, std::int64_t deadline_ms);
  void cancel(Timer& t);
  // Fires every timer whose deadline is <= now_ms; callbacks may re-arm or cancel any timer.
  std::size_t advance(std::int64_t now_ms);
  // Milliseconds to wait in epoll: until the next tick when anything is armed, else -1.
  int next_timeout_ms(std::int64_t now_ms) const;
  std::size_t armed() const { return armed_; }

 private:
  std::array<Timer*, kSlots> slots_{};
  std::int64_t current_tick_;
  std::size_t armed_ = 0;
};

}  // namespace gh::net
