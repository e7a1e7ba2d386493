// The one reading of a request path that routes are matched against. A shield that routes on
// one reading while the application routes on another can be walked around (`/%u0073ignup`,
// `/login/`, `/LOGIN`, `/x/..;/signup`), so a path either has a single meaning every common
// framework agrees on, or it is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gh::http {

enum class PathError : std::uint8_t {
  None,
  Backslash,         // a raw '\': some servers read it as '/'
  BadEscape,         // '%' not followed by two hex digits (%u0073, %zz, a cut escape)
  EncodedSeparator,  // %2F or %5C: the app may or may not split on it
  ControlByte,       // an escape decoding to a control byte (%00, %0A, %7F)
  DoubleEncoding,    // %25 that spells another escape once decoded (%2573, %25u0073)
  BadUtf8,           // escapes decoding to invalid or overlong UTF-8, or a surrogate
  Fullwidth,         // U+FF01..FF5E: fullwidth ASCII that NFKC or best-fit maps to ASCII
};

struct PathOptions {
  bool fold_case = true;             // ASCII letters compared without case (Express, ASP.NET)
  bool keep_encoded_slashes = false;  // %2F / %5C are literal bytes of a segment, not refused
};

struct PathResult {
  PathError error = PathError::None;
  std::string_view path;  // the canonical path (when error == None)
};

// Checks `path` (the path part of a target, without '?') and returns the form routes compare:
// every escape decoded, `;parameters` of each segment cut (Tomcat and Spring ignore them, and
// `..;` is `..` to them), empty and `.` segments removed, `..` resolved (never above the root),
// a trailing slash kept, letters lowercased when `fold_case`. With `keep_encoded_slashes`, %2F
// and %5C stay in the result as "%2F" / "%5C".
//
// Returns `path` itself when it is already canonical; otherwise a view of `scratch`, which must
// hold at least path.size() bytes (the result is never longer). A path that does not start with
// '/' ("*", authority-form) is returned as is.
PathResult canonical_path(std::string_view path, const PathOptions& options, char* scratch,
                          std::size_t cap) noexcept;

std::string_view describe(PathError error);

}  // namespace gh::http
