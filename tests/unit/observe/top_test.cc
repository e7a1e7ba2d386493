// Space-Saving heavy hitters against exact counts on skewed (Zipf) streams: the N/K guarantee,
// the error bounds, merge across workers, decay, and fixed memory for long or many keys.
#include "observe/top.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

namespace gh::observe {
namespace {

// Keys drawn from a Zipf(s) law over `n` distinct keys.
std::vector<std::string> zipf_stream(std::size_t length, std::size_t n, double s, unsigned seed) {
  std::vector<double> weights(n);
  for (std::size_t i = 0; i < n; ++i) weights[i] = 1.0 / std::pow(static_cast<double>(i + 1), s);
  std::discrete_distribution<std::size_t> dist(weights.begin(), weights.end());
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  out.reserve(length);
  for (std::size_t i = 0; i < length; ++i)
    out.push_back("198.51." + std::to_string(dist(rng)) + ".0/24");
  return out;
}

void check_guarantees(const HeavyHitters& h, const std::map<std::string, std::uint64_t>& exact,
                      std::uint64_t total) {
  const auto items = h.top(h.capacity());
  std::map<std::string, HeavyHitters::Item> held;
  for (const auto& i : items) held[i.key] = i;
  for (const auto& [key, count] : exact) {
    if (count * h.capacity() > total) {
      ASSERT_TRUE(held.count(key)) << key << " with " << count << " of " << total << " missing";
    }
  }
  for (const auto& i : items) {
    const std::uint64_t truth = exact.count(i.key) ? exact.at(i.key) : 0;
    EXPECT_GE(i.count, truth) << i.key;            // never under-counts
    EXPECT_LE(i.count - i.error, truth) << i.key;  // count - error is a lower bound
    EXPECT_LE(i.error, total / h.capacity()) << i.key;
  }
}

TEST(HeavyHitters, EveryKeyAboveNOverKIsHeldOnZipfData) {
  for (double s : {0.8, 1.1, 1.5}) {
    HeavyHitters h(64);
    std::map<std::string, std::uint64_t> exact;
    const auto stream = zipf_stream(200'000, 5'000, s, 7);
    for (const auto& k : stream) {
      h.add(k);
      ++exact[k];
    }
    EXPECT_EQ(h.total(), stream.size());
    EXPECT_EQ(h.size(), 64u);
    check_guarantees(h, exact, stream.size());
    // The heaviest key is ranked first on skewed data.
    EXPECT_EQ(h.top(1).at(0).key, "198.51.0.0/24") << s;
  }
}

TEST(HeavyHitters, WeightsCount) {
  HeavyHitters h(4);
  h.add("a", 10);
  h.add("b", 3);
  h.add("a", 5);
  h.add("", 100);  // ignored
  h.add("c", 0);   // ignored
  const auto t = h.top(10);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0], (TopItem{"a", 15, 0}));
  EXPECT_EQ(t[1], (TopItem{"b", 3, 0}));
  EXPECT_EQ(h.total(), 18u);
}

TEST(HeavyHitters, AFullSketchReplacesTheSmallestAndRecordsTheError) {
  HeavyHitters h(2);
  h.add("a", 5);
  h.add("b", 2);
  h.add("c", 1);  // takes b's slot: count 3, error 2
  const auto t = h.top(2);
  EXPECT_EQ(t[0], (TopItem{"a", 5, 0}));
  EXPECT_EQ(t[1], (TopItem{"c", 3, 2}));
}

TEST(HeavyHitters, LongKeysAreCutAndMemoryIsFixed) {
  HeavyHitters h(8);
  const std::string ua(1000, 'x');
  h.add(ua);
  h.add(ua + "different tail");  // same first 128 bytes: the same key
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h.top(1)[0].key.size(), HeavyHitters::kKeyBytes);
  EXPECT_EQ(h.top(1)[0].count, 2u);
  for (int i = 0; i < 100'000; ++i) h.add("k" + std::to_string(i));
  EXPECT_EQ(h.size(), 8u);
}

TEST(HeavyHitters, MergeKeepsTheGuaranteeForTheCombinedStream) {
  // Four "workers", each with its own skew, merged as a reader would.
  std::map<std::string, std::uint64_t> exact;
  std::uint64_t total = 0;
  HeavyHitters merged(64);
  for (unsigned w = 0; w < 4; ++w) {
    HeavyHitters h(64);
    const auto stream = zipf_stream(50'000, 3'000, 1.0 + 0.1 * w, 100 + w);
    for (const auto& k : stream) {
      h.add(k);
      ++exact[k];
    }
    total += stream.size();
    merged.merge(h);
  }
  EXPECT_EQ(merged.total(), total);
  EXPECT_LE(merged.size(), 64u);
  check_guarantees(merged, exact, total);
}

TEST(HeavyHitters, MergeAddsCountsOfSharedKeysExactlyWhenNotFull) {
  HeavyHitters a(8), b(8);
  a.add("x", 5);
  a.add("y", 1);
  b.add("x", 7);
  b.add("z", 2);
  a.merge(b);
  const auto t = a.top(8);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], (TopItem{"x", 12, 0}));
  EXPECT_EQ(t[1], (TopItem{"z", 2, 0}));
  EXPECT_EQ(t[2], (TopItem{"y", 1, 0}));
}

TEST(HeavyHitters, DecayHalvesAndForgets) {
  HeavyHitters h(4);
  h.add("old", 8);
  h.add("once", 1);
  h.decay();
  auto t = h.top(4);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0], (TopItem{"old", 4, 0}));
  // After a few minutes of silence the new heavy key leads.
  h.decay();
  h.decay();
  h.add("new", 5);
  EXPECT_EQ(h.top(1)[0].key, "new");
}

TEST(HeavyHitters, CopiesAreIndependent) {
  HeavyHitters a(4);
  a.add("x", 3);
  HeavyHitters b = a;
  b.add("x", 1);
  EXPECT_EQ(a.top(1)[0].count, 3u);
  EXPECT_EQ(b.top(1)[0].count, 4u);
  HeavyHitters c(16);
  c = b;
  EXPECT_EQ(c.capacity(), 4u);
  EXPECT_EQ(c.top(1)[0].count, 4u);
}

}  // namespace
}  // namespace gh::observe
