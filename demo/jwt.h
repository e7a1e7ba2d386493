// The demo app's API tokens: JSON Web Tokens (RFC 7519) signed with ES256 (ECDSA P-256, SHA-256;
// the JWS signature is r || s, 64 bytes, not DER), with OpenSSL's EVP API. The app signs one at
// POST /api/login and checks it on the API's bearer routes; Gatehouse can check the same tokens
// with the public key (residents.app_token), which is why the key pair lives in files.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace gh::demo {

inline constexpr std::string_view kJwtIssuer = "gatehouse-demo";
inline constexpr std::string_view kJwtAudience = "gatehouse-demo-api";
inline constexpr std::int64_t kJwtLifetime = 3600;  // seconds

std::string base64url(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

class JwtSigner {
 public:
  ~JwtSigner();
  JwtSigner(JwtSigner&&) noexcept;
  JwtSigner& operator=(JwtSigner&&) noexcept;

  // The key in `path` (a PEM EC P-256 private key), made there when the file does not exist
  // (mode 0600; its directory is created). A key file readable by group or others is refused,
  // as is any other kind of key. The public key is written beside it, as `path`.pub.pem (mode
  // 0644), on every load, so it always matches. nullptr with *error on failure.
  static std::unique_ptr<JwtSigner> load_or_create(const std::string& path, std::string* error);
  // A fresh key held in memory only (nothing written): tests, and a demo without --jwt-key.
  static std::unique_ptr<JwtSigner> ephemeral(std::string* error);

  // A token for `subject`, issued at `now_s`, expiring kJwtLifetime later.
  std::string sign(std::string_view subject, std::int64_t now_s) const;
  // For tests and tools: `header` and `claims` (JSON texts) signed as they are. "" on failure.
  std::string sign_raw(std::string_view header, std::string_view claims) const;
  // The subject of a token this key signed that is valid at `now_s` (alg ES256, signature, iss,
  // aud, exp, iat not in the future beyond 60 s). nullopt otherwise; *why (when given) says what
  // was wrong.
  std::optional<std::string> verify(std::string_view token, std::int64_t now_s,
                                    std::string* why = nullptr) const;

  std::string public_pem() const;                                  // SubjectPublicKeyInfo PEM
  const std::string& public_path() const { return public_path_; }  // "" for an ephemeral key
  const std::string& key_id() const { return kid_; }  // the "kid" header: a key thumbprint

  struct Key;

 private:
  explicit JwtSigner(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
  std::string public_path_;
  std::string kid_;
};

}  // namespace gh::demo
