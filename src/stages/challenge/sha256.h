// SHA-256 and HMAC-SHA-256 for the challenge stage, on Nettle (GnuTLS's crypto library): its
// states are plain structs, so a prefix that many messages share (HMAC's key pads, the proof of
// work's token text) is absorbed once and each message resumes from a copy on the stack, with no
// allocation and the CPU's SHA extensions where present. OpenSSL 3 keeps such copies only behind
// EVP contexts, whose copies allocate (about +85 ns a token, +50%); its SHA256_* calls, which did
// not, are deprecated. Nothing here can fail.
#pragma once

#include <nettle/hmac.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha2.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
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
  sha256_ctx ctx_;
};

// HMAC-SHA-256 (RFC 2104) under one key, whose inner and outer pad blocks Nettle hashes once: a
// message of up to 55 bytes then costs two SHA-256 blocks. Immutable once built, like a prefix.
class HmacSha256 {
 public:
  explicit HmacSha256(std::span<const std::uint8_t> key);

  Digest mac(std::span<const std::uint8_t> message) const;

 private:
  hmac_sha256_ctx ctx_;
};

// Count of leading zero bits of a digest (0..256).
unsigned leading_zero_bits(const Digest& digest);

}  // namespace gh::challenge
