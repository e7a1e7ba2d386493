// SHA-256 and HMAC-SHA-256 for the challenge stage, on OpenSSL's EVP digest interface (nothing
// deprecated; the CPU's SHA extensions are used where present). A prefix that many messages share
// (HMAC's key pads, the proof of work's token text) is absorbed once into a Sha256Prefix and each
// message resumes from a copy of that state. Every call reuses one EVP context per thread, so the
// only allocation is the one OpenSSL makes inside a context copy. OpenSSL fails here only when it
// cannot allocate: that throws std::bad_alloc, like any other allocation.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>

namespace gh::challenge {

using Digest = std::array<std::uint8_t, 32>;

// SHA-256 of the concatenation of `parts`.
Digest sha256(std::initializer_list<std::string_view> parts);

// The state of SHA-256 after `prefix`. Immutable once built: one prefix may be resumed from many
// threads at once.
class Sha256Prefix {
 public:
  explicit Sha256Prefix(std::span<const std::uint8_t> prefix);
  explicit Sha256Prefix(std::string_view prefix);

  // SHA-256(prefix || tail).
  Digest digest(std::span<const std::uint8_t> tail) const;
  Digest digest(std::string_view tail) const;

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const;
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// HMAC-SHA-256 (RFC 2104) under one key, with the key's inner and outer pad blocks hashed once:
// a message of up to 55 bytes then costs two SHA-256 blocks. Immutable once built, like the
// prefixes it holds.
class HmacSha256 {
 public:
  explicit HmacSha256(std::span<const std::uint8_t> key);

  Digest mac(std::span<const std::uint8_t> message) const;

 private:
  static Sha256Prefix padded(std::span<const std::uint8_t> key, std::uint8_t pad);
  Sha256Prefix inner_;  // after key ^ ipad
  Sha256Prefix outer_;  // after key ^ opad
};

// Count of leading zero bits of a digest (0..256).
unsigned leading_zero_bits(const Digest& digest);

}  // namespace gh::challenge
