// JSON-lines files with size-bounded rotation, shared by the event log, the minute store and the
// access log, and the defensive readers for them: the files may be cut or damaged (a crash, a full
// disk, an operator's editor), so reading never throws and skips what it cannot use.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace gh::observe {

struct RotateOptions {
  std::uint64_t max_bytes = 8 << 20;  // a file is rotated before a write would take it past this
  std::uint32_t files = 4;            // files kept in all: path, path.1 ... path.(files-1)
};

// Appends whole lines with one write() each (no user-space buffer, so a line is in the kernel
// once append() returns; no fsync). Rotation: path.(n-2) -> path.(n-1), ..., path -> path.1.
// Not thread-safe: each owner serialises its calls.
class JsonlFile {
 public:
  JsonlFile(std::string path, RotateOptions options);
  ~JsonlFile();
  JsonlFile(const JsonlFile&) = delete;
  JsonlFile& operator=(const JsonlFile&) = delete;

  bool open();    // creates the file (0640) when absent; appends to it
  bool reopen();  // closes and opens again (after an outside rotation, SIGHUP-style)
  // `lines`: one or more complete lines, each ending in '\n'.
  bool append(std::string_view lines);

  const std::string& path() const { return path_; }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t rotations() const { return rotations_; }
  const std::string& last_error() const { return last_error_; }

 private:
  bool rotate();
  bool fail(const std::string& what);

  std::string path_;
  RotateOptions options_;
  int fd_ = -1;
  std::uint64_t bytes_ = 0;
  std::uint64_t rotations_ = 0;
  std::string last_error_;
};

inline constexpr std::size_t kMaxLineBytes = 256 * 1024;  // longer lines are skipped as damage
inline constexpr std::uint32_t kMaxRotatedFiles = 64;     // read at most this many path.N

struct ReadStats {
  std::uint64_t lines = 0;
  std::uint64_t bad_lines = 0;  // not JSON objects, too long, or rejected by the caller
  std::uint64_t files = 0;
};

// Calls `each` for every line of path.N ... path.1, path (oldest first) that parses as a JSON
// object; `each` returns false to count the line as bad. Missing files are skipped.
ReadStats read_json_lines(const std::string& path,
                          const std::function<bool(const nlohmann::json&)>& each);
// The same over bytes already in memory (one file's content); for tests and the fuzzer.
ReadStats read_json_lines_from(std::string_view bytes,
                               const std::function<bool(const nlohmann::json&)>& each);

// dump() that never throws: invalid UTF-8 (user agents, paths) becomes U+FFFD.
std::string dump_line(const nlohmann::json& j);

// Typed field access that never throws: nullopt when absent or of another type.
std::optional<std::int64_t> get_int(const nlohmann::json& object, std::string_view key);
std::optional<std::uint64_t> get_uint(const nlohmann::json& object, std::string_view key);
std::optional<std::string> get_string(const nlohmann::json& object, std::string_view key);
const nlohmann::json* get_object(const nlohmann::json& object, std::string_view key);
const nlohmann::json* get_array(const nlohmann::json& object, std::string_view key);

// "2026-11-24T10:00:00.123Z" (UTC, always milliseconds).
std::string format_time(std::int64_t at_ms);
// "2026-11-24 10:00" (UTC), for reports.
std::string format_minute(std::int64_t at_ms);

// Creates `dir` (and parents) when missing.
bool make_dirs(const std::string& dir, std::string* error);

}  // namespace gh::observe
