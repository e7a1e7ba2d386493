#include "core/build_info.h"

#include <openssl/crypto.h>

#ifndef GH_VERSION
#define GH_VERSION "dev"
#define GH_COMMIT "unknown"
#define GH_BUILD_TYPE "unknown"
#define GH_LIBRARIES ""
#endif

namespace gh::core {

std::string_view version() {
  return GH_VERSION;
}

std::string_view commit() {
  return GH_COMMIT;
}

std::string_view build_type() {
  return GH_BUILD_TYPE;
}

std::string_view libraries() {
  return GH_LIBRARIES;
}

std::string describe_build() {
  std::string out = "gatehouse ";
  out += version();
  out += " (commit ";
  out += commit();
  out += ", ";
  out += build_type();
  out += ")\n";
  // OpenSSL is reported as loaded at run time: the one that does the cryptography.
  out += "libraries: ";
  out += OpenSSL_version(OPENSSL_VERSION);
  out += ", ";
  out += libraries();
  out += "\n";
  return out;
}

}  // namespace gh::core
