// What a lenient web framework makes of percent escapes, for the tests and fuzzers that check that
// Gatehouse reads a path or a form the way the application behind it will: %XX, and %uXXXX (IIS,
// old ASP.NET, some Node and Java stacks) written as UTF-8; anything else, '+' included, as it is.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "http/text.h"

namespace gh::test {

inline std::string lenient_decode(std::string_view s) {
  const auto hex = [&](std::size_t i) { return http::hex_value(s[i]); };
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == '%' && i + 5 < s.size() && (s[i + 1] == 'u' || s[i + 1] == 'U') &&
        hex(i + 2) >= 0 && hex(i + 3) >= 0 && hex(i + 4) >= 0 && hex(i + 5) >= 0) {
      const unsigned cp =
          static_cast<unsigned>(hex(i + 2) << 12 | hex(i + 3) << 8 | hex(i + 4) << 4 | hex(i + 5));
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
      i += 6;
    } else if (s[i] == '%' && i + 2 < s.size() && hex(i + 1) >= 0 && hex(i + 2) >= 0) {
      out += static_cast<char>(hex(i + 1) * 16 + hex(i + 2));
      i += 3;
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace gh::test
