#include "sim/response.h"

#include <gtest/gtest.h>

#include <string>

namespace gh::sim {
namespace {

using State = ResponseParser::State;

// Feeds `raw` in pieces of `step` bytes; returns the final state and the bytes left over.
State feed_split(ResponseParser& p, const std::string& raw, std::size_t step, std::size_t* rest) {
  std::size_t pos = 0;
  State s = State::NeedMore;
  while (pos < raw.size()) {
    std::size_t used = 0;
    s = p.feed(std::string_view(raw).substr(pos, std::min(step, raw.size() - pos)), &used);
    pos += used;
    if (s != State::NeedMore) break;
  }
  *rest = raw.size() - pos;
  return s;
}

TEST(ResponseParser, ContentLengthInEverySplit) {
  const std::string raw =
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
      "{\"ok\":true}";
  for (std::size_t step : {1u, 2u, 3u, 7u, 64u, 4096u}) {
    ResponseParser p;
    p.reset();
    std::size_t rest = 0;
    ASSERT_EQ(feed_split(p, raw, step, &rest), State::Complete) << step << " " << p.error();
    EXPECT_EQ(rest, 0u);
    EXPECT_EQ(p.response().status, 201);
    EXPECT_EQ(p.response().body, "{\"ok\":true}");
    EXPECT_TRUE(p.response().keep_alive);
    ASSERT_NE(p.response().header("content-type"), nullptr);
    EXPECT_EQ(*p.response().header("content-type"), "application/json");
  }
}

TEST(ResponseParser, ChunkedWithExtensionsAndTrailers) {
  const std::string raw =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t step : {1u, 5u, 13u, 4096u}) {
    ResponseParser p;
    p.reset();
    std::size_t rest = 0;
    ASSERT_EQ(feed_split(p, raw, step, &rest), State::Complete) << step << " " << p.error();
    EXPECT_EQ(p.response().body, "helloabcdefghijklmnopqrstuvwxyz");
  }
}

TEST(ResponseParser, LeavesNextResponseBytesUnconsumed) {
  const std::string raw = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n";
  ResponseParser p;
  p.reset();
  std::size_t used = 0;
  EXPECT_EQ(p.feed(raw, &used), State::Complete);
  EXPECT_EQ(raw.substr(used), "HTTP/1.1 200 OK\r\n");
}

TEST(ResponseParser, SetCookiesCaptured) {
  const std::string raw =
      "HTTP/1.1 303 See Other\r\nLocation: /account\r\n"
      "Set-Cookie: demo_session=abc123; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax\r\n"
      "set-cookie: gh_device=\"v.1\"; Path=/\r\n"
      "Set-Cookie: old=; Max-Age=0\r\nContent-Length: 0\r\n\r\n";
  ResponseParser p;
  p.reset();
  std::size_t used = 0;
  ASSERT_EQ(p.feed(raw, &used), State::Complete) << p.error();
  const auto& c = p.response().cookies;
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].name, "demo_session");
  EXPECT_EQ(c[0].value, "abc123");
  EXPECT_FALSE(c[0].expired);
  EXPECT_EQ(c[1].name, "gh_device");
  EXPECT_EQ(c[1].value, "v.1");
  EXPECT_TRUE(c[2].expired);

  CookieJar jar;
  jar.update({{"old", "x", false}});
  jar.update(c);
  EXPECT_EQ(jar.header(), "demo_session=abc123; gh_device=v.1");
  jar.update({{"demo_session", "new", false}});
  EXPECT_EQ(*jar.get("demo_session"), "new");
  EXPECT_EQ(jar.get("old"), nullptr);
}

TEST(ResponseParser, ConnectionCloseAndCloseDelimitedBody) {
  ResponseParser p;
  p.reset();
  std::size_t used = 0;
  EXPECT_EQ(p.feed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart", &used), State::NeedMore);
  EXPECT_EQ(p.feed("-two", &used), State::NeedMore);
  EXPECT_EQ(p.finish(), State::Complete);
  EXPECT_EQ(p.response().body, "part-two");
  EXPECT_FALSE(p.response().keep_alive);

  p.reset();
  EXPECT_EQ(p.feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &used), State::Complete);
  EXPECT_FALSE(p.response().keep_alive);  // 1.0 without keep-alive
}

TEST(ResponseParser, SkipsInterimResponses) {
  ResponseParser p;
  p.reset();
  std::size_t used = 0;
  EXPECT_EQ(
      p.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &used),
      State::Complete);
  EXPECT_EQ(p.response().status, 200);
  EXPECT_EQ(p.response().body, "ok");
}

TEST(ResponseParser, RefusesAmbiguousFraming) {
  const char* bad[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\nX: y\r\n\r\n",
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
  };
  for (const char* raw : bad) {
    ResponseParser p;
    p.reset();
    std::size_t used = 0;
    EXPECT_EQ(p.feed(raw, &used), State::Error) << raw;
    EXPECT_FALSE(p.error().empty());
  }
}

TEST(ResponseParser, TruncationIsAnErrorAtEof) {
  ResponseParser p;
  p.reset();
  std::size_t used = 0;
  EXPECT_EQ(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &used), State::NeedMore);
  EXPECT_EQ(p.finish(), State::Error);
  p.reset();
  EXPECT_FALSE(p.started());
  EXPECT_EQ(p.finish(), State::Error);
}

TEST(ResponseParser, HeadTooLarge) {
  ResponseParser p;
  p.reset();
  std::string raw = "HTTP/1.1 200 OK\r\n";
  while (raw.size() <= ResponseParser::kMaxHead) raw += "X-Filler: aaaaaaaaaaaaaaaaaaaa\r\n";
  std::size_t used = 0;
  EXPECT_EQ(p.feed(raw, &used), State::Error);
}

}  // namespace
}  // namespace gh::sim
