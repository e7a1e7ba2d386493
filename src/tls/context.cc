#include "tls/context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <system_error>

#include "core/clock.h"

namespace gh::tls {

namespace {

// What OpenSSL said last (its error queue, emptied), for messages.
std::string openssl_error() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    if (reason == nullptr) continue;
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out.empty() ? "unknown error" : out;
}

// "" when `path` is a readable regular file, else why not.
std::string unreadable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::generic_category().message(errno);
  if (S_ISDIR(st.st_mode)) return "it is a directory";
  if (!S_ISREG(st.st_mode)) return "it is not a regular file";
  std::ifstream in(path);
  if (!in) return std::generic_category().message(errno == 0 ? EACCES : errno);
  return "";
}

int ticket_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int on_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
            unsigned int in_len, void* arg) {
  const bool h2 = static_cast<const ServerContext*>(arg)->offers_h2();
  const std::span<const std::string_view> offered =
      h2 ? std::span<const std::string_view>(kAlpnH2)
         : std::span<const std::string_view>(kAlpnHttp11);
  // The client's list, in wire format: the first of ours it offers wins (our order).
  for (std::string_view ours : offered) {
    for (unsigned int i = 0; i < in_len;) {
      const unsigned int n = in[i];
      if (i + 1 + n > in_len) break;
      if (std::string_view(reinterpret_cast<const char*>(in + i + 1), n) == ours) {
        *out = in + i + 1;
        *out_len = static_cast<unsigned char>(n);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + n;
    }
  }
  // Nothing in common (say, h2 only): go on without ALPN rather than fail the handshake.
  return SSL_TLSEXT_ERR_NOACK;
}

int on_ticket(SSL* ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
              EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_index()));
  if (keys == nullptr) return -1;
  const std::int64_t now = core::monotonic_ms();
  TicketKeys::Key key;
  bool is_current = true;
  if (enc == 1) {
    key = keys->current(now);
    if (RAND_bytes(iv, 16) != 1) return -1;
    std::memcpy(key_name, key.name.data(), 16);
  } else {
    auto found = keys->find({key_name, 16}, now, is_current);
    if (!found) return 0;  // unknown or expired key: a full handshake
    key = *found;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(mac, key.hmac.data(), key.hmac.size(), params) != 1) return -1;
  const int ok = enc == 1
                     ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv)
                     : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv);
  OPENSSL_cleanse(&key, sizeof key);
  if (ok != 1) return -1;
  // 2 = renew: a fresh ticket is issued after this resumption. Always under TLS 1.3, where
  // OpenSSL otherwise sends none and clients use a ticket once (RFC 8446 C.4): a browser's
  // every third handshake would be a full one. Under TLS 1.2 only when an older key decrypted it.
  return is_current && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return out;
}

// The certificate's DNS names (subjectAltName), or its common name when it has none.
std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> out;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = g->d.dNSName;
      out.push_back(lower({reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s))}));
    }
    GENERAL_NAMES_free(sans);
  }
  if (out.empty()) {
    char cn[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) {
      out.push_back(lower(cn));
    }
  }
  return out;
}

bool name_matches(std::string_view pattern, std::string_view host) {
  if (pattern == host) return true;
  // "*.example.com" covers one label: "a.example.com", not "example.com" nor "a.b.example.com".
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    const std::size_t dot = host.find('.');
    return dot != std::string_view::npos && dot > 0 && host.substr(dot) == pattern.substr(1);
  }
  return false;
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

}  // namespace

// ---- ticket keys ----------------------------------------------------------------------------

TicketKeys::TicketKeys(std::int64_t rotation_ms)
    : rotation_ms_(std::max<std::int64_t>(1, rotation_ms)) {}

TicketKeys::TicketKeys(std::vector<Key> from_file) : rotation_ms_(0), keys_(std::move(from_file)) {}

void TicketKeys::rotate_if_due(std::int64_t now_ms) {
  if (rotation_ms_ == 0) return;
  if (!keys_.empty() && now_ms - keys_.front().made_ms < rotation_ms_) return;
  Key k;
  if (RAND_bytes(k.name.data(), k.name.size()) != 1 ||
      RAND_bytes(k.hmac.data(), k.hmac.size()) != 1 ||
      RAND_bytes(k.aes.data(), k.aes.size()) != 1) {
    return;  // keep the old key rather than none
  }
  k.made_ms = now_ms;
  keys_.insert(keys_.begin(), k);
  if (keys_.size() > 1 + kKeptKeys) {
    OPENSSL_cleanse(&keys_.back(), sizeof(Key));
    keys_.pop_back();
  }
}

TicketKeys::Key TicketKeys::current(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  rotate_if_due(now_ms);
  return keys_.empty() ? Key{} : keys_.front();
}

std::optional<TicketKeys::Key> TicketKeys::find(std::span<const std::uint8_t> name,
                                                std::int64_t now_ms, bool& is_current) {
  std::lock_guard lock(mu_);
  rotate_if_due(now_ms);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (std::equal(name.begin(), name.end(), keys_[i].name.begin(), keys_[i].name.end())) {
      is_current = i == 0;
      return keys_[i];
    }
  }
  return std::nullopt;
}

std::optional<std::vector<TicketKeys::Key>> read_ticket_keys(const std::string& path,
                                                             std::string& why) {
  why = unreadable(path);
  if (!why.empty()) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty() || bytes.size() % TicketKeys::kFileKeyBytes != 0 ||
      bytes.size() > TicketKeys::kMaxFileKeys * TicketKeys::kFileKeyBytes) {
    why = "expected 1 to 16 keys of 80 random bytes each (e.g. openssl rand 80), got " +
          std::to_string(bytes.size()) + " bytes";
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return std::nullopt;
  }
  std::vector<TicketKeys::Key> keys(bytes.size() / TicketKeys::kFileKeyBytes);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const char* p = bytes.data() + i * TicketKeys::kFileKeyBytes;
    std::memcpy(keys[i].name.data(), p, 16);
    std::memcpy(keys[i].hmac.data(), p + 16, 32);
    std::memcpy(keys[i].aes.data(), p + 48, 32);
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return keys;
}

// ---- certificates ---------------------------------------------------------------------------

std::string check_certificate(const std::string& cert_file, const std::string& key_file,
                              int& which) {
  which = 0;
  if (std::string why = unreadable(cert_file); !why.empty()) {
    return "cannot read " + cert_file + ": " + why;
  }
  ERR_clear_error();
  std::unique_ptr<BIO, BioDeleter> cb(BIO_new_file(cert_file.c_str(), "r"));
  std::unique_ptr<X509, X509Deleter> cert(
      cb ? PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr) : nullptr);
  if (cert == nullptr) {
    ERR_clear_error();
    return cert_file + " holds no PEM certificate";
  }
  which = 1;
  if (std::string why = unreadable(key_file); !why.empty()) {
    return "cannot read " + key_file + ": " + why;
  }
  std::unique_ptr<BIO, BioDeleter> kb(BIO_new_file(key_file.c_str(), "r"));
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr) : nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return key_file +
           " holds no PEM private key (or it is encrypted: Gatehouse asks for no "
           "passphrase)";
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return key_file + " is not the key of the certificate in " + cert_file;
  }
  return "";
}

// ---- contexts -------------------------------------------------------------------------------

ServerContext::~ServerContext() {
  for (Cert& c : certs_) SSL_CTX_free(c.ctx);
}

std::shared_ptr<const ServerContext> ServerContext::build(const policy::TlsConfig& config,
                                                          std::shared_ptr<TicketKeys> generated,
                                                          std::string* error, bool http2) {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return nullptr;
  };
  std::shared_ptr<ServerContext> out(new ServerContext());
  out->config_ = config;
  out->http2_ = http2;
  if (config.session_tickets) {
    if (!config.ticket_key_file.empty()) {
      std::string why;
      auto keys = read_ticket_keys(config.ticket_key_file, why);
      if (!keys) return fail("tls.ticket_key_file " + config.ticket_key_file + ": " + why);
      out->keys_ = std::make_shared<TicketKeys>(std::move(*keys));
    } else {
      out->keys_ = generated != nullptr ? std::move(generated)
                                        : std::make_shared<TicketKeys>(config.ticket_key_rotation);
    }
  }
  if (config.certificates.empty()) return fail("tls: no certificate");
  for (const policy::TlsCertificate& c : config.certificates) {
    int which = 0;
    if (std::string why = check_certificate(c.cert_file, c.key_file, which); !why.empty()) {
      return fail(why);
    }
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) return fail("SSL_CTX_new: " + openssl_error());
    out->certs_.push_back({ctx, {}});
    SSL_CTX_set_min_proto_version(
        ctx, config.min_version == policy::TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
      return fail("cipher list: " + openssl_error());
    }
    std::uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                            // HTTP frames its own messages: a FIN without close_notify is
                            // an ordinary end of stream, as curl and browsers often send.
                            SSL_OP_IGNORE_UNEXPECTED_EOF;
    if (config.ktls) options |= SSL_OP_ENABLE_KTLS;
    if (!config.session_tickets) options |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(ctx, options);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    // One read() takes every record the socket holds, not a 5-byte header then the record
    // (measured on HTTP/2: 2.07 reads per request before, as nginx, which sets it too, 0.2).
    // Safe because the transports read a TLS connection until EAGAIN: records OpenSSL holds
    // raise no epoll event but are consumed before that.
    SSL_CTX_set_read_ahead(ctx, 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, c.cert_file.c_str()) != 1) {
      return fail("certificate " + c.cert_file + ": " + openssl_error());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      return fail("key " + c.key_file + ": " + openssl_error());
    }
    out->certs_.back().names = dns_names(SSL_CTX_get0_certificate(ctx));
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, out.get());
    SSL_CTX_set_tlsext_servername_callback(ctx, &ServerContext::on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, out.get());
    // Stateless resumption: tickets only, no server-side cache to fill or to share.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    static const unsigned char kSid[] = "gatehouse";
    SSL_CTX_set_session_id_context(ctx, kSid, sizeof kSid - 1);
    if (config.session_tickets) {
      SSL_CTX_set_ex_data(ctx, ticket_index(), out->keys_.get());
      SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
      const long lifetime = std::max<long>(60, config.ticket_key_rotation / 1000);
      SSL_CTX_set_timeout(ctx, lifetime);
    } else {
      SSL_CTX_set_num_tickets(ctx, 0);
    }
  }
  return out;
}

SSL* ServerContext::new_ssl() const {
  return certs_.empty() ? nullptr : SSL_new(certs_.front().ctx);
}

std::vector<std::vector<std::string>> ServerContext::names() const {
  std::vector<std::vector<std::string>> out;
  for (const Cert& c : certs_) out.push_back(c.names);
  return out;
}

const ServerContext::Cert* ServerContext::pick(std::string_view server_name) const {
  const std::string host = lower(server_name);
  for (const Cert& c : certs_) {
    for (const std::string& n : c.names) {
      if (n == host) return &c;
    }
  }
  for (const Cert& c : certs_) {
    for (const std::string& n : c.names) {
      if (name_matches(n, host)) return &c;
    }
  }
  return nullptr;
}

int ServerContext::on_servername(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr || self == nullptr) return SSL_TLSEXT_ERR_OK;  // no SNI: the default
  const Cert* c = self->pick(name);
  // An unknown name gets the default certificate, as nginx's default server would serve it.
  if (c != nullptr && c->ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, c->ctx);
  return SSL_TLSEXT_ERR_OK;
}

std::string_view library_version() {
  return OpenSSL_version(OPENSSL_VERSION);
}

}  // namespace gh::tls
