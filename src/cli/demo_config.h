// The policy `gatehouse demo` runs with: what an operator would write for a sign-up/login
// service, so the demo shows the shield doing its job rather than a bare proxy.
#pragma once

#include <string>

namespace gh::cli {

// `https`: a second listener terminating TLS with `cert` and `key` ("" = none).
std::string demo_config_yaml(const std::string& listen, const std::string& app, unsigned workers,
                             const std::string& https = "", const std::string& cert = "",
                             const std::string& key = "");

}  // namespace gh::cli
