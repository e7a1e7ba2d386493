// The application's own proof of login: a JSON Web Token (RFC 7519) in `Authorization: Bearer`
// or a cookie, verified statelessly with OpenSSL. A valid one makes its holder a resident, with
// its `sub` as the account. What is refused: `alg: none`, an algorithm the key was not given for
// (an HS256 token "signed" with an RSA public key as the secret: algorithm confusion), unknown
// keys, bad signatures, `exp`/`nbf` outside the clock (with a small leeway), `iss`/`aud` not the
// configured ones, a missing `sub`, anything over 4 KiB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::residents {

enum class JwtAlg : std::uint8_t { HS256, RS256, ES256, EdDSA };

std::optional<JwtAlg> jwt_alg(std::string_view name);  // "HS256", "RS256", "ES256", "EdDSA"
std::string_view jwt_alg_name(JwtAlg alg);

// One verification key, bound to one algorithm: a token is checked only with keys of the
// algorithm its header names, and that algorithm must be the key's.
struct JwtKey {
  JwtKey();
  ~JwtKey();
  JwtKey(JwtKey&&) noexcept;
  JwtKey& operator=(JwtKey&&) noexcept;

  std::string kid;  // empty: used for tokens without "kid" (and for any kid, if no key has it)
  JwtAlg alg = JwtAlg::HS256;
  std::string secret;  // HS256
  struct Pkey;
  std::unique_ptr<Pkey> pkey;  // RS256, ES256, EdDSA: an OpenSSL public key
};

struct JwtRules {
  std::string issuer;                  // required value of "iss"; empty = not checked
  std::vector<std::string> audiences;  // "aud" must name one of them; empty = not checked
  std::int64_t leeway_s = 30;          // clock skew allowed on exp and nbf
};

enum class JwtCheck : std::uint8_t {
  Ok,
  Malformed,     // not three base64url parts of JSON, or over 4 KiB
  BadAlgorithm,  // alg none, or an algorithm no key was given for
  UnknownKey,    // a kid no key has
  BadSignature,
  Expired,
  NotYet,
  WrongIssuer,
  WrongAudience,
  NoSubject,
  NoExpiry,  // no "exp": a login proof that never expires is not accepted
};

std::string_view describe(JwtCheck c);

class JwtVerifier {
 public:
  JwtVerifier(std::vector<JwtKey> keys, JwtRules rules);
  ~JwtVerifier();
  JwtVerifier(JwtVerifier&&) noexcept;
  JwtVerifier& operator=(JwtVerifier&&) noexcept;

  // `subject` gets the "sub" claim on Ok, `issued_s` (when given) "iat", or 0 without one.
  JwtCheck verify(std::string_view token, std::int64_t now_s, std::string& subject,
                  std::int64_t* issued_s = nullptr) const;

  std::size_t key_count() const { return keys_.size(); }

 private:
  std::vector<JwtKey> keys_;
  JwtRules rules_;
};

// Keys from a file: a PEM public key (RSA, EC P-256 or Ed25519; its algorithm follows from its
// type), a JWKS document (JSON with "keys": RSA "n"/"e", EC P-256 "x"/"y", OKP Ed25519 "x", or
// "oct" "k" for HS256), or, for `secret_alg` HS256, the file's bytes as the shared secret
// (a trailing newline dropped). nullopt with `error` set when nothing usable is in it.
std::optional<std::vector<JwtKey>> load_jwt_keys(const std::string& path, bool shared_secret,
                                                 std::string& error);

// For tests and tools: key material from memory, as load_jwt_keys reads it from a file.
std::optional<std::vector<JwtKey>> parse_jwt_keys(std::string_view text, bool shared_secret,
                                                  std::string& error);

// base64url without padding (RFC 4648 section 5), as JWTs use it.
std::string base64url(std::string_view bytes);
std::optional<std::string> unbase64url(std::string_view text);

}  // namespace gh::residents
