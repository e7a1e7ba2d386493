// Helpers shared by the policy tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/config.h"

namespace gh::policy::test {

inline std::vector<std::string> errors_of(std::string_view yaml) {
  std::vector<std::string> out;
  for (const ConfigError& e : load_config_string(yaml, "test.yaml").errors)
    out.push_back(e.to_string());
  return out;
}

// A minimal valid head to append sections to.
inline constexpr std::string_view kBase =
    "listen:\n"
    "  - address: 127.0.0.1:8080\n"
    "upstreams:\n"
    "  app:\n"
    "    servers: [127.0.0.1:3000]\n";

}  // namespace gh::policy::test
