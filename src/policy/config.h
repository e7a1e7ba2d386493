// Loads and validates the YAML configuration (schema: docs/CONFIG.md) into an immutable snapshot.
// Errors carry `file:line:col` and as many of them as can be found are reported at once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/model-t.h"
#include "net/resolve.h"
#include "policy/config-t.h"
#include "policy/snapshot.h"

namespace gh::policy {

// Exactly one of the two is set: a snapshot on success, errors (sorted by position) on failure.
struct LoadResult {
  SnapshotPtr snapshot;
  std::vector<ConfigError> errors;

  bool ok() const { return snapshot != nullptr; }
};

struct LoadOptions {
  // Resolves upstream server names (a name that does not resolve is an error at its position).
  // Empty: the system's resolver (net::resolve). Tests and the fuzzer give their own.
  net::Resolver resolve;
};

// Never throws for bad input. Config::source_path is set to `path`.
LoadResult load_config_file(const std::string& path, const LoadOptions& options = {});
// `name` is used as the file part of error marks.
LoadResult load_config_string(std::string_view yaml, std::string_view name,
                              const LoadOptions& options = {});

}  // namespace gh::policy
