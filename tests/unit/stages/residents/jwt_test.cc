// JWT residents: tokens signed here with each algorithm's own OpenSSL call, then verified; and
// every way a token must be refused (expired, early, wrong key, alg none, algorithm confusion,
// wrong issuer or audience, tampered, malformed, oversized).
#include "stages/residents/jwt.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace gh::residents {
namespace {

using json = nlohmann::json;
constexpr std::int64_t kNow = 1'760'000'000;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey keygen(JwtAlg alg) {
  switch (alg) {
    case JwtAlg::RS256:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
    case JwtAlg::ES256:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    case JwtAlg::EdDSA:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    case JwtAlg::HS256:
      break;
  }
  return nullptr;
}

std::string public_pem(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(b, k);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return out;
}

// The signature of `input` as JWS writes it (ES256: raw r || s).
std::string sign(JwtAlg alg, EVP_PKEY* key, const std::string& secret, const std::string& input) {
  if (alg == JwtAlg::HS256) {
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, alg == JwtAlg::EdDSA ? nullptr : EVP_sha256(), nullptr, key);
  std::size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg == JwtAlg::ES256) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(s);
    return raw;
  }
  return sig;
}

std::string token(JwtAlg alg, EVP_PKEY* key, const std::string& secret, json claims,
                  json header = json::object()) {
  if (!header.contains("alg")) header["alg"] = std::string(jwt_alg_name(alg));
  header["typ"] = "JWT";
  const std::string input = base64url(header.dump()) + "." + base64url(claims.dump());
  return input + "." + base64url(sign(alg, key, secret, input));
}

json claims(std::string sub = "alice") {
  return {{"sub", sub}, {"iss", "https://app.example"}, {"aud", "gatehouse"},
          {"exp", kNow + 600}, {"nbf", kNow - 60}, {"iat", kNow - 60}};
}

JwtRules rules() {
  JwtRules r;
  r.issuer = "https://app.example";
  r.audiences = {"gatehouse", "api"};
  return r;
}

const std::string kSecret = "0123456789abcdef0123456789abcdef-secret";

JwtVerifier verifier_for(JwtAlg alg, EVP_PKEY* key) {
  std::string error;
  auto keys = alg == JwtAlg::HS256 ? parse_jwt_keys(kSecret, true, error)
                                   : parse_jwt_keys(public_pem(key), false, error);
  EXPECT_TRUE(keys.has_value()) << error;
  EXPECT_EQ((*keys)[0].alg, alg);
  return JwtVerifier(std::move(*keys), rules());
}

class EachAlgorithm : public ::testing::TestWithParam<JwtAlg> {};

TEST_P(EachAlgorithm, ValidTokensPassAndEveryFlawIsRefused) {
  const JwtAlg alg = GetParam();
  Pkey key = keygen(alg);
  const JwtVerifier v = verifier_for(alg, key.get());
  std::string sub;
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, claims()), kNow, sub), JwtCheck::Ok);
  EXPECT_EQ(sub, "alice");
  json expired = claims();
  expired["exp"] = kNow - 31;  // beyond the 30 s leeway
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, expired), kNow, sub), JwtCheck::Expired);
  expired["exp"] = kNow - 29;
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, expired), kNow, sub), JwtCheck::Ok);
  json early = claims();
  early["nbf"] = kNow + 120;
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, early), kNow, sub), JwtCheck::NotYet);
  json other_iss = claims();
  other_iss["iss"] = "https://evil.example";
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, other_iss), kNow, sub),
            JwtCheck::WrongIssuer);
  json other_aud = claims();
  other_aud["aud"] = json::array({"someone-else"});
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, other_aud), kNow, sub),
            JwtCheck::WrongAudience);
  other_aud["aud"] = json::array({"someone-else", "api"});
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, other_aud), kNow, sub), JwtCheck::Ok);
  json no_sub = claims();
  no_sub.erase("sub");
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, no_sub), kNow, sub), JwtCheck::NoSubject);
  // A login proof that never expires is not one.
  json no_exp = claims();
  no_exp.erase("exp");
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, no_exp), kNow, sub), JwtCheck::NoExpiry);
  std::int64_t iat = -1;
  EXPECT_EQ(v.verify(token(alg, key.get(), kSecret, claims()), kNow, sub, &iat), JwtCheck::Ok);
  EXPECT_EQ(iat, kNow - 60);
  // Another key of the same kind.
  Pkey other = keygen(alg);
  EXPECT_EQ(v.verify(token(alg, other.get(), kSecret + "x", claims()), kNow, sub),
            JwtCheck::BadSignature);
  // Tampered payload: the subject changed after signing.
  std::string t = token(alg, key.get(), kSecret, claims());
  const std::size_t d1 = t.find('.');
  const std::size_t d2 = t.find('.', d1 + 1);
  const std::string forged =
      t.substr(0, d1 + 1) + base64url(claims("mallory").dump()) + t.substr(d2);
  EXPECT_EQ(v.verify(forged, kNow, sub), JwtCheck::BadSignature);
}

INSTANTIATE_TEST_SUITE_P(Jwt, EachAlgorithm,
                         ::testing::Values(JwtAlg::HS256, JwtAlg::RS256, JwtAlg::ES256,
                                           JwtAlg::EdDSA),
                         [](const auto& info) { return std::string(jwt_alg_name(info.param)); });

TEST(Jwt, AlgNoneIsRefused) {
  const JwtVerifier v = verifier_for(JwtAlg::HS256, nullptr);
  std::string sub;
  for (const char* none : {"none", "None", "NONE"}) {
    json h = {{"alg", none}};
    const std::string t = base64url(h.dump()) + "." + base64url(claims().dump()) + ".";
    EXPECT_EQ(v.verify(t, kNow, sub), JwtCheck::BadAlgorithm) << none;
  }
}

// The classic confusion: a verifier holding an RSA public key, a token saying HS256 "signed"
// with that public key's PEM as the HMAC secret. The RSA key is never used as a secret.
TEST(Jwt, AlgorithmConfusionIsRefused) {
  Pkey rsa = keygen(JwtAlg::RS256);
  const std::string pem = public_pem(rsa.get());
  const JwtVerifier v = verifier_for(JwtAlg::RS256, rsa.get());
  std::string sub;
  const std::string confused = token(JwtAlg::HS256, nullptr, pem, claims());
  EXPECT_EQ(v.verify(confused, kNow, sub), JwtCheck::BadAlgorithm);
  // And an RS256 header on a token an ES256 key verifies is refused too.
  Pkey ec = keygen(JwtAlg::ES256);
  const JwtVerifier ecv = verifier_for(JwtAlg::ES256, ec.get());
  EXPECT_EQ(ecv.verify(token(JwtAlg::RS256, rsa.get(), "", claims()), kNow, sub),
            JwtCheck::BadAlgorithm);
}

TEST(Jwt, MalformedAndOversizedAreRefused) {
  const JwtVerifier v = verifier_for(JwtAlg::HS256, nullptr);
  std::string sub;
  for (const std::string& t : {std::string(""), std::string("a.b"), std::string("a.b.c.d"),
                               std::string("!!.e30.x"), std::string("e30.e30.x"),
                               base64url("{\"alg\":\"HS256\"}") + ".bm90IGpzb24." + "xx",
                               std::string(5000, 'a')}) {
    EXPECT_EQ(v.verify(t, kNow, sub), JwtCheck::Malformed) << t.substr(0, 40);
  }
  json crit = {{"alg", "HS256"}, {"crit", json::array({"b64"})}};
  EXPECT_EQ(v.verify(token(JwtAlg::HS256, nullptr, kSecret, claims(), crit), kNow, sub),
            JwtCheck::Malformed);
}

TEST(Jwt, JwksKeysAreChosenByKid) {
  Pkey a = keygen(JwtAlg::ES256);
  Pkey b = keygen(JwtAlg::EdDSA);
  // Exported as JWKS members.
  auto raw = [](EVP_PKEY* k, const char* name) {
    unsigned char buf[256];
    std::size_t len = 0;
    EVP_PKEY_get_octet_string_param(k, name, buf, sizeof buf, &len);
    return std::string(reinterpret_cast<char*>(buf), len);
  };
  const std::string point = raw(a.get(), OSSL_PKEY_PARAM_PUB_KEY);  // 04 || x || y
  unsigned char ed[32];
  std::size_t edlen = sizeof ed;
  EVP_PKEY_get_raw_public_key(b.get(), ed, &edlen);
  json jwks = {{"keys", json::array({
                            {{"kty", "EC"}, {"crv", "P-256"}, {"kid", "ec-1"},
                             {"x", base64url(point.substr(1, 32))},
                             {"y", base64url(point.substr(33, 32))}},
                            {{"kty", "OKP"}, {"crv", "Ed25519"}, {"kid", "ed-1"},
                             {"x", base64url(std::string(reinterpret_cast<char*>(ed), edlen))}},
                            {{"kty", "oct"}, {"kid", "hs-1"}, {"k", base64url(kSecret)}},
                            {{"kty", "RSA"}, {"use", "enc"}, {"n", "AQAB"}, {"e", "AQAB"}},
                        })}};
  std::string error;
  auto keys = parse_jwt_keys(jwks.dump(), false, error);
  ASSERT_TRUE(keys.has_value()) << error;
  ASSERT_EQ(keys->size(), 3u);  // the encryption key is left out
  const JwtVerifier v(std::move(*keys), rules());
  std::string sub;
  EXPECT_EQ(v.verify(token(JwtAlg::ES256, a.get(), "", claims(), {{"kid", "ec-1"}}), kNow, sub),
            JwtCheck::Ok);
  EXPECT_EQ(v.verify(token(JwtAlg::EdDSA, b.get(), "", claims("bob"), {{"kid", "ed-1"}}), kNow,
                     sub),
            JwtCheck::Ok);
  EXPECT_EQ(sub, "bob");
  EXPECT_EQ(v.verify(token(JwtAlg::HS256, nullptr, kSecret, claims(), {{"kid", "hs-1"}}), kNow,
                     sub),
            JwtCheck::Ok);
  EXPECT_EQ(v.verify(token(JwtAlg::ES256, a.get(), "", claims(), {{"kid", "ec-9"}}), kNow, sub),
            JwtCheck::UnknownKey);
}

TEST(Jwt, KeyFilesAreCheckedOnLoad) {
  std::string error;
  EXPECT_FALSE(parse_jwt_keys("short", true, error).has_value());
  EXPECT_NE(error.find("at least 32 bytes"), std::string::npos);
  EXPECT_FALSE(parse_jwt_keys("{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}",
                              false, error)
                   .has_value());
  EXPECT_NE(error.find("2048"), std::string::npos) << error;
  EXPECT_FALSE(parse_jwt_keys("not a key", false, error).has_value());
  Pkey small = Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  EXPECT_FALSE(parse_jwt_keys(public_pem(small.get()), false, error).has_value());
}

TEST(Base64Url, Rfc4648Vectors) {
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(unbase64url("Zm9vYg").value_or("?"), "foob");
  EXPECT_EQ(unbase64url("-_8").value_or("?"), "\xfb\xff");
  EXPECT_FALSE(unbase64url("Zm9vYg==").has_value());  // padding is not base64url
  EXPECT_FALSE(unbase64url("Zm9+").has_value());
  EXPECT_FALSE(unbase64url("Zh").has_value());  // non-canonical trailing bits
  EXPECT_FALSE(unbase64url("Z").has_value());
}

}  // namespace
}  // namespace gh::residents
