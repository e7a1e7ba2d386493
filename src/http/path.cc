#include "http/path.h"

#include "http/text.h"

namespace gh::http {
namespace {

bool is_hex(char c) {
  return hex_value(c) >= 0;
}

// The byte at `i` as the application reads it once decoded: an escape or a raw byte.
struct Decoded {
  int byte = -1;  // -1: end of input, or a '%' that starts no valid escape
  std::size_t len = 0;
  bool escaped = false;
};

Decoded decode_at(std::string_view s, std::size_t i) {
  if (i >= s.size()) return {};
  if (s[i] != '%') return {static_cast<unsigned char>(s[i]), 1, false};
  if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return {-1, 1, false};
  return {hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]), 3, true};
}

// Incremental UTF-8 check (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
class Utf8 {
 public:
  // False when `b` cannot continue what came before.
  bool feed(unsigned b, PathError& error) {
    if (need_ == 0) {
      if (b < 0x80) return true;
      if (b >= 0xC2 && b <= 0xDF) return start(b & 0x1F, 1, 0x80);
      if (b >= 0xE0 && b <= 0xEF) return start(b & 0x0F, 2, 0x800);
      if (b >= 0xF0 && b <= 0xF4) return start(b & 0x07, 3, 0x10000);
      error = PathError::BadUtf8;  // 0x80..0xC1 (continuation or overlong lead), 0xF5..
      return false;
    }
    if ((b & 0xC0) != 0x80) {
      error = PathError::BadUtf8;
      return false;
    }
    cp_ = (cp_ << 6) | (b & 0x3F);
    if (--need_ != 0) return true;
    if (cp_ < min_ || cp_ > 0x10FFFF || (cp_ >= 0xD800 && cp_ <= 0xDFFF)) {
      error = PathError::BadUtf8;
      return false;
    }
    if (cp_ >= 0xFF01 && cp_ <= 0xFF5E) {
      error = PathError::Fullwidth;
      return false;
    }
    return true;
  }
  bool complete() const { return need_ == 0; }

 private:
  bool start(unsigned bits, int need, unsigned min) {
    cp_ = bits;
    need_ = need;
    min_ = min;
    return true;
  }
  unsigned cp_ = 0;
  unsigned min_ = 0;
  int need_ = 0;
};

PathError check(std::string_view path, const PathOptions& options) {
  Utf8 utf8;
  PathError error = PathError::None;
  for (std::size_t i = 0; i < path.size();) {
    const Decoded d = decode_at(path, i);
    if (d.byte < 0) return PathError::BadEscape;
    const auto b = static_cast<unsigned>(d.byte);
    if (!d.escaped && b == '\\') return PathError::Backslash;
    if (b < 0x20 || b == 0x7F) return PathError::ControlByte;
    if (d.escaped && (b == '/' || b == '\\') && !options.keep_encoded_slashes) {
      return PathError::EncodedSeparator;
    }
    if (d.escaped && b == '%') {
      // A second decoding pass (IIS, some frameworks, a proxy behind us) would read an escape.
      const Decoded n1 = decode_at(path, i + d.len);
      if (n1.byte == 'u' || n1.byte == 'U') return PathError::DoubleEncoding;
      if (n1.byte >= 0 && is_hex(static_cast<char>(n1.byte))) {
        const Decoded n2 = decode_at(path, i + d.len + n1.len);
        if (n2.byte >= 0 && is_hex(static_cast<char>(n2.byte))) return PathError::DoubleEncoding;
      }
    }
    if (!utf8.feed(b, error)) return error;
    i += d.len;
  }
  return utf8.complete() ? PathError::None : PathError::BadUtf8;
}

bool already_canonical(std::string_view path, const PathOptions& options) {
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '%' || c == ';') return false;
    if (options.fold_case && c >= 'A' && c <= 'Z') return false;
    if (c == '/' && i + 1 < path.size() && (path[i + 1] == '/' || path[i + 1] == '.')) return false;
  }
  return true;
}

}  // namespace

PathResult canonical_path(std::string_view path, const PathOptions& options, char* scratch,
                          std::size_t cap) noexcept {
  if (path.empty() || path.front() != '/') return {PathError::None, path};
  if (const PathError e = check(path, options); e != PathError::None) return {e, {}};
  if (already_canonical(path, options)) return {PathError::None, path};
  if (cap < path.size()) return {PathError::None, path};  // caller's scratch too small: as sent
  // scratch[0, n) holds "/seg" for each kept segment; each input segment is decoded after its
  // '/', cut at its first ';', then kept, dropped (empty, ".") or dropped with its predecessor.
  std::size_t n = 0;
  std::size_t i = 1;
  for (;;) {
    std::size_t end = path.find('/', i);
    const bool last = end == std::string_view::npos;
    if (last) end = path.size();
    const std::size_t start = n;
    scratch[n++] = '/';
    for (std::size_t k = i; k < end;) {
      const Decoded d = decode_at(path, k);
      k += d.len;
      char c = static_cast<char>(d.byte);
      if (c == ';') break;  // path parameters: ignored by the servers that know them
      if (d.escaped && (c == '/' || c == '\\')) {  // keep_encoded_slashes: a literal escape
        scratch[n++] = '%';
        scratch[n++] = c == '/' ? '2' : '5';
        scratch[n++] = c == '/' ? 'F' : 'C';
        continue;
      }
      if (options.fold_case && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      scratch[n++] = c;
    }
    const std::string_view segment(scratch + start + 1, n - start - 1);
    bool dropped = false;
    if (segment.empty() || segment == ".") {
      n = start;
      dropped = true;
    } else if (segment == "..") {
      n = start;
      if (n > 0) {  // drop the previous segment too; scratch[0] is always '/'
        std::size_t p = n - 1;
        while (scratch[p] != '/') --p;
        n = p;
      }
      dropped = true;
    }
    if (last) {
      // "/a/", "/a/." and "/a/b/.." keep the trailing slash (RFC 3986 remove_dot_segments).
      if (dropped || n == 0) scratch[n++] = '/';
      break;
    }
    i = end + 1;
  }
  const std::string_view out(scratch, n);
  return {PathError::None, out == path ? path : out};
}

std::string_view describe(PathError error) {
  switch (error) {
    case PathError::None:
      return "ok";
    case PathError::Backslash:
      return "backslash in the path";
    case PathError::BadEscape:
      return "'%' not followed by two hex digits in the path";
    case PathError::EncodedSeparator:
      return "encoded '/' or '\\' in the path";
    case PathError::ControlByte:
      return "encoded control character in the path";
    case PathError::DoubleEncoding:
      return "double percent-encoding in the path";
    case PathError::BadUtf8:
      return "percent-escapes in the path are not valid UTF-8";
    case PathError::Fullwidth:
      return "fullwidth characters in the path";
  }
  return "ambiguous path";
}

}  // namespace gh::http
