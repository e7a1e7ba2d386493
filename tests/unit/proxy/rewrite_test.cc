// The response head's fields as HTTP/2 gets them (proxy/rewrite.h, response_fields): the same
// end-to-end fields the HTTP/1.1 head carries, without HTTP/1.1's framing.
#include "proxy/rewrite.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "http/parser.h"

namespace gh::proxy {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Collect final : FieldSink {
  Fields fields;
  void field(std::string_view name, std::string_view value) override {
    fields.emplace_back(std::string(name), std::string(value));
  }
};

http::ResponseHead parse(std::string_view text) {
  http::ResponseHead h{};
  http::HeadLimits limits;
  EXPECT_EQ(http::parse_response(text, limits, http::Method::Get, h).status,
            http::ParseStatus::Complete)
      << text;
  return h;
}

constexpr std::string_view kUpstream =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/html\r\n"
    "Connection: keep-alive, Proxy-Authenticate\r\n"
    "Proxy-Authenticate: Basic\r\n"
    "Keep-Alive: timeout=5\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Set-Cookie: app=1\r\n"
    "\r\n";

TEST(ResponseFields, DropsHopByHopAddsViaAndThePipelinesFields) {
  const http::ResponseHead h = parse(kUpstream);
  Collect c;
  response_fields(h, "Set-Cookie: gh_dev=abc; HttpOnly\r\nX-Gatehouse:  queued\r\n", c);
  const Fields want = {{"Content-Type", "text/html"},
                       {"Set-Cookie", "app=1"},
                       {"Via", "1.1 gatehouse"},
                       {"Set-Cookie", "gh_dev=abc; HttpOnly"},
                       {"X-Gatehouse", "queued"}};
  EXPECT_EQ(c.fields, want);
}

TEST(ResponseFields, AreTheHttp11HeadsFieldsWithoutItsFraming) {
  const http::ResponseHead h = parse(kUpstream);
  const std::string_view extra = "Set-Cookie: gh_dev=abc\r\n";
  Collect c;
  response_fields(h, extra, c);
  // The HTTP/1.1 head for the same answer, read back: its fields less Transfer-Encoding and
  // Connection are exactly the HTTP/2 ones.
  core::Buffer out(4096);
  ASSERT_TRUE(write_response_head(h, 1, true, out, extra));
  const http::ResponseHead back = parse(out.view());
  Fields http11;
  for (std::uint16_t i = 0; i < back.field_count; ++i) {
    const http::Field& f = back.fields[i];
    if (http::iequals(f.name, "transfer-encoding") || http::iequals(f.name, "connection")) continue;
    http11.emplace_back(std::string(f.name), std::string(f.value));
  }
  EXPECT_EQ(c.fields, http11);
}

TEST(ResponseFields, AnHttp10UpstreamIsNamedInVia) {
  const http::ResponseHead h = parse("HTTP/1.0 204 No Content\r\nDate: x\r\n\r\n");
  Collect c;
  response_fields(h, {}, c);
  const Fields want = {{"Date", "x"}, {"Via", "1.0 gatehouse"}};
  EXPECT_EQ(c.fields, want);
}

}  // namespace
}  // namespace gh::proxy
