// Server-side TLS contexts of one listener: its certificates (the first the default, the others
// chosen by SNI), protocol versions and ciphers, ALPN, session tickets. Built at start and on
// every reload (certificates and keys re-read); shared read-only by the workers. An SSL object
// keeps its own context alive, so connections opened before a reload finish on the old one.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tls/config-t.h"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace gh::tls {

// The protocols offered by ALPN, in the server's order of preference: HTTP/1.1 alone, or h2
// first on a listener that serves HTTP/2 (the connection says what was chosen: TlsConn::alpn()).
inline constexpr std::string_view kAlpnHttp11[] = {"http/1.1"};
inline constexpr std::string_view kAlpnH2[] = {"h2", "http/1.1"};

// TLS 1.2 suites: forward secret and AEAD only (Mozilla's "intermediate" without DHE). TLS 1.3
// suites are all AEAD; OpenSSL's defaults are kept.
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Session ticket keys. Thread-safe: the ticket callback runs on every worker.
class TicketKeys {
 public:
  struct Key {
    std::array<std::uint8_t, 16> name{};
    std::array<std::uint8_t, 32> hmac{};
    std::array<std::uint8_t, 32> aes{};
    std::int64_t made_ms = 0;  // generated keys: when (monotonic)
  };
  static constexpr std::size_t kFileKeyBytes = 80;
  static constexpr std::size_t kMaxFileKeys = 16;
  // A key decrypts for this many rotations after it stopped encrypting.
  static constexpr int kKeptKeys = 2;

  // Keys made in memory, a new one every `rotation_ms`.
  explicit TicketKeys(std::int64_t rotation_ms);
  // Keys read from a file (fixed: a fleet rotates them by rewriting the file and reloading).
  explicit TicketKeys(std::vector<Key> from_file);

  // The key to encrypt with; rotates first when due.
  Key current(std::int64_t now_ms);
  // The key named `name`; `is_current` says whether it still encrypts (else: renew the ticket).
  std::optional<Key> find(std::span<const std::uint8_t> name, std::int64_t now_ms,
                          bool& is_current);
  bool from_file() const { return rotation_ms_ == 0; }

 private:
  void rotate_if_due(std::int64_t now_ms);
  std::mutex mu_;
  std::int64_t rotation_ms_ = 0;  // 0: from a file, no rotation
  std::vector<Key> keys_;         // keys_[0] encrypts
};

// Reads a ticket key file: nullopt and `why` when it is not 1 to 16 keys of 80 bytes.
std::optional<std::vector<TicketKeys::Key>> read_ticket_keys(const std::string& path,
                                                             std::string& why);

// Reads a certificate chain and its key and checks that they match: "" or what is wrong,
// naming the file (`which` is set to 0 for the certificate, 1 for the key).
std::string check_certificate(const std::string& cert_file, const std::string& key_file,
                              int& which);

class ServerContext {
 public:
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // nullptr and `error` when a file cannot be read or a certificate does not match its key.
  // `generated`: the process's in-memory ticket keys (kept across reloads so tickets survive
  // them); used unless the config names a key file. `http2`: ALPN offers h2 before http/1.1.
  static std::shared_ptr<const ServerContext> build(const policy::TlsConfig& config,
                                                    std::shared_ptr<TicketKeys> generated,
                                                    std::string* error, bool http2 = false);

  // A server-side SSL on the default certificate (SNI may switch it); nullptr when out of memory.
  SSL* new_ssl() const;
  const policy::TlsConfig& config() const { return config_; }
  bool offers_h2() const { return http2_; }
  // The DNS names (lowercase; "*.example.com" for wildcards) of each certificate, in order.
  std::vector<std::vector<std::string>> names() const;

 private:
  struct Cert {
    SSL_CTX* ctx = nullptr;
    std::vector<std::string> names;
  };
  ServerContext() = default;
  static int on_servername(SSL* ssl, int* alert, void* arg);
  const Cert* pick(std::string_view server_name) const;

  policy::TlsConfig config_;
  std::vector<Cert> certs_;
  std::shared_ptr<TicketKeys> keys_;
  bool http2_ = false;
};

using ServerContextPtr = std::shared_ptr<const ServerContext>;

// "tls1.2", ... for the logs; the OpenSSL version string.
std::string_view library_version();

}  // namespace gh::tls
