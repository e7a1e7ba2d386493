#include "stages/challenge/pow.h"

#include <gtest/gtest.h>

#include <string>

namespace gh::challenge {
namespace {

// printf '%s' gatehouse-test-vector411 | sha256sum → 004cf99a... (9 leading zero bits)
// printf '%s' gatehouse-test-vector4964 | sha256sum → 000292b8... (14)
// printf '%s' gatehouse-test-vector129730 | sha256sum → 00002a3a... (18)
// printf '%s' gatehouse-test-vector0 | sha256sum → e6d76cc9... (0)
constexpr std::string_view kText = "gatehouse-test-vector";

TEST(PowValid, KnownVectors) {
  EXPECT_TRUE(pow_valid(kText, "411", 9));
  EXPECT_FALSE(pow_valid(kText, "411", 10));
  EXPECT_TRUE(pow_valid(kText, "4964", 14));
  EXPECT_FALSE(pow_valid(kText, "4964", 15));
  EXPECT_TRUE(pow_valid(kText, "129730", 18));
  EXPECT_FALSE(pow_valid(kText, "129730", 19));
  EXPECT_TRUE(pow_valid(kText, "0", 0));
  EXPECT_FALSE(pow_valid(kText, "0", 1));
  EXPECT_TRUE(pow_valid("abc", "1322", 14));  // 00021395...
}

TEST(PowValid, NonceMustBeOneToTwentyDigits) {
  EXPECT_FALSE(pow_valid(kText, "", 0));
  EXPECT_FALSE(pow_valid(kText, "+411", 0));
  EXPECT_FALSE(pow_valid(kText, "411 ", 0));
  EXPECT_FALSE(pow_valid(kText, "4a", 0));
  EXPECT_FALSE(pow_valid(kText, "-1", 0));
  EXPECT_TRUE(pow_valid(kText, std::string(20, '9'), 0));
  EXPECT_FALSE(pow_valid(kText, std::string(21, '9'), 0));
  // Leading zeros are other tries, not the same one.
  EXPECT_FALSE(pow_valid(kText, "0411", 9));
}

TEST(PowSolve, FindsTheFirstNonce) {
  EXPECT_EQ(pow_solve(kText, 9, 1'000'000), "411");
  EXPECT_EQ(pow_solve(kText, 0, 1), "0");
  EXPECT_FALSE(pow_solve(kText, 9, 411).has_value());
  EXPECT_EQ(pow_solve(kText, 9, 412), "411");
}

TEST(PowSolve, RoundTripsWithTheVerifier) {
  const std::string token(96, 'x');
  for (std::uint8_t bits = 8; bits <= 16; bits += 2) {
    const std::string text = token + std::to_string(bits);
    const auto nonce = pow_solve(text, bits, 1u << 24);
    ASSERT_TRUE(nonce.has_value()) << int{bits};
    EXPECT_TRUE(pow_valid(text, *nonce, bits));
    EXPECT_FALSE(pow_valid(text + "y", *nonce, bits) && pow_valid(text + "z", *nonce, bits) &&
                 pow_valid(text + "w", *nonce, bits))
        << "the nonce should not work for unrelated texts";
  }
}

}  // namespace
}  // namespace gh::challenge
