// Log-linear histogram buckets over 32-bit values (HdrHistogram's layout, coarse): values below
// 2^SubBits get one bucket each, above that every power of two is cut into 2^SubBits equal
// buckets, so a bucket is never wider than 1/2^SubBits of its values. Used for RTTs and latencies,
// where a fixed relative error is what matters and counting must be one atomic add.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace gh::admission {

template <int SubBits>
struct LogBuckets {
  static_assert(SubBits >= 1 && SubBits <= 8);
  static constexpr std::uint32_t kSub = 1u << SubBits;
  static constexpr std::size_t kCount = std::size_t{kSub} * (33 - SubBits);

  static constexpr std::size_t index(std::uint32_t v) {
    if (v < kSub) return v;
    const int e = std::bit_width(v) - 1;  // >= SubBits
    const std::uint32_t sub = (v >> (e - SubBits)) - kSub;
    return kSub + static_cast<std::size_t>(e - SubBits) * kSub + sub;
  }

  static constexpr std::uint64_t lower(std::size_t i) {
    if (i < kSub) return i;
    const std::size_t g = (i - kSub) / kSub;
    const std::size_t sub = (i - kSub) % kSub;
    return (std::uint64_t{kSub} + sub) << g;
  }

  static constexpr std::uint64_t width(std::size_t i) {
    return i < kSub ? 1 : std::uint64_t{1} << ((i - kSub) / kSub);
  }

  // The q-quantile (0 < q <= 1) of `n` values counted in `counts[kCount]`; 0 when n is 0. Within
  // a bucket the values are taken as evenly spread; exact below 2^SubBits.
  template <typename Count>
  static double quantile(const Count* counts, std::uint64_t n, double q) {
    if (n == 0) return 0;
    double rank = q * static_cast<double>(n);
    if (rank < 1) rank = 1;
    std::uint64_t before = 0;
    for (std::size_t i = 0; i < kCount; ++i) {
      const std::uint64_t c = counts[i];
      if (c == 0) continue;
      if (static_cast<double>(before + c) >= rank) {
        if (i < kSub) return static_cast<double>(i);
        const double within = (rank - static_cast<double>(before) - 0.5) / static_cast<double>(c);
        return static_cast<double>(lower(i)) +
               static_cast<double>(width(i)) * (within < 0 ? 0 : within);
      }
      before += c;
    }
    return static_cast<double>(lower(kCount - 1));
  }
};

}  // namespace gh::admission
