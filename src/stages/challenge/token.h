// The token codec. Layout (72 bytes, base64url without padding = 96 characters):
//
//   0      header: version (high nibble, 1) | kind (low nibble)
//   1-16   id
//   17-24  issued_ms   (big-endian, two's complement)
//   25-32  expiry_ms
//   33-36  scope
//   37-44  binding
//   45-52  subject
//   53     bits
//   54     level
//   55-71  HMAC-SHA-256(kind key, bytes 0-54), first 17 bytes
//
// The signed part is 55 bytes so that the inner hash is a single SHA-256 block; the tag is 17
// bytes (136 bits) so that the whole is a multiple of 3 bytes and every valid text has exactly one
// spelling (no padding bits to vary). Keys per kind: HMAC-SHA-256(master, "gatehouse token v1 "
// + kind byte).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stages/challenge/sha256.h"
#include "stages/challenge/token-t.h"

namespace gh::challenge {

class TokenCodec {
 public:
  // nullopt when the master key is shorter than 32 bytes.
  static std::optional<TokenCodec> create(std::span<const std::uint8_t> master_key);

  // Writes kTokenTextSize characters into `out`; returns that count, or 0 when `out` is too small
  // or the kind is not a TokenKind. Allocates nothing itself (OpenSSL's state copies do).
  std::size_t encode(const Token& token, std::span<char> out) const;
  // Convenience for tests and cold paths.
  std::string encode(const Token& token) const;

  // Checks in this order: Malformed, BadSignature, WrongKind, Expired, WrongBinding. `out` is
  // written whenever the signature verified (Ok, WrongKind, Expired, WrongBinding) and left alone
  // otherwise. The MAC is compared in constant time. Scope is the caller's to check.
  Check decode(std::string_view text, TokenKind want, std::int64_t now_ms, std::uint64_t binding,
               Token& out) const;

 private:
  TokenCodec() = default;
  void mac(std::uint8_t kind, const std::uint8_t* body, std::uint8_t* tag) const;

  std::vector<HmacSha256> keys_;  // kind k at k - 1
};

// A token of `kind` with a random id, issued now and expiring `lifetime_ms` later; the other
// fields are zero. RAND_bytes failing (no entropy) gives nullopt: never issue a guessable id.
std::optional<Token> new_token(TokenKind kind, std::int64_t now_ms, std::int64_t lifetime_ms);

// A stable 32-bit hash of a route name for Token::scope; never 0 (0 means any route).
std::uint32_t scope_of(std::string_view route_name);

}  // namespace gh::challenge
