// The admin API's bearer token: read once from a file the operator keeps private, then compared
// in constant time. Only its SHA-256 digest is kept in memory, and presented tokens are hashed
// before the comparison, so neither the token's bytes nor its length leak through timing.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gh::control {

inline constexpr std::size_t kMaxTokenFileBytes = 4096;

class BearerToken {
 public:
  // Reads `path`: a regular file, not readable or writable by group or others (mode & 077 == 0),
  // holding one token of printable ASCII without spaces (surrounding whitespace is trimmed).
  // nullopt with a message saying how to fix it otherwise.
  static std::optional<BearerToken> load(const std::string& path, std::string* error);
  // For tests and embedders: the token itself (must be non-empty).
  static BearerToken from_string(std::string_view token);

  // Constant time with respect to the token's content and length.
  bool matches(std::string_view presented) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

// The token of an `Authorization: Bearer <token>` value; nullopt for another scheme, a missing
// or malformed token. The scheme is case-insensitive (RFC 9110 11.1).
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Reads a token file for the client side (`gatehouse ctl`): trimmed, non-empty. No mode check:
// the client only reads it.
std::optional<std::string> read_token_file(const std::string& path, std::string* error);

}  // namespace gh::control
