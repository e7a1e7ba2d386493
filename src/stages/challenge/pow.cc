#include "stages/challenge/pow.h"

#include "stages/challenge/sha256.h"

namespace gh::challenge {

bool nonce_well_formed(std::string_view nonce) {
  if (nonce.empty() || nonce.size() > kMaxNonceDigits) return false;
  for (char c : nonce) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool pow_valid(std::string_view token_text, std::string_view nonce, std::uint8_t bits) {
  if (!nonce_well_formed(nonce)) return false;
  return leading_zero_bits(sha256({token_text, nonce})) >= bits;
}

std::optional<std::string> pow_solve(std::string_view token_text, std::uint8_t bits,
                                     std::uint64_t max_tries) {
  const Sha256Prefix prefix(token_text);  // resumed for every try: only the nonce is hashed again
  char digits[kMaxNonceDigits];
  for (std::uint64_t n = 0; n < max_tries; ++n) {
    std::size_t len = 0;
    std::uint64_t v = n;
    do {
      digits[kMaxNonceDigits - 1 - len++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    const char* start = digits + kMaxNonceDigits - len;
    const std::string_view nonce(start, len);
    if (leading_zero_bits(prefix.digest(nonce)) >= bits) return std::string(nonce);
  }
  return std::nullopt;
}

}  // namespace gh::challenge
