#include "sim/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace gh::sim {
namespace {

// The sample of rank ceil(q*n) in a sorted copy: the definition percentile() promises.
std::uint64_t reference(std::vector<std::uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

void expect_close(std::uint64_t got, std::uint64_t want) {
  const double err = std::abs(static_cast<double>(got) - static_cast<double>(want));
  EXPECT_LE(err, Histogram::kRelativeError * static_cast<double>(want) + 0.5)
      << "got " << got << " want " << want;
}

TEST(Histogram, BucketsCoverValuesContiguously) {
  for (std::uint64_t v : std::initializer_list<std::uint64_t>{0, 1, 255, 256, 257, 1000, 123456789,
                                                              Histogram::kMaxValue}) {
    auto i = Histogram::index_of(v);
    ASSERT_LT(i, Histogram::kBuckets);
    EXPECT_LE(Histogram::lowest_of(i), v);
    EXPECT_LT(v, Histogram::lowest_of(i) + Histogram::width_of(i));
  }
  for (std::size_t i = 1; i < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::lowest_of(i), Histogram::lowest_of(i - 1) + Histogram::width_of(i - 1));
  }
}

TEST(Histogram, PercentilesMatchSortedReferenceWithinPrecision) {
  std::mt19937_64 rng(7);
  // Log-normal latencies from ~100 us to seconds, as a loaded server produces.
  std::lognormal_distribution<double> d(std::log(2e6), 1.5);
  std::vector<std::uint64_t> samples;
  Histogram h;
  for (int i = 0; i < 100'000; ++i) {
    auto v = static_cast<std::uint64_t>(d(rng));
    samples.push_back(v);
    h.record(static_cast<std::int64_t>(v));
  }
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    SCOPED_TRACE(q);
    expect_close(h.percentile(q), reference(samples, q));
  }
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (int v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(0.5), 50u);
  EXPECT_EQ(h.percentile(0.99), 99u);
  EXPECT_EQ(h.percentile(1.0), 100u);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  Histogram a, b, all;
  for (int i = 0; i < 1000; ++i) {
    a.record(i * 1000);
    all.record(i * 1000);
    b.record(i * 7919);
    all.record(i * 7919);
  }
  a.merge(b);
  for (double q : {0.5, 0.99, 0.999}) EXPECT_EQ(a.percentile(q), all.percentile(q));
  EXPECT_EQ(a.count(), all.count());
}

TEST(Histogram, ClampsNegativeAndHugeValues) {
  Histogram h;
  EXPECT_EQ(h.percentile(0.5), 0u);  // empty
  h.record(-5);
  h.record(INT64_MAX);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), Histogram::kMaxValue);
}

}  // namespace
}  // namespace gh::sim
