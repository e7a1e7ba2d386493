// A listener's `tls:` section: plain types, filled by config.cc in this folder and read when the
// server builds the listener's contexts (context.h). In gh::policy, like every section's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model-t.h"

namespace gh::policy {

struct TlsCertificate {
  std::string cert_file;  // PEM: the certificate, then its chain
  std::string key_file;   // PEM: its private key
  SourceMark cert_mark;   // where each was named, for errors found when (re)building
  SourceMark key_mark;
};

enum class TlsVersion : std::uint8_t { Tls12, Tls13 };

struct TlsConfig {
  bool enabled = false;
  // The first is the default; the others are chosen by SNI (their DNS names, wildcards too).
  std::vector<TlsCertificate> certificates;
  TlsVersion min_version = TlsVersion::Tls12;  // never below 1.2
  bool session_tickets = true;
  // 80-byte keys (16 name, 32 HMAC, 32 AES, as nginx's ssl_session_ticket_key), one after the
  // other: the first encrypts, all decrypt. Shared by a fleet; re-read on reload. Empty: keys
  // made in memory and rotated every `ticket_key_rotation`.
  std::string ticket_key_file;
  Millis ticket_key_rotation = 3'600'000;
  Millis handshake_timeout = 10'000;    // a handshake not done by then is cut
  std::uint32_t max_handshakes = 1024;  // per worker, in progress; beyond it new connections close
  bool ktls = true;                     // kernel TLS where the kernel offers it
};

}  // namespace gh::policy
