#include "net/balance.h"

#include <algorithm>

namespace gh::net {

void WeightedRoundRobin::reset(const std::vector<std::uint32_t>& weights) {
  weight_.assign(weights.begin(), weights.end());
  score_.assign(weights.size(), 0);
}

std::int64_t Ejection::next_duration(std::int64_t now) const {
  // Back again soon after the last ejection: twice as long. After a good spell: from the start.
  std::uint32_t level = 0;
  if (readmitted_at_ != 0 && now - readmitted_at_ < config_.max_duration_ms) {
    level = std::min<std::uint32_t>(level_ + 1, 30);
  }
  const std::int64_t base = std::max<std::int64_t>(1, config_.duration_ms);
  const std::int64_t cap = std::max<std::int64_t>(base, config_.max_duration_ms);
  std::int64_t d = base;
  for (std::uint32_t i = 0; i < level && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

Ejection::Outcome Ejection::failure(std::int64_t now) {
  if (config_.consecutive_failures == 0) return Outcome::Counted;
  if (until_ != 0 && now < until_) return Outcome::Counted;  // already out: a late failure
  bool eject = probation_;
  if (!eject) {
    if (streak_ == 0 || now - streak_start_ > static_cast<std::int64_t>(config_.window_ms)) {
      streak_ = 1;
      streak_start_ = now;
    } else {
      ++streak_;
    }
    eject = streak_ >= config_.consecutive_failures;
  }
  if (!eject) return Outcome::Counted;
  const std::int64_t d = next_duration(now);
  level_ = (readmitted_at_ != 0 && now - readmitted_at_ < config_.max_duration_ms)
               ? std::min<std::uint32_t>(level_ + 1, 30)
               : 0;
  until_ = now + d;
  // Its time over, it comes back on probation: noted now, since nothing calls at that moment.
  readmitted_at_ = until_;
  probation_ = true;
  streak_ = 0;
  ++ejections_;
  return Outcome::Ejected;
}

void Ejection::success(std::int64_t now) {
  streak_ = 0;
  // A request that was already in flight when the server was ejected proves little.
  if (until_ == 0 || now >= until_) probation_ = false;
}

void Ejection::readmit(std::int64_t now) {
  if (until_ == 0 || now >= until_) return;
  until_ = now;
  readmitted_at_ = now;
}

HealthStreak::Change HealthStreak::record(bool passed, const HealthCheckConfig& config) {
  if (passed) {
    fails_ = 0;
    if (passes_ < UINT32_MAX) ++passes_;
    if (!up_ && passes_ >= std::max<std::uint32_t>(1, config.healthy_threshold)) {
      up_ = true;
      return Change::Up;
    }
    return Change::None;
  }
  passes_ = 0;
  if (fails_ < UINT32_MAX) ++fails_;
  if (up_ && fails_ >= std::max<std::uint32_t>(1, config.unhealthy_threshold)) {
    up_ = false;
    return Change::Down;
  }
  return Change::None;
}

bool status_passes(std::uint16_t status, const std::vector<std::uint16_t>& expect) {
  if (expect.empty()) return status >= 200 && status < 400;
  return std::find(expect.begin(), expect.end(), status) != expect.end();
}

}  // namespace gh::net
