// build_key: every part kind present / absent / empty / unknown, canonical forms, framing,
// truncation, and the body evasions that must land in the one "unknown" bucket of a limit.
// Expected keys are computed independently from the documented framing (kind, 16-bit big-endian
// length, value; 0x80 | kind and no value for an unknown part), so a case checks the extracted
// value itself, not just "some key".
#include "stages/ratelimit/keys.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/address.h"
#include "http/parser.h"
#include "stages/ratelimit/keyhash.h"

namespace gh::ratelimit {
namespace {

using policy::KeyPart;
using policy::KeyPartKind;
using K = KeyPartKind;

constexpr HashSeed kSeed{0x0123456789abcdefULL, 0x0f1e2d3c4b5a6978ULL};

// A parsed request that owns its bytes (the head's views point into raw).
struct Req {
  std::string raw;
  std::string body;
  http::RequestHead head;
  KeyInputs in;
};

std::unique_ptr<Req> request(std::string raw, std::string body = "", bool body_complete = true) {
  auto r = std::make_unique<Req>();
  r->raw = std::move(raw);
  r->body = std::move(body);
  const http::ParseResult p = http::parse_request(r->raw, {}, r->head);
  EXPECT_EQ(p.status, http::ParseStatus::Complete) << r->raw;
  r->in.client = client::make_ipv4(192, 0, 2, 7);
  r->in.client_prefix = client::prefix_of(r->in.client, 24, 64);
  r->in.head = &r->head;
  r->in.route_name = "login";
  r->in.body = r->body;
  r->in.body_complete = body_complete;
  return r;
}

std::unique_ptr<Req> get(std::string target, std::string extra_fields = "") {
  return request("GET " + target + " HTTP/1.1\r\nHost: example.com\r\n" + extra_fields + "\r\n");
}

std::unique_ptr<Req> post(std::string content_type, std::string body, bool complete = true) {
  return request(
      "POST /login HTTP/1.1\r\nHost: example.com\r\nContent-Type: " + content_type + "\r\n\r\n",
      std::move(body), complete);
}

// A Content-Length body of which only the first `prefix` bytes are held (not known whole).
std::unique_ptr<Req> held(const std::string& content_type, const std::string& body,
                          std::size_t prefix) {
  return request("POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: " + content_type +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n",
                 body.substr(0, prefix), false);
}

constexpr const char* kForm = "application/x-www-form-urlencoded";
constexpr const char* kJson = "application/json";

std::optional<Key> key_of(const std::vector<KeyPart>& parts, const KeyInputs& in,
                          const HashSeed& seed = kSeed) {
  Key k;
  bool unknown = true;
  if (build_key(parts, in, seed, k, &unknown) != KeyBuild::Ok) {
    EXPECT_FALSE(unknown) << "Missing never reports an unknown part";
    return std::nullopt;
  }
  Key again;  // without the out-parameter: the same key
  EXPECT_EQ(build_key(parts, in, seed, again), KeyBuild::Ok);
  EXPECT_EQ(again, k);
  return k;
}

// True when build_key reports an unknown part (Ok with a sentinel).
bool unknown_of(const std::vector<KeyPart>& parts, const KeyInputs& in) {
  Key k;
  bool unknown = false;
  return build_key(parts, in, kSeed, k, &unknown) == KeyBuild::Ok && unknown;
}

// The reference framing, written out independently of keys.cc: (kind byte, value) frames.
Key frames_key(const std::vector<std::pair<std::uint8_t, std::string>>& frames,
               const HashSeed& seed = kSeed) {
  std::vector<std::uint8_t> b;
  for (const auto& [kind_byte, value] : frames) {
    b.push_back(kind_byte);
    b.push_back(static_cast<std::uint8_t>(value.size() >> 8));
    b.push_back(static_cast<std::uint8_t>(value.size() & 0xff));
    b.insert(b.end(), value.begin(), value.end());
  }
  return digest_key(seed, b);
}

std::optional<Key> tuple_key(const std::vector<std::pair<KeyPartKind, std::string>>& parts,
                             const HashSeed& seed = kSeed) {
  std::vector<std::pair<std::uint8_t, std::string>> frames;
  for (const auto& [kind, value] : parts)
    frames.emplace_back(static_cast<std::uint8_t>(kind), value);
  return frames_key(frames, seed);
}

std::optional<Key> one(KeyPartKind kind, std::optional<std::string> value) {
  if (!value) return std::nullopt;
  return tuple_key({{kind, *value}});
}

// The frame of an unknown part: its kind with the high bit set, no value.
std::pair<std::uint8_t, std::string> unknown_frame(KeyPartKind kind) {
  return {static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(kind)), ""};
}

// The one bucket of every unknown request of a one-part limit.
Key unknown_key(KeyPartKind kind) {
  return frames_key({unknown_frame(kind)});
}

// What a body part should give: a value, Missing (nullopt) or the unknown sentinel.
struct Unknown {};
constexpr Unknown kUnknown{};

struct Expect {
  Expect(const char* v) : value(v) {}             // NOLINT(google-explicit-constructor)
  Expect(std::string v) : value(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  Expect(std::nullopt_t) {}                       // NOLINT(google-explicit-constructor)
  Expect(Unknown) : unknown(true) {}              // NOLINT(google-explicit-constructor)

  std::optional<Key> key(KeyPartKind kind) const {
    if (unknown) return unknown_key(kind);
    return one(kind, value);
  }

  std::optional<std::string> value;
  bool unknown = false;
};

// Checks one part against `want`, the unknown flag included.
void expect_part(KeyPartKind kind, const std::string& name, const KeyInputs& in, const Expect& want,
                 const std::string& what) {
  EXPECT_EQ(key_of({{kind, name}}, in), want.key(kind)) << what;
  EXPECT_EQ(unknown_of({{kind, name}}, in), want.unknown) << what;
}

std::string bytes(const std::array<std::uint8_t, 16>& a) {
  return std::string(a.begin(), a.end());
}

TEST(BuildKey, EmptyPartsIsOneConstantBucket) {
  const auto a = get("/a");
  const auto b = post(kJson, R"({"username":"x"})");
  b->in.client = client::make_ipv4(10, 0, 0, 1);
  EXPECT_EQ(key_of({}, a->in), digest_key(kSeed, {}));
  EXPECT_EQ(key_of({}, b->in), key_of({}, a->in));
  EXPECT_NE(key_of({}, a->in), key_of({{K::Route, ""}}, a->in));
}

TEST(BuildKey, ClientAddressAndPrefix) {
  const auto r = get("/");
  EXPECT_EQ(key_of({{K::ClientIp, ""}}, r->in), one(K::ClientIp, bytes(r->in.client.bytes)));
  EXPECT_EQ(
      key_of({{K::ClientPrefix, ""}}, r->in),
      one(K::ClientPrefix, bytes(r->in.client_prefix.address.bytes) + std::string(1, '\x18')));

  const auto other = get("/");
  other->in.client = client::make_ipv4(192, 0, 2, 99);
  other->in.client_prefix = client::prefix_of(other->in.client, 24, 64);
  EXPECT_NE(key_of({{K::ClientIp, ""}}, r->in), key_of({{K::ClientIp, ""}}, other->in));
  EXPECT_EQ(key_of({{K::ClientPrefix, ""}}, r->in), key_of({{K::ClientPrefix, ""}}, other->in));
  // Same address bits, other length: another bucket.
  other->in.client_prefix = client::prefix_of(other->in.client, 23, 64);
  EXPECT_NE(key_of({{K::ClientPrefix, ""}}, r->in), key_of({{K::ClientPrefix, ""}}, other->in));
  // A head is not needed for these.
  other->in.head = nullptr;
  EXPECT_TRUE(key_of({{K::ClientIp, ""}, {K::ClientPrefix, ""}, {K::Route, ""}}, other->in));
}

TEST(BuildKey, RouteAndMethod) {
  const auto g = get("/");
  const auto p = post(kForm, "");
  EXPECT_EQ(key_of({{K::Route, ""}}, g->in), one(K::Route, "login"));
  EXPECT_EQ(key_of({{K::Method, ""}}, g->in), one(K::Method, "GET"));
  EXPECT_EQ(key_of({{K::Method, ""}}, p->in), one(K::Method, "POST"));
  g->in.route_name = "";
  EXPECT_EQ(key_of({{K::Route, ""}}, g->in), one(K::Route, ""));
  g->in.head = nullptr;
  EXPECT_EQ(key_of({{K::Method, ""}}, g->in), std::nullopt);
}

struct FieldCase {
  const char* what;
  std::string fields;  // extra header lines, CRLF-terminated
  std::string name;
  Expect want;  // the value, Missing or unknown
};

// Over kMaxPartBytes, and equal within the kept bytes: only the whole values differ.
const std::string kLongA = std::string(kMaxPartBytes + 10, 'v') + "a";
const std::string kLongB = std::string(kMaxPartBytes + 10, 'v') + "b";

TEST(BuildKey, Header) {
  const std::vector<FieldCase> cases = {
      {"plain", "User-Agent: Mozilla/5.0 (X11)\r\n", "User-Agent", "Mozilla/5.0 (X11)"},
      {"name case-insensitive", "user-agent: Mozilla\r\n", "USER-AGENT", "Mozilla"},
      {"value byte-exact", "User-Agent: MOZILLA\r\n", "user-agent", "MOZILLA"},
      {"duplicate, other value", "X-Api-Key: one\r\nX-Api-Key: two\r\n", "x-api-key", kUnknown},
      {"duplicate, same value", "X-Api-Key: one\r\nX-Other: 1\r\nX-Api-Key: one\r\n", "x-api-key",
       "one"},
      {"duplicate, name up to case", "X-Api-Key: one\r\nx-api-KEY: two\r\n", "x-api-key",
       kUnknown},
      {"duplicate, same value, name up to case", "x-api-key: k\r\nX-API-KEY: k\r\n", "X-Api-Key",
       "k"},
      {"duplicate, value case differs", "X-Api-Key: k\r\nX-Api-Key: K\r\n", "x-api-key", kUnknown},
      {"duplicate, empty and not", "X-Api-Key:\r\nX-Api-Key: k\r\n", "x-api-key", kUnknown},
      {"duplicate, both empty", "X-Api-Key:\r\nX-Api-Key:\r\n", "x-api-key", ""},
      {"triplicate, last differs", "X-Api-Key: k\r\nX-Api-Key: k\r\nX-Api-Key: j\r\n",
       "x-api-key", kUnknown},
      {"duplicate, OWS trimmed by the parser", "X-Api-Key: k\r\nX-Api-Key:  k \r\n", "x-api-key",
       "k"},
      {"duplicate, differs past the kept bytes",
       "X-Api-Key: " + kLongA + "\r\nX-Api-Key: " + kLongB + "\r\n", "x-api-key", kUnknown},
      {"duplicate, long and equal", "X-Api-Key: " + kLongA + "\r\nX-Api-Key: " + kLongA + "\r\n",
       "x-api-key", kLongA.substr(0, kMaxPartBytes)},
      {"duplicate of another field only", "X-Api-Key: k\r\nX-Api-Key-2: j\r\nX-Api-Key-2: i\r\n",
       "x-api-key", "k"},
      {"OWS trimmed by the parser", "X-Api-Key:   k  \r\n", "x-api-key", "k"},
      {"present but empty", "X-Empty:\r\n", "x-empty", ""},
      {"absent", "X-Other: 1\r\n", "x-api-key", std::nullopt},
      {"no prefix match", "X-Api-Key-2: 1\r\n", "x-api-key", std::nullopt},
      {"empty name", "X-Api-Key: 1\r\n", "", std::nullopt},
  };
  for (const auto& c : cases) {
    expect_part(K::Header, c.name, get("/", c.fields)->in, c.want, c.what);
  }
  const auto r = get("/", "User-Agent: a\r\n");
  r->in.head = nullptr;
  EXPECT_EQ(key_of({{K::Header, "user-agent"}}, r->in), std::nullopt);
}

TEST(BuildKey, Cookie) {
  const std::vector<FieldCase> cases = {
      {"single", "Cookie: sid=abc\r\n", "sid", "abc"},
      {"among others", "Cookie: a=1; sid=abc; b=2\r\n", "sid", "abc"},
      {"no space after ;", "Cookie: a=1;sid=abc;b=2\r\n", "sid", "abc"},
      {"OWS around ; and =", "Cookie: a=1 ;\t sid = abc ; b=2\r\n", "sid", "abc"},
      {"last pair", "Cookie: a=1; sid=abc\r\n", "sid", "abc"},
      {"quoted", "Cookie: sid=\"abc\"\r\n", "sid", "abc"},
      {"quoted empty", "Cookie: sid=\"\"\r\n", "sid", ""},
      {"lone quote kept", "Cookie: sid=\"\r\n", "sid", "\""},
      {"inner quote kept", "Cookie: sid=a\"b\r\n", "sid", "a\"b"},
      {"value with =", "Cookie: sid=a=b==\r\n", "sid", "a=b=="},
      {"value byte-exact", "Cookie: sid=AbC%41\r\n", "sid", "AbC%41"},
      {"empty value", "Cookie: sid=; a=1\r\n", "sid", ""},
      {"duplicate, other value", "Cookie: sid=one; sid=two\r\n", "sid", kUnknown},
      {"duplicate, same value", "Cookie: sid=one; a=1; sid=one\r\n", "sid", "one"},
      {"second Cookie field", "Cookie: a=1\r\nCookie: sid=two\r\n", "sid", "two"},
      {"duplicate across fields", "Cookie: sid=one\r\nCookie: sid=two\r\n", "sid", kUnknown},
      {"duplicate across fields, same value", "Cookie: sid=one\r\ncookie: a=1; sid=one\r\n", "sid",
       "one"},
      {"duplicate, value case differs", "Cookie: sid=abc; sid=ABC\r\n", "sid", kUnknown},
      {"duplicate, quoted and not", "Cookie: sid=\"abc\"; sid=abc\r\n", "sid", "abc"},
      {"duplicate, empty and not", "Cookie: sid=; sid=x\r\n", "sid", kUnknown},
      {"duplicate, OWS around the value", "Cookie: sid=x ; sid= x\r\n", "sid", "x"},
      {"triplicate, last differs", "Cookie: sid=x\r\nCookie: sid=x\r\nCookie: sid=y\r\n", "sid",
       kUnknown},
      {"pair without = is no duplicate", "Cookie: sid; sid=x\r\n", "sid", "x"},
      {"other case is no duplicate", "Cookie: sid=x; SID=y\r\n", "sid", "x"},
      {"duplicate, differs past the kept bytes", "Cookie: sid=" + kLongA + "; sid=" + kLongB + "\r\n",
       "sid", kUnknown},
      {"field name any case", "cOOKIE: sid=x\r\n", "sid", "x"},
      {"name case-sensitive", "Cookie: SID=abc\r\n", "sid", std::nullopt},
      {"no partial names", "Cookie: sidx=1; xsid=2; si=3\r\n", "sid", std::nullopt},
      {"pair without =", "Cookie: sid; a=1\r\n", "sid", std::nullopt},
      {"empty pairs", "Cookie: ;; ;sid=v;;\r\n", "sid", "v"},
      {"empty field", "Cookie:\r\n", "sid", std::nullopt},
      {"no Cookie field", "X-Cookie: sid=1\r\n", "sid", std::nullopt},
      {"empty name never matches", "Cookie: =v\r\n", "", std::nullopt},
  };
  for (const auto& c : cases) {
    expect_part(K::Cookie, c.name, get("/", c.fields)->in, c.want, c.what);
  }
}

struct QueryCase {
  const char* what;
  std::string target;
  std::string name;
  Expect want;  // the value, Missing or unknown
};

TEST(BuildKey, Query) {
  const std::vector<QueryCase> cases = {
      {"plain", "/p?user=alice", "user", "alice"},
      {"not folded", "/p?user=Alice", "user", "Alice"},
      {"later parameter", "/p?a=1&user=bob&c=2", "user", "bob"},
      {"percent and plus", "/p?user=B%20c+D%2b", "user", "B c D+"},
      {"bad percent kept", "/p?user=%zz%4", "user", "%zz%4"},
      {"name decoded", "/p?u%73er=x", "user", "x"},
      {"plus in name", "/p?my+user=x", "my user", "x"},
      {"present but empty", "/p?user=&a=1", "user", ""},
      {"without =", "/p?user&a=1", "user", ""},
      {"duplicate, other value", "/p?user=rnd&user=alice", "user", kUnknown},
      {"duplicate, same value", "/p?user=1&a=2&user=1", "user", "1"},
      {"duplicate, same decoded value", "/p?user=a%20b&user=a+b&user=%61+b", "user", "a b"},
      {"duplicate, encoded name", "/p?user=a&u%73er=b", "user", kUnknown},
      {"duplicate, encoded name, same value", "/p?user=a&u%73er=%61", "user", "a"},
      {"duplicate, value case differs", "/p?user=a&user=A", "user", kUnknown},
      {"duplicate, %2b and +", "/p?user=a%2bb&user=a+b", "user", kUnknown},
      {"duplicate, bad percent kept", "/p?user=%zz&user=%7azz", "user", kUnknown},
      {"duplicate, bad percent, same value", "/p?user=%4&user=%254", "user", "%4"},
      {"duplicate, without = and empty", "/p?user&user=", "user", ""},
      {"duplicate, empty and not", "/p?user=a&user", "user", kUnknown},
      {"triplicate, last differs", "/p?user=a&user=a&user=b", "user", kUnknown},
      {"duplicate, one a prefix of the other", "/p?user=ab&user=a", "user", kUnknown},
      {"other case is no duplicate", "/p?user=a&User=b", "user", "a"},
      {"duplicate, differs past the kept bytes", "/p?user=" + kLongA + "&user=" + kLongB, "user",
       kUnknown},
      {"name case-sensitive", "/p?User=1", "user", std::nullopt},
      {"longer name", "/p?users=1", "user", std::nullopt},
      {"no query", "/p", "user", std::nullopt},
      {"empty query", "/p?", "user", std::nullopt},
      {"absolute-form", "http://example.com/p?user=z", "user", "z"},
  };
  for (const auto& c : cases) {
    expect_part(K::Query, c.name, get(c.target)->in, c.want, c.what);
  }
}

struct BodyCase {
  const char* what;
  std::string content_type;
  std::string body;
  Expect want;  // canonical value of body.username, Missing or unknown
  bool complete = true;
};

std::string nest(int levels, const std::string& inner) {
  return std::string(static_cast<std::size_t>(levels), '[') + inner +
         std::string(static_cast<std::size_t>(levels), ']');
}

TEST(BuildKey, BodyField) {
  const std::vector<BodyCase> cases = {
      // Form.
      {"form", kForm, "username=alice&password=x", "alice"},
      {"form later field", kForm, "a=1&username=bob&c=2", "bob"},
      {"form folded", kForm, "username=%20ALICE%09+", "alice"},
      {"form plus and percent", kForm, "username=Alice+B%20Smith", "alice b smith"},
      {"form name decoded", kForm, "us%65rname=x", "x"},
      {"form empty", kForm, "username=&a=1", ""},
      {"form without =", kForm, "username", ""},
      {"form duplicate, other value", kForm, "username=a&username=b", kUnknown},
      {"form duplicate, same canonical value", kForm, "username=Alice&x=1&username=+aLiCe",
       "alice"},
      {"form duplicate, empty and not", kForm, "username&username=a", kUnknown},
      {"form triplicate, last differs", kForm, "username=a&username=a&username=", kUnknown},
      {"form name up to case", kForm, "Username=a", "a"},
      {"form duplicate up to case", kForm, "username=a&USERNAME=b", kUnknown},
      {"form absent", kForm, "user=a", std::nullopt},
      {"form longer names", kForm, "usernames=a&xusername=b", std::nullopt},
      {"form empty body", kForm, "", std::nullopt},
      {"form utf-8 bytes, ASCII folded", kForm, "username=%C3%84LICE", "\xc3\x84lice"},
      {"form bad percent kept", kForm, "username=a%zz%4", "a%zz%4"},
      {"form type parameters", "application/x-www-form-urlencoded; charset=UTF-8", "username=a",
       "a"},
      {"form cut in value", kForm, "username=ali", kUnknown, false},
      {"form cut in name", kForm, "a=1&user", kUnknown, false},
      {"form cut after value (a duplicate may follow)", kForm, "username=alice&pa", kUnknown,
       false},
      {"form cut, bare name", kForm, "username", kUnknown, false},
      {"form cut, field not seen", kForm, "a=1&b=2&", kUnknown, false},
      // JSON.
      {"json", kJson, R"({"username":"alice","password":"x"})", "alice"},
      {"json whitespace", kJson, " \r\n{ \"username\" :\t\"Alice\" }\n", "alice"},
      {"json later member", kJson, R"({"a":1,"b":true,"c":null,"d":-1.5e3,"username":"u"})", "u"},
      {"json escaped value", kJson, R"({"username":"\u0041lice"})", "alice"},
      {"json escaped name", kJson, R"({"us\u0065rname":"x"})", "x"},
      {"json all escapes", kJson, R"({"username":"a\"b\\c\/d\be\ff\ng\rh\ti"})",
       "a\"b\\c/d\be\ff\ng\rh\ti"},
      {"json 2-byte", kJson, R"({"username":"\u00e9\u00C9"})", "\xc3\xa9\xc3\x89"},
      {"json 3-byte", kJson, R"({"username":"\u20ac"})", "\xe2\x82\xac"},
      {"json surrogate pair", kJson, R"({"username":"\ud83d\uDE00"})", "\xf0\x9f\x98\x80"},
      {"json nul escape", kJson, R"({"username":"a\u0000b"})", std::string("a\0b", 3)},
      {"json raw utf-8", kJson, "{\"username\":\"\xc3\x84LICE\"}", "\xc3\x84lice"},
      {"json trimmed", kJson, R"({"username":" \t alice\n "})", "alice"},
      {"json empty string", kJson, R"({"username":""})", ""},
      {"json bad escape", kJson, R"({"username":"a\x"})", kUnknown},
      {"json short \\u", kJson, R"({"username":"\u12"})", kUnknown},
      {"json lone high surrogate", kJson, R"({"username":"\ud83dx"})", kUnknown},
      {"json high + non-low", kJson, R"({"username":"\ud83d\u0041"})", kUnknown},
      {"json lone low surrogate", kJson, R"({"username":"\ude00"})", kUnknown},
      {"json bad escape before", kJson, R"({"a":"\q","username":"x"})", kUnknown},
      {"json bad escape after", kJson, R"({"username":"x","a":"\q"})", kUnknown},
      {"json bad escape in a name", kJson, R"({"user\qname":"x"})", kUnknown},
      {"json number", kJson, R"({"username":123})", kUnknown},
      {"json true", kJson, R"({"username":true})", kUnknown},
      {"json null", kJson, R"({"username":null})", kUnknown},
      {"json object", kJson, R"({"username":{"x":"y"}})", kUnknown},
      {"json array", kJson, R"({"username":["alice"]})", kUnknown},
      {"json duplicate, other value", kJson, R"({"username":"a","username":"b"})", kUnknown},
      {"json duplicate, same canonical value", kJson, R"({"username":"a","x":1,"username":" A"})",
       "a"},
      {"json duplicate, not a string", kJson, R"({"username":"b","username":1})", kUnknown},
      {"json duplicate, first not a string", kJson, R"({"username":1,"username":"b"})", kUnknown},
      {"json duplicate, escaped name", kJson, R"({"username":"a","us\u0065rname":"b"})", kUnknown},
      {"json name up to case", kJson, R"({"Username":"a"})", "a"},
      {"json duplicate up to case", kJson, R"({"username":"a","USERNAME":"b"})", kUnknown},
      {"json long s for s", kJson, "{\"u\305\277ername\":\"a\"}", "a"},
      {"json duplicate, escaped long s", kJson, R"({"username":"a","u\u017fername":"b"})",
       kUnknown},
      {"json half a long s", kJson, "{\"u\305ername\":\"a\"}", std::nullopt},
      {"json absent", kJson, R"({"user":"a"})", std::nullopt},
      {"json longer and shorter names", kJson, R"({"usernames":"a","usernam":"b"})", std::nullopt},
      {"json empty object", kJson, "{}", std::nullopt},
      {"json empty object, spaces", kJson, "{ \n}", std::nullopt},
      {"json top-level array", kJson, R"([{"username":"a"}])", std::nullopt},
      {"json top-level string", kJson, R"("username")", std::nullopt},
      {"json top-level number", kJson, "12", std::nullopt},
      {"json top-level garbage", kJson, "}{", kUnknown},
      {"json top-level array unclosed", kJson, R"([{"username":"a"})", kUnknown},
      {"json only whitespace", kJson, " \n ", kUnknown},
      {"json nested same name", kJson, R"({"profile":{"username":"evil"},"username":"alice"})",
       "alice"},
      {"json nested only", kJson, R"({"profile":{"username":"evil"}})", std::nullopt},
      {"json nested in array", kJson, R"({"a":[{"username":"no"},1,"s"],"username":"yes"})", "yes"},
      {"json braces in strings", kJson, R"({"note":"}{][\"}","username":"alice"})", "alice"},
      {"json braces in nested strings", kJson, R"({"a":{"b":"}}]]","c":["{"]},"username":"x"})",
       "x"},
      {"json name inside a value", kJson, R"({"a":"\"username\":\"evil\"","username":"ok"})", "ok"},
      {"json mismatched brackets", kJson, R"({"a":[},"username":"x"})", kUnknown},
      {"json depth 33", kJson, "{\"a\":" + nest(32, "1") + ",\"username\":\"x\"}", "x"},
      {"json mixed depth 100", kJson,
       "{\"a\":" + nest(33, "{\"b\":" + nest(65, "2") + "}") + ",\"username\":\"x\"}", "x"},
      {"json depth 10000", kJson, "{\"a\":" + nest(9999, "1") + ",\"username\":\"x\"}", "x"},
      {"json depth 10001", kJson, "{\"a\":" + nest(10000, "1") + ",\"username\":\"x\"}", kUnknown},
      {"json too deep after the member", kJson,
       "{\"username\":\"x\",\"a\":" + nest(10000, "") + "}", kUnknown},
      {"json deep after the member", kJson, "{\"username\":\"x\",\"a\":" + nest(60, "") + "}", "x"},
      {"json trailing garbage after", kJson, R"({"username":"x"} garbage)", "x"},
      {"json second object ignored", kJson, R"({"username":"x"}{"username":"y"})", "x"},
      {"json missing comma", kJson, R"({"a":"1" "username":"x"})", kUnknown},
      {"json trailing comma", kJson, R"({"username":"x",})", kUnknown},
      {"json missing colon", kJson, R"({"username" "x"})", kUnknown},
      {"json empty value", kJson, R"({"a":,"username":"x"})", kUnknown},
      {"json unclosed, whole body", kJson, R"({"username":"x")", kUnknown},
      {"json unclosed after comma, whole body", kJson, R"({"username":"x",)", kUnknown},
      {"json BOM", kJson, "\xef\xbb\xbf{\"username\":\"x\"}", "x"},
      {"json type parameters", "Application/JSON; charset=utf-8", R"({"username":"x"})", "x"},
      {"+json suffix", "application/vnd.api+json", R"({"username":"x"})", "x"},
      {"json cut in value", kJson, R"({"username":"ali)", kUnknown, false},
      {"json cut in escape", kJson, R"({"username":"ali\u00)", kUnknown, false},
      {"json cut after value (a duplicate may follow)", kJson, R"({"username":"alice","pass)",
       kUnknown, false},
      {"json cut before member", kJson, R"({"password":"x","user)", kUnknown, false},
      {"json cut in nested", kJson, R"({"a":{"b":"})", kUnknown, false},
      {"json cut after the object", kJson, R"({"username":"alice"}  )", "alice", false},
      {"json cut after an object without it", kJson, R"({"a":"b"} )", std::nullopt, false},
      {"json cut before anything", kJson, " ", kUnknown, false},
      // Other types: a body we cannot read is unknown; no body is Missing.
      {"text/plain", "text/plain", "username=alice", kUnknown},
      {"multipart", "multipart/form-data; boundary=x", "username=alice", kUnknown},
      {"json-ish", "application/jsonx", R"({"username":"x"})", kUnknown},
      {"bare +json", "+json", R"({"username":"x"})", kUnknown},
      {"text/plain, empty body", "text/plain", "", std::nullopt},
      {"json, empty body", kJson, "", std::nullopt},
  };
  for (const auto& c : cases) {
    const auto r = post(c.content_type, c.body, c.complete);
    expect_part(K::BodyField, "username", r->in, c.want, c.what);
  }
  const auto none = get("/");
  none->body = "username=alice";
  none->in.body = none->body;
  expect_part(K::BodyField, "username", none->in, kUnknown, "no Content-Type");
  const auto bodyless = get("/");
  expect_part(K::BodyField, "username", bodyless->in, std::nullopt, "no body");
  bodyless->in.body_complete = false;
  expect_part(K::BodyField, "username", bodyless->in, std::nullopt, "no body announced");
  const auto empty_name = post(kForm, "=x");
  expect_part(K::BodyField, "", empty_name->in, std::nullopt, "empty name");
  const auto no_head = post(kForm, "username=x");
  no_head->in.head = nullptr;
  expect_part(K::BodyField, "username", no_head->in, std::nullopt, "no head");
  // The Kelvin sign folds to 'k' (Go's encoding/json matches it so).
  expect_part(K::BodyField, "key", post(kJson, R"({"\u212aey":"v"})")->in, "v", "Kelvin sign");
  expect_part(K::BodyField, "key", post(kJson, "{\"\342\204\252ey\":\"v\",\"key\":\"w\"}")->in,
              kUnknown, "Kelvin sign duplicate");
  expect_part(K::BodyField, "key", post(kJson, "{\"\342\204ey\":\"v\"}")->in, std::nullopt,
              "part of a Kelvin sign");
}

TEST(BuildKey, ContentTypeFields) {
  const auto with = [](const std::string& fields) {
    return request("POST /login HTTP/1.1\r\nHost: example.com\r\n" + fields + "\r\n",
                   R"({"username":"alice"})");
  };
  // Fields that agree are read; fields that disagree are unknown (an application may take the
  // last one).
  expect_part(K::BodyField, "username",
              with("Content-Type: application/json\r\nContent-Type: application/json\r\n")->in,
              "alice", "two equal fields");
  expect_part(K::BodyField, "username",
              with("Content-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Type: application/json\r\n")
                  ->in,
              kUnknown, "form, then JSON");
  expect_part(K::BodyField, "username",
              with("Content-Type: application/json\r\nContent-Type: text/plain\r\n")->in, kUnknown,
              "JSON, then text");
  expect_part(K::BodyField, "username",
              with("Content-Type: application/json, application/x-www-form-urlencoded\r\n")->in,
              kUnknown, "a list in one field");
}

// The application reads an encoded body decoded, and a body in another charset as other
// characters: Gatehouse must not key on the bytes, nor call the field absent (that would skip
// the limit). Unknown puts every such request in the limit's one shared bucket.
TEST(BuildKey, EncodedOrForeignCharsetBodiesAreUnknown) {
  const auto with = [](const std::string& fields, const std::string& body = "username=alice") {
    return request("POST /login HTTP/1.1\r\nHost: example.com\r\n" + fields + "\r\n", body);
  };
  const std::string form = "Content-Type: application/x-www-form-urlencoded\r\n";
  expect_part(K::BodyField, "username", with(form + "Content-Encoding: gzip\r\n")->in, kUnknown,
              "gzip");
  expect_part(K::BodyField, "username", with(form + "Content-Encoding: deflate\r\n")->in,
              kUnknown, "deflate");
  expect_part(K::BodyField, "username", with(form + "Content-Encoding: identity, br\r\n")->in,
              kUnknown, "identity then br");
  expect_part(K::BodyField, "username",
              with(form + "Content-Encoding: identity\r\nContent-Encoding: gzip\r\n")->in,
              kUnknown, "gzip in a second field");
  expect_part(K::EmailDomain, "username",
              with(form + "Content-Encoding: gzip\r\n", "username=a%40evil.test")->in, kUnknown,
              "email domain of a gzip body");
  expect_part(K::BodyField, "username", with(form + "Content-Encoding: identity\r\n")->in,
              "alice", "identity is no encoding");
  expect_part(K::BodyField, "username", with(form + "Content-Encoding: \r\n")->in, "alice",
              "an empty list is no encoding");
  expect_part(K::BodyField, "username",
              with("Content-Type: application/x-www-form-urlencoded; charset=utf-16\r\n")->in,
              kUnknown, "utf-16 form");
  expect_part(K::BodyField, "username",
              with("Content-Type: application/json; charset=\"UTF-32\"\r\n",
                   R"({"username":"alice"})")
                  ->in,
              kUnknown, "utf-32 json");
  expect_part(K::BodyField, "username",
              with("Content-Type: application/x-www-form-urlencoded; charset=\"UTF-8\"\r\n")->in,
              "alice", "utf-8 quoted");
  expect_part(K::BodyField, "username",
              with("Content-Type: application/x-www-form-urlencoded; charset=us-ascii\r\n")->in,
              "alice", "us-ascii");
}

TEST(BuildKey, WholeBodyInferredFromContentLength) {
  const std::string head =
      "POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 14\r\n\r\n";
  const auto whole = request(head, "username=alice", false);
  expect_part(K::BodyField, "username", whole->in, "alice", "whole");
  const auto cut = request(head, "username=ali", false);
  expect_part(K::BodyField, "username", cut->in, kUnknown, "cut");
  cut->in.body_complete = true;  // the caller knows better (e.g. a chunked body read to its end)
  expect_part(K::BodyField, "username", cut->in, "ali", "cut, but the caller says whole");
  // An announced body of which nothing is held: unknown, not Missing.
  const auto nothing = request(head, "", false);
  expect_part(K::BodyField, "username", nothing->in, kUnknown, "nothing held");
  const auto chunked = request(
      "POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n",
      "", false);
  expect_part(K::BodyField, "username", chunked->in, kUnknown, "chunked, nothing held");
  chunked->in.body_complete = true;
  expect_part(K::BodyField, "username", chunked->in, std::nullopt, "chunked, empty");
  const auto empty = request(
      "POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
      "Content-Length: 0\r\n\r\n",
      "", false);
  expect_part(K::BodyField, "username", empty->in, std::nullopt, "Content-Length: 0");
}

TEST(BuildKey, EmailDomain) {
  const std::vector<std::pair<std::string, std::optional<std::string>>> cases = {
      {"alice@example.com", "example.com"},
      {"Alice@Example.COM", "example.com"},
      {"  alice@example.com.  ", "example.com"},
      {"alice@example.com..", "example.com."},
      {"a@b@example.com", "example.com"},
      {"\\\"a@b\\\"@example.com", "example.com"},
      {"alice@ example.com", "example.com"},
      {"alice@\\u00c9xample.com", "\xc3\x89xample.com"},
      {std::string(300, 'x') + "@example.com", "example.com"},
      {"alice@" + std::string(300, 'd'), std::string(kMaxPartBytes, 'd')},
      {"alice", std::nullopt},
      {"alice@", std::nullopt},
      {"alice@  ", std::nullopt},
      {"alice@.", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& [email, want] : cases) {
    const auto r = post(kJson, "{\"email\":\"" + email + "\"}");
    EXPECT_EQ(key_of({{K::EmailDomain, "email"}}, r->in), one(K::EmailDomain, want)) << email;
  }
  const auto form = post(kForm, "email=Bob%40Example.org");
  EXPECT_EQ(key_of({{K::EmailDomain, "email"}}, form->in), one(K::EmailDomain, "example.org"));
  const auto absent = post(kForm, "mail=bob@example.org");
  EXPECT_EQ(key_of({{K::EmailDomain, "email"}}, absent->in), std::nullopt);

  // Duplicates compare canonical domains.
  const std::vector<std::pair<std::string, Expect>> dups = {
      {R"({"email":"a@x.com","email":"B@X.COM."})", "x.com"},
      {R"({"email":"a@x.com","email":"a@y.com"})", kUnknown},
      {R"({"email":"alice","email":"a@x.com"})", kUnknown},
      {R"({"email":"alice","email":"bob"})", std::nullopt},
      {R"({"email":"a@x.com","email":7})", kUnknown},
  };
  for (const auto& [body, want] : dups) {
    expect_part(K::EmailDomain, "email", post(kJson, body)->in, want, body);
  }
  expect_part(K::EmailDomain, "email", post(kForm, "email=a@x.com&email=b@y.com")->in, kUnknown,
              "form duplicate");
  expect_part(K::EmailDomain, "email", post(kForm, "email=a@x.com&e", false)->in, kUnknown,
              "form cut");
}

// One mailbox, one key: the spellings a farm uses to open many accounts on one inbox.
TEST(BuildKey, Email) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"alice@example.com", "alice@example.com"},
      {" Alice@Example.COM ", "alice@example.com"},
      {"alice+promo@example.com", "alice@example.com"},
      {"alice+a+b@example.com.", "alice@example.com"},
      {"a.l.i.c.e@example.com", "a.l.i.c.e@example.com"},  // dots matter elsewhere
      {"A.L.I.C.E+x@Gmail.com", "alice@gmail.com"},
      {"a.lice@googlemail.com", "alice@gmail.com"},
      {"+x@gmail.com", "@gmail.com"},
      {"not-an-address", "not-an-address"},
      {"a@b@example.com", "a@b@example.com"},
  };
  for (const auto& [email, want] : cases) {
    const auto r = post(kJson, "{\"email\":\"" + email + "\"}");
    EXPECT_EQ(key_of({{K::Email, "email"}}, r->in), one(K::Email, want)) << email;
  }
  const auto form = post(kForm, "email=Bob%2Btag%40Example.org");
  EXPECT_EQ(key_of({{K::Email, "email"}}, form->in), one(K::Email, "bob@example.org"));
  EXPECT_TRUE(needs_body(std::vector<KeyPart>{{K::Email, "email"}}));
  expect_part(K::Email, "email", post(kForm, "email=a@x.com&e", false)->in, kUnknown, "form cut");
}

TEST(BuildKey, DeviceId) {
  const auto r = post(kForm, "x=1");
  EXPECT_EQ(key_of({{K::DeviceId, ""}}, r->in), std::nullopt);  // not a resident
  KeyInputs in = r->in;
  in.device = "0123456789abcdef";
  EXPECT_EQ(key_of({{K::DeviceId, ""}}, in), one(K::DeviceId, "0123456789abcdef"));
}

TEST(BuildKey, TlsJa4) {
  const auto r = post(kForm, "x=1");
  EXPECT_EQ(key_of({{K::TlsJa4, ""}}, r->in), std::nullopt);  // clear text: the limit skips it
  KeyInputs in = r->in;
  in.ja4 = "t13d1517h2_8daaf6152771_cb7bf5808d99";
  EXPECT_EQ(key_of({{K::TlsJa4, ""}}, in), one(K::TlsJa4, "t13d1517h2_8daaf6152771_cb7bf5808d99"));
  // Byte-exact (JA4 is case-sensitive only in its ALPN characters), and its own kind: the same
  // text as a device id is another key.
  KeyInputs other = in;
  other.ja4 = "t13d1517H2_8daaf6152771_cb7bf5808d99";
  EXPECT_NE(key_of({{K::TlsJa4, ""}}, other), key_of({{K::TlsJa4, ""}}, in));
  KeyInputs device = r->in;
  device.device = in.ja4;
  EXPECT_NE(key_of({{K::DeviceId, ""}}, device), key_of({{K::TlsJa4, ""}}, in));
}

TEST(BuildKey, H2Fingerprint) {
  const auto r = post(kForm, "x=1");
  EXPECT_EQ(key_of({{K::H2Fingerprint, ""}}, r->in), std::nullopt);  // HTTP/1.1
  KeyInputs in = r->in;
  in.h2_fingerprint = "1:65536;4:131072|12517377|0|m,a,s,p";
  EXPECT_EQ(key_of({{K::H2Fingerprint, ""}}, in),
            one(K::H2Fingerprint, "1:65536;4:131072|12517377|0|m,a,s,p"));
}

// Each way of hiding a value from us while the application still sees one lands in the one
// unknown bucket of the limit: a flood of such requests is limited as a whole, and never shares a
// bucket with a real value.
TEST(BuildKey, EvasionsShareOneUnknownBucket) {
  const std::vector<KeyPart> parts = {{K::BodyField, "username"}};
  const Key sentinel = unknown_key(K::BodyField);
  const auto alice = post(kForm, "username=alice");
  const auto rnd = post(kForm, "username=rnd");
  ASSERT_EQ(key_of(parts, alice->in), one(K::BodyField, "alice"));
  ASSERT_NE(key_of(parts, alice->in), sentinel);
  ASSERT_NE(key_of(parts, rnd->in), sentinel);
  EXPECT_FALSE(unknown_of(parts, alice->in));

  const std::string junk(5000, 'j');
  std::vector<std::pair<std::string, std::unique_ptr<Req>>> evasions;
  evasions.emplace_back("form duplicate", post(kForm, "username=rnd&username=alice"));
  evasions.emplace_back("form duplicate, other", post(kForm, "username=rnd2&username=alice"));
  evasions.emplace_back("json duplicate", post(kJson, R"({"username":"rnd","username":"alice"})"));
  evasions.emplace_back("json duplicate up to case",
                        post(kJson, R"({"username":"rnd","UserName":"alice"})"));
  evasions.emplace_back("json deeper than the cap",
                        post(kJson, "{\"a\":" + nest(10001, "") + ",\"username\":\"alice\"}"));
  evasions.emplace_back("form junk first", held(kForm, "junk=" + junk + "&username=alice", 4096));
  evasions.emplace_back("json junk first",
                        held(kJson, "{\"junk\":\"" + junk + "\",\"username\":\"alice\"}", 4096));
  evasions.emplace_back("json deep junk first",
                        held(kJson, "{\"a\":" + nest(3000, "") + ",\"username\":\"alice\"}", 4096));
  evasions.emplace_back("form value cut", held(kForm, "username=alice" + junk, 4096));
  evasions.emplace_back("json value cut",
                        held(kJson, "{\"username\":\"alice" + junk + "\"}", 4096));
  evasions.emplace_back("form duplicate beyond the prefix",
                        held(kForm, "username=rnd&junk=" + junk + "&username=alice", 4096));
  evasions.emplace_back(
      "json duplicate beyond the prefix",
      held(kJson, "{\"username\":\"rnd\",\"junk\":\"" + junk + "\",\"username\":\"alice\"}", 4096));
  evasions.emplace_back("json bad escape in the value", post(kJson, R"({"username":"alice\x"})"));
  evasions.emplace_back("json non-string value", post(kJson, R"({"username":["alice"]})"));
  evasions.emplace_back("text/plain", post("text/plain", R"({"username":"alice"})"));
  evasions.emplace_back("multipart", post("multipart/form-data; boundary=b",
                                          "--b\r\nContent-Disposition: form-data; "
                                          "name=\"username\"\r\n\r\nalice\r\n--b--\r\n"));
  for (const auto& [what, r] : evasions) {
    EXPECT_EQ(key_of(parts, r->in), sentinel) << what;
    EXPECT_TRUE(unknown_of(parts, r->in)) << what;
  }

  // Not evasions: a whole, well-formed body without the field, or no body, is not limited.
  const std::vector<std::pair<std::string, std::string>> without = {
      {kForm, "password=x"}, {kJson, R"({"password":"x"})"}, {kJson, "{}"}, {kForm, ""}};
  for (const auto& [type, body] : without) {
    EXPECT_EQ(key_of(parts, post(type, body)->in), std::nullopt) << body;
  }
  EXPECT_EQ(key_of(parts, held(kForm, "password=x", 100)->in), std::nullopt);
}

// A name given twice with different values in the head: the application may read either, so
// every such request of a limit shares the one unknown bucket of that part, whatever the values.
TEST(BuildKey, HeadDuplicatesShareOneUnknownBucket) {
  struct Kind {
    KeyPart part;
    std::string (*dup)(const std::string&, const std::string&);
    std::string (*single)(const std::string&);
  };
  const std::vector<Kind> kinds = {
      {{K::Header, "x-api-key"},
       [](const std::string& a, const std::string& b) {
         return "GET / HTTP/1.1\r\nHost: h\r\nX-Api-Key: " + a + "\r\nx-api-key: " + b + "\r\n\r\n";
       },
       [](const std::string& a) {
         return "GET / HTTP/1.1\r\nHost: h\r\nX-Api-Key: " + a + "\r\n\r\n";
       }},
      {{K::Cookie, "sid"},
       [](const std::string& a, const std::string& b) {
         return "GET / HTTP/1.1\r\nHost: h\r\nCookie: sid=" + a + "\r\nCookie: x=1; sid=" + b +
                "\r\n\r\n";
       },
       [](const std::string& a) {
         return "GET / HTTP/1.1\r\nHost: h\r\nCookie: sid=" + a + "\r\n\r\n";
       }},
      {{K::Query, "user"},
       [](const std::string& a, const std::string& b) {
         return "GET /p?user=" + a + "&x=1&user=" + b + " HTTP/1.1\r\nHost: h\r\n\r\n";
       },
       [](const std::string& a) { return "GET /p?user=" + a + " HTTP/1.1\r\nHost: h\r\n\r\n"; }},
  };
  for (const auto& k : kinds) {
    const std::vector<KeyPart> parts = {k.part};
    const Key sentinel = unknown_key(k.part.kind);
    const std::string what = std::string(k.part.name);
    for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
             {"rnd1", "alice"}, {"rnd2", "alice"}, {"alice", "rnd3"}, {"", "alice"}, {"a", "b"}}) {
      const auto r = request(k.dup(a, b));
      EXPECT_EQ(key_of(parts, r->in), sentinel) << what << " " << a << "/" << b;
      EXPECT_TRUE(unknown_of(parts, r->in)) << what;
      // Equal duplicates are the value, as a single occurrence is.
      const auto same = request(k.dup(b, b));
      const auto single = request(k.single(b));
      EXPECT_EQ(key_of(parts, same->in), one(k.part.kind, b)) << what;
      EXPECT_EQ(key_of(parts, single->in), one(k.part.kind, b)) << what;
      EXPECT_NE(key_of(parts, single->in), sentinel) << what;
      EXPECT_FALSE(unknown_of(parts, same->in)) << what;
    }
    // In a tuple, the other parts still tell clients apart.
    const std::vector<KeyPart> tuple = {{K::ClientIp, ""}, k.part};
    const auto r = request(k.dup("x", "y"));
    EXPECT_EQ(key_of(tuple, r->in),
              frames_key({{static_cast<std::uint8_t>(K::ClientIp), bytes(r->in.client.bytes)},
                          unknown_frame(k.part.kind)}))
        << what;
    EXPECT_TRUE(unknown_of(tuple, r->in)) << what;
  }
  EXPECT_NE(unknown_key(K::Header), unknown_key(K::Cookie));
  EXPECT_NE(unknown_key(K::Cookie), unknown_key(K::Query));
  EXPECT_NE(unknown_key(K::Query), unknown_key(K::BodyField));
}

TEST(BuildKey, UnknownPartInATuple) {
  const std::vector<KeyPart> parts = {{K::ClientIp, ""}, {K::BodyField, "username"}};
  const auto a = post(kForm, "username=x&username=y");
  const auto b = post(kJson, R"({"username":"x","username":"y"})");
  const Key want = frames_key({{static_cast<std::uint8_t>(K::ClientIp), bytes(a->in.client.bytes)},
                               unknown_frame(K::BodyField)});
  EXPECT_EQ(key_of(parts, a->in), want);
  EXPECT_EQ(key_of(parts, b->in), want);
  // The other parts still tell clients apart.
  b->in.client = client::make_ipv4(10, 0, 0, 1);
  EXPECT_NE(key_of(parts, b->in), want);
  EXPECT_TRUE(unknown_of(parts, b->in));
  // An absent part still makes the whole tuple Missing, unknown parts or not.
  EXPECT_EQ(key_of({{K::BodyField, "username"}, {K::Header, "x-absent"}}, a->in), std::nullopt);
  EXPECT_EQ(key_of({{K::Header, "x-absent"}, {K::BodyField, "username"}}, a->in), std::nullopt);
  // Each kind has its own sentinel.
  EXPECT_NE(unknown_key(K::BodyField), unknown_key(K::EmailDomain));
  const auto c = post(kJson, R"({"email":"a@x.com","email":"b@y.com"})");
  EXPECT_EQ(key_of({{K::EmailDomain, "email"}}, c->in), unknown_key(K::EmailDomain));
  // An empty value is a value, not the sentinel.
  EXPECT_EQ(key_of({{K::BodyField, "username"}}, post(kForm, "username=")->in),
            one(K::BodyField, ""));
  EXPECT_NE(one(K::BodyField, ""), unknown_key(K::BodyField));
  // The flag is written on every call.
  Key k;
  bool unknown = true;
  EXPECT_EQ(build_key(parts, post(kForm, "username=z")->in, kSeed, k, &unknown), KeyBuild::Ok);
  EXPECT_FALSE(unknown);
  // Many parts, some unknown: still one key per tuple of values.
  std::vector<KeyPart> many;
  for (int i = 0; i < 10; ++i) {
    many.push_back({K::BodyField, "username"});
    many.push_back({K::ClientIp, ""});
  }
  EXPECT_EQ(key_of(many, a->in), key_of(many, post(kForm, "username=1&username=2")->in));
  EXPECT_NE(key_of(many, a->in), key_of(many, post(kForm, "username=1")->in));
}

TEST(BuildKey, UsernameSpellingsShareOneBucket) {
  const std::vector<std::pair<std::string, std::string>> spellings = {
      {kForm, "username=Alice"},
      {kForm, "username=alice"},
      {kForm, "username=%61lice"},
      {kForm, "username=%41LICE"},
      {kForm, "username=ALICE"},
      {kForm, "username=+alice+"},
      {kForm, "password=x&username=aLiCe"},
      {kJson, R"({"username":"alice"})"},
      {kJson, R"({"username":"ALICE"})"},
      {kJson, R"({"username":"\u0061lice"})"},
      {kJson, R"({"username":"\u0041\u004c\u0049\u0043\u0045"})"},
      {kJson, R"({"username":" alice\t"})"},
      {"application/ld+json", R"({"password":"x","username":"Alice"})"},
  };
  const std::vector<KeyPart> parts = {{K::BodyField, "username"}};
  const auto want = one(K::BodyField, "alice");
  ASSERT_TRUE(want);
  for (const auto& [type, body] : spellings) {
    const auto r = post(type, body);
    EXPECT_EQ(key_of(parts, r->in), want) << body;
  }
  // Different values, different buckets.
  for (const std::string other : {"alice2", "bob", "al ice", "\xc3\xa0lice"}) {
    const auto r = post(kForm, "username=" + other);
    EXPECT_NE(key_of(parts, r->in), want) << other;
  }
}

TEST(BuildKey, DifferentValuesDifferentKeys) {
  std::vector<Key> seen;
  for (const char* v : {"a", "b", "A", "", "ab", "a%01", "%00", "%00%00", "%FF", "a+b"}) {
    const auto r = get(std::string("/?v=") + v);
    const auto k = key_of({{K::Query, "v"}}, r->in);
    ASSERT_TRUE(k);
    for (const Key& s : seen) EXPECT_NE(s, *k) << v;
    seen.push_back(*k);
  }
}

TEST(BuildKey, TupleFramingIsUnambiguous) {
  const auto r = get("/?a=ab&b=c&c=a&d=bc");
  const auto key = [&](std::string x, std::string y) {
    return key_of({{K::Query, std::move(x)}, {K::Query, std::move(y)}}, r->in);
  };
  // ("ab","c") vs ("a","bc"); (a,b) vs (b,a).
  EXPECT_NE(key("a", "b"), key("c", "d"));
  EXPECT_NE(key("a", "b"), key("b", "a"));
  EXPECT_EQ(key("a", "b"), tuple_key({{K::Query, "ab"}, {K::Query, "c"}}));
  // Same value, different kind.
  const auto h = get("/?ua=x", "UA: x\r\n");
  EXPECT_NE(key_of({{K::Query, "ua"}}, h->in), key_of({{K::Header, "ua"}}, h->in));
  // Any absent part makes the whole tuple absent.
  EXPECT_EQ(key_of({{K::ClientIp, ""}, {K::Query, "zz"}}, r->in), std::nullopt);
}

TEST(BuildKey, LongValuesAreCutConsistently) {
  const std::string base(kMaxPartBytes, 'a');
  const auto h1 = get("/", "X-V: " + base + "\r\n");
  const auto h2 = get("/", "X-V: " + base + "tail\r\n");
  const auto h3 = get("/", "X-V: " + base + std::string(1000, 'z') + "\r\n");
  const std::vector<KeyPart> hv = {{K::Header, "x-v"}};
  EXPECT_EQ(key_of(hv, h1->in), one(K::Header, base));
  EXPECT_EQ(key_of(hv, h2->in), key_of(hv, h1->in));
  EXPECT_EQ(key_of(hv, h3->in), key_of(hv, h1->in));
  const auto shorter = get("/", "X-V: " + base.substr(1) + "\r\n");
  EXPECT_NE(key_of(hv, shorter->in), key_of(hv, h1->in));

  // Body fields: cut after folding; whitespace inside the kept bytes stays when the value goes on.
  const std::vector<KeyPart> bf = {{K::BodyField, "username"}};
  const auto b1 = post(kForm, "username=" + std::string(300, 'A'));
  EXPECT_EQ(key_of(bf, b1->in), one(K::BodyField, std::string(kMaxPartBytes, 'a')));
  const std::string spaced = std::string(10, ' ') + std::string(250, 'a') + std::string(100, ' ');
  const auto b2 = post(kJson, "{\"username\":\"" + spaced + "b\"}");
  EXPECT_EQ(key_of(bf, b2->in), one(K::BodyField, std::string(250, 'a') + std::string(6, ' ')));
  const auto b3 = post(kJson, "{\"username\":\"" + spaced + "\"}");
  EXPECT_EQ(key_of(bf, b3->in), one(K::BodyField, std::string(250, 'a')));
  // A multi-byte character straddling the cut is cut too (bytes, not characters).
  const auto b4 = post(kJson, "{\"username\":\"" + std::string(255, 'a') + "\\u00e9\"}");
  EXPECT_EQ(key_of(bf, b4->in), one(K::BodyField, std::string(255, 'a') + "\xc3"));
}

TEST(BuildKey, ManyLongPartsStillFitAndStayDistinct) {
  // More maximal parts than the scratch holds at once.
  std::string fields;
  std::vector<KeyPart> parts;
  for (int i = 0; i < 12; ++i) {
    const std::string name = "x-" + std::to_string(i);
    fields += name + ": " + std::string(kMaxPartBytes, static_cast<char>('a' + i)) + "\r\n";
    parts.push_back({K::Header, name});
  }
  const auto r = get("/", fields);
  const auto k = key_of(parts, r->in);
  ASSERT_TRUE(k);
  EXPECT_EQ(key_of(parts, r->in), k);
  std::string first_changed = fields;
  first_changed[fields.find(':') + 2] = 'Z';
  EXPECT_NE(key_of(parts, get("/", first_changed)->in), k);
  std::string last_changed = fields;
  last_changed[fields.size() - 3] = 'Z';
  EXPECT_NE(key_of(parts, get("/", last_changed)->in), k);
  std::vector<KeyPart> fewer(parts.begin(), parts.end() - 1);
  EXPECT_NE(key_of(fewer, r->in), k);
}

TEST(BuildKey, SeedsSeparateKeys) {
  const auto r = post(kJson, R"({"username":"alice"})");
  const std::vector<KeyPart> parts = {{K::ClientIp, ""}, {K::BodyField, "username"}};
  const auto a = key_of(parts, r->in, HashSeed{1, 2});
  const auto b = key_of(parts, r->in, HashSeed{1, 3});
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(key_of(parts, r->in, HashSeed{1, 2}), a);
  EXPECT_NE(key_of({}, r->in, HashSeed{1, 2}), key_of({}, r->in, HashSeed{2, 2}));
}

TEST(NeedsBody, OnlyBodyParts) {
  EXPECT_FALSE(needs_body({}));
  const std::vector<KeyPart> head_only = {
      {K::ClientIp, ""}, {K::ClientPrefix, ""}, {K::Header, "a"}, {K::Cookie, "b"},
      {K::Query, "c"},   {K::Route, ""},        {K::Method, ""}};
  EXPECT_FALSE(needs_body(head_only));
  std::vector<KeyPart> with_body = head_only;
  with_body.push_back({K::BodyField, "username"});
  EXPECT_TRUE(needs_body(with_body));
  EXPECT_TRUE(needs_body(std::vector<KeyPart>{{K::EmailDomain, "email"}}));
}

}  // namespace
}  // namespace gh::ratelimit
