// The dashboard's files (web/dashboard/ and uPlot from npm), embedded at build time by
// cmake/dashboard.cmake so the binary alone serves the page.
#pragma once

#include <optional>
#include <string_view>

namespace gh::observe {

struct Asset {
  std::string_view content_type;
  std::string_view body;
};

// "/", "/dashboard", "/dashboard/" -> the page; "/dashboard/<file>" -> its script, style sheet and
// uPlot. Nullopt for anything else.
std::optional<Asset> dashboard_asset(std::string_view path);

}  // namespace gh::observe
