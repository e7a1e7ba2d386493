// A log-bucketed latency histogram in the manner of HdrHistogram: fixed memory, O(1) record.
#pragma once

#include <array>
#include <cstdint>

namespace gh::sim {

// Values are nanoseconds. Below 2*kSub they are kept exactly; above, each power of two is cut into
// kSub equal buckets, so a reported percentile is within kRelativeError of the true sample at that
// rank (the bucket midpoint is reported). Values above kMaxValue are clamped to it.
class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr std::uint64_t kSub = std::uint64_t{1} << kSubBits;  // 128
  static constexpr double kRelativeError = 1.0 / (2 * kSub);           // 0.39 %
  static constexpr int kMaxExponent = 40;                              // 2^40 ns ~ 18 min
  static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << kMaxExponent) - 1;
  static constexpr std::size_t kBuckets = (kMaxExponent - kSubBits + 1) * kSub;

  void record(std::int64_t value_ns);
  void merge(const Histogram& other);
  // The value at quantile q in [0, 1]: the sample of rank ceil(q * count), as a bucket midpoint.
  // 0 when empty.
  std::uint64_t percentile(double q) const;
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

  static std::size_t index_of(std::uint64_t v);
  static std::uint64_t lowest_of(std::size_t index);
  static std::uint64_t width_of(std::size_t index);

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  unsigned __int128 sum_ = 0;
};

}  // namespace gh::sim
