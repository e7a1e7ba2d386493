#include "demo/jwt.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace gh::demo {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxToken = 4096;
constexpr std::int64_t kClockSkew = 60;  // seconds an iat may lie in the future

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, CtxFree>;
using Sig = std::unique_ptr<ECDSA_SIG, SigFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string bio_text(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// Writes `text` to `path` through a temporary file and a rename, with `mode`.
bool write_file(const std::string& path, const std::string& text, mode_t mode, bool exclusive,
                std::string* error) {
  const std::string tmp = exclusive ? path : path + ".tmp";
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
  const int fd = ::open(tmp.c_str(), flags, mode);
  if (fd < 0) {
    if (error != nullptr) *error = tmp + ": " + std::strerror(errno);
    return false;
  }
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (error != nullptr) *error = tmp + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  ::fchmod(fd, mode);  // whatever the umask took away
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    if (error != nullptr) *error = tmp + ": " + std::strerror(errno);
    return false;
  }
  if (!exclusive && ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (error != nullptr) *error = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool is_p256(EVP_PKEY* k) {
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return false;
  char group[64] = {};
  std::size_t len = 0;
  return EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) ==
             1 &&
         std::string_view(group, len) == "prime256v1";
}

// 32 big-endian bytes of an EC public coordinate.
std::string coordinate(EVP_PKEY* k, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &raw) != 1) return {};
  Bn bn(raw);
  std::array<unsigned char, 32> b{};
  if (BN_bn2binpad(bn.get(), b.data(), 32) != 32) return {};
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

struct JwtSigner::Key {
  Pkey pkey;
};

std::string base64url(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;  // no length leaves one character over
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const char* p = std::strchr(kAlphabet, c);
    if (c == '\0' || p == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // The bits left over must be zero (one spelling per value).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

JwtSigner::JwtSigner(std::unique_ptr<Key> key) : key_(std::move(key)) {
  // RFC 7638 thumbprint of the public key: SHA-256 of its JWK's required members, in order.
  const std::string jwk =
      R"({"crv":"P-256","kty":"EC","x":")" +
      base64url(coordinate(key_->pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X)) + R"(","y":")" +
      base64url(coordinate(key_->pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y)) + R"("})";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_Digest(jwk.data(), jwk.size(), md, &len, EVP_sha256(), nullptr) == 1) {
    kid_ = base64url(std::string_view(reinterpret_cast<const char*>(md), len));
  }
}

JwtSigner::~JwtSigner() = default;
JwtSigner::JwtSigner(JwtSigner&&) noexcept = default;
JwtSigner& JwtSigner::operator=(JwtSigner&&) noexcept = default;

std::unique_ptr<JwtSigner> JwtSigner::ephemeral(std::string* error) {
  Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!k) {
    if (error != nullptr) *error = "cannot generate an EC P-256 key";
    return nullptr;
  }
  auto key = std::make_unique<Key>();
  key->pkey = std::move(k);
  return std::unique_ptr<JwtSigner>(new JwtSigner(std::move(key)));
}

std::unique_ptr<JwtSigner> JwtSigner::load_or_create(const std::string& path, std::string* error) {
  auto fail = [&](std::string why) -> std::unique_ptr<JwtSigner> {
    if (error != nullptr) *error = std::move(why);
    return nullptr;
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(path + ": " + std::strerror(errno));
    std::error_code ec;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    auto fresh = ephemeral(error);
    if (!fresh) return nullptr;
    Bio out(BIO_new(BIO_s_mem()));
    if (!out || PEM_write_bio_PrivateKey(out.get(), fresh->key_->pkey.get(), nullptr, nullptr, 0,
                                         nullptr, nullptr) != 1) {
      return fail(path + ": cannot encode the new key");
    }
    std::string why;
    if (!write_file(path, bio_text(out.get()), 0600, /*exclusive=*/true, &why)) {
      if (errno != EEXIST) return fail(why);
      // Another process made it first: use that one.
    }
  }
  if (::stat(path.c_str(), &st) != 0) return fail(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(path + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return fail(path + ": a private key readable by others (mode " + mode +
                "); chmod 600 it, or delete it to make a new one");
  }
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return fail(path + ": " + std::strerror(errno));
  Pkey k(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!k) return fail(path + ": not a PEM private key");
  if (!is_p256(k.get())) return fail(path + ": not an EC P-256 key (ES256 needs one)");
  auto key = std::make_unique<Key>();
  key->pkey = std::move(k);
  std::unique_ptr<JwtSigner> signer(new JwtSigner(std::move(key)));
  const std::string pub = path + ".pub.pem";
  std::string why;
  if (!write_file(pub, signer->public_pem(), 0644, /*exclusive=*/false, &why)) return fail(why);
  signer->public_path_ = pub;
  return signer;
}

std::string JwtSigner::public_pem() const {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), key_->pkey.get()) != 1) return {};
  return bio_text(out.get());
}

std::string JwtSigner::sign(std::string_view subject, std::int64_t now_s) const {
  const json header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid_}};
  const json claims{{"iss", kJwtIssuer},
                    {"aud", kJwtAudience},
                    {"sub", subject},
                    {"iat", now_s},
                    {"exp", now_s + kJwtLifetime}};
  return sign_raw(header.dump(), claims.dump());
}

std::string JwtSigner::sign_raw(std::string_view header, std::string_view claims) const {
  const std::string input = base64url(header) + "." + base64url(claims);
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return {};
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return {};
  }
  // JWS wants r || s, each 32 bytes big-endian, not the DER sequence OpenSSL writes.
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Sig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return {};
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::array<unsigned char, 64> raw{};
  if (BN_bn2binpad(r, raw.data(), 32) != 32 || BN_bn2binpad(s, raw.data() + 32, 32) != 32) {
    return {};
  }
  return input + "." +
         base64url(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

std::optional<std::string> JwtSigner::verify(std::string_view token, std::int64_t now_s,
                                             std::string* why) const {
  auto bad = [&](const char* reason) -> std::optional<std::string> {
    if (why != nullptr) *why = reason;
    return std::nullopt;
  };
  if (token.size() > kMaxToken) return bad("token too long");
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return bad("not three parts");
  }
  auto header_text = base64url_decode(token.substr(0, d1));
  auto claims_text = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig_raw = base64url_decode(token.substr(d2 + 1));
  if (!header_text || !claims_text || !sig_raw) return bad("not base64url");
  const json header = json::parse(*header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return bad("header is not a JSON object");
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || *alg != "ES256") return bad("alg is not ES256");
  if (const auto kid = header.find("kid");
      kid != header.end() && (!kid->is_string() || *kid != kid_)) {
    return bad("unknown kid");
  }
  if (sig_raw->size() != 64) return bad("signature is not 64 bytes");
  // r || s back to the DER sequence OpenSSL verifies.
  Sig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig_raw->data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig_raw->data()) + 32, 32, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return bad("cannot read the signature");
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return bad("cannot read the signature");
  const std::string_view input = token.substr(0, d2);
  MdCtx ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  OPENSSL_free(der);
  if (!ok) return bad("bad signature");
  const json claims = json::parse(*claims_text, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) return bad("claims are not a JSON object");
  auto str = [&](const char* k) -> std::optional<std::string> {
    auto it = claims.find(k);
    if (it == claims.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto num = [&](const char* k) -> std::optional<std::int64_t> {
    auto it = claims.find(k);
    if (it == claims.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
  };
  if (str("iss") != std::string(kJwtIssuer)) return bad("wrong issuer");
  const auto aud = claims.find("aud");
  bool aud_ok = aud != claims.end() && aud->is_string() && *aud == kJwtAudience;
  if (aud != claims.end() && aud->is_array()) {
    for (const auto& a : *aud) aud_ok = aud_ok || (a.is_string() && a == kJwtAudience);
  }
  if (!aud_ok) return bad("wrong audience");
  const auto exp = num("exp");
  if (!exp || *exp <= now_s) return bad("expired");
  if (const auto iat = num("iat"); !iat || *iat > now_s + kClockSkew) return bad("issued later");
  auto sub = str("sub");
  if (!sub || sub->empty()) return bad("no subject");
  return sub;
}

}  // namespace gh::demo
