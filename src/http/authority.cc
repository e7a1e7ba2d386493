// Validation of `host [":" port]` for the Host field and authority-/absolute-form targets.
// Deliberately narrower than RFC 3986 reg-name: sub-delims (",", ";", "!", "$", "&", "'", "(",
// ")", "*", "+", "=") never appear in real host names but let two hops read one Host two ways.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/charset.h"

namespace gh::http::detail {
namespace {

// dec-octet "." dec-octet "." dec-octet "." dec-octet; no leading zeros (RFC 3986 3.2.2).
bool valid_ipv4(std::string_view s) {
  std::size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= s.size() || s[i] != '.') {
        return false;
      }
      ++i;
    }
    const std::size_t start = i;
    unsigned value = 0;
    while (i < s.size() && i - start < 3 && is(static_cast<unsigned char>(s[i]), kDigit)) {
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    const std::size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) {
      return false;
    }
  }
  return i == s.size();
}

// RFC 4291 text form: eight 16-bit groups, one "::" for a run of zeros, optional IPv4 tail.
// Zone identifiers and IPvFuture are refused.
bool valid_ipv6(std::string_view s) {
  std::size_t i = 0;
  int groups = 0;
  bool elided = false;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    elided = true;
    i = 2;
  } else if (!s.empty() && s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && j - i < 5 && is(static_cast<unsigned char>(s[j]), kHex)) {
      ++j;
    }
    if (j < s.size() && s[j] == '.') {  // IPv4 tail takes the last two groups
      if (!valid_ipv4(s.substr(i))) {
        return false;
      }
      groups += 2;
      i = s.size();
      break;
    }
    if (j == i || j - i > 4) {
      return false;
    }
    ++groups;
    i = j;
    if (i == s.size()) {
      break;
    }
    if (s[i] != ':') {
      return false;
    }
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (elided) {
        return false;
      }
      elided = true;
      ++i;
    } else if (i == s.size()) {
      return false;  // trailing single ':'
    }
  }
  return elided ? groups <= 7 : groups == 8;
}

bool valid_port(std::string_view s) {
  if (s.empty() || s.size() > 5) {
    return false;
  }
  std::uint32_t v = 0;
  for (char c : s) {
    if (!is(static_cast<unsigned char>(c), kDigit)) {
      return false;
    }
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return v <= 65535;
}

}  // namespace

bool valid_authority(std::string_view a, bool require_port) {
  std::size_t i = 0;
  if (!a.empty() && a[0] == '[') {
    const std::size_t close = a.find(']');
    if (close == std::string_view::npos || !valid_ipv6(a.substr(1, close - 1))) {
      return false;
    }
    i = close + 1;
  } else {
    while (i < a.size()) {
      const auto c = static_cast<unsigned char>(a[i]);
      if (is(c, kRegName)) {
        ++i;
      } else if (c == '%' && i + 2 < a.size() && is(static_cast<unsigned char>(a[i + 1]), kHex) &&
                 is(static_cast<unsigned char>(a[i + 2]), kHex)) {
        i += 3;
      } else {
        break;
      }
    }
    if (i == 0) {
      return false;  // empty host
    }
  }
  if (i == a.size()) {
    return !require_port;
  }
  return a[i] == ':' && valid_port(a.substr(i + 1));
}

}  // namespace gh::http::detail
