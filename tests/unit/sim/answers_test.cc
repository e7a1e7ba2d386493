// What the simulator reads in answers: a shield's challenge and waiting-room pages as browsers
// get them (HTML) and as API clients get them (JSON), an API login's token, and compressed bodies.
#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "sim/engine.h"
#include "sim/response.h"

namespace gh::sim {
namespace {

Response answer(int status, const std::string& type, const std::string& body) {
  Response r;
  r.status = status;
  if (!type.empty()) r.headers.emplace_back("content-type", type);
  r.body = body;
  return r;
}

// The shape of Gatehouse's proof-of-work page (src/stages/challenge/pages.cc), written out here
// rather than shared: the simulator reads pages as a browser would, not through the shield's code.
const char* kPowPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<noscript><meta http-equiv="refresh" content="10; url=/.gatehouse/challenge?token=abc%2Bdef&amp;return=%2Fsignup"></noscript>
<title>One moment</title></head><body><main><h1>One moment, please</h1>
<form id="gh-form" method="post" action="/.gatehouse/challenge" data-bits="18">
<input type="hidden" name="token" value="abc+def&amp;x">
<input type="hidden" name="nonce" value="">
<input type="hidden" name="return" value="/signup">
</form></main><script src="/.gatehouse/solver.js"></script></body></html>)";

TEST(Answers, TheProofOfWorkPageABrowserGets) {
  Challenge c;
  ASSERT_TRUE(parse_challenge(answer(403, "text/html; charset=utf-8", kPowPage), &c));
  EXPECT_FALSE(c.wait);
  EXPECT_EQ(c.bits, 18u);
  EXPECT_EQ(c.token, "abc+def&x");
  EXPECT_EQ(c.submit, "/.gatehouse/challenge");
  // Not a challenge: another status, or a page without the form or a refresh.
  EXPECT_FALSE(parse_challenge(answer(200, "text/html", kPowPage), &c));
  EXPECT_FALSE(parse_challenge(answer(403, "text/html", "<p>Forbidden</p>"), &c));
  std::string no_bits = kPowPage;
  no_bits.replace(no_bits.find(" data-bits=\"18\""), 15, "");
  EXPECT_FALSE(parse_challenge(answer(403, "text/html", no_bits), &c));
}

TEST(Answers, TheWaitPageAndItsJson) {
  Challenge c;
  const std::string wait =
      "<html><head><meta http-equiv=\"refresh\" content=\"5; url=/.gatehouse/challenge?"
      "token=t1&amp;return=%2Fsignup\"></head><body>wait</body></html>";
  ASSERT_TRUE(parse_challenge(answer(403, "text/html", wait), &c));
  EXPECT_TRUE(c.wait);
  EXPECT_EQ(c.wait_ms, 5000);
  EXPECT_EQ(c.url, "/.gatehouse/challenge?token=t1&return=%2Fsignup");

  ASSERT_TRUE(parse_challenge(
      answer(403, "application/json",
             R"({"error":"challenge","challenge":{"algorithm":"wait","token":"t","wait_ms":2500,)"
             R"("url":"/.gatehouse/challenge?token=t","expires_in":300}})"),
      &c));
  EXPECT_TRUE(c.wait);
  EXPECT_EQ(c.wait_ms, 2500);
  EXPECT_EQ(c.url, "/.gatehouse/challenge?token=t");
  // A URL that is not a path of this site is not followed.
  EXPECT_FALSE(
      parse_challenge(answer(403, "application/json",
                             R"({"error":"challenge","challenge":{"algorithm":"wait","wait_ms":1,)"
                             R"("url":"http://elsewhere/"}})"),
                      &c));
}

TEST(Answers, TheWaitingRoomPageAndItsJson) {
  double retry = 0;
  const std::string line =
      "<html><head><meta http-equiv=\"refresh\" content=\"20\"></head><body>You are in line"
      "</body></html>";
  ASSERT_TRUE(parse_queued(answer(200, "text/html; charset=utf-8", line), &retry));
  EXPECT_DOUBLE_EQ(retry, 20);
  ASSERT_TRUE(parse_queued(
      answer(202, "application/json", R"({"status":"queued","position":3,"retry_after":7})"),
      &retry));
  EXPECT_DOUBLE_EQ(retry, 7);
  // The app's own pages never refresh themselves; a JSON 200 is no queue.
  EXPECT_FALSE(parse_queued(answer(200, "text/html", "<form>sign up</form>"), &retry));
  EXPECT_FALSE(parse_queued(answer(200, "application/json", R"({"status":"queued"})"), &retry));
  EXPECT_FALSE(parse_queued(answer(503, "text/html", line), &retry));
}

TEST(Answers, HtmlAttributes) {
  EXPECT_EQ(html_attribute(R"(<input name="token" value="a&amp;b&quot;c">)", "value"), "a&b\"c");
  EXPECT_EQ(html_attribute(R"(<form data-bits="18" bits="3">)", "bits"), "3");
  EXPECT_FALSE(html_attribute(R"(<form data-bits="18">)", "bits").has_value());
  EXPECT_FALSE(html_attribute(R"(<input value="unterminated>)", "value").has_value());
}

TEST(Answers, TheApiLoginsToken) {
  EXPECT_EQ(parse_token(answer(200, "application/json", R"({"ok":true,"token":"a.b-c_d.e"})")),
            "a.b-c_d.e");
  EXPECT_FALSE(parse_token(answer(401, "application/json", R"({"token":"a.b.c"})")).has_value());
  EXPECT_FALSE(parse_token(answer(200, "application/json", R"({"ok":true})")).has_value());
  // Nothing that could break a header line.
  EXPECT_FALSE(
      parse_token(answer(200, "application/json", R"({"token":"a.b\r\nX: y"})")).has_value());
}

std::string gzip(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string brotli(const std::string& in) {
  std::size_t n = BrotliEncoderMaxCompressedSize(in.size());
  std::string out(n, '\0');
  EXPECT_EQ(
      BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_DEFAULT_MODE,
                            in.size(), reinterpret_cast<const std::uint8_t*>(in.data()), &n,
                            reinterpret_cast<std::uint8_t*>(out.data())),
      BROTLI_TRUE);
  out.resize(n);
  return out;
}

TEST(Answers, CompressedBodiesAreReadAsTheAppWroteThem) {
  const std::string body = R"({"ok":true,"token":"x.y.z","token_type":"Bearer"})";
  for (const char* enc : {"gzip", "br", "identity"}) {
    Response r = answer(200, "application/json", body);
    const std::string e = enc;
    r.body = e == "gzip" ? gzip(body) : e == "br" ? brotli(body) : body;
    r.headers.emplace_back("content-encoding", e);
    EXPECT_EQ(decoded_body(r), body) << enc;
    EXPECT_EQ(parse_token(r), "x.y.z") << enc;
  }
  Response broken = answer(200, "application/json", gzip(body).substr(0, 10));
  broken.headers.emplace_back("content-encoding", "gzip");
  EXPECT_FALSE(decoded_body(broken).has_value());
  Response unknown = answer(200, "application/json", body);
  unknown.headers.emplace_back("content-encoding", "zstd");
  EXPECT_FALSE(decoded_body(unknown).has_value());
  // A bomb: more than the body cap once decoded.
  Response bomb = answer(200, "text/html", gzip(std::string(3 << 20, 'a')));
  bomb.headers.emplace_back("content-encoding", "gzip");
  EXPECT_FALSE(decoded_body(bomb).has_value());
}

}  // namespace
}  // namespace gh::sim
