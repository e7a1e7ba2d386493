#include "tls/local_ca.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <system_error>

#include "tls/context.h"

namespace gh::tls {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

constexpr long kDay = 24 * 3600;

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key`, named `cn`, signed by `issuer_key` (itself when `issuer` is null).
Cert make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, long days,
               bool ca) {
  Cert cert(X509_new());
  if (cert == nullptr) return nullptr;
  X509_set_version(cert.get(), 2);
  BIGNUM* serial = BN_new();
  if (serial == nullptr || BN_rand(serial, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(serial);
    return nullptr;
  }
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // clocks that lag a little
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * kDay);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Gatehouse demo"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = add_ext(cert.get(), signer, NID_subject_key_identifier, "hash") &&
            add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    ok = ok && add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
         add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
         add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth") &&
         add_ext(cert.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
  }
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

bool write_key(const std::string& path, EVP_PKEY* key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    return false;
  }
  const bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

bool write_cert(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = PEM_write_X509(f, cert) == 1;
  return std::fclose(f) == 0 && ok;
}

Pkey read_key(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  Pkey k(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return k;
}

Cert read_cert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  Cert c(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return c;
}

// Valid for at least another day.
bool fresh(X509* cert) {
  std::time_t in_a_day = std::time(nullptr) + kDay;
  return X509_cmp_time(X509_get0_notAfter(cert), &in_a_day) > 0;
}

}  // namespace

std::optional<LocalCertificates> ensure_local_certificates(const std::string& dir,
                                                           std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<LocalCertificates> {
    ERR_clear_error();
    if (error) *error = why;
    return std::nullopt;
  };
  for (std::size_t slash = dir.find('/', 1); slash != std::string::npos;
       slash = dir.find('/', slash + 1)) {
    ::mkdir(dir.substr(0, slash).c_str(), 0755);  // parents (the state dir); errors show below
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail("cannot make " + dir + ": " + std::generic_category().message(errno));
  }
  LocalCertificates out{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key", false};
  const std::string ca_key_path = dir + "/ca.key";

  Pkey ca_key = read_key(ca_key_path);
  Cert ca = read_cert(out.ca_cert);
  if (ca_key == nullptr || ca == nullptr || X509_check_private_key(ca.get(), ca_key.get()) != 1 ||
      !fresh(ca.get())) {
    ca_key.reset(EVP_EC_gen("P-256"));
    if (ca_key == nullptr) return fail("cannot make a key: EVP_EC_gen failed");
    ca = make_cert(ca_key.get(), "Gatehouse demo local CA", nullptr, ca_key.get(), 3650, true);
    if (ca == nullptr) return fail("cannot make the CA certificate");
    if (!write_key(ca_key_path, ca_key.get()) || !write_cert(out.ca_cert, ca.get())) {
      return fail("cannot write the CA under " + dir + ": " +
                  std::generic_category().message(errno));
    }
    out.made = true;
    ::unlink(out.cert.c_str());  // signed by a CA that is gone
  }
  int which = 0;
  Cert leaf = read_cert(out.cert);
  if (!out.made && leaf != nullptr && fresh(leaf.get()) &&
      check_certificate(out.cert, out.key, which).empty()) {
    ERR_clear_error();
    return out;
  }
  Pkey key(EVP_EC_gen("P-256"));
  if (key == nullptr) return fail("cannot make a key: EVP_EC_gen failed");
  // 397 days: browsers refuse longer-lived server certificates.
  leaf = make_cert(key.get(), "localhost", ca.get(), ca_key.get(), 397, false);
  if (leaf == nullptr) return fail("cannot make the server certificate");
  if (!write_key(out.key, key.get()) || !write_cert(out.cert, leaf.get())) {
    return fail("cannot write the server certificate under " + dir + ": " +
                std::generic_category().message(errno));
  }
  out.made = true;
  ERR_clear_error();
  return out;
}

}  // namespace gh::tls
