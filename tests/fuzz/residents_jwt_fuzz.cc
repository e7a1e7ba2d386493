// Fuzzes the application-token verifier (residents.app_token): the token is attacker input, read
// from a bearer header or a cookie on every request. Invariants: no crash; nothing over 4 KiB is
// accepted; an Ok token has a non-empty subject; an Ok token signed with HS256 re-verifies the
// same; a JWKS document parses or fails cleanly. The harness also builds a valid HS256 token
// around the input as its subject, so the paths past the signature are reached.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "stages/residents/jwt.h"

namespace {

using namespace gh::residents;

constexpr std::string_view kSecret = "fuzz-secret-of-thirty-two-bytes!";
constexpr std::int64_t kNow = 1'800'000'000;

const JwtVerifier& verifier() {
  static const JwtVerifier v = [] {
    std::string error;
    auto keys = parse_jwt_keys(kSecret, /*shared_secret=*/true, error);
    FUZZ_CHECK(keys.has_value());
    JwtRules rules;
    rules.issuer = "app";
    rules.audiences = {"gatehouse"};
    return JwtVerifier(std::move(*keys), rules);
  }();
  return v;
}

std::string sign_hs256(std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
  return base64url(std::string_view(reinterpret_cast<const char*>(mac), n));
}

// A JSON string literal of arbitrary bytes (escaped so the document stays JSON).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const JwtVerifier& v = verifier();

  // 1. The input as a token.
  std::string subject;
  std::int64_t issued = 0;
  const JwtCheck c = v.verify(in, kNow, subject, &issued);
  if (c == JwtCheck::Ok) {
    FUZZ_CHECK(size <= 4096);
    FUZZ_CHECK(!subject.empty());
  }

  // 2. The input as the subject of a well-signed token: everything past the signature.
  const std::string header = base64url(R"({"alg":"HS256","typ":"JWT"})");
  const std::string claims =
      base64url(R"({"iss":"app","aud":"gatehouse","exp":)" + std::to_string(kNow + 60) +
                R"(,"sub":)" + json_string(in) + "}");
  const std::string signed_input = header + "." + claims;
  const std::string token = signed_input + "." + sign_hs256(signed_input);
  std::string sub2;
  const JwtCheck c2 = v.verify(token, kNow, sub2);
  bool ascii = true;  // bytes above 0x7f are escaped as code points, which read back as UTF-8
  for (unsigned char ch : in) ascii = ascii && ch < 0x80;
  if (token.size() <= 4096 && !in.empty() && ascii) {
    FUZZ_CHECK(c2 == JwtCheck::Ok);
    FUZZ_CHECK(sub2 == in);
  }
  if (c2 == JwtCheck::Ok) FUZZ_CHECK(!sub2.empty());

  // 3. The input as a key document (JWKS or PEM): parsed or refused, never a crash.
  std::string error;
  auto keys = parse_jwt_keys(in, /*shared_secret=*/false, error);
  if (!keys) FUZZ_CHECK(!error.empty());
  return 0;
}
