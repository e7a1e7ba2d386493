// ASCII helpers for HTTP text that the stages share with the parsers: hex digits of percent
// escapes, and optional whitespace around values.
#pragma once

#include <string_view>

namespace gh::http {

// The value of a hex digit ('0'-'9', 'a'-'f', 'A'-'F'), or -1 for any other byte.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char lower = static_cast<char>(c | 0x20);
  return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
}

// `s` without optional whitespace (SP and HTAB, RFC 9110 5.6.3) at either end.
constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace gh::http
