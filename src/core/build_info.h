// What this binary is: version, commit, build type and the libraries it was built against, for
// `gatehouse version`, --version and the gatehouse_build_info metric.
#pragma once

#include <string>
#include <string_view>

namespace gh::core {

std::string_view version();
std::string_view commit();      // short hash of the checkout it was built from, or "unknown"
std::string_view build_type();  // Release, Debug, ...
std::string_view libraries();   // "yaml-cpp 0.7.0, RE2 ..., ..." as configured

// The lines `gatehouse version` prints.
std::string describe_build();

}  // namespace gh::core
