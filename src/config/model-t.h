// The plain types that every section of the configuration shares, wherever its struct lives
// (policy/ for the proxy's own sections, each stage's folder for its own): durations, where a
// value came from, and what a load reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gh::policy {

// Durations are whole milliseconds; sizes whole bytes.
using Millis = std::uint32_t;

// Where a value came from, for `file:line:col` messages long after loading.
struct SourceMark {
  std::string file;
  int line = 0;    // 1-based; 0 when not from a file (defaults, CLI)
  int column = 0;  // 1-based
};

struct ConfigError {
  SourceMark mark;
  std::string message;

  // "file:line:col: message"; "file: message" when there is no position (e.g. unreadable file).
  std::string to_string() const;
};

inline constexpr std::size_t kMaxConfigBytes = std::size_t{1024} * 1024;
inline constexpr std::size_t kMaxConfigErrors = 50;  // then one "too many errors" entry

}  // namespace gh::policy
