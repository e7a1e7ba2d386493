// parse_request: every accepted form and every refusal, each with its exact error and status.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "http/parser.h"
#include "unit/http/http_test_util.h"

namespace gh::http {
namespace {

using namespace std::string_view_literals;
using testing::expect_views_inside;

struct Parsed {
  ParseResult result;
  RequestHead head;
};

Parsed parse(std::string_view buf, const HeadLimits& limits = {}) {
  Parsed p;
  p.result = parse_request(buf, limits, p.head);
  return p;
}

// Parses a message that must be accepted whole and checks the invariants every success shares.
RequestHead accept(std::string_view buf, const HeadLimits& limits = {}) {
  Parsed p = parse(buf, limits);
  EXPECT_EQ(p.result.status, ParseStatus::Complete) << describe(p.result.error);
  EXPECT_EQ(p.result.error, ParseError::None);
  EXPECT_EQ(p.result.consumed, buf.size());
  expect_views_inside(buf, p.head);
  return p.head;
}

// ---------------------------------------------------------------------------------------------
// Acceptance

TEST(RequestAccept, SimpleGet) {
  constexpr auto buf = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"sv;
  const RequestHead h = accept(buf);
  EXPECT_EQ(h.method, Method::Get);
  EXPECT_EQ(h.method_text, "GET");
  EXPECT_EQ(h.target, "/index.html");
  EXPECT_EQ(h.path, "/index.html");
  EXPECT_EQ(h.query, "");
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_EQ(h.host, "example.com");
  EXPECT_EQ(h.body, BodyKind::None);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_FALSE(h.upgrade);
  ASSERT_EQ(h.field_count, 2);
  EXPECT_EQ(h.fields[0].name, "Host");
  EXPECT_EQ(h.fields[0].value, "example.com");
  EXPECT_EQ(h.fields[1].name, "Accept");
  EXPECT_EQ(h.fields[1].value, "*/*");
}

TEST(RequestAccept, QueryAfterFirstQuestionMark) {
  const RequestHead h = accept("GET /login?next=/a?b&x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.path, "/login");
  EXPECT_EQ(h.query, "next=/a?b&x=1");
}

TEST(RequestAccept, EmptyQuery) {
  const RequestHead h = accept("GET /p? HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.path, "/p");
  EXPECT_EQ(h.query, "");
}

TEST(RequestAccept, LeadingEmptyLinesSkippedAndConsumed) {
  constexpr auto buf = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"sv;
  const RequestHead h = accept(buf);
  EXPECT_EQ(h.method_text, "GET");
  EXPECT_EQ(h.target, "/");
}

TEST(RequestAccept, FourLeadingEmptyLines) {
  accept("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(RequestAccept, AbsoluteFormHttp) {
  const RequestHead h =
      accept("GET http://Example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.COM:8080\r\n\r\n");
  EXPECT_EQ(h.target, "http://Example.com:8080/a/b?c=d");
  EXPECT_EQ(h.host, "Example.com:8080");
  EXPECT_EQ(h.path, "/a/b");
  EXPECT_EQ(h.query, "c=d");
}

TEST(RequestAccept, AbsoluteFormHttpsUpperCaseScheme) {
  const RequestHead h = accept("GET HTTPS://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n");
  EXPECT_EQ(h.host, "a.example");
  EXPECT_EQ(h.path, "/x");
}

TEST(RequestAccept, AbsoluteFormWithoutPathGetsSlashInsideBuffer) {
  constexpr auto buf = "GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n"sv;
  const RequestHead h = accept(buf);
  EXPECT_EQ(h.path, "/");
  EXPECT_EQ(h.query, "");
}

TEST(RequestAccept, AbsoluteFormQueryWithoutPath) {
  const RequestHead h = accept("GET http://a.example?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n");
  EXPECT_EQ(h.path, "/");
  EXPECT_EQ(h.query, "q=1");
}

TEST(RequestAccept, AbsoluteFormHttp10WithoutHost) {
  const RequestHead h = accept("GET http://a.example/ HTTP/1.0\r\n\r\n");
  EXPECT_EQ(h.host, "a.example");
}

TEST(RequestAccept, AbsoluteFormIpv6) {
  const RequestHead h = accept("GET http://[::1]:80/ HTTP/1.1\r\nHost: [::1]:80\r\n\r\n");
  EXPECT_EQ(h.host, "[::1]:80");
}

TEST(RequestAccept, ConnectAuthorityForm) {
  const RequestHead h = accept("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  EXPECT_EQ(h.method, Method::Connect);
  EXPECT_EQ(h.target, "example.com:443");
  EXPECT_EQ(h.host, "example.com:443");
}

TEST(RequestAccept, OptionsAsterisk) {
  const RequestHead h = accept("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.method, Method::Options);
  EXPECT_EQ(h.target, "*");
  EXPECT_EQ(h.path, "*");
}

TEST(RequestAccept, Http10DefaultsToClose) {
  const RequestHead h = accept("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(h.version_minor, 0);
  EXPECT_FALSE(h.keep_alive);
  EXPECT_EQ(h.host, "");
}

TEST(RequestAccept, Http10KeepAliveToken) {
  const RequestHead h = accept("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  EXPECT_TRUE(h.keep_alive);
}

TEST(RequestAccept, Http11ConnectionClose) {
  const RequestHead h = accept("GET / HTTP/1.1\r\nHost: a\r\nConnection: te, CLOSE\r\n\r\n");
  EXPECT_FALSE(h.keep_alive);
}

// Connection may name options and hop-by-hop fields only; these are what clients send.
TEST(RequestAccept, ConnectionHopByHopOptions) {
  for (std::string_view c : {"close"sv, "Keep-Alive"sv, "keep-alive, Upgrade"sv, "TE"sv,
                             "Upgrade, HTTP2-Settings"sv, "keep-alive, te, trailer"sv,
                             "proxy-connection"sv, ""sv, " , "sv}) {
    const std::string buf =
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: " + std::string(c) + "\r\n\r\n";
    accept(buf);
  }
}

TEST(RequestAccept, ConnectionTokensAcrossFields) {
  const RequestHead h = accept(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: ,keep-alive ,\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\n\r\n");
  EXPECT_TRUE(h.keep_alive);
  EXPECT_TRUE(h.upgrade);
}

TEST(RequestAccept, UpgradeNeedsBothFields) {
  EXPECT_FALSE(accept("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n").upgrade);
  EXPECT_FALSE(accept("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n").upgrade);
  EXPECT_TRUE(
      accept("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nupgrade: h2c\r\n\r\n").upgrade);
}

TEST(RequestAccept, Http10CloseWinsOverKeepAlive) {
  EXPECT_FALSE(accept("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
}

TEST(RequestAccept, ExpectContinueCaseInsensitive) {
  EXPECT_TRUE(
      accept("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
          .expect_continue);
  EXPECT_FALSE(accept("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n").expect_continue);
}

TEST(RequestAccept, ExpectContinueIgnoredInHttp10) {
  EXPECT_FALSE(accept("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
}

TEST(RequestAccept, ContentLengthBody) {
  const RequestHead h = accept("POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
  EXPECT_EQ(h.method, Method::Post);
  EXPECT_EQ(h.body, BodyKind::ContentLength);
  EXPECT_EQ(h.content_length, 42u);
}

TEST(RequestAccept, ContentLengthZeroIsContentLength) {
  const RequestHead h = accept("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(h.body, BodyKind::ContentLength);
  EXPECT_EQ(h.content_length, 0u);
}

TEST(RequestAccept, ContentLengthLeadingZerosAndOws) {
  const RequestHead h = accept("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: \t 007 \t\r\n\r\n");
  EXPECT_EQ(h.content_length, 7u);
}

TEST(RequestAccept, ContentLengthMaximum) {
  const RequestHead h =
      accept("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n");
  EXPECT_EQ(h.content_length, std::uint64_t{1} << 62);
}

TEST(RequestAccept, ChunkedBody) {
  const RequestHead h =
      accept("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  CHUNKED \r\n\r\n");
  EXPECT_EQ(h.body, BodyKind::Chunked);
}

TEST(RequestAccept, ValueOwsTrimmedAndEmptyValueAllowed) {
  const RequestHead h =
      accept("GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v  w \t\r\nX-B:\r\nX-C:   \r\n\r\n");
  ASSERT_EQ(h.field_count, 4);
  EXPECT_EQ(h.fields[0].value, "a");
  EXPECT_EQ(h.fields[1].value, "v  w");
  EXPECT_EQ(h.fields[2].value, "");
  EXPECT_EQ(h.fields[3].value, "");
}

TEST(RequestAccept, ObsTextInValue) {
  const RequestHead h = accept("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\x80\xff\r\n\r\n");
  EXPECT_EQ(h.fields[1].value, "caf\xc3\xa9\x80\xff");
}

TEST(RequestAccept, TokenCharactersInFieldName) {
  const RequestHead h = accept("GET / HTTP/1.1\r\nHost: a\r\nX!#$%&'*+-.^_`|~9: v\r\n\r\n");
  EXPECT_EQ(h.fields[1].name, "X!#$%&'*+-.^_`|~9");
}

TEST(RequestAccept, MethodEnumAndOther) {
  EXPECT_EQ(accept("PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n").method, Method::Other);
  EXPECT_EQ(accept("get / HTTP/1.1\r\nHost: a\r\n\r\n").method, Method::Other);  // case-sensitive
  EXPECT_EQ(accept("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n").method, Method::Delete);
  EXPECT_EQ(accept("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n").method_text, "M-SEARCH");
}

TEST(RequestAccept, HostForms) {
  for (std::string_view host :
       {"a"sv, "example.com"sv, "EXAMPLE.com:65535"sv, "127.0.0.1"sv, "10.0.0.1:8080"sv, "[::1]"sv,
        "[2001:db8::1]:443"sv, "[::ffff:192.0.2.1]"sv, "[1:2:3:4:5:6:7:8]"sv, "xn--bcher-kva.de"sv,
        "a%2Db.example"sv, "my_host~1"sv}) {
    const std::string buf = "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    EXPECT_EQ(accept(buf).host, host) << host;
  }
}

TEST(RequestAccept, FieldCountAtLimit) {
  HeadLimits limits;
  limits.max_fields = 3;
  const RequestHead h = accept("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits);
  EXPECT_EQ(h.field_count, 3);
}

TEST(RequestAccept, HundredFieldsAtHardCeiling) {
  std::string buf = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 1; i < 100; ++i) {
    buf += "X-" + std::to_string(i) + ": v\r\n";
  }
  buf += "\r\n";
  EXPECT_EQ(accept(buf).field_count, 100);
}

TEST(RequestAccept, HeadExactlyAtByteLimit) {
  constexpr auto buf = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"sv;
  HeadLimits limits;
  limits.max_head_bytes = buf.size();
  accept(buf, limits);
}

TEST(RequestAccept, TargetExactlyAtLimit) {
  HeadLimits limits;
  limits.max_target_bytes = 8;
  EXPECT_EQ(accept("GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n", limits).target, "/1234567");
}

TEST(RequestAccept, CompleteHeadIgnoresFollowingBytes) {
  constexpr auto buf = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"sv;
  Parsed p = parse(buf);
  ASSERT_EQ(p.result.status, ParseStatus::Complete);
  EXPECT_EQ(buf.substr(p.result.consumed), "abc");
}

TEST(RequestAccept, PipelinedRequests) {
  constexpr auto buf = "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: b\r\n\r\n"sv;
  Parsed first = parse(buf);
  ASSERT_EQ(first.result.status, ParseStatus::Complete);
  EXPECT_EQ(first.head.path, "/one");
  EXPECT_EQ(buf.substr(first.result.consumed).substr(0, 8), "GET /two");
  const std::string_view rest = buf.substr(first.result.consumed);
  Parsed second = parse(rest);
  ASSERT_EQ(second.result.status, ParseStatus::Complete);
  EXPECT_EQ(second.result.consumed, rest.size());
  EXPECT_EQ(second.head.path, "/two");
  EXPECT_EQ(second.head.host, "b");
  expect_views_inside(rest, second.head);
}

TEST(RequestAccept, ReusedHeadIsReset) {
  RequestHead h;
  ASSERT_EQ(
      parse_request(
          "POST /a?b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", {},
          h)
          .status,
      ParseStatus::Complete);
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", {}, h).status,
            ParseStatus::Complete);
  EXPECT_EQ(h.body, BodyKind::None);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_EQ(h.query, "");
  EXPECT_FALSE(h.expect_continue);
  EXPECT_EQ(h.field_count, 1);
}

TEST(RequestNeedMore, EmptyAndPartialInput) {
  for (std::string_view buf :
       {""sv, "\r"sv, "\r\n"sv, "G"sv, "GET /"sv, "GET / HTTP/1.1\r"sv,
        "GET / HTTP/1.1\r\nHost: a\r\n"sv, "GET / HTTP/1.1\r\nHost: a\r\n\r"sv}) {
    const Parsed p = parse(buf);
    EXPECT_EQ(p.result.status, ParseStatus::NeedMore) << testing::printable(buf);
    EXPECT_EQ(p.result.error, ParseError::None);
    EXPECT_EQ(p.result.consumed, 0u);
  }
}

TEST(RequestNeedMore, BelowHeadLimitIsNeedMoreAtLimitIsError) {
  HeadLimits limits;
  limits.max_head_bytes = 32;
  const std::string partial = "GET / HTTP/1.1\r\nX-Long: 0123456789abcdef";  // 41 bytes, no end
  EXPECT_EQ(parse(std::string_view(partial).substr(0, 31), limits).result.status,
            ParseStatus::NeedMore);
  const Parsed at = parse(std::string_view(partial).substr(0, 32), limits);
  EXPECT_EQ(at.result.status, ParseStatus::Error);
  EXPECT_EQ(at.result.error, ParseError::HeadTooLarge);
}

TEST(RequestNeedMore, UriTooLongBeforeLineCompletes) {
  HeadLimits limits;
  limits.max_target_bytes = 10;
  const Parsed p = parse("GET /0123456789", limits);  // 11 target bytes, no SP yet
  EXPECT_EQ(p.result.status, ParseStatus::Error);
  EXPECT_EQ(p.result.error, ParseError::UriTooLong);
  EXPECT_EQ(status_for(p.result.error), 414);
  EXPECT_EQ(parse("GET /012345678", limits).result.status, ParseStatus::NeedMore);
}

// The word-at-a-time scan must find a bad byte at any offset and pass HTAB anywhere.
TEST(RequestScan, BadValueByteAtEveryOffset) {
  struct Bad {
    char byte;
    ParseError error;
  };
  for (const Bad bad :
       {Bad{'\0', ParseError::BadFieldValue}, Bad{'\x01', ParseError::BadFieldValue},
        Bad{'\x1f', ParseError::BadFieldValue}, Bad{'\x7f', ParseError::BadFieldValue},
        Bad{'\n', ParseError::BadLineEnding}}) {
    for (std::size_t at = 0; at < 40; ++at) {
      std::string value(40, 'v');
      value[at] = bad.byte;
      const std::string buf = "GET / HTTP/1.1\r\nHost: a\r\nX: v" + value + "\r\n\r\n";
      const Parsed p = parse(buf);
      EXPECT_EQ(p.result.error, bad.error) << at << " " << testing::printable(buf);
    }
  }
}

TEST(RequestScan, BareCrInValueAtEveryOffset) {
  for (std::size_t at = 0; at < 39; ++at) {
    std::string value(40, 'v');
    value[at] = '\r';
    const std::string buf = "GET / HTTP/1.1\r\nHost: a\r\nX: v" + value + "\r\n\r\n";
    EXPECT_EQ(parse(buf).result.error, ParseError::BadFieldValue) << at;
  }
}

TEST(RequestScan, TabsAndObsTextAtEveryOffset) {
  for (std::size_t at = 0; at < 40; ++at) {
    std::string value(40, 'v');
    value[at] = (at % 2 == 0) ? '\t' : '\xff';
    const std::string buf = "GET / HTTP/1.1\r\nHost: a\r\nX: v" + value + "v\r\n\r\n";
    const RequestHead h = accept(buf);
    EXPECT_EQ(h.fields[1].value, "v" + value + "v");
  }
}

TEST(RequestScan, BadTargetByteAtEveryOffset) {
  for (const char bad : {'#', '\x7f', '\x80', '\xff', '\x01', '\t'}) {
    for (std::size_t at = 1; at < 40; ++at) {
      std::string target(40, 'p');
      target[0] = '/';
      target[at] = bad;
      const std::string buf = "GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n";
      EXPECT_EQ(parse(buf).result.error, ParseError::BadTarget) << at << " " << int(bad);
    }
  }
}

TEST(RequestScan, SpaceInTargetAtEveryOffsetSplitsTheLine) {
  for (std::size_t at = 1; at < 39; ++at) {  // at 39 it would be a double space
    std::string target(40, 'p');
    target[0] = '/';
    target[at] = ' ';
    const std::string buf = "GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n";
    // "GET /ppp ppp HTTP/1.1": the second part is not a version.
    EXPECT_EQ(parse(buf).result.error, ParseError::BadVersion) << at;
  }
}

TEST(RequestScan, UriLimitAtEveryLength) {
  for (std::size_t limit = 1; limit < 40; ++limit) {
    HeadLimits limits;
    limits.max_target_bytes = limit;
    std::string target(limit, 'p');
    target[0] = '/';
    EXPECT_EQ(parse("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n", limits).result.status,
              ParseStatus::Complete);
    EXPECT_EQ(parse("GET " + target + "p HTTP/1.1\r\nHost: a\r\n\r\n", limits).result.error,
              ParseError::UriTooLong);
  }
}

// ---------------------------------------------------------------------------------------------
// Refusals: one named case per rule.

struct Refusal {
  const char* name;
  std::string_view input;
  ParseError error;
  int status;
  HeadLimits limits{};
};

class RequestRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(RequestRefusal, Refused) {
  const Refusal& r = GetParam();
  const Parsed p = parse(r.input, r.limits);
  EXPECT_EQ(p.result.status, ParseStatus::Error) << testing::printable(r.input);
  EXPECT_EQ(p.result.error, r.error) << "got: " << describe(p.result.error) << "\n"
                                     << testing::printable(r.input);
  EXPECT_EQ(status_for(p.result.error), r.status);
  EXPECT_EQ(p.result.consumed, 0u);
}

constexpr HeadLimits small_target() {
  HeadLimits l;
  l.max_target_bytes = 16;
  return l;
}
constexpr HeadLimits small_head() {
  HeadLimits l;
  l.max_head_bytes = 40;
  return l;
}
constexpr HeadLimits few_fields() {
  HeadLimits l;
  l.max_fields = 2;
  return l;
}

const Refusal kRequestRefusals[] = {
    // Connection naming a field that is not hop-by-hop: one hop would drop it, another keep it
    // (Content-Length dropped while the body is forwarded unframed: request smuggling).
    {"ConnectionNamesContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: 1\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionCloseAndContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nConnection: close, Content-Length\r\nContent-Length: 1\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesContentLengthFirst",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: CONTENT-LENGTH\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesTransferEncoding",
     "POST / HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesContentType",
     "POST / HTTP/1.1\r\nHost: a\r\nConnection: content-type\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesContentEncoding",
     "POST / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive,content-encoding\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesHost", "GET / HTTP/1.1\r\nHost: a\r\nConnection: host\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesCookie", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Cookie\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesAuthorization",
     "GET / HTTP/1.1\r\nHost: a\r\nConnection: authorization\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesXForwardedFor",
     "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-forwarded-for\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesCustomField", "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-foo\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionInSecondField",
     "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nConnection: user-agent\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionTokenWithSpace", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep alive\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionHttp10", "GET / HTTP/1.0\r\nConnection: keep-alive, content-length\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    // request line
    {"MethodNotToken", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadMethod, 400},
    {"MethodWithTab", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadMethod, 400},
    {"MethodNonAscii", "G\xc9T / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadMethod, 400},
    {"EmptyMethod", " / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine, 400},
    {"TwoSpacesBeforeTarget", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine,
     400},
    {"TwoSpacesBeforeVersion", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine,
     400},
    {"SpaceAfterVersion", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ParseError::BadRequestLine, 400},
    {"MissingVersion", "GET /\r\nHost: a\r\n\r\n", ParseError::BadRequestLine, 400},
    {"MethodOnly", "GET\r\nHost: a\r\n\r\n", ParseError::BadRequestLine, 400},
    {"TooManyLeadingEmptyLines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     ParseError::BadRequestLine, 400},
    {"TargetControlByte",
     "GET /a\x01"
     "b HTTP/1.1\r\nHost: a\r\n\r\n",
     ParseError::BadTarget, 400},
    {"TargetTab", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget, 400},
    {"TargetNul", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"sv, ParseError::BadTarget, 400},
    {"TargetDel", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget, 400},
    {"TargetNonAscii", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget, 400},
    {"TargetFragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget, 400},
    {"OriginFormWithoutSlash", "GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget,
     400},
    {"AbsoluteFormOtherScheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget,
     400},
    {"AbsoluteFormNoSlashes", "GET http:a/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget,
     400},
    {"AbsoluteFormUserinfo", "GET http://u:p@a/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget,
     400},
    {"AbsoluteFormEmptyAuthority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
     ParseError::BadTarget, 400},
    {"AbsoluteFormBadPort", "GET http://a:8x/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget,
     400},
    {"AuthorityFormWithoutConnect", "GET a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n",
     ParseError::BadTarget, 400},
    {"ConnectOriginForm", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget, 400},
    {"ConnectAbsoluteForm", "CONNECT http://a:1/ HTTP/1.1\r\nHost: a\r\n\r\n",
     ParseError::BadTarget, 400},
    {"ConnectWithoutPort", "CONNECT a.example HTTP/1.1\r\nHost: a.example\r\n\r\n",
     ParseError::BadTarget, 400},
    {"AsteriskWithoutOptions", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget, 400},
    {"AsteriskWithPath", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget, 400},
    {"VersionLowerCase", "GET / http/1.1\r\nHost: a\r\n\r\n", ParseError::BadVersion, 400},
    {"VersionTwoDigitMinor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", ParseError::BadVersion, 400},
    {"VersionNoMinor", "GET / HTTP/1\r\nHost: a\r\n\r\n", ParseError::BadVersion, 400},
    {"VersionGarbage", "GET / HTXP/1.1\r\nHost: a\r\n\r\n", ParseError::BadVersion, 400},
    {"Version20", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ParseError::UnsupportedVersion, 505},
    {"Version09", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", ParseError::UnsupportedVersion, 505},
    {"Version12", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", ParseError::UnsupportedVersion, 505},
    // line endings
    {"BareLfAfterRequestLine", "GET / HTTP/1.1\nHost: a\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareCrAfterRequestLine", "GET / HTTP/1.1\rHost: a\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareLfLeadingLine", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareCrLeadingLine", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareCrInMethod", "GE\rT / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareCrInTarget", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareLfInTarget", "GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareLfAfterField", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareLfEndOfHead", "GET / HTTP/1.1\r\nHost: a\r\n\n", ParseError::BadLineEnding, 400},
    {"BareCrEndOfHead", "GET / HTTP/1.1\r\nHost: a\r\n\rX", ParseError::BadLineEnding, 400},
    {"BareLfInFieldName", "GET / HTTP/1.1\r\nHo\nst: a\r\n\r\n", ParseError::BadLineEnding, 400},
    // limits
    {"UriTooLong", "GET /0123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::UriTooLong, 414,
     small_target()},
    {"UriTooLongAbsoluteForm", "GET http://a.example/0123 HTTP/1.1\r\nHost: a\r\n\r\n",
     ParseError::UriTooLong, 414, small_target()},
    {"HeadTooLarge", "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: 0123456789\r\n\r\n",
     ParseError::HeadTooLarge, 431, small_head()},
    {"HeadTooLargeCountsLeadingEmptyLines",
     "\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: abcdefgh\r\n\r\n", ParseError::HeadTooLarge, 431,
     small_head()},
    {"TooManyFields", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n",
     ParseError::TooManyFields, 431, few_fields()},
    // field syntax
    {"EmptyFieldName", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", ParseError::BadFieldName, 400},
    {"FieldNameNotToken", "GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n", ParseError::BadFieldName,
     400},
    {"FieldNameNonAscii", "GET / HTTP/1.1\r\nHost: a\r\nX\xe9: v\r\n\r\n", ParseError::BadFieldName,
     400},
    {"FieldLineWithoutColon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
     ParseError::BadFieldName, 400},
    {"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ParseError::SpaceBeforeColon, 400},
    {"TabBeforeColon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\n",
     ParseError::SpaceBeforeColon, 400},
    {"ObsFoldSpace", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", ParseError::ObsFold, 400},
    {"ObsFoldTab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", ParseError::ObsFold, 400},
    {"WhitespaceBeforeFirstField", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", ParseError::ObsFold, 400},
    {"ValueNul", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"sv, ParseError::BadFieldValue, 400},
    {"ValueControl",
     "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
     "b\r\n\r\n",
     ParseError::BadFieldValue, 400},
    {"ValueVerticalTab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\vb\r\n\r\n", ParseError::BadFieldValue,
     400},
    {"ValueDel", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", ParseError::BadFieldValue, 400},
    {"ValueBareCr", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", ParseError::BadFieldValue, 400},
    {"ValueBareLf", "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", ParseError::BadLineEnding, 400},
    // Content-Length
    {"ContentLengthNotNumber", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthEmpty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthPlus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthMinus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthInnerSpace", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthList", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthHex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthOverflow64",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551617\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthAbove2Pow62",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387905\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"ContentLengthDuplicateEqual",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
     ParseError::DuplicateContentLength, 400},
    {"ContentLengthDuplicateDifferent",
     "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\nCONTENT-LENGTH: 6\r\n\r\n",
     ParseError::DuplicateContentLength, 400},
    // Transfer-Encoding
    {"TransferEncodingGzipChunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingChunkedTwice",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingParameter",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingTrailingComma",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingIdentity",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingGzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingEmpty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingNonAsciiK",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun\xe2\x84\xaa"
     "ed\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingTwoFields",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingInHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"LengthThenChunked",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::LengthAndChunked, 400},
    {"ChunkedThenLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
     ParseError::LengthAndChunked, 400},
    // Host
    {"MissingHost", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", ParseError::MissingHost, 400},
    {"MissingHostAbsoluteForm", "GET http://a/ HTTP/1.1\r\n\r\n", ParseError::MissingHost, 400},
    {"DuplicateHost", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", ParseError::DuplicateHost,
     400},
    {"HostEmpty", "GET / HTTP/1.1\r\nHost: \r\n\r\n", ParseError::BadHost, 400},
    {"HostWithSpace", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ParseError::BadHost, 400},
    {"HostUserinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", ParseError::BadHost, 400},
    {"HostList", "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", ParseError::BadHost, 400},
    {"HostWithPath", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ParseError::BadHost, 400},
    {"HostEmptyPort", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", ParseError::BadHost, 400},
    {"HostPortNotDigits", "GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", ParseError::BadHost, 400},
    {"HostPortTooLarge", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", ParseError::BadHost, 400},
    {"HostOnlyPort", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", ParseError::BadHost, 400},
    {"HostUnclosedIpv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", ParseError::BadHost, 400},
    {"HostBadIpv6", "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n", ParseError::BadHost,
     400},
    {"HostIpv6TwoElisions", "GET / HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n", ParseError::BadHost, 400},
    {"HostIpv6Zone", "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", ParseError::BadHost, 400},
    {"HostBadPercent", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", ParseError::BadHost, 400},
    {"HostNonAscii",
     "GET / HTTP/1.1\r\nHost: b\xc3\xbc"
     "cher.de\r\n\r\n",
     ParseError::BadHost, 400},
    {"HostMismatch", "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n",
     ParseError::HostMismatch, 400},
    {"HostMismatchPort", "GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
     ParseError::HostMismatch, 400},
    {"HostMismatchConnect", "CONNECT a.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n",
     ParseError::HostMismatch, 400},
};

INSTANTIATE_TEST_SUITE_P(Rules, RequestRefusal, ::testing::ValuesIn(kRequestRefusals),
                         [](const ::testing::TestParamInfo<Refusal>& info) {
                           return testing::test_name(info.param.name);
                         });

}  // namespace
}  // namespace gh::http
