#include "stages/ratelimit/fields.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "http/parser.h"
#include "http/text.h"

namespace gh::ratelimit::fields {

namespace {

using http::hex_value;
using http::trim_ows;

bool is_space(std::uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::uint8_t lower(std::uint8_t c) {
  return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

// Compares a streamed, decoded name with the wanted one.
class NameMatcher {
 public:
  explicit NameMatcher(std::string_view want) : want_(want) {}
  void put(std::uint8_t c) {
    if (ok_ && pos_ < want_.size() && static_cast<std::uint8_t>(want_[pos_]) == c) {
      ++pos_;
    } else {
      ok_ = false;
    }
  }
  bool matched() const { return ok_ && pos_ == want_.size(); }

 private:
  std::string_view want_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Compares a streamed, decoded name with the wanted one up to case: ASCII letters fold, and so do
// the Kelvin sign (U+212A) with 'k' and the long s (U+017F) with 's' (the non-ASCII letters whose
// simple case folding reaches ASCII, which Go's encoding/json accepts). Other bytes must be equal.
class FoldMatcher {
 public:
  explicit FoldMatcher(std::string_view want) : want_(want) {}
  void put(std::uint8_t c) {
    if (!ok_) return;
    if (seq_pos_ != 0) {  // inside one of the multi-byte letters
      if (c != static_cast<std::uint8_t>(seq_[seq_pos_])) {
        ok_ = false;
      } else if (++seq_pos_ == seq_.size()) {
        seq_pos_ = 0;
        ++pos_;
      }
      return;
    }
    if (pos_ >= want_.size()) {
      ok_ = false;
      return;
    }
    const std::uint8_t w = lower(static_cast<std::uint8_t>(want_[pos_]));
    if (lower(c) == w) {
      ++pos_;
    } else if (w == 'k' && c == 0xe2) {
      seq_ = "\xe2\x84\xaa";
      seq_pos_ = 1;
    } else if (w == 's' && c == 0xc5) {
      seq_ = "\xc5\xbf";
      seq_pos_ = 1;
    } else {
      ok_ = false;
    }
  }
  bool matched() const { return ok_ && seq_pos_ == 0 && pos_ == want_.size(); }

 private:
  std::string_view want_;
  std::string_view seq_;
  std::size_t pos_ = 0;
  std::size_t seq_pos_ = 0;
  bool ok_ = true;
};

struct Discard {
  void put(std::uint8_t) {}
};

// application/x-www-form-urlencoded decoding, one byte at a time. A '%' not followed by two hex
// digits stays literal, as most servers keep it, so the key sees what the application sees. Each
// next() consumes at least one input byte.
class FormDecoder {
 public:
  explicit FormDecoder(std::string_view s) : s_(s) {}
  bool next(std::uint8_t& out) {
    if (i_ >= s_.size()) return false;
    const char c = s_[i_++];
    if (c == '+') {
      out = ' ';
      return true;
    }
    if (c == '%' && i_ + 1 < s_.size()) {
      const int hi = hex_value(s_[i_]);
      const int lo = hex_value(s_[i_ + 1]);
      if (hi >= 0 && lo >= 0) {
        out = static_cast<std::uint8_t>(hi * 16 + lo);
        i_ += 2;
        return true;
      }
    }
    out = static_cast<std::uint8_t>(c);
    return true;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

template <class Out>
void form_decode(std::string_view s, Out& out) {
  FormDecoder d(s);
  std::uint8_t c = 0;
  while (d.next(c)) out.put(c);
}

// Whether two urlencoded texts decode to the same bytes (whole values, not cut). Stops at the
// first difference or at the end of either, so it costs at most the shorter text (plus 2).
bool same_decoded(std::string_view a, std::string_view b) {
  FormDecoder da(a);
  FormDecoder db(b);
  while (true) {
    std::uint8_t ca = 0;
    std::uint8_t cb = 0;
    const bool ha = da.next(ca);
    const bool hb = db.next(cb);
    if (ha != hb) return false;
    if (!ha) return true;
    if (ca != cb) return false;
  }
}

template <class Out>
void put_utf8(Out& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.put(static_cast<std::uint8_t>(cp));
  } else if (cp < 0x800) {
    out.put(static_cast<std::uint8_t>(0xc0 | (cp >> 6)));
    out.put(static_cast<std::uint8_t>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.put(static_cast<std::uint8_t>(0xe0 | (cp >> 12)));
    out.put(static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3f)));
    out.put(static_cast<std::uint8_t>(0x80 | (cp & 0x3f)));
  } else {
    out.put(static_cast<std::uint8_t>(0xf0 | (cp >> 18)));
    out.put(static_cast<std::uint8_t>(0x80 | ((cp >> 12) & 0x3f)));
    out.put(static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3f)));
    out.put(static_cast<std::uint8_t>(0x80 | (cp & 0x3f)));
  }
}

// A forward-only JSON reader over a possibly cut buffer. Every method either advances or fails,
// so the loops below are bounded by the input length. It validates only what it must to find
// members reliably; raw control characters in strings are tolerated (a lenient application would
// accept them, and refusing would let such a request skip the limit).
class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  bool done() const { return i_ >= s_.size(); }
  bool at(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool eat(char c) {
    if (!at(c)) return false;
    ++i_;
    return true;
  }
  void skip_bom() {
    if (s_.substr(0, 3) == "\xef\xbb\xbf") i_ = 3;
  }
  void ws() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }

  // A string at the cursor, unescaped into `out`. False on a bad escape or a lone surrogate, and
  // when the input ends before the closing quote.
  template <class Out>
  bool string(Out& out) {
    if (!eat('"')) return false;
    while (i_ < s_.size()) {
      const auto c = static_cast<std::uint8_t>(s_[i_++]);
      if (c == '"') return true;
      if (c != '\\') {
        out.put(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      switch (s_[i_++]) {
        case '"':
          out.put('"');
          break;
        case '\\':
          out.put('\\');
          break;
        case '/':
          out.put('/');
          break;
        case 'b':
          out.put('\b');
          break;
        case 'f':
          out.put('\f');
          break;
        case 'n':
          out.put('\n');
          break;
        case 'r':
          out.put('\r');
          break;
        case 't':
          out.put('\t');
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xd800 && cp <= 0xdbff) {
            std::uint32_t low = 0;
            if (!eat('\\') || !eat('u') || !hex4(low) || low < 0xdc00 || low > 0xdfff) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return false;
          }
          put_utf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  // Any value at the cursor, inside `depth` levels of nesting.
  bool skip_value(std::size_t depth) {
    if (at('"')) {
      Discard d;
      return string(d);
    }
    if (at('{') || at('[')) return skip_nested(depth);
    const std::size_t start = i_;  // number, true, false, null: checked loosely
    while (i_ < s_.size() && is_scalar(s_[i_])) ++i_;
    return i_ > start;
  }

 private:
  static bool is_scalar(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
           c == '-' || c == '.';
  }

  bool hex4(std::uint32_t& v) {
    if (s_.size() - i_ < 4) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const int h = hex_value(s_[i_ + k]);
      if (h < 0) return false;
      v = v * 16 + static_cast<std::uint32_t>(h);
    }
    i_ += 4;
    return true;
  }

  // An object or array, iteratively (a counter, no recursion): brackets are matched by kind
  // through a bit stack, strings are skipped whole (they may hold brackets), everything else
  // between brackets is passed over. False when cut, mismatched, or deeper than kMaxJsonDepth.
  bool skip_nested(std::size_t depth) {
    std::size_t level = 0;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '"') {
        Discard d;
        if (!string(d)) return false;
        continue;
      }
      ++i_;
      if (c == '{' || c == '[') {
        if (depth + level + 1 > kMaxJsonDepth) return false;
        const std::uint64_t bit = std::uint64_t{1} << (level % 64);
        std::uint64_t& word = objects_[level / 64];
        word = c == '{' ? word | bit : word & ~bit;
        ++level;
      } else if (c == '}' || c == ']') {
        --level;  // >= 1 here: the loop starts on an opening bracket and returns at level 0
        const bool object = ((objects_[level / 64] >> (level % 64)) & 1) != 0;
        if (object != (c == '}')) return false;
        if (level == 0) return true;
      }
    }
    return false;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  // Bit k: nesting level k of the value being skipped is an object. Levels are written before
  // they are read, so stale bits from an earlier value never matter.
  std::uint64_t objects_[(kMaxJsonDepth + 63) / 64]{};
};

}  // namespace

void ValueSink::put(std::uint8_t c) {
  if (mode_ == Mode::Exact) {
    if (pos_ < kMaxPartBytes) buf_[pos_] = c;
    ++pos_;
    return;
  }
  if (mode_ == Mode::Domain && c == '@') {
    // Only the text after the last '@' counts; it is trimmed like the whole value.
    seen_at_ = true;
    pos_ = 0;
    end_ = 0;
    last_ = 0;
    return;
  }
  const bool space = is_space(c);
  if (space && pos_ == 0) return;
  c = lower(c);
  if (!space) {
    end_ = pos_ + 1;
    last_ = c;
  }
  if (pos_ < kMaxPartBytes) buf_[pos_] = c;
  ++pos_;
}

void ValueSink::put(std::string_view s) {
  if (mode_ == Mode::Exact) {
    if (pos_ < kMaxPartBytes && !s.empty()) {
      std::memcpy(buf_ + pos_, s.data(), std::min(s.size(), kMaxPartBytes - pos_));
    }
    pos_ += s.size();
    return;
  }
  for (const char c : s) put(static_cast<std::uint8_t>(c));
}

bool ValueSink::finish(std::size_t& len) const {
  std::size_t n = mode_ == Mode::Exact ? pos_ : end_;
  if (mode_ == Mode::Domain) {
    if (!seen_at_) return false;
    if (n > 0 && last_ == '.') --n;
    if (n == 0) return false;
  }
  len = std::min(n, kMaxPartBytes);
  return true;
}

bool ValueSink::same_value(const ValueSink& other) const {
  std::size_t a = 0;
  std::size_t b = 0;
  const bool has_a = finish(a);
  const bool has_b = other.finish(b);
  if (!has_a || !has_b) return has_a == has_b;
  return a == b && (a == 0 || std::memcmp(buf_, other.buf_, a) == 0);
}

Found find_header(const http::RequestHead& head, std::string_view name, ValueSink& sink) {
  const std::size_t count = std::min<std::size_t>(head.field_count, head.fields.size());
  const http::Field* first = nullptr;
  for (std::size_t i = 0; i < count; ++i) {
    const http::Field& f = head.fields[i];
    if (!http::iequals(f.name, name)) continue;
    if (first == nullptr) {
      first = &f;
    } else if (f.value != first->value) {
      return Found::Unknown;
    }
  }
  if (first == nullptr) return Found::Absent;
  sink.put(first->value);
  return Found::Value;
}

Found find_cookie(const http::RequestHead& head, std::string_view name, ValueSink& sink) {
  const std::size_t count = std::min<std::size_t>(head.field_count, head.fields.size());
  bool found = false;
  std::string_view first;
  for (std::size_t f = 0; f < count; ++f) {
    if (!http::iequals(head.fields[f].name, "cookie")) continue;
    const std::string_view v = head.fields[f].value;
    std::size_t i = 0;
    while (i <= v.size()) {
      const std::size_t semi = std::min(v.find(';', i), v.size());
      const std::string_view pair = v.substr(i, semi - i);
      const std::size_t eq = pair.find('=');
      // A pair without '=' has no name (RFC 6265 5.2 ignores it).
      if (eq != std::string_view::npos && trim_ows(pair.substr(0, eq)) == name) {
        std::string_view value = trim_ows(pair.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        if (!found) {
          first = value;
          found = true;
        } else if (value != first) {
          return Found::Unknown;
        }
      }
      i = semi + 1;
    }
  }
  if (!found) return Found::Absent;
  sink.put(first);
  return Found::Value;
}

namespace {

// A charset other than UTF-8 (or its ASCII subset) makes the bytes spell other characters to
// the application: "alice" in UTF-16 is not the bytes we would key on.
bool plain_charset(std::string_view params) {
  while (!params.empty()) {
    params.remove_prefix(1);  // ';'
    const std::size_t next = std::min(params.find(';'), params.size());
    const std::string_view p = trim_ows(params.substr(0, next));
    params.remove_prefix(next);
    const std::size_t eq = p.find('=');
    if (eq == std::string_view::npos || !http::iequals(trim_ows(p.substr(0, eq)), "charset")) {
      continue;
    }
    std::string_view cs = trim_ows(p.substr(eq + 1));
    if (cs.size() >= 2 && cs.front() == '"' && cs.back() == '"') cs = cs.substr(1, cs.size() - 2);
    if (!http::iequals(cs, "utf-8") && !http::iequals(cs, "utf8") &&
        !http::iequals(cs, "us-ascii")) {
      return false;
    }
  }
  return true;
}

BodyType type_of(std::string_view value) {
  const std::size_t semi = value.find(';');
  if (semi != std::string_view::npos && !plain_charset(value.substr(semi))) return BodyType::Other;
  const std::string_view type = trim_ows(value.substr(0, semi));
  if (http::iequals(type, "application/x-www-form-urlencoded")) return BodyType::Form;
  if (http::iequals(type, "application/json")) return BodyType::Json;
  constexpr std::string_view kSuffix = "+json";  // RFC 6839 structured syntax suffix
  const std::size_t slash = type.find('/');
  if (slash != std::string_view::npos && type.size() - slash > kSuffix.size() &&
      http::iequals(type.substr(type.size() - kSuffix.size()), kSuffix)) {
    return BodyType::Json;
  }
  return BodyType::Other;
}

}  // namespace

BodyType body_type(const http::RequestHead& head) {
  const std::size_t count = std::min<std::size_t>(head.field_count, head.fields.size());
  bool seen = false;
  BodyType type = BodyType::Other;
  for (std::size_t i = 0; i < count; ++i) {
    if (!http::iequals(head.fields[i].name, "content-type")) continue;
    const BodyType t = type_of(head.fields[i].value);
    if (seen && t != type) return BodyType::Other;
    seen = true;
    type = t;
  }
  return type;
}

bool body_encoded(const http::RequestHead& head) {
  const std::size_t count = std::min<std::size_t>(head.field_count, head.fields.size());
  for (std::size_t i = 0; i < count; ++i) {
    if (!http::iequals(head.fields[i].name, "content-encoding")) continue;
    std::string_view list = head.fields[i].value;
    while (!list.empty()) {
      const std::size_t comma = std::min(list.find(','), list.size());
      const std::string_view coding = trim_ows(list.substr(0, comma));
      if (!coding.empty() && !http::iequals(coding, "identity")) return true;
      list.remove_prefix(comma == list.size() ? comma : comma + 1);
    }
  }
  return false;
}

Found find_param(std::string_view text, std::string_view name, ValueSink& sink) {
  bool found = false;
  std::string_view first;
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t amp = std::min(text.find('&', i), text.size());
    const std::string_view param = text.substr(i, amp - i);
    const std::size_t eq = param.find('=');
    NameMatcher m(name);
    form_decode(param.substr(0, eq), m);
    if (m.matched()) {
      const std::string_view value =
          eq != std::string_view::npos ? param.substr(eq + 1) : std::string_view();
      if (!found) {
        first = value;
        found = true;
      } else if (!same_decoded(first, value)) {
        return Found::Unknown;
      }
    }
    i = amp + 1;
  }
  if (!found) return Found::Absent;
  form_decode(first, sink);
  return Found::Value;
}

Found find_form_field(std::string_view text, bool complete, std::string_view name,
                      ValueSink& sink) {
  if (!complete) return Found::Unknown;
  std::uint8_t scratch[kMaxPartBytes];
  bool found = false;
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t amp = std::min(text.find('&', i), text.size());
    const std::string_view param = text.substr(i, amp - i);
    const std::size_t eq = param.find('=');
    FoldMatcher m(name);
    form_decode(param.substr(0, eq), m);
    if (m.matched()) {
      const std::string_view value =
          eq != std::string_view::npos ? param.substr(eq + 1) : std::string_view();
      if (!found) {
        form_decode(value, sink);
        found = true;
      } else {
        ValueSink again(sink.mode(), scratch);
        form_decode(value, again);
        if (!sink.same_value(again)) return Found::Unknown;
      }
    }
    i = amp + 1;
  }
  return found ? Found::Value : Found::Absent;
}

Found find_json_member(std::string_view text, std::string_view name, ValueSink& sink) {
  JsonReader j(text);
  j.skip_bom();
  j.ws();
  if (j.done()) return Found::Unknown;  // only whitespace: not JSON (an empty body is the caller's)
  // Not an object: no members, if it is a value at all.
  if (!j.at('{')) return j.skip_value(0) ? Found::Absent : Found::Unknown;
  j.eat('{');
  j.ws();
  if (j.eat('}')) return Found::Absent;
  std::uint8_t scratch[kMaxPartBytes];
  bool found = false;
  // Each pass consumes at least one member's key, or returns.
  while (true) {
    FoldMatcher m(name);
    if (!j.string(m)) return Found::Unknown;  // no key, a bad escape, or cut
    j.ws();
    if (!j.eat(':')) return Found::Unknown;
    j.ws();
    if (m.matched()) {
      // A number, object, ... may be coerced to a string by the application: never keyed on.
      if (!j.at('"')) return Found::Unknown;
      if (!found) {
        if (!j.string(sink)) return Found::Unknown;
        found = true;
      } else {
        ValueSink again(sink.mode(), scratch);
        if (!j.string(again) || !sink.same_value(again)) return Found::Unknown;
      }
    } else if (!j.skip_value(1)) {
      return Found::Unknown;
    }
    j.ws();
    if (j.eat('}')) return found ? Found::Value : Found::Absent;
    if (!j.eat(',')) return Found::Unknown;  // malformed, or cut
    j.ws();
  }
}

}  // namespace gh::ratelimit::fields
