#include "stages/admission/limiter.h"

#include <algorithm>
#include <cmath>

#include "stages/admission/config.h"

namespace gh::admission {

Limiter::Limiter(const policy::AdmissionConfig& config, const LimiterOptions& options,
                 std::int64_t now_ms)
    : min_limit_(normalized(config).min_limit),
      max_limit_(normalized(config).max_limit),
      resident_percent_(normalized(config).resident_percent),
      options_(options),
      next_update_ms_(now_ms + std::max<std::int64_t>(options.window_ms, 1)),
      limit_f_(normalized(config).initial_limit),
      next_probe_ms_(now_ms + options.probe_interval_ms) {
  std::lock_guard lock(mu_);
  publish(limit_f_);
}

bool Limiter::try_acquire(Priority p) {
  const std::uint64_t caps = caps_.load(std::memory_order_acquire);
  const std::uint64_t limit = caps >> 32;
  const std::uint64_t cap = caps & kLow;
  const bool resident = p == Priority::Resident;
  const std::uint64_t step = resident ? kOneTotal : kOneTotal + 1;
  PerPriority& mine = per_[index_of(p)];
  std::uint64_t held = held_.load(kRelaxed);
  do {
    // Residents are bounded by the limit only; the others also by their cap, so the reserve
    // (limit - cap) can never be borrowed by them.
    if ((held >> 32) >= limit || (!resident && (held & kLow) >= cap)) {
      mine.refused.fetch_add(1, kRelaxed);
      return false;
    }
  } while (!held_.compare_exchange_weak(held, held + step, std::memory_order_acq_rel, kRelaxed));
  mine.in_flight.fetch_add(1, kRelaxed);
  mine.acquired.fetch_add(1, kRelaxed);
  return true;
}

void Limiter::release(Priority p, std::int64_t rtt_us, bool upstream_ok, std::int64_t now_ms) {
  const std::uint64_t step = p == Priority::Resident ? kOneTotal : kOneTotal + 1;
  held_.fetch_sub(step, std::memory_order_acq_rel);
  per_[index_of(p)].in_flight.fetch_sub(1, kRelaxed);
  if (rtt_us >= 0) {
    if (upstream_ok) {
      const auto v = static_cast<std::uint32_t>(std::min<std::int64_t>(rtt_us, kLow));
      rtt_[RttBuckets::index(v)].fetch_add(1, kRelaxed);
    } else {
      window_failures_.fetch_add(1, kRelaxed);
      failures_total_.fetch_add(1, kRelaxed);
    }
  }
  if (now_ms >= next_update_ms_.load(kRelaxed)) update(now_ms);
}

void Limiter::update(std::int64_t now_ms) {
  // try_lock: whoever holds it is doing this window's work already; nobody waits.
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || now_ms < next_update_ms_.load(kRelaxed)) return;
  recalculate(now_ms);
}

std::uint64_t Limiter::pending_samples() const {
  std::uint64_t n = 0;
  for (const auto& b : rtt_) n += b.load(kRelaxed);
  return n;
}

std::uint64_t Limiter::drain_samples(std::array<std::uint32_t, RttBuckets::kCount>& out) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = rtt_[i].exchange(0, kRelaxed);
    n += out[i];
  }
  return n;
}

void Limiter::recalculate(std::int64_t now_ms) {
  next_update_ms_.store(now_ms + std::max<std::int64_t>(options_.window_ms, 1), kRelaxed);
  std::array<std::uint32_t, RttBuckets::kCount> counts;

  if (probe_ == Probe::Draining) {
    // Answers to requests admitted at the old concurrency say nothing about the idle RTT.
    drain_samples(counts);
    window_failures_.exchange(0, kRelaxed);
    if (in_flight() <= min_limit_ || ++drain_windows_ >= options_.probe_drain_windows) {
      probe_ = Probe::Measuring;
    }
    return;
  }

  // Too few answers for a fair median: keep counting into a longer window.
  if (pending_samples() + window_failures_.load(kRelaxed) < options_.min_samples) return;
  const std::uint64_t n = drain_samples(counts);
  const std::uint64_t failed = window_failures_.exchange(0, kRelaxed);
  if (n + failed == 0) return;  // min_samples = 0 and an idle window
  ++windows_;
  // p50, not the mean: one slow outlier (a huge upload) must not cut everyone's limit.
  const double sample = n > 0 ? std::max(1.0, RttBuckets::quantile(counts.data(), n, 0.5)) : 0;
  if (n > 0) sample_rtt_us_ = sample;

  if (probe_ == Probe::Measuring) {
    // Re-learn min_rtt from scratch (it may have risen for good: a bigger database), then go
    // back to where the limit was.
    if (n > 0) min_rtt_us_ = sample;
    probe_ = Probe::None;
    next_probe_ms_ = now_ms + options_.probe_interval_ms;
    gradient_ = 1.0;
    publish(limit_f_);
    return;
  }

  double g = 1.0;
  if (n > 0) {
    if (min_rtt_us_ <= 0 || sample < min_rtt_us_) min_rtt_us_ = sample;
    const double target = min_rtt_us_ * (100.0 + options_.buffer_pct) / 100.0;
    g = std::clamp(target / sample, 0.5, 1.0);
  }
  // Envoy's sqrt(limit) headroom: grows fast when small, gently when large, and lets a little
  // queueing form so that the RTT has something to say.
  double headroom = std::sqrt(limit_f_);
  const double fail_ratio = static_cast<double>(failed) / static_cast<double>(n + failed);
  if (fail_ratio * 100.0 > options_.failure_tolerance_pct) {
    // Failures (timeouts, 502-504) are congestion: shrink at least by their share, no growth.
    g = std::max(0.5, std::min(g, 1.0 - fail_ratio));
    headroom = 0;
  }
  gradient_ = g;
  limit_f_ = std::clamp(limit_f_ * g + headroom, static_cast<double>(min_limit_),
                        static_cast<double>(max_limit_));
  publish(limit_f_);

  if (options_.probe_interval_ms > 0 && min_rtt_us_ > 0 && now_ms >= next_probe_ms_) {
    // Envoy's periodic min_rtt recalculation: pin concurrency to the floor, let it drain, and
    // measure one window there. Without it min_rtt only ever falls, and a permanently slower
    // upstream would be held at a needlessly low limit.
    ++probes_;
    drain_windows_ = 0;
    probe_ = in_flight() <= min_limit_ ? Probe::Measuring : Probe::Draining;
    publish(min_limit_);
  }
}

void Limiter::publish(double limit) {
  const auto l = static_cast<std::uint64_t>(
      std::clamp(limit, static_cast<double>(min_limit_), static_cast<double>(max_limit_)));
  // Rounded up, so any resident_percent > 0 keeps at least one slot for residents.
  const std::uint64_t reserved = (l * resident_percent_ + 99) / 100;
  caps_.store(l << 32 | (l - reserved), std::memory_order_release);
}

std::uint32_t Limiter::reserved() const {
  const std::uint64_t caps = caps_.load(kRelaxed);
  return static_cast<std::uint32_t>((caps >> 32) - (caps & kLow));
}

LimiterStats Limiter::stats() const {
  LimiterStats s;
  s.limit = limit();
  s.reserved = reserved();
  s.in_flight = in_flight();
  for (std::size_t i = 0; i < kPriorities; ++i) {
    s.by_priority[i].in_flight = per_[i].in_flight.load(kRelaxed);
    s.by_priority[i].acquired = per_[i].acquired.load(kRelaxed);
    s.by_priority[i].refused = per_[i].refused.load(kRelaxed);
  }
  s.failures = failures_total_.load(kRelaxed);
  std::lock_guard lock(mu_);
  s.min_rtt_us = static_cast<std::int64_t>(min_rtt_us_);
  s.sample_rtt_us = static_cast<std::int64_t>(sample_rtt_us_);
  s.gradient = gradient_;
  s.windows = windows_;
  s.probes = probes_;
  s.probing = probe_ != Probe::None;
  return s;
}

}  // namespace gh::admission
