// The demo API's tokens: ES256 with the raw r || s signature JWS wants, a key file made once with
// mode 0600 and its public key beside it, and what verification refuses.
#include "demo/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace gh::demo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/gh-demo-jwt-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

std::vector<std::string> parts(const std::string& token) {
  std::vector<std::string> out;
  std::size_t from = 0;
  for (std::size_t dot; (dot = token.find('.', from)) != std::string::npos; from = dot + 1) {
    out.push_back(token.substr(from, dot - from));
  }
  out.push_back(token.substr(from));
  return out;
}

// Verifies `token` with OpenSSL directly, from the public key file: r || s turned into DER.
bool openssl_verifies(const std::string& token, const fs::path& pub) {
  FILE* f = std::fopen(pub.c_str(), "r");
  if (f == nullptr) return false;
  EVP_PKEY* key = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (key == nullptr) return false;
  const auto p = parts(token);
  const auto raw = base64url_decode(p[2]);
  bool ok = false;
  if (raw && raw->size() == 64) {
    ECDSA_SIG* sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(
        sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw->data()), 32, nullptr),
        BN_bin2bn(reinterpret_cast<const unsigned char*>(raw->data()) + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig, &der);
    const std::string input = p[0] + "." + p[1];
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx, der, static_cast<std::size_t>(len),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
  }
  EVP_PKEY_free(key);
  return ok;
}

TEST(Base64url, RoundTripWithoutPadding) {
  for (const std::string& s : {std::string(), std::string("f"), std::string("fo"),
                               std::string("foo"), std::string("\xff\xfe\x00\x01", 4)}) {
    const std::string e = base64url(s);
    EXPECT_EQ(e.find_first_of("+/="), std::string::npos) << e;
    EXPECT_EQ(base64url_decode(e), s);
  }
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("a").has_value());     // no length leaves one character
  EXPECT_FALSE(base64url_decode("ab=c").has_value());  // no padding, no '='
  EXPECT_FALSE(base64url_decode("a+bc").has_value());  // base64, not base64url
  EXPECT_FALSE(base64url_decode("Zh").has_value());    // bits left over that are not zero
}

TEST(JwtSigner, MakesTheKeyOnceWithItsPublicKeyBeside) {
  TempDir dir;
  const fs::path key = dir.path / "nested" / "demo-jwt.pem";
  std::string error;
  auto a = JwtSigner::load_or_create(key.string(), &error);
  ASSERT_NE(a, nullptr) << error;
  EXPECT_EQ(mode_of(key), 0600u);
  const fs::path pub = key.string() + ".pub.pem";
  EXPECT_EQ(a->public_path(), pub.string());
  EXPECT_EQ(mode_of(pub), 0644u);
  EXPECT_NE(read(pub).find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
  EXPECT_NE(read(key).find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(read(pub), a->public_pem());
  EXPECT_EQ(a->key_id().size(), 43u);  // base64url of a SHA-256 thumbprint

  // A second start uses the same key; a lost public key is written again.
  fs::remove(pub);
  auto b = JwtSigner::load_or_create(key.string(), &error);
  ASSERT_NE(b, nullptr) << error;
  EXPECT_EQ(b->key_id(), a->key_id());
  EXPECT_EQ(read(pub), a->public_pem());
  const std::string token = a->sign("alice", 1'700'000'000);
  EXPECT_EQ(b->verify(token, 1'700'000'100), "alice");
}

TEST(JwtSigner, RefusesAKeyOthersCanReadOrOfAnotherKind) {
  TempDir dir;
  const fs::path key = dir.path / "k.pem";
  std::string error;
  ASSERT_NE(JwtSigner::load_or_create(key.string(), &error), nullptr) << error;
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(JwtSigner::load_or_create(key.string(), &error), nullptr);
  EXPECT_EQ(error, key.string() +
                       ": a private key readable by others (mode 640); chmod 600 it, or delete "
                       "it to make a new one");

  const fs::path rsa = dir.path / "rsa.pem";
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  ASSERT_NE(k, nullptr);
  FILE* f = std::fopen(rsa.c_str(), "w");
  PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  EVP_PKEY_free(k);
  fs::permissions(rsa, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(JwtSigner::load_or_create(rsa.string(), &error), nullptr);
  EXPECT_EQ(error, rsa.string() + ": not an EC P-256 key (ES256 needs one)");

  const fs::path junk = dir.path / "junk.pem";
  std::ofstream(junk) << "not a key\n";
  fs::permissions(junk, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(JwtSigner::load_or_create(junk.string(), &error), nullptr);
  EXPECT_EQ(error, junk.string() + ": not a PEM private key");
}

TEST(JwtSigner, TokensAreEs256WithRawSignaturesAndTheDemosClaims) {
  TempDir dir;
  std::string error;
  auto s = JwtSigner::load_or_create((dir.path / "k.pem").string(), &error);
  ASSERT_NE(s, nullptr) << error;
  const std::int64_t now = 1'700'000'000;
  const std::string token = s->sign("alice", now);
  const auto p = parts(token);
  ASSERT_EQ(p.size(), 3u);
  const json header = json::parse(*base64url_decode(p[0]));
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["typ"], "JWT");
  EXPECT_EQ(header["kid"], s->key_id());
  const json claims = json::parse(*base64url_decode(p[1]));
  EXPECT_EQ(claims["sub"], "alice");
  EXPECT_EQ(claims["iss"], "gatehouse-demo");
  EXPECT_EQ(claims["aud"], "gatehouse-demo-api");
  EXPECT_EQ(claims["iat"], now);
  EXPECT_EQ(claims["exp"], now + 3600);
  EXPECT_EQ(base64url_decode(p[2])->size(), 64u);  // r || s, not DER
  EXPECT_TRUE(openssl_verifies(token, dir.path / "k.pem.pub.pem"));
  EXPECT_EQ(s->verify(token, now + 10), "alice");
}

TEST(JwtSigner, VerificationRefuses) {
  std::string error, why;
  auto s = JwtSigner::ephemeral(&error);
  ASSERT_NE(s, nullptr) << error;
  auto other = JwtSigner::ephemeral(&error);
  const std::int64_t now = 1'700'000'000;
  const std::string good = s->sign("alice", now);
  ASSERT_TRUE(s->verify(good, now).has_value());

  EXPECT_FALSE(s->verify(good, now + 3600, &why).has_value());
  EXPECT_EQ(why, "expired");
  EXPECT_FALSE(s->verify(other->sign("alice", now), now, &why).has_value());
  EXPECT_EQ(why, "unknown kid");
  auto p = parts(good);
  std::string claims = *base64url_decode(p[1]);
  claims.replace(claims.find("alice"), 5, "admin");
  EXPECT_FALSE(s->verify(p[0] + "." + base64url(claims) + "." + p[2], now, &why).has_value());
  EXPECT_EQ(why, "bad signature");
  // alg none, and HS256 "signed" with anything: refused before any key is used.
  EXPECT_FALSE(s->verify(base64url(R"({"alg":"none"})") + "." + p[1] + ".", now, &why));
  EXPECT_EQ(why, "alg is not ES256");
  EXPECT_FALSE(s->verify(base64url(R"({"alg":"HS256"})") + "." + p[1] + "." + p[2], now, &why));
  EXPECT_EQ(why, "alg is not ES256");
  // Properly signed, wrong claims.
  const std::string h = R"({"alg":"ES256"})";
  auto claims_with = [&](const std::string& iss, const std::string& aud, const std::string& sub) {
    return json{{"iss", iss}, {"aud", aud}, {"sub", sub}, {"iat", now}, {"exp", now + 60}}.dump();
  };
  EXPECT_FALSE(
      s->verify(s->sign_raw(h, claims_with("other", "gatehouse-demo-api", "a")), now, &why));
  EXPECT_EQ(why, "wrong issuer");
  EXPECT_FALSE(
      s->verify(s->sign_raw(h, claims_with("gatehouse-demo", "other-api", "a")), now, &why));
  EXPECT_EQ(why, "wrong audience");
  EXPECT_FALSE(s->verify(s->sign_raw(h, claims_with("gatehouse-demo", "gatehouse-demo-api", "")),
                         now, &why));
  EXPECT_EQ(why, "no subject");
  const std::string future = json{
      {"iss", "gatehouse-demo"},
      {"aud", "gatehouse-demo-api"},
      {"sub", "a"},
      {"iat", now + 600},
      {"exp", now + 3600}}.dump();
  EXPECT_FALSE(s->verify(s->sign_raw(h, future), now, &why));
  EXPECT_EQ(why, "issued later");
  // An audience list naming the API is fine; no kid is fine.
  const std::string list = json{
      {"iss", "gatehouse-demo"},
      {"aud", {"x", "gatehouse-demo-api"}},
      {"sub", "bob"},
      {"iat", now},
      {"exp", now + 60}}.dump();
  EXPECT_EQ(s->verify(s->sign_raw(h, list), now), "bob");
  // Malformed.
  for (const std::string& bad : {std::string(""), std::string("a.b"), std::string("a.b.c.d"),
                                 std::string(5000, 'a'), p[0] + "." + p[1] + ".!!!"}) {
    EXPECT_FALSE(s->verify(bad, now).has_value()) << bad.substr(0, 40);
  }
}

}  // namespace
}  // namespace gh::demo
