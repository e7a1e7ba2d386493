#include "sim/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace gh::sim {

std::size_t Histogram::index_of(std::uint64_t v) {
  if (v < 2 * kSub) return static_cast<std::size_t>(v);
  const int msb = std::bit_width(v) - 1;  // >= kSubBits + 1
  const int shift = msb - kSubBits;       // >= 1
  return static_cast<std::size_t>((shift + 1) * kSub + ((v >> shift) - kSub));
}

std::uint64_t Histogram::lowest_of(std::size_t index) {
  if (index < 2 * kSub) return index;
  const std::uint64_t shift = index / kSub - 1;
  return (kSub + index % kSub) << shift;
}

std::uint64_t Histogram::width_of(std::size_t index) {
  if (index < 2 * kSub) return 1;
  return std::uint64_t{1} << (index / kSub - 1);
}

void Histogram::record(std::int64_t value_ns) {
  std::uint64_t v = value_ns < 0 ? 0 : static_cast<std::uint64_t>(value_ns);
  v = std::min(v, kMaxValue);
  ++counts_[index_of(v)];
  ++count_;
  max_ = std::max(max_, v);
  min_ = std::min(min_, v);
  sum_ += v;
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
  sum_ += other.sum_;
}

std::uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t mid = lowest_of(i) + (width_of(i) - 1) / 2;
      // Never report past the extremes actually seen.
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace gh::sim
