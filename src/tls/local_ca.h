// A local certificate authority and one server certificate it signs, made with libcrypto (no
// openssl command needed), for the demo's HTTPS listener: a person trusts the CA once in the
// browser and the demo is served on https without warnings.
#pragma once

#include <optional>
#include <string>

namespace gh::tls {

struct LocalCertificates {
  std::string ca_cert;  // DIR/ca.pem: the certificate to trust
  std::string cert;     // DIR/server.pem: localhost, 127.0.0.1, ::1
  std::string key;      // DIR/server.key (0600)
  bool made = false;    // made now (not found from an earlier start)
};

// Made at the first call and kept under `dir` (created 0700): later calls reuse them while the
// server certificate is valid for at least another day and matches its key; otherwise a fresh
// server certificate is signed (by the same CA, so a browser that trusts it keeps trusting).
std::optional<LocalCertificates> ensure_local_certificates(const std::string& dir,
                                                           std::string* error);

}  // namespace gh::tls
