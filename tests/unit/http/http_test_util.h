// Helpers shared by the http parser tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "http/parser.h"

namespace gh::http::testing {

// True when `inner` lies within `outer` (an empty default view counts as inside).
inline bool inside(std::string_view outer, std::string_view inner) {
  if (inner.data() == nullptr) {
    return inner.empty();
  }
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

inline void expect_views_inside(std::string_view buf, const RequestHead& h) {
  EXPECT_TRUE(inside(buf, h.method_text));
  EXPECT_TRUE(inside(buf, h.target));
  EXPECT_TRUE(inside(buf, h.path));
  EXPECT_TRUE(inside(buf, h.query));
  EXPECT_TRUE(inside(buf, h.host));
  for (std::size_t i = 0; i < h.field_count; ++i) {
    EXPECT_TRUE(inside(buf, h.fields[i].name)) << i;
    EXPECT_TRUE(inside(buf, h.fields[i].value)) << i;
  }
}

inline void expect_views_inside(std::string_view buf, const ResponseHead& h) {
  EXPECT_TRUE(inside(buf, h.reason));
  for (std::size_t i = 0; i < h.field_count; ++i) {
    EXPECT_TRUE(inside(buf, h.fields[i].name)) << i;
    EXPECT_TRUE(inside(buf, h.fields[i].value)) << i;
  }
}

// GoogleTest parameter names allow only [A-Za-z0-9_].
inline std::string test_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += ok ? c : '_';
  }
  return out;
}

inline std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace gh::http::testing
