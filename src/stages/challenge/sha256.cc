#include "stages/challenge/sha256.h"

#include <bit>

namespace gh::challenge {

namespace {

const std::uint8_t* bytes_of(std::string_view text) {
  return reinterpret_cast<const std::uint8_t*>(text.data());
}

}  // namespace

Digest sha256(std::initializer_list<std::string_view> parts) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  for (const std::string_view part : parts) sha256_update(&ctx, part.size(), bytes_of(part));
  Digest d;
  sha256_digest(&ctx, d.size(), d.data());
  return d;
}

Sha256Prefix::Sha256Prefix(std::span<const std::uint8_t> prefix) {
  sha256_init(&ctx_);
  sha256_update(&ctx_, prefix.size(), prefix.data());
}

Sha256Prefix::Sha256Prefix(std::string_view prefix)
    : Sha256Prefix(std::span(bytes_of(prefix), prefix.size())) {}

Digest Sha256Prefix::digest(std::span<const std::uint8_t> tail) const {
  sha256_ctx ctx = ctx_;
  sha256_update(&ctx, tail.size(), tail.data());
  Digest d;
  sha256_digest(&ctx, d.size(), d.data());
  return d;
}

Digest Sha256Prefix::digest(std::string_view tail) const {
  return digest(std::span(bytes_of(tail), tail.size()));
}

HmacSha256::HmacSha256(std::span<const std::uint8_t> key) {
  hmac_sha256_set_key(&ctx_, key.size(), key.data());
}

Digest HmacSha256::mac(std::span<const std::uint8_t> message) const {
  // Nettle's generic HMAC over the key's two states, resumed from a copy of the inner one only
  // (hmac_sha256_digest would want a copy of all three).
  sha256_ctx state = ctx_.inner;
  sha256_update(&state, message.size(), message.data());
  Digest d;
  hmac_digest(&ctx_.outer, &ctx_.inner, &state, &nettle_sha256, d.size(), d.data());
  return d;
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
