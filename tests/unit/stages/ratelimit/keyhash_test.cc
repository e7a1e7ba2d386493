#include "stages/ratelimit/keyhash.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace gh::ratelimit {
namespace {

// Key 00 01 .. 0f, as the paper's little-endian words.
constexpr HashSeed kPaperKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

std::vector<std::uint8_t> counting_bytes(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i);
  return v;
}

TEST(SipHash, PaperTestVectors) {
  // SipHash paper, appendix A: the 15-byte message 00 .. 0e.
  EXPECT_EQ(siphash24(kPaperKey, counting_bytes(15)), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(siphash24(kPaperKey, counting_bytes(0)), 0x726fdb47dd0e0e31ULL);
}

TEST(SipHash, KeyedAndLengthSensitive) {
  const auto msg = counting_bytes(16);
  const HashSeed other{kPaperKey.k0 ^ 1, kPaperKey.k1};
  EXPECT_NE(siphash24(kPaperKey, msg), siphash24(other, msg));
  EXPECT_NE(siphash13(kPaperKey, msg), siphash13(other, msg));
  EXPECT_NE(siphash13(kPaperKey, counting_bytes(8)), siphash13(kPaperKey, counting_bytes(9)));
  EXPECT_NE(siphash24(kPaperKey, msg), siphash13(kPaperKey, msg));
}

TEST(HashKey, DependsOnEveryKeyBitAndTheSeed) {
  const Key base{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  const KeyHash h = hash_key(kPaperKey, base);
  std::set<std::uint64_t> seen{h.h0};
  for (int bit = 0; bit < 128; ++bit) {
    Key k = base;
    if (bit < 64) {
      k.lo ^= std::uint64_t{1} << bit;
    } else {
      k.hi ^= std::uint64_t{1} << (bit - 64);
    }
    const KeyHash hk = hash_key(kPaperKey, k);
    EXPECT_NE(hk.h0, h.h0);
    EXPECT_NE(hk.h1, h.h1);
    seen.insert(hk.h0);
  }
  EXPECT_EQ(seen.size(), 129u);
  EXPECT_NE(hash_key(HashSeed{1, 2}, base).h0, hash_key(HashSeed{1, 3}, base).h0);
  EXPECT_NE(h.h0, h.h1);
}

TEST(HashKey, H0IsSipHash13WithThe128BitOutputTweak) {
  // In 128-bit mode the first word differs from the 64-bit mode's output (v1 ^= 0xee at init).
  const Key k{1, 2};
  std::array<std::uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), &k.lo, 8);
  std::memcpy(bytes.data() + 8, &k.hi, 8);
  EXPECT_NE(hash_key(kPaperKey, k).h0, siphash13(kPaperKey, bytes));
}

TEST(DigestKey, DeterministicPerSeedAndDistinct) {
  const std::string a = "alice@example.com";
  const std::string b = "alice@example.con";
  auto bytes = [](const std::string& s) {
    return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  const HashSeed seed{42, 43};
  EXPECT_EQ(digest_key(seed, bytes(a)), digest_key(seed, bytes(a)));
  EXPECT_NE(digest_key(seed, bytes(a)), digest_key(seed, bytes(b)));
  EXPECT_NE(digest_key(seed, bytes(a)), digest_key(HashSeed{42, 44}, bytes(a)));
  const Key d = digest_key(seed, bytes(a));
  EXPECT_NE(d.lo, d.hi);
}

TEST(Seed, ProcessSeedIsStableAndRandomSeedsDiffer) {
  EXPECT_EQ(process_seed().k0, process_seed().k0);
  const HashSeed x = random_seed();
  const HashSeed y = random_seed();
  EXPECT_FALSE(x.k0 == y.k0 && x.k1 == y.k1);
}

}  // namespace
}  // namespace gh::ratelimit
