// Open-loop arrivals: users arrive on a Poisson schedule whatever the target does, and every
// latency is measured from the INTENDED start, so a stalled target cannot hide its stall by
// slowing the load down (no coordinated omission).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>

#include "sim/sim-t.h"

namespace gh::sim {

// Intended start times of a Poisson process of `rate` per second, from `start`.
class PoissonSchedule {
 public:
  PoissonSchedule(double rate_per_s, Nanos start, std::uint64_t seed);
  Nanos peek() const { return next_; }  // the next intended start
  Nanos pop();                          // returns it and draws the one after
  double rate() const { return rate_; }

 private:
  Nanos draw_gap();
  double rate_;
  Nanos next_;
  double carry_ = 0;  // sub-nanosecond remainder, so the mean gap is exact over many draws
  std::mt19937_64 rng_;
  std::exponential_distribution<double> gap_;
};

// The arrivals that are due but could not start yet (the population is at max in flight). They
// keep their intended start time: the wait counts in their latency.
class ArrivalQueue {
 public:
  ArrivalQueue(double rate_per_s, Nanos start, Nanos stop, std::uint64_t seed,
               std::size_t max_waiting);
  // Moves every arrival intended at or before `now` (and before `stop`) into the waiting line;
  // beyond `max_waiting` they are counted as dropped. Returns how many arrived.
  std::size_t advance(Nanos now);
  bool has_waiting() const { return !waiting_.empty(); }
  Nanos take();            // the oldest waiting intended start; requires has_waiting()
  Nanos next_due() const;  // next intended start still to come, or INT64_MAX when none
  std::size_t waiting() const { return waiting_.size(); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  PoissonSchedule schedule_;
  Nanos stop_;
  std::size_t max_waiting_;
  std::deque<Nanos> waiting_;
  std::uint64_t dropped_ = 0;
};

}  // namespace gh::sim
