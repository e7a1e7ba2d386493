#include "sim/arrival.h"

#include <climits>
#include <cmath>

namespace gh::sim {

PoissonSchedule::PoissonSchedule(double rate_per_s, Nanos start, std::uint64_t seed)
    : rate_(rate_per_s), next_(start), rng_(seed), gap_(rate_per_s > 0 ? rate_per_s : 1.0) {
  next_ = rate_ > 0 ? start + draw_gap() : INT64_MAX;
}

Nanos PoissonSchedule::draw_gap() {
  const double g = gap_(rng_) * 1e9 + carry_;
  const double whole = std::floor(g);
  carry_ = g - whole;
  return static_cast<Nanos>(whole);
}

Nanos PoissonSchedule::pop() {
  const Nanos t = next_;
  if (rate_ > 0) next_ += draw_gap();
  return t;
}

ArrivalQueue::ArrivalQueue(double rate_per_s, Nanos start, Nanos stop, std::uint64_t seed,
                           std::size_t max_waiting)
    : schedule_(rate_per_s, start, seed), stop_(stop), max_waiting_(max_waiting) {}

std::size_t ArrivalQueue::advance(Nanos now) {
  std::size_t n = 0;
  while (schedule_.peek() <= now && schedule_.peek() < stop_) {
    const Nanos t = schedule_.pop();
    ++n;
    if (waiting_.size() >= max_waiting_) {
      ++dropped_;
    } else {
      waiting_.push_back(t);
    }
  }
  return n;
}

Nanos ArrivalQueue::take() {
  const Nanos t = waiting_.front();
  waiting_.pop_front();
  return t;
}

Nanos ArrivalQueue::next_due() const {
  return schedule_.peek() < stop_ ? schedule_.peek() : INT64_MAX;
}

}  // namespace gh::sim
