#include "fleet/breaker.h"

#include <algorithm>

namespace gh::fleet {

void Breaker::success() {
  failures_ = 0;
  probes_failed_ = 0;
  open_ = false;
  next_attempt_ms_ = 0;
}

void Breaker::failure(std::int64_t now_ms) {
  ++failures_;
  if (open_) {
    // A failed probe: stay open, longer each time.
    probes_failed_ = std::min<std::uint32_t>(probes_failed_ + 1, 4);
    next_attempt_ms_ = now_ms + (open_for_ms_ << probes_failed_);
    return;
  }
  if (failures_ >= threshold_) {
    open_ = true;
    ++opens_;
    next_attempt_ms_ = now_ms + open_for_ms_;
    return;
  }
  const std::int64_t backoff =
      std::min<std::int64_t>(std::int64_t{50} << (failures_ - 1), open_for_ms_);
  next_attempt_ms_ = now_ms + backoff;
}

Breaker::State Breaker::state(std::int64_t now_ms) const {
  if (!open_) return State::Closed;
  return now_ms >= next_attempt_ms_ ? State::HalfOpen : State::Open;
}

}  // namespace gh::fleet
