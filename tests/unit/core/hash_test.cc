#include "core/hash.h"

#include <gtest/gtest.h>

#include <set>

namespace gh::core {
namespace {

TEST(Mix64, IsSplitMix64sFinaliser) {
  // SplitMix64 seeded with 0 yields mix64(k * 0x9e3779b97f4a7c15) for k = 1, 2, 3 ...
  EXPECT_EQ(mix64(0x9e3779b97f4a7c15ULL), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(mix64(2 * 0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(mix64(3 * 0x9e3779b97f4a7c15ULL), 0x06c45d188009454fULL);
  EXPECT_EQ(mix64(0), 0u);
  static_assert(mix64(1) != 1);
}

TEST(Mix64, SpreadsNeighbouringKeys) {
  // Consecutive keys land in distinct buckets of a small table far more often than not.
  std::set<std::uint64_t> buckets;
  for (std::uint64_t k = 0; k < 64; ++k) buckets.insert(mix64(k) & 1023);
  EXPECT_GT(buckets.size(), 58u);
}

}  // namespace
}  // namespace gh::core
