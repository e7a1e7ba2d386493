// The proof-of-work a shield presents: find a decimal nonce such that SHA-256(token || nonce) has
// at least `bits` leading zero bits. Native, with OpenSSL; pacing to "human browser speed" is the
// caller's business (see Engine), so the solver itself stays a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gh::sim {

int leading_zero_bits(const unsigned char* digest, std::size_t n);
// SHA-256 of token || decimal(nonce) has >= bits leading zero bits.
bool pow_valid(std::string_view token, std::uint64_t nonce, unsigned bits);

struct PowSolution {
  std::uint64_t nonce = 0;
  std::uint64_t hashes = 0;  // tried, including the winning one
};

// Tries nonces first_nonce, first_nonce+1, ... for at most max_hashes. nullopt when none found or
// bits > 64.
std::optional<PowSolution> solve_pow(std::string_view token, unsigned bits,
                                     std::uint64_t max_hashes, std::uint64_t first_nonce = 0);

}  // namespace gh::sim
