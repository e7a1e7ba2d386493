// Strict request/response head parsers. One forward pass over the bytes: every decision depends
// only on bytes already seen, so a prefix of a message yields NeedMore or the very error the whole
// message yields, and the caller may simply re-parse from the start when more bytes arrive.
#include "http/parser.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "http/charset.h"

namespace gh::http {
namespace {

using detail::is;
using u8 = unsigned char;

// Internal marker for "ran out of bytes"; never escapes this file.
constexpr auto kNeedMore = static_cast<ParseError>(0xFF);
// RFC 9112 2.2 asks servers to skip at least one empty line before a request line; a few cover
// clients that send an extra CRLF after a body, without letting a peer send only CRLFs.
constexpr int kMaxLeadingEmptyLines = 4;
constexpr std::uint64_t kMaxContentLength = std::uint64_t{1} << 62;

struct Cursor {
  const u8* begin;
  const u8* p;
  const u8* end;            // start + min(size, max_head_bytes): the head must complete before it
  ParseError out_of_input;  // kNeedMore, or HeadTooLarge once the limit is what stopped us
};

Cursor make_cursor(std::string_view buf, const HeadLimits& limits) {
  const auto* b = reinterpret_cast<const u8*>(buf.data());
  const bool capped = buf.size() >= limits.max_head_bytes;
  return {b, b, b + (capped ? limits.max_head_bytes : buf.size()),
          capped ? ParseError::HeadTooLarge : kNeedMore};
}

std::string_view view(const u8* a, const u8* b) {
  return {reinterpret_cast<const char*>(a), static_cast<std::size_t>(b - a)};
}

// `at` holds CR or LF where the line must not end yet: CRLF ends it early (`early`); a bare CR or
// LF is BadLineEnding. A CR at the end of input cannot be judged yet.
ParseError line_break_error(const Cursor& c, const u8* at, ParseError early) {
  if (*at == '\n') {
    return ParseError::BadLineEnding;
  }
  if (at + 1 == c.end) {
    return c.out_of_input;
  }
  return at[1] == '\n' ? early : ParseError::BadLineEnding;
}

bool is_line_break(u8 c) {
  return c == '\r' || c == '\n';
}

// Word-at-a-time scanning (SWAR): a word is skipped whole only when none of its 8 bytes can end
// or break the run; otherwise the byte table decides, so results never depend on alignment.
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;

std::uint64_t load8(const u8* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
// Non-zero iff some byte of w is below n (n <= 128).
constexpr std::uint64_t any_below(std::uint64_t w, std::uint8_t n) {
  return (w - kOnes * n) & ~w & kHighs;
}
// Non-zero iff some byte of w equals c.
constexpr std::uint64_t any_equal(std::uint64_t w, std::uint8_t c) {
  const std::uint64_t x = w ^ (kOnes * c);
  return (x - kOnes) & ~x & kHighs;
}
// Field-value words: no CTL (HTAB falls back to the table) and no DEL.
constexpr bool plain_value_word(std::uint64_t w) {
  return (any_below(w, 0x20) | any_equal(w, 0x7F)) == 0;
}
// Target words: VCHAR only, no '#'.
constexpr bool plain_target_word(std::uint64_t w) {
  return (any_below(w, 0x21) | any_equal(w, 0x7F) | (w & kHighs) | any_equal(w, '#')) == 0;
}

// Every byte value in every lane of an otherwise plain word: a word may be skipped only if all
// its bytes belong to the class (HTAB is allowed to fall back).
template <bool (*Plain)(std::uint64_t)>
constexpr bool word_check_sound(std::uint8_t cls, std::uint8_t filler) {
  for (int c = 0; c < 256; ++c) {
    for (int lane = 0; lane < 8; ++lane) {
      const std::uint64_t w = (kOnes * filler & ~(std::uint64_t{0xFF} << (8 * lane))) |
                              (static_cast<std::uint64_t>(c) << (8 * lane));
      const bool in_class = is(static_cast<u8>(c), cls);
      if (Plain(w) && !in_class) {
        return false;
      }
      if (!Plain(w) && in_class && c != '\t') {
        return false;
      }
    }
  }
  return true;
}
static_assert(word_check_sound<plain_value_word>(detail::kValue, 'a'));
static_assert(word_check_sound<plain_value_word>(detail::kValue, 0xFF));
static_assert(word_check_sound<plain_target_word>(detail::kTarget, 'a'));

// Advances p over bytes of class `cls` up to `end`, eight at a time where `plain` allows.
template <bool (*Plain)(std::uint64_t)>
const u8* scan(const u8* p, const u8* end, std::uint8_t cls) {
  for (;;) {
    while (end - p >= 8 && Plain(load8(p))) {
      p += 8;
    }
    const u8* const stop = end - p >= 8 ? p + 8 : end;
    while (p < stop && is(*p, cls)) {
      ++p;
    }
    if (p < stop || p == end) {
      return p;
    }
  }
}

// Matches "HTTP/" DIGIT "." DIGIT at p. Returns None, kNeedMore/HeadTooLarge, or `bad` (with the
// line-ending rules for CR/LF). `first_sp` is returned for a SP where the version should start.
ParseError match_version(const Cursor& c, const u8* p, ParseError bad, ParseError first_sp) {
  static constexpr char kProto[] = "HTTP/";
  for (int i = 0; i < 8; ++i) {
    if (p + i == c.end) {
      return c.out_of_input;
    }
    const u8 ch = p[i];
    const bool ok = i < 5    ? ch == static_cast<u8>(kProto[i])
                    : i == 6 ? ch == '.'
                             : is(ch, detail::kDigit);
    if (!ok) {
      if (i == 0 && ch == ' ') {
        return first_sp;
      }
      return is_line_break(ch) ? line_break_error(c, p + i, bad) : bad;
    }
  }
  return ParseError::None;
}

bool supported_version(const u8* v) {
  return v[5] == '1' && (v[7] == '0' || v[7] == '1');
}

// 1*DIGIT, at most 2^62 (larger is an attack or a bug, never a real body).
bool parse_content_length(std::string_view v, std::uint64_t& out) {
  if (v.empty()) {
    return false;
  }
  std::uint64_t n = 0;
  for (char ch : v) {
    const auto c = static_cast<u8>(ch);
    if (!is(c, detail::kDigit)) {
      return false;
    }
    const unsigned d = c - '0';
    if (n > (kMaxContentLength - d) / 10) {
      return false;  // checked before multiplying, so it cannot wrap
    }
    n = n * 10 + d;
  }
  out = n;
  return true;
}

// What the framing-relevant fields said, gathered while reading the field lines.
struct Framing {
  std::uint64_t content_length = 0;
  std::string_view host;
  std::uint8_t cl_count = 0;
  std::uint8_t te_count = 0;
  std::uint8_t host_count = 0;
  bool chunked = false;
  bool close = false;
  bool keep_alive = false;
  bool conn_upgrade = false;
  bool has_upgrade = false;
  bool expect_continue = false;
};

struct HeadContext {
  bool request;
  std::uint8_t version_minor;
  std::string_view target_authority;  // requests whose target carries an authority
};

// Checks one field as soon as its line is complete, so a bad head is refused at the first
// offending field. Field names are tokens, so a length switch plus one compare classifies them.
ParseError on_field(const HeadContext& ctx, std::string_view name, std::string_view value,
                    Framing& f) {
  using detail::equals_lower;
  switch (name.size()) {
    case 4:
      if (ctx.request && equals_lower(name, "host")) {
        if (f.host_count++ != 0) {
          return ParseError::DuplicateHost;
        }
        if (!detail::valid_authority(value, false)) {
          return ParseError::BadHost;
        }
        if (!ctx.target_authority.empty() && !iequals(value, ctx.target_authority)) {
          return ParseError::HostMismatch;
        }
        f.host = value;
      }
      break;
    case 6:
      if (ctx.request && equals_lower(name, "expect") && equals_lower(value, "100-continue")) {
        f.expect_continue = true;
      }
      break;
    case 7:
      if (equals_lower(name, "upgrade")) {
        f.has_upgrade = true;
      }
      break;
    case 10:
      if (equals_lower(name, "connection")) {
        const bool bad = detail::any_list_element(value, [&f](std::string_view token) {
          if (equals_lower(token, "close")) {
            f.close = true;
          } else if (equals_lower(token, "keep-alive")) {
            f.keep_alive = true;
          } else if (equals_lower(token, "upgrade")) {
            f.conn_upgrade = true;
          }
          return !is_connection_option(token);
        });
        if (bad) {
          return ParseError::BadConnectionOption;
        }
      }
      break;
    case 14:
      if (equals_lower(name, "content-length")) {
        if (f.cl_count++ != 0) {
          return ParseError::DuplicateContentLength;
        }
        if (!parse_content_length(value, f.content_length)) {
          return ParseError::BadContentLength;
        }
        if (f.te_count != 0) {
          return ParseError::LengthAndChunked;
        }
      }
      break;
    case 17:
      if (equals_lower(name, "transfer-encoding")) {
        // Only a single, bare "chunked" has one reading on every hop; HTTP/1.0 has no chunking
        // (RFC 9112 6.1: treat as faulty framing).
        if (f.te_count++ != 0 || ctx.version_minor == 0 || !equals_lower(value, "chunked")) {
          return ParseError::BadTransferEncoding;
        }
        f.chunked = true;
        if (f.cl_count != 0) {
          return ParseError::LengthAndChunked;
        }
      }
      break;
    default:
      break;
  }
  return ParseError::None;
}

// Field lines up to and including the empty line. `count` is updated as fields are stored.
ParseError parse_fields(Cursor& c, std::size_t max_fields, Field* fields, std::uint16_t& count,
                        const HeadContext& ctx, Framing& f) {
  const u8* p = c.p;
  const u8* const end = c.end;
  count = 0;
  for (;;) {
    if (p == end) {
      return c.out_of_input;
    }
    const u8 first = *p;
    if (first == '\r') {
      if (p + 1 == end) {
        return c.out_of_input;
      }
      if (p[1] != '\n') {
        return ParseError::BadLineEnding;
      }
      c.p = p + 2;
      return ParseError::None;
    }
    if (first == '\n') {
      return ParseError::BadLineEnding;
    }
    if (first == ' ' || first == '\t') {
      return ParseError::ObsFold;
    }
    if (count == max_fields) {
      return ParseError::TooManyFields;
    }

    const u8* const name = p;
    while (p < end && is(*p, detail::kTchar)) {
      ++p;
    }
    if (p == end) {
      return c.out_of_input;
    }
    if (*p != ':' || p == name) {
      if (p != name && (*p == ' ' || *p == '\t')) {
        return ParseError::SpaceBeforeColon;
      }
      return is_line_break(*p) ? line_break_error(c, p, ParseError::BadFieldName)
                               : ParseError::BadFieldName;
    }
    const u8* const name_end = p++;

    while (p < end && (*p == ' ' || *p == '\t')) {
      ++p;
    }
    const u8* const value = p;
    p = scan<plain_value_word>(p, end, detail::kValue);
    if (p == end) {
      return c.out_of_input;
    }
    if (*p != '\r') {
      return *p == '\n' ? ParseError::BadLineEnding : ParseError::BadFieldValue;
    }
    if (p + 1 == end) {
      return c.out_of_input;
    }
    if (p[1] != '\n') {
      return ParseError::BadFieldValue;  // bare CR inside a value
    }
    const u8* value_end = p;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) {
      --value_end;
    }
    p += 2;

    const Field field{view(name, name_end), view(value, value_end)};
    fields[count++] = field;
    if (const ParseError e = on_field(ctx, field.name, field.value, f); e != ParseError::None) {
      return e;
    }
  }
}

void split_query(std::string_view target, RequestHead& out) {
  const std::size_t q = target.find('?');
  out.path = target.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

bool starts_with_lower(std::string_view s, std::string_view lower) {
  return s.size() >= lower.size() && detail::equals_lower(s.substr(0, lower.size()), lower);
}

// Decides the target form (RFC 9112 3.2) and fills path/query/authority.
ParseError classify_target(std::string_view target, RequestHead& out, std::string_view& authority) {
  if (target[0] == '/') {
    if (out.method == Method::Connect) {
      return ParseError::BadTarget;
    }
    split_query(target, out);
    return ParseError::None;
  }
  if (target == "*") {
    if (out.method != Method::Options) {
      return ParseError::BadTarget;
    }
    out.path = target;
    return ParseError::None;
  }
  if (out.method == Method::Connect) {
    if (!detail::valid_authority(target, /*require_port=*/true)) {
      return ParseError::BadTarget;
    }
    authority = target;
    return ParseError::None;
  }
  std::size_t scheme = 0;
  if (starts_with_lower(target, "http://")) {
    scheme = 4;
  } else if (starts_with_lower(target, "https://")) {
    scheme = 5;
  } else {
    return ParseError::BadTarget;
  }
  const std::size_t a = scheme + 3;
  std::size_t e = a;
  while (e < target.size() && target[e] != '/' && target[e] != '?') {
    ++e;
  }
  authority = target.substr(a, e - a);
  if (!detail::valid_authority(authority, false)) {  // also refuses userinfo ("user@host")
    return ParseError::BadTarget;
  }
  split_query(target.substr(e), out);
  if (out.path.empty()) {
    out.path = target.substr(scheme + 1, 1);  // "/" from "://", so the view stays in the buffer
  }
  return ParseError::None;
}

ParseError parse_request_line(Cursor& c, const HeadLimits& limits, RequestHead& out,
                              std::string_view& authority) {
  const u8* p = c.p;
  const u8* const end = c.end;
  for (int i = 0;; ++i) {
    if (p == end) {
      return c.out_of_input;
    }
    if (*p == '\n') {
      return ParseError::BadLineEnding;
    }
    if (*p != '\r') {
      break;
    }
    if (i == kMaxLeadingEmptyLines) {
      return ParseError::BadRequestLine;
    }
    if (p + 1 == end) {
      return c.out_of_input;
    }
    if (p[1] != '\n') {
      return ParseError::BadLineEnding;
    }
    p += 2;
  }

  const u8* const m = p;
  while (p < end && is(*p, detail::kTchar)) {
    ++p;
  }
  if (p == end) {
    return c.out_of_input;
  }
  if (*p != ' ') {
    return is_line_break(*p) ? line_break_error(c, p, ParseError::BadRequestLine)
                             : ParseError::BadMethod;
  }
  if (p == m) {
    return ParseError::BadRequestLine;
  }
  out.method_text = view(m, p);
  out.method = method_from(out.method_text);

  // Scan at most max_target_bytes + 1 bytes: one more than allowed already means 414.
  const u8* const t = ++p;
  const auto avail = static_cast<std::size_t>(end - t);
  const u8* const cap = t + (limits.max_target_bytes < avail ? limits.max_target_bytes + 1 : avail);
  p = scan<plain_target_word>(p, cap, detail::kTarget);
  if (static_cast<std::size_t>(p - t) > limits.max_target_bytes) {
    return ParseError::UriTooLong;
  }
  if (p == end) {
    return c.out_of_input;
  }
  if (*p != ' ') {
    return is_line_break(*p) ? line_break_error(c, p, ParseError::BadRequestLine)
                             : ParseError::BadTarget;
  }
  if (p == t) {
    return ParseError::BadRequestLine;  // two spaces
  }
  out.target = view(t, p);
  if (const ParseError e = classify_target(out.target, out, authority); e != ParseError::None) {
    return e;
  }

  ++p;
  if (const ParseError e = match_version(c, p, ParseError::BadVersion, ParseError::BadRequestLine);
      e != ParseError::None) {
    return e;
  }
  const u8* const v = p;
  p += 8;
  if (p == end) {
    return c.out_of_input;
  }
  if (*p != '\r') {
    return *p == ' '    ? ParseError::BadRequestLine
           : *p == '\n' ? ParseError::BadLineEnding
                        : ParseError::BadVersion;
  }
  if (p + 1 == end) {
    return c.out_of_input;
  }
  if (p[1] != '\n') {
    return ParseError::BadLineEnding;
  }
  if (!supported_version(v)) {
    return ParseError::UnsupportedVersion;
  }
  out.version_minor = static_cast<std::uint8_t>(v[7] - '0');
  c.p = p + 2;
  return ParseError::None;
}

ParseError parse_status_line(Cursor& c, ResponseHead& out) {
  const u8* p = c.p;
  const u8* const end = c.end;
  if (const ParseError e =
          match_version(c, p, ParseError::BadStatusLine, ParseError::BadStatusLine);
      e != ParseError::None) {
    return e;
  }
  const u8* const v = p;
  p += 8;
  if (p == end) {
    return c.out_of_input;
  }
  if (*p != ' ') {
    return is_line_break(*p) ? line_break_error(c, p, ParseError::BadStatusLine)
                             : ParseError::BadStatusLine;
  }
  if (!supported_version(v)) {
    return ParseError::UnsupportedVersion;
  }
  out.version_minor = static_cast<std::uint8_t>(v[7] - '0');
  ++p;
  unsigned status = 0;
  for (int i = 0; i < 3; ++i, ++p) {
    if (p == end) {
      return c.out_of_input;
    }
    if (!is(*p, detail::kDigit)) {
      return is_line_break(*p) ? line_break_error(c, p, ParseError::BadStatusLine)
                               : ParseError::BadStatusLine;
    }
    status = status * 10 + (*p - '0');
  }
  if (status < 100 || status > 599) {  // RFC 9110 15: valid codes are 100..599
    return ParseError::BadStatusLine;
  }
  out.status = static_cast<std::uint16_t>(status);
  if (p == end) {
    return c.out_of_input;
  }
  const u8* reason = p;
  if (*p == ' ') {
    reason = ++p;
    p = scan<plain_value_word>(p, end, detail::kValue);
    if (p == end) {
      return c.out_of_input;
    }
  }
  if (*p != '\r') {
    return *p == '\n' ? ParseError::BadLineEnding : ParseError::BadStatusLine;
  }
  if (p + 1 == end) {
    return c.out_of_input;
  }
  if (p[1] != '\n') {
    return ParseError::BadLineEnding;
  }
  out.reason = view(reason, p);
  c.p = p + 2;
  return ParseError::None;
}

std::size_t field_cap(const HeadLimits& limits) {
  return std::min(limits.max_fields, kMaxHeaderFields);
}

ParseResult finish(ParseError e, const Cursor& c) {
  if (e == ParseError::None) {
    return {ParseStatus::Complete, static_cast<std::size_t>(c.p - c.begin), ParseError::None};
  }
  if (e == kNeedMore) {
    return {ParseStatus::NeedMore, 0, ParseError::None};
  }
  return {ParseStatus::Error, 0, e};
}

bool keep_alive_for(std::uint8_t minor, const Framing& f) {
  if (f.close) {
    return false;
  }
  return minor >= 1 || f.keep_alive;
}

}  // namespace

ParseResult parse_request(std::string_view buf, const HeadLimits& limits, RequestHead& out) {
  out.method = Method::Other;
  out.method_text = out.target = out.path = out.query = out.host = {};
  out.version_minor = 1;
  out.body = BodyKind::None;
  out.content_length = 0;
  out.keep_alive = true;
  out.expect_continue = false;
  out.upgrade = false;
  out.field_count = 0;

  Cursor c = make_cursor(buf, limits);
  std::string_view authority;
  ParseError e = parse_request_line(c, limits, out, authority);
  Framing f;
  if (e == ParseError::None) {
    const HeadContext ctx{true, out.version_minor, authority};
    e = parse_fields(c, field_cap(limits), out.fields.data(), out.field_count, ctx, f);
  }
  if (e == ParseError::None && out.version_minor == 1 && f.host_count == 0) {
    e = ParseError::MissingHost;  // RFC 9112 3.2
  }
  if (e != ParseError::None) {
    return finish(e, c);
  }
  out.host = authority.empty() ? f.host : authority;
  if (f.chunked) {
    out.body = BodyKind::Chunked;
  } else if (f.cl_count != 0) {
    out.body = BodyKind::ContentLength;
    out.content_length = f.content_length;
  }
  out.keep_alive = keep_alive_for(out.version_minor, f);
  out.expect_continue = f.expect_continue && out.version_minor == 1;  // RFC 9110 10.1.1
  out.upgrade = f.conn_upgrade && f.has_upgrade;
  return finish(e, c);
}

ParseResult parse_response(std::string_view buf, const HeadLimits& limits, Method request_method,
                           ResponseHead& out) {
  out.status = 0;
  out.reason = {};
  out.version_minor = 1;
  out.body = BodyKind::None;
  out.content_length = 0;
  out.keep_alive = true;
  out.field_count = 0;

  Cursor c = make_cursor(buf, limits);
  ParseError e = parse_status_line(c, out);
  Framing f;
  if (e == ParseError::None) {
    const HeadContext ctx{false, out.version_minor, {}};
    e = parse_fields(c, field_cap(limits), out.fields.data(), out.field_count, ctx, f);
  }
  if (e != ParseError::None) {
    return finish(e, c);
  }
  out.keep_alive = keep_alive_for(out.version_minor, f);
  out.content_length = f.cl_count != 0 ? f.content_length : 0;
  const unsigned s = out.status;
  const bool no_body = s < 200 || s == 204 || s == 304 || request_method == Method::Head ||
                       (request_method == Method::Connect && s / 100 == 2);
  if (no_body) {
    out.body = BodyKind::None;
    // Framing on a response that has no body (RFC 9110 8.6, RFC 9112 6.1 forbid it on 1xx and
    // 204; a 304 may only repeat Content-Length): the server may write a body anyway, which the
    // next request on this connection would read as its answer. Never reuse it.
    const bool stray = s < 200 || s == 204 ? f.chunked || f.content_length != 0
                       : s == 304          ? f.chunked
                                           : false;
    if (stray) {
      out.keep_alive = false;
    }
  } else if (f.chunked) {
    out.body = BodyKind::Chunked;
  } else if (f.cl_count != 0) {
    out.body = BodyKind::ContentLength;
  } else {
    out.body = BodyKind::UntilClose;
    out.keep_alive = false;  // the close is the end of the body
  }
  return finish(e, c);
}

}  // namespace gh::http
