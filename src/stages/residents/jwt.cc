#include "stages/residents/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace gh::residents {

struct JwtKey::Pkey {
  EVP_PKEY* key = nullptr;
  ~Pkey() { EVP_PKEY_free(key); }
};

JwtKey::JwtKey() = default;
JwtKey::~JwtKey() = default;
JwtKey::JwtKey(JwtKey&&) noexcept = default;
JwtKey& JwtKey::operator=(JwtKey&&) noexcept = default;

namespace {

using json = nlohmann::json;
constexpr std::size_t kMaxTokenBytes = 4096;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

int b64(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::unique_ptr<JwtKey::Pkey> wrap(EVP_PKEY* k) {
  if (k == nullptr) return nullptr;
  auto p = std::make_unique<JwtKey::Pkey>();
  p->key = k;
  return p;
}

// The algorithm a public key is for, from its type (and curve).
std::optional<JwtAlg> alg_of(EVP_PKEY* k) {
  switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA:
      return EVP_PKEY_get_bits(k) >= 2048 ? std::optional(JwtAlg::RS256) : std::nullopt;
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         &len) != 1) {
        return std::nullopt;
      }
      return std::string_view(group, len) == "prime256v1" ? std::optional(JwtAlg::ES256)
                                                          : std::nullopt;
    }
    case EVP_PKEY_ED25519:
      return JwtAlg::EdDSA;
    default:
      return std::nullopt;
  }
}

EVP_PKEY* rsa_from(const std::string& n, const std::string& e) {
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()),
                    nullptr));
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()),
                    nullptr));
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return nullptr;
  }
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* k = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return k;
}

EVP_PKEY* p256_from(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  std::string point = "\x04" + x + y;  // uncompressed form
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return nullptr;
  }
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* k = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return k;
}

std::optional<std::string> member_bytes(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return unbase64url(it->get<std::string>());
}

std::optional<std::vector<JwtKey>> parse_jwks(const json& doc, std::string& error) {
  auto list = doc.find("keys");
  if (list == doc.end() || !list->is_array()) {
    error = "a JWKS document needs a \"keys\" list";
    return std::nullopt;
  }
  std::vector<JwtKey> keys;
  std::size_t index = 0;
  for (const json& k : *list) {
    const std::string where = "keys[" + std::to_string(index++) + "]";
    if (!k.is_object()) {
      error = where + ": not an object";
      return std::nullopt;
    }
    const std::string kty = k.value("kty", "");
    const std::string use = k.value("use", "sig");
    if (use != "sig") continue;  // encryption keys are not ours to verify with
    JwtKey key;
    key.kid = k.value("kid", "");
    if (kty == "oct") {
      auto secret = member_bytes(k, "k");
      if (!secret || secret->size() < 32) {
        error = where + ": an oct key needs \"k\" of at least 32 bytes";
        return std::nullopt;
      }
      key.alg = JwtAlg::HS256;
      key.secret = std::move(*secret);
    } else if (kty == "RSA") {
      auto n = member_bytes(k, "n");
      auto e = member_bytes(k, "e");
      key.pkey = n && e ? wrap(rsa_from(*n, *e)) : nullptr;
    } else if (kty == "EC") {
      auto x = member_bytes(k, "x");
      auto y = member_bytes(k, "y");
      key.pkey = k.value("crv", "") == "P-256" && x && y ? wrap(p256_from(*x, *y)) : nullptr;
    } else if (kty == "OKP") {
      auto x = member_bytes(k, "x");
      key.pkey = k.value("crv", "") == "Ed25519" && x && x->size() == 32
                     ? wrap(EVP_PKEY_new_raw_public_key(
                           EVP_PKEY_ED25519, nullptr,
                           reinterpret_cast<const unsigned char*>(x->data()), x->size()))
                     : nullptr;
    } else {
      error = where + ": unsupported kty \"" + kty + "\" (RSA, EC P-256, OKP Ed25519, oct)";
      return std::nullopt;
    }
    if (kty != "oct") {
      std::optional<JwtAlg> a = key.pkey ? alg_of(key.pkey->key) : std::nullopt;
      if (!a) {
        error = where + ": not a usable " + kty + " key (RSA of 2048 bits or more, P-256, Ed25519)";
        return std::nullopt;
      }
      key.alg = *a;
    }
    if (k.contains("alg") && k["alg"] != std::string(jwt_alg_name(key.alg))) {
      error = where + ": \"alg\" does not match the key's type";
      return std::nullopt;
    }
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    error = "no signing key in the JWKS document";
    return std::nullopt;
  }
  return keys;
}

bool hs256(const std::string& secret, std::string_view input, const std::string& sig) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len) ==
      nullptr) {
    return false;
  }
  return sig.size() == len && CRYPTO_memcmp(mac, sig.data(), len) == 0;
}

bool verify_with(const JwtKey& key, std::string_view input, const std::string& sig) {
  if (key.alg == JwtAlg::HS256) return hs256(key.secret, input, sig);
  if (!key.pkey) return false;
  std::string der;
  const std::string* signature = &sig;
  if (key.alg == JwtAlg::ES256) {
    // JWS carries r || s (32 bytes each); OpenSSL verifies the DER form.
    if (sig.size() != 64) return false;
    EcdsaSig s(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
    BIGNUM* ss = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
    if (!s || r == nullptr || ss == nullptr || ECDSA_SIG_set0(s.get(), r, ss) != 1) {
      BN_free(r);
      BN_free(ss);
      return false;
    }
    unsigned char* out = nullptr;
    const int n = i2d_ECDSA_SIG(s.get(), &out);
    if (n <= 0) return false;
    der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
    OPENSSL_free(out);
    signature = &der;
  }
  MdCtx ctx(EVP_MD_CTX_new());
  const EVP_MD* md = key.alg == JwtAlg::EdDSA ? nullptr : EVP_sha256();
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.pkey->key) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                          signature->size(), reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

std::optional<std::int64_t> number(const json& claims, const char* name, bool& malformed) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (!it->is_number()) {
    malformed = true;
    return std::nullopt;
  }
  return static_cast<std::int64_t>(it->get<double>());
}

}  // namespace

std::optional<JwtAlg> jwt_alg(std::string_view name) {
  if (name == "HS256") return JwtAlg::HS256;
  if (name == "RS256") return JwtAlg::RS256;
  if (name == "ES256") return JwtAlg::ES256;
  if (name == "EdDSA") return JwtAlg::EdDSA;
  return std::nullopt;
}

std::string_view jwt_alg_name(JwtAlg alg) {
  switch (alg) {
    case JwtAlg::HS256:
      return "HS256";
    case JwtAlg::RS256:
      return "RS256";
    case JwtAlg::ES256:
      return "ES256";
    case JwtAlg::EdDSA:
      return "EdDSA";
  }
  return "?";
}

std::string_view describe(JwtCheck c) {
  switch (c) {
    case JwtCheck::Ok:
      return "ok";
    case JwtCheck::Malformed:
      return "malformed token";
    case JwtCheck::BadAlgorithm:
      return "algorithm not accepted";
    case JwtCheck::UnknownKey:
      return "unknown key id";
    case JwtCheck::BadSignature:
      return "bad signature";
    case JwtCheck::Expired:
      return "expired";
    case JwtCheck::NotYet:
      return "not valid yet";
    case JwtCheck::WrongIssuer:
      return "wrong issuer";
    case JwtCheck::WrongAudience:
      return "wrong audience";
    case JwtCheck::NoSubject:
      return "no subject";
    case JwtCheck::NoExpiry:
      return "no expiry";
  }
  return "?";
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                       static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    if (i + 1 < bytes.size()) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> unbase64url(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = b64(c);
    if (v < 0) return std::nullopt;  // padding and the standard alphabet are not base64url
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

JwtVerifier::JwtVerifier(std::vector<JwtKey> keys, JwtRules rules)
    : keys_(std::move(keys)), rules_(std::move(rules)) {}
JwtVerifier::~JwtVerifier() = default;
JwtVerifier::JwtVerifier(JwtVerifier&&) noexcept = default;
JwtVerifier& JwtVerifier::operator=(JwtVerifier&&) noexcept = default;

JwtCheck JwtVerifier::verify(std::string_view token, std::int64_t now_s, std::string& subject,
                             std::int64_t* issued_s) const {
  if (token.empty() || token.size() > kMaxTokenBytes) return JwtCheck::Malformed;
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return JwtCheck::Malformed;
  }
  const auto header_text = unbase64url(token.substr(0, d1));
  const auto payload_text = unbase64url(token.substr(d1 + 1, d2 - d1 - 1));
  const auto sig = unbase64url(token.substr(d2 + 1));
  if (!header_text || !payload_text || !sig) return JwtCheck::Malformed;
  const json header = json::parse(*header_text, nullptr, false);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string() ||
      header.contains("crit")) {
    return JwtCheck::Malformed;
  }
  const std::optional<JwtAlg> alg = jwt_alg(header["alg"].get<std::string>());
  if (!alg) return JwtCheck::BadAlgorithm;  // "none" included
  std::string kid;
  if (header.contains("kid")) {
    if (!header["kid"].is_string()) return JwtCheck::Malformed;
    kid = header["kid"].get<std::string>();
  }
  // Keys of the token's algorithm only: an RSA key is never tried as an HMAC secret.
  bool alg_known = false;
  bool kid_known = false;
  bool verified = false;
  const std::string_view input = token.substr(0, d2);
  for (const JwtKey& k : keys_) {
    if (k.alg != *alg) continue;
    alg_known = true;
    if (!kid.empty() && !k.kid.empty() && k.kid != kid) continue;
    kid_known = true;
    if (verify_with(k, input, *sig)) {
      verified = true;
      break;
    }
  }
  if (!alg_known) return JwtCheck::BadAlgorithm;
  if (!kid_known) return JwtCheck::UnknownKey;
  if (!verified) return JwtCheck::BadSignature;

  const json claims = json::parse(*payload_text, nullptr, false);
  if (!claims.is_object()) return JwtCheck::Malformed;
  bool malformed = false;
  const auto exp = number(claims, "exp", malformed);
  const auto nbf = number(claims, "nbf", malformed);
  const auto iat = number(claims, "iat", malformed);
  if (malformed) return JwtCheck::Malformed;
  if (!exp) return JwtCheck::NoExpiry;
  if (exp && now_s > *exp + rules_.leeway_s) return JwtCheck::Expired;
  if (nbf && now_s + rules_.leeway_s < *nbf) return JwtCheck::NotYet;
  if (!rules_.issuer.empty()) {
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() || *iss != rules_.issuer) {
      return JwtCheck::WrongIssuer;
    }
  }
  if (!rules_.audiences.empty()) {
    auto aud = claims.find("aud");
    bool ok = false;
    auto named = [&](const json& a) {
      if (!a.is_string()) return false;
      for (const std::string& want : rules_.audiences) {
        if (a == want) return true;
      }
      return false;
    };
    if (aud != claims.end()) {
      if (aud->is_array()) {
        for (const json& a : *aud) ok = ok || named(a);
      } else {
        ok = named(*aud);
      }
    }
    if (!ok) return JwtCheck::WrongAudience;
  }
  auto sub = claims.find("sub");
  if (sub == claims.end() || !sub->is_string() || sub->get<std::string>().empty()) {
    return JwtCheck::NoSubject;
  }
  subject = sub->get<std::string>();
  if (issued_s != nullptr) *issued_s = iat ? *iat : 0;
  return JwtCheck::Ok;
}

std::optional<std::vector<JwtKey>> parse_jwt_keys(std::string_view text, bool shared_secret,
                                                  std::string& error) {
  if (shared_secret) {
    std::string secret(text);
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.size() < 32) {
      error = "an HS256 secret must be at least 32 bytes";
      return std::nullopt;
    }
    JwtKey k;
    k.alg = JwtAlg::HS256;
    k.secret = std::move(secret);
    std::vector<JwtKey> keys;
    keys.push_back(std::move(k));
    return keys;
  }
  if (text.find("-----BEGIN") != std::string_view::npos) {
    Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    EVP_PKEY* k = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    JwtKey key;
    key.pkey = wrap(k);
    std::optional<JwtAlg> alg = key.pkey ? alg_of(key.pkey->key) : std::nullopt;
    if (!alg) {
      error = "not a PEM public key of RSA (2048 bits or more), EC P-256 or Ed25519";
      return std::nullopt;
    }
    key.alg = *alg;
    std::vector<JwtKey> keys;
    keys.push_back(std::move(key));
    return keys;
  }
  const json doc = json::parse(text, nullptr, false);
  if (!doc.is_object()) {
    error = "neither a PEM public key nor a JWKS document (JSON)";
    return std::nullopt;
  }
  return parse_jwks(doc, error);
}

std::optional<std::vector<JwtKey>> load_jwt_keys(const std::string& path, bool shared_secret,
                                                 std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().size() > 1 << 20) {
    error = path + ": over 1 MiB";
    return std::nullopt;
  }
  auto keys = parse_jwt_keys(s.str(), shared_secret, error);
  if (!keys) error = path + ": " + error;
  return keys;
}

}  // namespace gh::residents
