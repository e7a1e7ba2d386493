#include "stages/challenge/pages.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "stages/challenge/form.h"
#include "stages/challenge/pow.h"

namespace gh::challenge {
namespace {

bool has(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

ChallengePage page(std::uint8_t level = 2) {
  ChallengePage p;
  p.token = "TOKEN-abc_123";
  p.bits = 18;
  p.level = level;
  p.return_path = "/signup?plan=a&x=1";
  p.wait_ms = nojs_wait_ms(5000, level);
  p.expires_in_ms = 300'000;
  return p;
}

TEST(NojsWait, GrowsWithTheLevel) {
  EXPECT_EQ(nojs_wait_ms(5000, 0), 5000);
  EXPECT_EQ(nojs_wait_ms(5000, 1), 10'000);
  EXPECT_EQ(nojs_wait_ms(5000, 3), 20'000);
}

TEST(WaitUrl, EncodesTheReturnPath) {
  std::string url;
  append_wait_url("T", "/signup?plan=a&x=1#f", url);
  EXPECT_EQ(url, "/.gatehouse/challenge?token=T&return=/signup%3Fplan%3Da%26x%3D1%23f");
  Solution s;
  ASSERT_EQ(parse_wait_query(std::string_view(url).substr(url.find('?') + 1), s), FormStatus::Ok);
  EXPECT_EQ(s.return_path(), "/signup?plan=a&x=1#f");
  url.clear();
  append_wait_url("T", "/", url);
  EXPECT_EQ(url, "/.gatehouse/challenge?token=T");
  url.clear();
  append_wait_url("T", "//evil.example", url);
  EXPECT_EQ(url, "/.gatehouse/challenge?token=T");
}

TEST(PowPage, HasTheRequiredParts) {
  std::string html;
  render_pow_page(page(), html);
  EXPECT_TRUE(html.starts_with("<!doctype html>"));
  EXPECT_TRUE(has(html, "<html lang=\"en\">"));
  EXPECT_TRUE(has(html, "<title>"));
  EXPECT_TRUE(has(html, "<h1>"));
  EXPECT_TRUE(has(html, "<progress id=\"gh-progress\""));
  EXPECT_TRUE(has(html, "<label for=\"gh-progress\">"));
  EXPECT_TRUE(has(html, "aria-live=\"polite\""));
  EXPECT_TRUE(has(html,
                  "<form id=\"gh-form\" method=\"post\" action=\"/.gatehouse/challenge\" "
                  "data-bits=\"18\">"));
  EXPECT_TRUE(has(html, "name=\"token\" value=\"TOKEN-abc_123\""));
  EXPECT_TRUE(has(html, "name=\"nonce\" value=\"\""));
  EXPECT_TRUE(has(html, "name=\"return\" value=\"/signup?plan=a&amp;x=1\""));
  EXPECT_TRUE(has(html, "<script src=\"/.gatehouse/challenge.js\"></script>"));
  // No-JS path: refresh to the level-0 URL after refresh_wait × (1 + level) = 15 s.
  EXPECT_TRUE(has(html,
                  "<noscript><meta http-equiv=\"refresh\" content=\"15; "
                  "url=/.gatehouse/challenge?token=TOKEN-abc_123&amp;return=/signup%3Fplan%3Da%"
                  "26x%3D1\"></noscript>"));
  EXPECT_TRUE(has(html, "15 seconds"));
  EXPECT_TRUE(has(html, "<noscript><p>"));
  EXPECT_FALSE(has(html, "<style></style>"));
  EXPECT_LT(html.size(), 4096u);  // small
}

TEST(PowPage, ExplainsHowLong) {
  ChallengePage p = page();
  std::string html;
  p.bits = 16;
  render_pow_page(p, html);
  EXPECT_TRUE(has(html, "about 1 second "));
  html.clear();
  p.bits = 24;
  render_pow_page(p, html);
  EXPECT_TRUE(has(html, "about 68 seconds"));
  html.clear();
  p.bits = 26;
  render_pow_page(p, html);
  EXPECT_TRUE(has(html, "about 5 minutes"));
}

TEST(PowPage, EscapesHostileInput) {
  ChallengePage p = page();
  p.token = "\"><script>alert(1)</script>";
  p.return_path = "/x\"><img/src=x/onerror=alert(2)>";
  p.theme_css = "body{color:red}</style><script>alert(3)</script>";
  std::string html;
  render_pow_page(p, html);
  EXPECT_FALSE(has(html, "<script>alert"));
  EXPECT_FALSE(has(html, "<img"));
  EXPECT_FALSE(has(html, "</style><script>"));
  EXPECT_TRUE(has(html, "value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
  EXPECT_TRUE(has(html, "value=\"/x&quot;&gt;&lt;img/src=x/onerror=alert(2)&gt;\""));
  EXPECT_TRUE(
      has(html, "<style>body{color:red}\\3c /style>\\3c script>alert(3)\\3c /script></style>"));
  // The return path goes into the refresh URL percent-encoded.
  EXPECT_TRUE(has(html, "return=/x%22%3E%3Cimg/src%3Dx/onerror%3Dalert%282%29%3E"));
}

TEST(PowPage, UnsafeReturnBecomesRoot) {
  ChallengePage p = page();
  p.return_path = "//evil.example/";
  std::string html;
  render_pow_page(p, html);
  EXPECT_FALSE(has(html, "evil.example"));
  EXPECT_TRUE(has(html, "name=\"return\" value=\"/\""));
}

TEST(WaitPage, RefreshesAndLinks) {
  std::string html;
  render_wait_page(page(0), html);
  EXPECT_TRUE(has(html, "<html lang=\"en\">"));
  EXPECT_TRUE(has(html, "<h1>"));
  const std::string url =
      "/.gatehouse/challenge?token=TOKEN-abc_123&amp;return=/signup%3Fplan%3Da%26x%3D1";
  EXPECT_TRUE(has(html, "<meta http-equiv=\"refresh\" content=\"5; url=" + url + "\">"));
  EXPECT_FALSE(has(html, "<noscript>"));
  EXPECT_TRUE(has(html, "<a href=\"" + url + "\">"));
  EXPECT_TRUE(has(html, "5 seconds"));
  EXPECT_FALSE(has(html, "<script"));
}

TEST(WaitPage, EscapesHostileInput) {
  ChallengePage p = page(0);
  p.token = "a\"b<c>&d";
  std::string html;
  render_wait_page(p, html);
  EXPECT_FALSE(has(html, "a\"b"));
  EXPECT_FALSE(has(html, "<c>"));
  EXPECT_TRUE(has(html, "token=a%22b%3Cc%3E%26d"));
}

TEST(ChallengeJson, PowShapeIsExact) {
  std::string json;
  render_challenge_json(page(), json);
  EXPECT_EQ(json,
            "{\"error\":\"challenge\",\"challenge\":{\"algorithm\":\"sha256-leading-zero-bits\","
            "\"token\":\"TOKEN-abc_123\",\"bits\":18,\"submit\":\"/.gatehouse/challenge\","
            "\"expires_in\":300}}");
}

TEST(ChallengeJson, WaitShape) {
  std::string json;
  render_challenge_json(page(0), json);
  const auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j["error"], "challenge");
  const auto& c = j["challenge"];
  EXPECT_EQ(c["algorithm"], "wait");
  EXPECT_EQ(c["token"], "TOKEN-abc_123");
  EXPECT_EQ(c["wait_ms"], 5000);
  EXPECT_EQ(c["url"],
            "/.gatehouse/challenge?token=TOKEN-abc_123&return=/signup%3Fplan%3Da%26x%3D1");
  EXPECT_EQ(c["expires_in"], 300);
}

TEST(ChallengeJson, EscapesHostileInput) {
  ChallengePage p = page();
  p.token = "\"\\\n</script>";
  std::string json;
  render_challenge_json(p, json);
  const auto j = nlohmann::json::parse(json);  // still valid JSON
  EXPECT_EQ(j["challenge"]["token"], "\"\\\n</script>");
  EXPECT_FALSE(has(json, "</script>"));
}

TEST(Script, HasTheWorkerAndTheForm) {
  const std::string_view js = challenge_script();
  EXPECT_TRUE(js.starts_with("// Gatehouse challenge"));
  EXPECT_NE(js.find("new Worker("), std::string_view::npos);
  EXPECT_NE(js.find("gh-form"), std::string_view::npos);
  EXPECT_NE(js.find("gh-progress"), std::string_view::npos);
  EXPECT_NE(js.find("form.submit()"), std::string_view::npos);
  EXPECT_EQ(js.find("subtle.digest"), std::string_view::npos);  // works on plain http too
}

// The script's SHA-256 search, run as a worker under node, must find nonces pow_valid accepts.
TEST(Script, NodeWorkerFindsValidNonces) {
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node not installed";
  char dir[] = "/tmp/gh-challenge-js-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string base = dir;
  std::ofstream(base + "/challenge.js") << challenge_script();
  std::ofstream(base + "/run.js")
      << "const fs = require('fs'), vm = require('vm');\n"
         "const [, , file, token, bits] = process.argv;\n"
         "let nonce = null;\n"
         "const self = { postMessage(m) { if (m.nonce !== undefined) nonce = m.nonce; } };\n"
         "vm.runInNewContext(fs.readFileSync(file, 'utf8'), { self, Int32Array, Uint8Array, "
         "Math, String });\n"
         "self.onmessage({ data: { token, bits: +bits, start: 0, step: 1 } });\n"
         "process.stdout.write(String(nonce));\n";
  // Tokens whose tails fall on both sides of the one/two padding block boundary.
  for (const std::string& token : {std::string(96, 'Q'), std::string("abc"), std::string(50, 'z'),
                                   std::string(64, 'k'), std::string(130, '_')}) {
    for (int bits : {1, 8, 12}) {
      const std::string cmd = "node " + base + "/run.js " + base + "/challenge.js " + token + " " +
                              std::to_string(bits);
      FILE* f = popen(cmd.c_str(), "r");
      ASSERT_NE(f, nullptr);
      char buf[64] = {};
      const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
      pclose(f);
      const std::string nonce(buf, n);
      EXPECT_TRUE(pow_valid(token, nonce, static_cast<std::uint8_t>(bits)))
          << token << " bits " << bits << " nonce '" << nonce << "'";
      // The first nonce, as the native solver finds it.
      EXPECT_EQ(nonce, pow_solve(token, static_cast<std::uint8_t>(bits), 1u << 20).value_or(""));
    }
  }
  std::remove((base + "/challenge.js").c_str());
  std::remove((base + "/run.js").c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace gh::challenge
