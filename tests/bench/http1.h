// HTTP/1.1 text for the benchmark's own client (flood/) and origin (origin/). Both stand apart
// from Gatehouse's code on purpose (they measure it, and scripts/bench compiles flood.cc alone
// when it is not built), so they share only this header, included by a relative path.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace bench {

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal, no sign, at most 18 digits (no overflow); false on anything else.
inline bool parse_dec(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// Hex, at most 15 digits; false on anything else.
inline bool parse_hex(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 15) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

// Calls f(name, value), the value without the whitespace around it, for each field of `head`:
// the lines after the start line, each ending in CRLF. False when a line has no name before a
// colon, or f returns false.
template <class F>
bool for_each_field(std::string_view head, F&& f) {
  size_t pos = head.find("\r\n") + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, e - pos);
    pos = e + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    if (!f(line.substr(0, colon), trim(line.substr(colon + 1)))) return false;
  }
  return true;
}

// What to parse now: `data` itself while nothing is buffered (no copy), else the buffer with
// `data` appended. After parsing `used` bytes of it, keep() buffers the rest.
inline std::string_view input(std::string& buffered, std::string_view data) {
  if (buffered.empty()) return data;
  buffered.append(data);
  return buffered;
}

inline void keep(std::string& buffered, std::string_view s, size_t used) {
  if (s.data() == buffered.data()) buffered.erase(0, used);
  else buffered.assign(s.substr(used));
}

// A chunked body read as it arrives and counted, never kept: chunk-size lines (extensions
// ignored), each chunk's data and the CRLF after it, then trailer lines up to the empty one.
class ChunkedBody {
 public:
  enum class Result { kMore, kDone, kBad };

  // Reads from the start of `in` and adds the bytes it used to `used`: kDone at the end of the
  // body (the reader is then ready for the next), kBad on a malformed line or one over 4096
  // bytes, kMore when the rest of `in` does not finish a line yet.
  Result feed(std::string_view in, size_t& used) {
    size_t pos = 0;
    while (pos < in.size()) {
      std::string_view rest = in.substr(pos);
      if (state_ == State::kData) {
        const uint64_t take = std::min<uint64_t>(remaining_, rest.size());
        remaining_ -= take;
        pos += static_cast<size_t>(take);
        if (remaining_ == 0) state_ = State::kDataEnd;
        continue;
      }
      const size_t eol = rest.find("\r\n");
      if (eol == std::string_view::npos) {
        if (rest.size() > 4096) return Result::kBad;
        break;
      }
      const std::string_view line = rest.substr(0, eol);
      pos += eol + 2;
      if (state_ == State::kDataEnd) {
        if (!line.empty()) return Result::kBad;
        state_ = State::kSize;
      } else if (state_ == State::kTrailer) {
        if (line.empty()) {
          used += pos;
          *this = ChunkedBody();
          return Result::kDone;
        }
      } else {
        uint64_t size = 0;
        if (!parse_hex(trim(line.substr(0, line.find(';'))), size)) return Result::kBad;
        remaining_ = size;
        state_ = size == 0 ? State::kTrailer : State::kData;
      }
    }
    used += pos;
    return Result::kMore;
  }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
};

// A whole decimal number in [lo, hi] from the command line; usage("bad number") for anything
// else (a sign, trailing text, out of range). usage() is not to return.
template <class Usage>
uint64_t number(const char* s, uint64_t lo, uint64_t hi, Usage&& usage) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno || *end != '\0' || *s == '-' || v < lo || v > hi) usage("bad number");
  return v;
}

// Calls set(name, value) for each "--name value" pair of the command line; usage(nullptr) for
// -h or --help, usage("missing value") for a name without one. usage() is not to return.
template <class Usage, class Set>
void for_each_option(int argc, char** argv, Usage&& usage, Set&& set) {
  for (int i = 1; i < argc; ++i) {
    std::string_view name = argv[i];
    if (name == "-h" || name == "--help") usage(nullptr);
    if (i + 1 >= argc) usage("missing value");
    set(name, argv[++i]);
  }
}

}  // namespace bench
