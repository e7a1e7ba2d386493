#include "sim/pow.h"

#include <gtest/gtest.h>

namespace gh::sim {
namespace {

// Vectors computed independently (Python hashlib): the smallest decimal nonce such that
// SHA-256("gatehouse-test-token" || nonce) has at least N leading zero bits.
//   8 bits: 101   -> 00e51cf1...
//  12 bits: 318   -> 000ad8aa...
//  16 bits: 60329 -> 000079ce...
TEST(Pow, SolverFindsTheSmallestNonceOfKnownVectors) {
  struct V {
    unsigned bits;
    std::uint64_t nonce;
  };
  for (V v : {V{8, 101}, V{12, 318}, V{16, 60329}}) {
    auto s = solve_pow("gatehouse-test-token", v.bits, 1'000'000);
    ASSERT_TRUE(s.has_value()) << v.bits;
    EXPECT_EQ(s->nonce, v.nonce);
    EXPECT_EQ(s->hashes, v.nonce + 1);
    EXPECT_TRUE(pow_valid("gatehouse-test-token", v.nonce, v.bits));
  }
  // 318 has exactly 12 zero bits (0x000a...), not 13; 60329 has 17 (0x00007...).
  EXPECT_FALSE(pow_valid("gatehouse-test-token", 318, 13));
  EXPECT_TRUE(pow_valid("gatehouse-test-token", 60329, 17));
  EXPECT_FALSE(pow_valid("gatehouse-test-token", 60329, 18));
}

TEST(Pow, LeadingZeroBits) {
  const unsigned char a[] = {0x00, 0x00, 0x0f, 0xff};
  EXPECT_EQ(leading_zero_bits(a, sizeof a), 20);
  const unsigned char b[] = {0x80};
  EXPECT_EQ(leading_zero_bits(b, 1), 0);
  const unsigned char c[] = {0x00, 0x00};
  EXPECT_EQ(leading_zero_bits(c, 2), 16);
}

TEST(Pow, GivesUpWithinBudgetAndResumesFromANonce) {
  EXPECT_FALSE(solve_pow("gatehouse-test-token", 16, 1000).has_value());
  auto s = solve_pow("gatehouse-test-token", 16, 1'000'000, 60000);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->nonce, 60329u);
  EXPECT_EQ(s->hashes, 330u);
  EXPECT_FALSE(solve_pow("t", 65, 10).has_value());
}

}  // namespace
}  // namespace gh::sim
