#include "fleet/announce.h"

namespace gh::fleet {

Announcer::Say Announcer::reached(std::int64_t now_ms) {
  up_ = true;
  up_since_ms_ = now_ms;
  if (said_ != Said::Nothing) return tick(now_ms);  // settle_ms 0 says it at once
  // The first contact: nothing was lost, nothing to wait for.
  said_ = Said::Up;
  return {true, true, 0};
}

Announcer::Say Announcer::lost(std::int64_t) {
  const bool was_up = up_;
  up_ = false;
  if (said_ == Said::Down) {
    if (was_up) ++flaps_;  // a return that did not hold: counted, not said
    return {};
  }
  said_ = Said::Down;
  flaps_ = 0;
  return {true, false, 0};
}

Announcer::Say Announcer::tick(std::int64_t now_ms) {
  if (!up_ || said_ == Said::Up || now_ms - up_since_ms_ < settle_ms_) return {};
  said_ = Said::Up;
  const std::uint32_t flaps = flaps_;
  flaps_ = 0;
  return {true, true, flaps};
}

}  // namespace gh::fleet
