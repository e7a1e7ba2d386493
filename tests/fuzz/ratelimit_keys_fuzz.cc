// Fuzzes build_key. The input is a request head followed by its body; the head is parsed with
// parse_request and then used as sent, as a urlencoded form and as JSON. Invariants: no crash;
// the same input gives the same status, key and unknown flag twice; for a body part, a prefix of
// the body that yields a real value (Ok, not unknown) gives exactly the whole body's key and is
// not unknown there (a cut never changes a found value, and never hides a later duplicate); a
// prefix that yields Missing is Missing for the whole body too (a cut body never skips a limit);
// a prefix may be unknown where the whole body has a value. Every unknown request of a one-part
// body limit has the same key, and no real value has it. Only body, header, cookie and query
// parts are ever unknown; a one-part header, cookie or query limit matches a plain reference
// (every occurrence collected: none is Missing, all equal is that value's key, else the unknown
// key of the part).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "client/address.h"
#include "http/parser.h"
#include "stages/ratelimit/keyhash.h"
#include "stages/ratelimit/keys.h"

namespace {

using namespace gh;
using namespace gh::ratelimit;
using policy::KeyPart;
using K = policy::KeyPartKind;

using gh::fuzz::check;

const std::vector<std::vector<KeyPart>>& part_lists() {
  static const std::vector<std::vector<KeyPart>> lists = [] {
    std::vector<std::vector<KeyPart>> l = {
        {},
        {{K::ClientIp, ""}},
        {{K::ClientPrefix, ""}},
        {{K::Route, ""}},
        {{K::Method, ""}},
        {{K::Header, "user-agent"}},
        {{K::Header, "x"}},
        {{K::Cookie, "sid"}},
        {{K::Cookie, "a"}},
        {{K::Query, "a"}},
        {{K::Query, "username"}},
        {{K::Query, "a b"}},
        {{K::BodyField, "username"}},
        {{K::BodyField, "a"}},
        {{K::BodyField, "email"}},
        {{K::EmailDomain, "email"}},
        {{K::EmailDomain, "username"}},
        {{K::ClientIp, ""}, {K::BodyField, "username"}, {K::Header, "x"}},
        {{K::Route, ""}, {K::Method, ""}, {K::Cookie, "sid"}, {K::Query, "a"}},
    };
    std::vector<KeyPart> many;  // enough long parts to overflow one scratch buffer
    for (int i = 0; i < 6; ++i) {
      many.push_back({K::Header, "user-agent"});
      many.push_back({K::BodyField, "a"});
    }
    l.push_back(many);
    return l;
  }();
  return lists;
}

struct Result {
  KeyBuild status = KeyBuild::Missing;
  Key key;
  bool unknown = false;

  bool real_value() const { return status == KeyBuild::Ok && !unknown; }
  bool same(const Result& o) const {
    return status == o.status && unknown == o.unknown && (status != KeyBuild::Ok || key == o.key);
  }
};

constexpr HashSeed kSeed{0x1234, 0x5678};

Result build(const std::vector<KeyPart>& parts, const KeyInputs& in) {
  Result r;
  r.unknown = true;  // build_key must write it
  r.status = build_key(parts, in, kSeed, r.key, &r.unknown);
  check(r.status == KeyBuild::Ok || !r.unknown, "Missing never reports an unknown part");
  return r;
}

// The key every unknown request of the one-part limit `parts` gets: a body that cannot be read.
Key sentinel_of(const std::vector<KeyPart>& parts) {
  static http::RequestHead head;
  head = http::RequestHead{};
  head.method_text = "POST";
  head.body = http::BodyKind::ContentLength;
  head.content_length = 1;
  head.fields[0] = http::Field{"Content-Type", "text/plain"};
  head.field_count = 1;
  KeyInputs in;
  in.head = &head;
  in.body = "x";
  const Result r = build(parts, in);
  check(r.status == KeyBuild::Ok && r.unknown, "a text/plain body is unknown");
  return r.key;
}

bool single_body_part(const std::vector<KeyPart>& parts) {
  return parts.size() == 1 && needs_body(parts);
}

// Puts `content_type` first so it is the Content-Type that counts.
void force_content_type(http::RequestHead& head, std::string_view content_type) {
  const std::size_t n = std::min<std::size_t>(head.field_count, head.fields.size() - 1);
  for (std::size_t i = n; i > 0; --i) head.fields[i] = head.fields[i - 1];
  head.fields[0] = http::Field{"Content-Type", content_type};
  head.field_count = static_cast<std::uint16_t>(n + 1);
}

bool head_part(K kind) {
  return kind == K::Header || kind == K::Cookie || kind == K::Query;
}

bool may_be_unknown(const std::vector<KeyPart>& parts) {
  return needs_body(parts) || std::any_of(parts.begin(), parts.end(), [](const KeyPart& p) {
           return head_part(p.kind);
         });
}

std::string_view ref_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int ref_hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string ref_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && ref_hex(s[i + 1]) >= 0 &&
               ref_hex(s[i + 2]) >= 0) {
      out += static_cast<char>(ref_hex(s[i + 1]) * 16 + ref_hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string_view> ref_split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// Every occurrence of a header, cookie or query part, written plainly (with allocation).
std::vector<std::string> ref_occurrences(const KeyPart& part, const http::RequestHead& head) {
  std::vector<std::string> values;
  const std::size_t count = std::min<std::size_t>(head.field_count, head.fields.size());
  if (part.kind == K::Query) {
    for (const std::string_view param : ref_split(head.query, '&')) {
      const std::size_t eq = param.find('=');
      if (ref_decode(param.substr(0, eq)) != part.name) continue;
      values.push_back(eq == std::string_view::npos ? "" : ref_decode(param.substr(eq + 1)));
    }
    return values;
  }
  for (std::size_t f = 0; f < count; ++f) {
    const http::Field& field = head.fields[f];
    if (part.kind == K::Header) {
      if (http::iequals(field.name, part.name)) values.emplace_back(field.value);
      continue;
    }
    if (!http::iequals(field.name, "cookie")) continue;
    for (const std::string_view pair : ref_split(field.value, ';')) {
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos || ref_trim(pair.substr(0, eq)) != part.name) continue;
      std::string_view v = ref_trim(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      values.emplace_back(v);
    }
  }
  return values;
}

Key ref_key(std::uint8_t kind_byte, std::string_view value) {
  value = value.substr(0, kMaxPartBytes);
  std::vector<std::uint8_t> b = {kind_byte, static_cast<std::uint8_t>(value.size() >> 8),
                                 static_cast<std::uint8_t>(value.size() & 0xff)};
  b.insert(b.end(), value.begin(), value.end());
  return digest_key(kSeed, b);
}

void check_head_part(const KeyPart& part, const http::RequestHead& head, const Result& got) {
  const std::vector<std::string> values = ref_occurrences(part, head);
  const auto kind = static_cast<std::uint8_t>(part.kind);
  if (values.empty()) {
    check(got.status == KeyBuild::Missing, "a head part without occurrences is Missing");
    return;
  }
  check(got.status == KeyBuild::Ok, "a head part with occurrences is Ok");
  const bool conflict = std::any_of(values.begin(), values.end(),
                                    [&](const std::string& v) { return v != values[0]; });
  if (conflict) {
    check(got.unknown, "differing duplicates are unknown");
    check(got.key == ref_key(0x80 | kind, ""), "differing duplicates share the unknown bucket");
  } else {
    check(!got.unknown, "equal occurrences are a value");
    check(got.key == ref_key(kind, values[0]), "equal occurrences key on their value");
  }
}

void run(const http::RequestHead& head, std::string_view body) {
  KeyInputs in;
  in.client = client::make_ipv4(198, 51, 100, 23);
  in.client_prefix = client::prefix_of(in.client, 24, 64);
  in.head = &head;
  in.route_name = "login";
  in.body = body;

  // A prefix at most this many lengths apart from the last checked one is checked.
  const std::size_t stride = body.size() / 128 + 1;
  for (const auto& parts : part_lists()) {
    const Result full = build(parts, in);
    const Result again = build(parts, in);
    check(full.same(again), "status, key and unknown flag are deterministic");
    check(!full.unknown || may_be_unknown(parts), "only body and head-field parts are unknown");
    if (parts.size() == 1 && head_part(parts[0].kind)) check_head_part(parts[0], head, full);
    Key plain;  // without the out-parameter
    check(build_key(parts, in, kSeed, plain) == full.status &&
              (full.status != KeyBuild::Ok || plain == full.key),
          "the unknown out-parameter changes nothing");

    KeyInputs flagged = in;
    flagged.body_complete = true;
    check(build(parts, flagged).same(full), "body_complete agrees with Content-Length");

    if (!needs_body(parts)) continue;
    if (single_body_part(parts)) {
      const Key sentinel = sentinel_of(parts);
      if (full.status == KeyBuild::Ok) {
        check(full.unknown == (full.key == sentinel), "unknown requests share one bucket");
      }
    }
    for (std::size_t len = 0; len < body.size(); len += stride) {
      // An exactly sized copy, so ASan sees a read past the prefix.
      std::unique_ptr<char[]> copy(new char[len + 1]);
      std::memcpy(copy.get(), body.data(), len);
      KeyInputs cut = in;
      cut.body = std::string_view(copy.get(), len);
      const Result part = build(parts, cut);
      if (part.status == KeyBuild::Missing) {
        check(full.status == KeyBuild::Missing, "a prefix is Missing only if the whole body is");
        continue;
      }
      if (part.unknown) continue;  // allowed: the whole body may have a value
      check(full.real_value(), "a value found in a prefix is found in the whole body");
      check(part.key == full.key, "a value found in a prefix is the whole body's value");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static http::RequestHead parsed;
  parsed = http::RequestHead{};
  const http::ParseResult r = http::parse_request(input, {}, parsed);
  if (r.status != http::ParseStatus::Complete) return 0;
  const std::string_view body = input.substr(r.consumed);

  // The caller's framing: `body` is the whole Content-Length body, so a prefix is known to be cut.
  static http::RequestHead head;
  head = parsed;
  head.body = http::BodyKind::ContentLength;
  head.content_length = body.size();
  run(head, body);
  head = parsed;
  head.body = http::BodyKind::ContentLength;
  head.content_length = body.size();
  force_content_type(head, "application/x-www-form-urlencoded");
  run(head, body);
  head = parsed;
  head.body = http::BodyKind::ContentLength;
  head.content_length = body.size();
  force_content_type(head, "application/json");
  run(head, body);
  return 0;
}
