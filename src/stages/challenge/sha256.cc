// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, whose context copies
// allocate; this file is the only user, so the suppression stays here.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "stages/challenge/sha256.h"

#include <bit>

namespace gh::challenge {

Sha256::Sha256() {
  SHA256_Init(&ctx_);
}

void Sha256::update(const void* data, std::size_t size) {
  SHA256_Update(&ctx_, data, size);
}

Digest Sha256::finish() {
  Digest d;
  SHA256_Final(d.data(), &ctx_);
  return d;
}

Digest sha256(std::string_view data) {
  Sha256 s;
  s.update(data);
  return s.finish();
}

unsigned leading_zero_bits(const Digest& digest) {
  unsigned n = 0;
  for (std::uint8_t b : digest) {
    if (b != 0) return n + static_cast<unsigned>(std::countl_zero(b));
    n += 8;
  }
  return n;
}

}  // namespace gh::challenge
