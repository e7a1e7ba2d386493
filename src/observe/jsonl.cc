#include "observe/jsonl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace gh::observe {

using nlohmann::json;

JsonlFile::JsonlFile(std::string path, RotateOptions options)
    : path_(std::move(path)), options_(options) {
  if (options_.files == 0) options_.files = 1;
  if (options_.files > kMaxRotatedFiles) options_.files = kMaxRotatedFiles;
}

JsonlFile::~JsonlFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool JsonlFile::fail(const std::string& what) {
  last_error_ = what + " " + path_ + ": " + std::strerror(errno);
  return false;
}

bool JsonlFile::open() {
  if (fd_ >= 0) return true;
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return fail("cannot open");
  struct stat st {};
  bytes_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  if (bytes_ > 0) {
    // A line cut by a crash must not swallow the next one: end it first.
    char last = '\n';
    if (::pread(fd_, &last, 1, static_cast<off_t>(bytes_ - 1)) == 1 && last != '\n') {
      if (::write(fd_, "\n", 1) == 1) ++bytes_;
    }
  }
  return true;
}

bool JsonlFile::reopen() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return open();
}

bool JsonlFile::rotate() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (options_.files <= 1) {
    // Nothing kept beside the live file: start it again.
    if (::truncate(path_.c_str(), 0) != 0 && errno != ENOENT) return fail("cannot truncate");
  } else {
    for (std::uint32_t i = options_.files - 1; i >= 1; --i) {
      const std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
      const std::string to = path_ + "." + std::to_string(i);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return fail("cannot rotate");
    }
  }
  ++rotations_;
  return open();
}

bool JsonlFile::append(std::string_view lines) {
  if (fd_ < 0 && !open()) return false;
  if (bytes_ > 0 && bytes_ + lines.size() > options_.max_bytes && !rotate()) return false;
  const char* p = lines.data();
  std::size_t left = lines.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
    bytes_ += static_cast<std::uint64_t>(n);
  }
  return true;
}

ReadStats read_json_lines_from(std::string_view bytes,
                               const std::function<bool(const json&)>& each) {
  ReadStats stats;
  std::size_t start = 0;
  while (start < bytes.size()) {
    std::size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) end = bytes.size();  // a cut last line: try it anyway
    const std::string_view line = bytes.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    ++stats.lines;
    if (line.size() > kMaxLineBytes) {
      ++stats.bad_lines;
      continue;
    }
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !each(j)) ++stats.bad_lines;
  }
  return stats;
}

namespace {
bool read_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}
}  // namespace

ReadStats read_json_lines(const std::string& path, const std::function<bool(const json&)>& each) {
  ReadStats total;
  std::string bytes;
  for (std::uint32_t i = kMaxRotatedFiles; i >= 1; --i) {
    if (!read_file(path + "." + std::to_string(i), bytes)) continue;
    const ReadStats s = read_json_lines_from(bytes, each);
    total.lines += s.lines;
    total.bad_lines += s.bad_lines;
    ++total.files;
  }
  if (read_file(path, bytes)) {
    const ReadStats s = read_json_lines_from(bytes, each);
    total.lines += s.lines;
    total.bad_lines += s.bad_lines;
    ++total.files;
  }
  return total;
}

std::string dump_line(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {
const json* find(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}
}  // namespace

std::optional<std::int64_t> get_int(const json& object, std::string_view key) {
  const json* v = find(object, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v->is_number_integer()) return v->get<std::int64_t>();
  return std::nullopt;
}

std::optional<std::uint64_t> get_uint(const json& object, std::string_view key) {
  const json* v = find(object, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<std::uint64_t>();
  if (v->is_number_integer()) {
    const auto i = v->get<std::int64_t>();
    if (i < 0) return std::nullopt;
    return static_cast<std::uint64_t>(i);
  }
  return std::nullopt;
}

std::optional<std::string> get_string(const json& object, std::string_view key) {
  const json* v = find(object, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

const json* get_object(const json& object, std::string_view key) {
  const json* v = find(object, key);
  return v != nullptr && v->is_object() ? v : nullptr;
}

const json* get_array(const json& object, std::string_view key) {
  const json* v = find(object, key);
  return v != nullptr && v->is_array() ? v : nullptr;
}

namespace {
bool utc(std::int64_t at_ms, std::tm& tm) {
  std::int64_t s = at_ms / 1000;
  if (at_ms < 0 && at_ms % 1000 != 0) --s;
  const std::time_t t = static_cast<std::time_t>(s);
  return ::gmtime_r(&t, &tm) != nullptr;
}
}  // namespace

std::string format_time(std::int64_t at_ms) {
  std::tm tm{};
  if (!utc(at_ms, tm)) return "?";
  const int ms = static_cast<int>(((at_ms % 1000) + 1000) % 1000);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string format_minute(std::int64_t at_ms) {
  std::tm tm{};
  if (!utc(at_ms, tm)) return "?";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min);
  return buf;
}

bool make_dirs(const std::string& dir, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    if (error != nullptr) *error = "cannot create " + dir + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace gh::observe
