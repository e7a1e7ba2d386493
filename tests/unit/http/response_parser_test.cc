// parse_response: status line forms, body delimitation, and the same field strictness as requests.
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
  ResponseHead head;
};

Parsed parse(std::string_view buf, Method method = Method::Get, const HeadLimits& limits = {}) {
  Parsed p;
  p.result = parse_response(buf, limits, method, p.head);
  return p;
}

ResponseHead accept(std::string_view buf, Method method = Method::Get) {
  Parsed p = parse(buf, method);
  EXPECT_EQ(p.result.status, ParseStatus::Complete) << describe(p.result.error);
  EXPECT_EQ(p.result.consumed, buf.size());
  expect_views_inside(buf, p.head);
  return p.head;
}

TEST(ResponseAccept, OkWithContentLength) {
  const ResponseHead h = accept("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\n");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.reason, "OK");
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_EQ(h.body, BodyKind::ContentLength);
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_TRUE(h.keep_alive);
  ASSERT_EQ(h.field_count, 2);
  EXPECT_EQ(h.fields[1].name, "X-A");
}

TEST(ResponseAccept, ReasonWithSpacesAndObsText) {
  EXPECT_EQ(accept("HTTP/1.1 404 Not  Found \xe9\r\nContent-Length: 0\r\n\r\n").reason,
            "Not  Found \xe9");
}

TEST(ResponseAccept, MissingReasonWithSpace) {
  const ResponseHead h = accept("HTTP/1.1 204 \r\n\r\n");
  EXPECT_EQ(h.status, 204);
  EXPECT_EQ(h.reason, "");
}

TEST(ResponseAccept, MissingReasonWithoutSpace) {
  const ResponseHead h = accept("HTTP/1.1 204\r\n\r\n");
  EXPECT_EQ(h.status, 204);
  EXPECT_EQ(h.reason, "");
}

TEST(ResponseAccept, Chunked) {
  EXPECT_EQ(accept("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").body,
            BodyKind::Chunked);
}

TEST(ResponseAccept, UntilCloseWithoutFraming) {
  const ResponseHead h = accept("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n");
  EXPECT_EQ(h.body, BodyKind::UntilClose);
  EXPECT_FALSE(h.keep_alive);
}

TEST(ResponseAccept, NoBodyStatusesIgnoreContentLength) {
  for (std::string_view buf :
       {"HTTP/1.1 100 Continue\r\n\r\n"sv,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"sv,
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"sv,
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"sv,
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"sv}) {
    const ResponseHead h = accept(buf);
    EXPECT_EQ(h.body, BodyKind::None) << buf;
    EXPECT_TRUE(h.keep_alive) << buf;
  }
}

// A bodyless status that announces a body anyway: the server may send one, and the next
// request on the connection would read it as its own answer. Parsed, never reused.
TEST(ResponseAccept, NoBodyStatusWithFramingIsNotKeptAlive) {
  for (std::string_view buf :
       {"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"sv,
        "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"sv,
        "HTTP/1.1 100 Continue\r\nContent-Length: 4\r\n\r\n"sv,
        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"sv}) {
    const ResponseHead h = accept(buf);
    EXPECT_EQ(h.body, BodyKind::None) << buf;
    EXPECT_FALSE(h.keep_alive) << buf;
  }
}

TEST(ResponseAccept, HeadResponseHasNoBody) {
  const ResponseHead h = accept("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", Method::Head);
  EXPECT_EQ(h.body, BodyKind::None);
  EXPECT_EQ(h.content_length, 5000u);  // still parsed, for the record
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(accept("HTTP/1.1 200 OK\r\n\r\n", Method::Head).body, BodyKind::None);
}

TEST(ResponseAccept, ConnectSuccessHasNoBody) {
  EXPECT_EQ(accept("HTTP/1.1 200 Connection Established\r\n\r\n", Method::Connect).body,
            BodyKind::None);
  EXPECT_EQ(accept("HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", Method::Connect).body,
            BodyKind::ContentLength);
}

TEST(ResponseAccept, Http10KeepAlive) {
  const ResponseHead h =
      accept("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n");
  EXPECT_EQ(h.version_minor, 0);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(accept("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").keep_alive);
  EXPECT_FALSE(
      accept("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").keep_alive);  // until close
}

TEST(ResponseAccept, Http11ConnectionClose) {
  EXPECT_FALSE(
      accept("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n").keep_alive);
}

TEST(ResponseAccept, HostFieldIsNotSpecialInResponses) {
  accept("HTTP/1.1 200 OK\r\nHost: a b\r\nHost: c\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseAccept, BodyBytesAfterHeadAreNotConsumed) {
  constexpr auto buf = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1"sv;
  const Parsed p = parse(buf);
  ASSERT_EQ(p.result.status, ParseStatus::Complete);
  EXPECT_EQ(buf.substr(p.result.consumed), "hiHTTP/1.1");
}

TEST(ResponseNeedMore, Prefixes) {
  for (std::string_view buf : {""sv, "HTTP/1."sv, "HTTP/1.1 20"sv, "HTTP/1.1 200"sv,
                               "HTTP/1.1 200 OK\r"sv, "HTTP/1.1 200 OK\r\nA: b\r\n"sv}) {
    EXPECT_EQ(parse(buf).result.status, ParseStatus::NeedMore) << testing::printable(buf);
  }
}

struct Refusal {
  const char* name;
  std::string_view input;
  ParseError error;
  int status;  // status_for(error): what a client would get if this were a request error
  HeadLimits limits{};
};

class ResponseRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(ResponseRefusal, Refused) {
  const Refusal& r = GetParam();
  const Parsed p = parse(r.input, Method::Get, r.limits);
  EXPECT_EQ(p.result.status, ParseStatus::Error) << testing::printable(r.input);
  EXPECT_EQ(p.result.error, r.error) << "got: " << describe(p.result.error) << "\n"
                                     << testing::printable(r.input);
  EXPECT_EQ(status_for(p.result.error), r.status);
}

constexpr HeadLimits small_head() {
  HeadLimits l;
  l.max_head_bytes = 32;
  return l;
}
constexpr HeadLimits few_fields() {
  HeadLimits l;
  l.max_fields = 1;
  return l;
}

const Refusal kResponseRefusals[] = {
    {"ConnectionNamesContentLength",
     "HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesSetCookie", "HTTP/1.1 200 OK\r\nConnection: close, set-cookie\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"ConnectionNamesTransferEncoding",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n",
     ParseError::BadConnectionOption, 400},
    {"NotHttp", "ICY 200 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"LowerCaseProtocol", "http/1.1 200 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"VersionWithoutMinor", "HTTP/1 200 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"NoSpaceAfterVersion", "HTTP/1.1200 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"TwoSpacesAfterVersion", "HTTP/1.1  200 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"TwoDigitStatus", "HTTP/1.1 20 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"FourDigitStatus", "HTTP/1.1 2000 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"StatusBelow100", "HTTP/1.1 099 Odd\r\n\r\n", ParseError::BadStatusLine, 502},
    {"StatusAbove599", "HTTP/1.1 600 Odd\r\n\r\n", ParseError::BadStatusLine, 502},
    {"StatusLetters", "HTTP/1.1 2x0 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"StatusLineEndsAfterVersion", "HTTP/1.1\r\n\r\n", ParseError::BadStatusLine, 502},
    {"ReasonControlByte", "HTTP/1.1 200 O\x01K\r\n\r\n", ParseError::BadStatusLine, 502},
    {"LeadingEmptyLine", "\r\nHTTP/1.1 200 OK\r\n\r\n", ParseError::BadStatusLine, 502},
    {"Version20", "HTTP/2.0 200 OK\r\n\r\n", ParseError::UnsupportedVersion, 505},
    {"BareLfStatusLine", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", ParseError::BadLineEnding,
     400},
    {"BareCrInReason", "HTTP/1.1 200 O\rK\r\n\r\n", ParseError::BadLineEnding, 400},
    {"BareLfEndOfHead", "HTTP/1.1 200 OK\r\nA: b\r\n\n", ParseError::BadLineEnding, 400},
    {"HeadTooLarge", "HTTP/1.1 200 OK\r\nX-Pad: 0123456789\r\n\r\n", ParseError::HeadTooLarge, 431,
     small_head()},
    {"TooManyFields", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", ParseError::TooManyFields, 431,
     few_fields()},
    {"SpaceBeforeColon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
     ParseError::SpaceBeforeColon, 400},
    {"ObsFold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ParseError::ObsFold, 400},
    {"BadFieldName", "HTTP/1.1 200 OK\r\nX/Y: a\r\n\r\n", ParseError::BadFieldName, 400},
    {"BadFieldValue", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"sv, ParseError::BadFieldValue, 400},
    {"BadContentLength", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"BadContentLengthOn204", "HTTP/1.1 204 OK\r\nContent-Length: x\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"DuplicateContentLength", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
     ParseError::DuplicateContentLength, 400},
    {"BadTransferEncoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"TransferEncodingInHttp10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"LengthAndChunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
     ParseError::LengthAndChunked, 400},
};

INSTANTIATE_TEST_SUITE_P(Rules, ResponseRefusal, ::testing::ValuesIn(kResponseRefusals),
                         [](const ::testing::TestParamInfo<Refusal>& info) {
                           return testing::test_name(info.param.name);
                         });

}  // namespace
}  // namespace gh::http
