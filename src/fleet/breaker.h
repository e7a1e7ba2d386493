// The circuit breaker in front of Redis: after `failures` failures in a row (a refused or timed
// out connect, a command past its timeout) it opens, and no attempt is made for `open_for`
// (doubling on each failed probe, up to 16x); then one probe is let through (half-open). Below
// the threshold, reconnects back off from 50 ms, doubling, up to open_for.
#pragma once

#include <cstdint>

namespace gh::fleet {

class Breaker {
 public:
  enum class State : std::uint8_t { Closed, Open, HalfOpen };

  Breaker(std::uint32_t failures, std::int64_t open_for_ms)
      : threshold_(failures == 0 ? 1 : failures), open_for_ms_(open_for_ms) {}

  // Whether an attempt (a connect) may start at `now`.
  bool allow(std::int64_t now_ms) const { return now_ms >= next_attempt_ms_; }
  void success();
  void failure(std::int64_t now_ms);
  State state(std::int64_t now_ms) const;
  std::uint32_t failures() const { return failures_; }
  std::uint64_t opens() const { return opens_; }  // times it went open
  std::int64_t next_attempt_ms() const { return next_attempt_ms_; }

 private:
  std::uint32_t threshold_;
  std::int64_t open_for_ms_;
  std::uint32_t failures_ = 0;  // in a row
  std::uint32_t probes_failed_ = 0;
  std::uint64_t opens_ = 0;
  bool open_ = false;
  std::int64_t next_attempt_ms_ = 0;
};

}  // namespace gh::fleet
