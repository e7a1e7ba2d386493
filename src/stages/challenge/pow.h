// Proof of work: find a nonce (decimal ASCII, 1 to 20 digits) such that
// SHA-256(token_text || nonce) has at least `bits` leading zero bits. The challenge string is the
// challenge token's text itself, so nothing else has to be stored or sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gh::challenge {

inline constexpr std::size_t kMaxNonceDigits = 20;

// 1 to 20 ASCII digits (leading zeros allowed: they are simply other tries).
bool nonce_well_formed(std::string_view nonce);

// False for a malformed nonce; otherwise whether the hash has >= bits leading zero bits.
bool pow_valid(std::string_view token_text, std::string_view nonce, std::uint8_t bits);

// Tries nonces 0, 1, 2, ... up to max_tries of them; nullopt when none was found. The expected
// number of tries is 2^bits. For the simulator and tests.
std::optional<std::string> pow_solve(std::string_view token_text, std::uint8_t bits,
                                     std::uint64_t max_tries);

}  // namespace gh::challenge
