// SHA-256 with a copyable state, so that keyed HMAC states and the proof-of-work prefix are
// computed once and resumed per call. OpenSSL's EVP contexts allocate on every copy; the plain
// SHA256_* API does not, and it still uses the CPU's SHA extensions.
#pragma once

#include <openssl/sha.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gh::challenge {

using Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256();  // ready for update()
  void update(const void* data, std::size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  Digest finish();  // the state is spent afterwards

 private:
  SHA256_CTX ctx_;
};

Digest sha256(std::string_view data);

// Count of leading zero bits of a digest (0..256).
unsigned leading_zero_bits(const Digest& digest);

}  // namespace gh::challenge
