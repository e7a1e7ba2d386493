// Submitted solutions: the body of `POST /.gatehouse/challenge` (urlencoded token, nonce, return)
// and the query of the level-0 `GET /.gatehouse/challenge?token=...&return=...`. Values are
// percent- and '+'-decoded into fixed buffers inside Solution: no allocation, hard limits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gh::challenge {

inline constexpr std::size_t kMaxTokenBytes = 512;
inline constexpr std::size_t kMaxReturnBytes = 1024;
inline constexpr std::string_view kChallengePath = "/.gatehouse/challenge";
inline constexpr std::string_view kScriptPath = "/.gatehouse/challenge.js";

enum class FormStatus : std::uint8_t {
  Ok,
  MissingToken,     // no token, or an empty one
  MissingNonce,     // POST without a nonce, or an empty one
  UnexpectedNonce,  // a nonce on the level-0 GET
  TooLong,          // a decoded value over its limit (token 512, nonce 20, return 1024 bytes)
  BadEncoding,      // a '%' not followed by two hex digits
  Duplicate,        // token, nonce or return given twice: two readers could pick different ones
  BadNonce,         // not all ASCII digits
  UnsafeReturn,     // return present but not safe_return_path
};

// Fields other than token, nonce and return are ignored. An empty `return=` counts as absent.
class Solution {
 public:
  std::string_view token() const { return {token_.data(), token_len_}; }
  std::string_view nonce() const { return {nonce_.data(), nonce_len_}; }
  // "/" when the submission carried none.
  std::string_view return_path() const {
    return return_len_ == 0 ? std::string_view("/") : std::string_view(return_.data(), return_len_);
  }
  bool has_return() const { return return_len_ != 0; }

 private:
  friend FormStatus parse_fields(std::string_view, Solution&, bool);
  std::array<char, kMaxTokenBytes> token_;
  std::array<char, 20> nonce_;
  std::array<char, kMaxReturnBytes> return_;
  std::uint16_t token_len_ = 0;
  std::uint8_t nonce_len_ = 0;
  std::uint16_t return_len_ = 0;
};

// POST body: token and nonce required, return optional. `out` holds whatever was read even when
// the status is not Ok (for logging); trust it only on Ok.
FormStatus parse_solution_form(std::string_view body, Solution& out);

// Level-0 GET: the query string after '?'. Token required, return optional, no nonce.
FormStatus parse_wait_query(std::string_view query, Solution& out);

// Only same-origin absolute paths: starts with '/', not "//", no backslash (browsers read "/\"
// as "//"), only visible ASCII (no control characters, which browsers strip: "/\t/x" is "//x";
// no spaces, no bytes >= 0x80), at most kMaxReturnBytes. Starting with '/' rules out any scheme.
bool safe_return_path(std::string_view path);

// `target` when it is a safe return path, else "/". For building challenge pages from the
// request's own target (a request for "//evil.example/" must not come back as a redirect there).
std::string_view return_or_root(std::string_view target);

}  // namespace gh::challenge
