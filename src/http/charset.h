// Byte classes of RFC 9110/9112 grammar as one 256-entry table, so the parsers test a byte with one
// load and a mask instead of a chain of comparisons. Internal to src/http.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/text.h"

namespace gh::http::detail {

enum : std::uint8_t {
  kTchar = 1 << 0,    // token character (RFC 9110 5.6.2)
  kValue = 1 << 1,    // field-value byte: HTAB / SP / VCHAR / obs-text
  kTarget = 1 << 2,   // request-target byte: VCHAR except '#' (fragments are never sent)
  kHex = 1 << 3,      // HEXDIG
  kDigit = 1 << 4,    // DIGIT
  kRegName = 1 << 5,  // host name byte: ALPHA / DIGIT / "-" / "." / "_" / "~"
  kQdText = 1 << 6,   // qdtext of a quoted-string
  kOws = 1 << 7,      // SP / HTAB
};

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t v = 0;
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    const bool digit = c >= '0' && c <= '9';
    const bool vchar = c >= 0x21 && c <= 0x7E;
    if (alpha || digit ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      v |= kTchar;
    }
    if (c == '\t' || c == ' ' || vchar || c >= 0x80) {
      v |= kValue;
    }
    if (vchar && c != '#') {
      v |= kTarget;
    }
    if (digit || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')) {
      v |= kHex;
    }
    if (digit) {
      v |= kDigit;
    }
    if (alpha || digit || c == '-' || c == '.' || c == '_' || c == '~') {
      v |= kRegName;
    }
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
        (c >= 0x5D && c <= 0x7E) || c >= 0x80) {
      v |= kQdText;
    }
    if (c == ' ' || c == '\t') {
      v |= kOws;
    }
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}

inline constexpr std::array<std::uint8_t, 256> kClasses = make_classes();

constexpr bool is(unsigned char c, std::uint8_t cls) {
  return (kClasses[c] & cls) != 0;
}

constexpr unsigned char to_lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
}

// Case-insensitive equality with a literal already in lower case.
constexpr bool equals_lower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (to_lower(static_cast<unsigned char>(s[i])) != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

// Calls f(element) for each OWS-trimmed, non-empty element of a comma-separated list (RFC 9110
// 5.6.1: recipients accept empty elements); stops early when f returns true.
template <class F>
constexpr bool any_list_element(std::string_view list, F&& f) {
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty() && f(element)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      return false;
    }
    list.remove_prefix(comma + 1);
  }
}

// Host syntax shared by the Host field and the authority of a request target.
bool valid_authority(std::string_view authority, bool require_port);

}  // namespace gh::http::detail
