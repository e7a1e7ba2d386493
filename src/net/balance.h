// The choice of a server, and when one is taken out of the rotation: smooth weighted round robin
// (as nginx does it) and the passive ejection state machine. Pure and single-threaded: the
// balancer (upstream_group.h) keeps one round robin per worker and guards the ejection states.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/upstream-t.h"

namespace gh::net {

// Smooth weighted round robin: each pick adds every eligible server's weight to its running
// score, takes the highest and subtracts the eligible total from it. Weights 5,1,1 give
// a a b a c a a: the heavy server's turns are spread out, never a burst of five. A server that
// is not eligible neither gains nor loses, so the others keep their proportions meanwhile.
class WeightedRoundRobin {
 public:
  // The scores start at zero; size() becomes weights.size().
  void reset(const std::vector<std::uint32_t>& weights);
  // Keeps the score of index i (a server still present after a change of the set).
  void carry(std::size_t i, std::int64_t score) { score_[i] = score; }
  std::int64_t score(std::size_t i) const { return score_[i]; }
  std::size_t size() const { return weight_.size(); }

  // The next index among those eligible(i) admits; -1 when none is.
  template <class Eligible>
  int pick(Eligible&& eligible) {
    int best = -1;
    std::int64_t total = 0;
    for (std::size_t i = 0; i < weight_.size(); ++i) {
      if (!eligible(i)) continue;
      score_[i] += weight_[i];
      total += weight_[i];
      if (best < 0 || score_[i] > score_[static_cast<std::size_t>(best)]) {
        best = static_cast<int>(i);
      }
    }
    if (best >= 0) score_[static_cast<std::size_t>(best)] -= total;
    return best;
  }

 private:
  std::vector<std::int64_t> weight_;
  std::vector<std::int64_t> score_;
};

// One server's passive ejection. `consecutive_failures` transport failures in a row, the first
// of them within `window_ms` of the last, eject it for `duration_ms`, doubled for each ejection
// that follows the last re-admission by less than `max_duration_ms` (a server that keeps
// failing stays out longer and longer, up to `max_duration_ms`). Once its time is over it is
// back on probation: its first failure ejects it again at once, its first success ends the
// probation. Times are monotonic milliseconds.
class Ejection {
 public:
  enum class Outcome : std::uint8_t { Counted, Ejected };

  explicit Ejection(const EjectionConfig& config = {}) : config_(config) {}
  void configure(const EjectionConfig& config) { config_ = config; }

  Outcome failure(std::int64_t now);
  void success(std::int64_t now);
  // Ends an ejection early (the active health check saw the server come back).
  void readmit(std::int64_t now);

  bool ejected(std::int64_t now) const { return until_ != 0 && now < until_; }
  std::int64_t until() const { return until_; }  // 0: never ejected
  std::uint32_t streak() const { return streak_; }
  std::uint32_t level() const { return level_; }  // ejections in a row (the back-off)
  bool probation() const { return probation_; }
  std::uint64_t ejections() const { return ejections_; }
  // The length the next ejection would have at `now`.
  std::int64_t next_duration(std::int64_t now) const;

 private:
  EjectionConfig config_;
  std::uint32_t streak_ = 0;
  std::int64_t streak_start_ = 0;
  std::int64_t until_ = 0;
  std::int64_t readmitted_at_ = 0;  // when the last ejection ended (or was ended)
  std::uint32_t level_ = 0;
  bool probation_ = false;
  std::uint64_t ejections_ = 0;
};

// Active health: `unhealthy_threshold` failed checks in a row take a server down,
// `healthy_threshold` passed ones bring it back up. Servers start up.
class HealthStreak {
 public:
  enum class Change : std::uint8_t { None, Down, Up };
  Change record(bool passed, const HealthCheckConfig& config);
  bool up() const { return up_; }
  std::uint32_t passes() const { return passes_; }
  std::uint32_t fails() const { return fails_; }

 private:
  bool up_ = true;
  std::uint32_t passes_ = 0;  // in a row
  std::uint32_t fails_ = 0;   // in a row
};

// Whether `status` passes a health check configured with `expect`.
bool status_passes(std::uint16_t status, const std::vector<std::uint16_t>& expect);

}  // namespace gh::net
