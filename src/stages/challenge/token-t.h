// Plain types of the signed tokens: challenges, clearances, device tokens, waiting-room tickets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace gh::challenge {

// Each kind is signed with its own derived key, so a token of one kind never passes as another.
enum class TokenKind : std::uint8_t {
  Challenge = 1,  // a PoW / wait challenge; single use (SpentSet)
  Clearance = 2,  // a solved challenge: the cookie that lets a client through
  Device = 3,     // a resident's device token (OWASP device cookie)
  Ticket = 4,     // a waiting-room place
  Refresh = 5,
  PageView = 6,  // a page of a sign-up route was served at issued_ms (page-view continuity)
};
inline constexpr std::uint8_t kTokenKindMax = 6;

using TokenId = std::array<std::uint8_t, 16>;

// Times are wall-clock Unix milliseconds: tokens outlive restarts and travel between the nodes of
// a cluster, which share no monotonic clock.
struct Token {
  TokenKind kind = TokenKind::Challenge;
  TokenId id{};  // random (RAND_bytes); the single-use key
  std::int64_t issued_ms = 0;
  std::int64_t expiry_ms = 0;  // not valid at or after this instant
  std::uint32_t scope = 0;     // scope_of(route name), 0 = any route; the caller checks it
  std::uint64_t binding = 0;   // binding_of(client prefix, user agent)
  // Device: account_hash(account). Challenge: the bits its client's risk added. Clearance:
  // solve time in ms << 8 | the risk bits (what an account cost, for the operator). Ticket: the
  // microseconds of issued_ms's millisecond (0-999), the line's order within a millisecond.
  std::uint64_t subject = 0;
  std::uint8_t bits = 0;   // Challenge: required leading zero bits; Clearance: the bits paid
  std::uint8_t level = 0;  // ladder level (0 = wait, no JavaScript)

  friend bool operator==(const Token&, const Token&) = default;
};

enum class Check : std::uint8_t {
  Ok,
  Malformed,     // wrong length, alphabet, version or kind byte
  BadSignature,  // the MAC does not match (tampered, or signed with another key)
  WrongKind,     // genuine, but of another kind than asked for
  Expired,       // genuine, right kind, now >= expiry
  WrongBinding,  // genuine, right kind, live, but issued to another prefix / user agent
};

// Every token is exactly this many base64url characters (no padding).
inline constexpr std::size_t kTokenTextSize = 96;

}  // namespace gh::challenge
