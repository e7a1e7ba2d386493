// The `tls:` section of a listener: loader piece.
#pragma once

#include <string>

#include "tls/config-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::tls {

// `listen[i].tls:`, errors reported to `doc`. Certificates and keys are read, parsed and matched
// here, so a wrong file fails the load at its line instead of at the first handshake.
void load_tls(policy::Document& doc, const policy::Field& f, const std::string& path,
              policy::TlsConfig& out);

}  // namespace gh::tls
