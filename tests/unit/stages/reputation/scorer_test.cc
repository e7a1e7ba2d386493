// The scorer's conditions one by one, their AND, rule order (allow / deny short-circuit,
// challenge floors), thresholds, the suspect flag, build errors and one-pass UA matching.
#include "stages/reputation/scorer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <string>
#include <vector>

#include "mmdb_writer.h"
#include "test_util.h"

namespace gh::reputation {
namespace {

using policy::ReputationAction;
using policy::ReputationConfig;
using policy::ReputationRule;
using policy::ReputationThreshold;
using testing::cidr;
using testing::ip;
using testing::parse;

ReputationRule rule(std::string name, std::int32_t weight = 10) {
  ReputationRule r;
  r.name = std::move(name);
  r.weight = weight;
  return r;
}

ReputationRule ua_rule(std::string name, std::string pattern, std::int32_t weight = 10) {
  ReputationRule r = rule(std::move(name), weight);
  r.user_agent = std::move(pattern);
  return r;
}

std::unique_ptr<Scorer> build(const ReputationConfig& c) {
  std::string error;
  auto s = Scorer::build(c, error);
  EXPECT_NE(s, nullptr) << error;
  return s;
}

std::string build_error(const ReputationConfig& c) {
  std::string error;
  auto s = Scorer::build(c, error);
  EXPECT_EQ(s, nullptr);
  return error;
}

struct Req {
  std::unique_ptr<testing::Parsed> parsed;
  client::IpAddress client = testing::ip("203.0.113.7");
  std::string path;  // empty: the head's
  std::string h2_fingerprint;

  Request view() const {
    Request r{&parsed->head, client, path};
    r.h2_fingerprint = h2_fingerprint;
    return r;
  }
};

Req req(std::string_view head_text, std::string_view from = "203.0.113.7") {
  Req r;
  r.parsed = parse(head_text);
  r.client = ip(from);
  return r;
}

Score score(const Scorer& s, const Req& r, std::uint32_t refusals = 0) {
  return s.score(r.view(), refusals);
}

const char* kBrowser =
    "GET /signup HTTP/1.1\nHost: example.com\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36\nAccept: text/html\n"
    "Accept-Language: en-GB,en;q=0.9\nAccept-Encoding: gzip, br\n";
const char* kCurl =
    "GET /signup HTTP/1.1\nHost: example.com\nUser-Agent: curl/8.5.0\nAccept: */*\n";

constexpr std::string_view kChromeJa4 = "t13d1517h2_8daaf6152771_cb7bf5808d99";
constexpr std::string_view kCurlJa4 = "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6";

Score score_ja4(const Scorer& s, const Req& r, std::string_view ja4) {
  Request v = r.view();
  v.ja4 = ja4;
  return s.score(v, 0);
}

TEST(Scorer, Ja4GlobMatch) {
  EXPECT_TRUE(Scorer::glob_match(kChromeJa4, kChromeJa4));
  EXPECT_FALSE(Scorer::glob_match(kChromeJa4, kCurlJa4));
  EXPECT_TRUE(Scorer::glob_match("*", kCurlJa4));
  EXPECT_TRUE(Scorer::glob_match("t13d*_8daaf6152771_*", kChromeJa4));
  EXPECT_FALSE(Scorer::glob_match("t13d*_8daaf6152771_*", kCurlJa4));
  EXPECT_TRUE(Scorer::glob_match("*_b26ce05bbdd6", kCurlJa4));
  EXPECT_TRUE(Scorer::glob_match("t1*d*h2_*", kCurlJa4));
  EXPECT_FALSE(Scorer::glob_match("t12*", kCurlJa4));
  EXPECT_FALSE(Scorer::glob_match("t13d1517h2", kChromeJa4));  // whole text, not a prefix
  EXPECT_FALSE(Scorer::glob_match("*x*", kChromeJa4));
  EXPECT_TRUE(Scorer::glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(Scorer::glob_match("a*b*c", "aXbYbZ"));
}

TEST(Scorer, Ja4ListMatchesOnlyTlsConnections) {
  ReputationConfig c;
  ReputationRule r = rule("tools", 40);
  r.ja4 = {std::string(kCurlJa4), "t12*"};
  c.rules.push_back(r);
  auto s = build(c);
  const Req browser = req(kBrowser);
  EXPECT_EQ(score_ja4(*s, browser, kCurlJa4).total, 40);
  EXPECT_EQ(score_ja4(*s, browser, "t12d2807h1_d943125447b4_a44c6288192a").total, 40);
  EXPECT_EQ(score_ja4(*s, browser, kChromeJa4).total, 0);
  EXPECT_EQ(score_ja4(*s, browser, "").total, 0);  // clear text: no fingerprint, no match
  EXPECT_EQ(score(*s, browser).total, 0);
}

TEST(Scorer, Ja4MismatchIsAClaimedBrowserWithAnotherFingerprint) {
  ReputationConfig c;
  ReputationRule r = rule("fake-browser", 50);
  r.ja4_mismatch = true;
  c.rules.push_back(r);
  c.browser_ja4 = {"t13d*_8daaf6152771_*",
                   "t13d*_5b57614c22b0_*"};  // Chromium's, Firefox's ciphers
  auto s = build(c);
  const Req browser = req(kBrowser);
  EXPECT_EQ(score_ja4(*s, browser, kChromeJa4).total, 0);  // a browser's handshake
  EXPECT_EQ(score_ja4(*s, browser, kCurlJa4).total, 50);   // a library claiming to be Chrome
  EXPECT_EQ(score_ja4(*s, browser, "").total, 0);          // clear text: nothing to compare
  // A tool that says what it is does not claim a browser: other rules judge it.
  EXPECT_EQ(score_ja4(*s, req(kCurl), kCurlJa4).total, 0);
  const Req firefox = req(
      "GET / HTTP/1.1\nHost: example.com\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
      "Gecko/20100101 Firefox/128.0\n");
  EXPECT_EQ(score_ja4(*s, firefox, kCurlJa4).total, 50);
  EXPECT_EQ(score_ja4(*s, firefox, "t13d1717h2_5b57614c22b0_3cbfd9057e0d").total, 0);
  EXPECT_TRUE(Scorer::claims_browser(browser.parsed->head));
  EXPECT_TRUE(Scorer::claims_browser(firefox.parsed->head));
  EXPECT_FALSE(Scorer::claims_browser(req(kCurl).parsed->head));

  // ja4_mismatch without the browsers' list cannot judge anything: refused at build.
  c.browser_ja4.clear();
  EXPECT_THAT(build_error(c), ::testing::HasSubstr("ja4_mismatch needs reputation.browser_ja4"));
}

TEST(Scorer, EmptyConfigScoresNothing) {
  const ReputationConfig empty;
  auto s = build(empty);
  ASSERT_NE(s, nullptr);
  const Score out = score(*s, req(kCurl));
  EXPECT_EQ(out.total, 0);
  EXPECT_EQ(out.action, ReputationAction::Weigh);
  EXPECT_TRUE(out.rule.empty());
  EXPECT_FALSE(out.suspect);
}

TEST(Scorer, UserAgentIsAPartialRe2Match) {
  ReputationConfig c;
  c.rules.push_back(ua_rule("curl", "curl/", 40));
  c.rules.push_back(ua_rule("tools", "(?i)(wget|python-requests)", 7));
  auto s = build(c);
  EXPECT_EQ(score(*s, req(kCurl)).total, 40);
  EXPECT_EQ(score(*s, req(kCurl)).rule, "curl");
  EXPECT_EQ(score(*s, req(kBrowser)).total, 0);
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: x Python-Requests/2.31\n")).total,
            7);
  // The field name is case-insensitive; only the first User-Agent counts.
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\nuser-AGENT: curl/1\n")).total, 40);
  EXPECT_EQ(
      score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: Mozilla\nUser-Agent: curl/1\n")).total,
      0);
}

TEST(Scorer, MissingUserAgentIsMatchedAsEmpty) {
  ReputationConfig c;
  c.rules.push_back(ua_rule("no-ua", "^$", 25));
  auto s = build(c);
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\n")).total, 25);
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent:\n")).total, 25);
  EXPECT_EQ(score(*s, req(kCurl)).total, 0);
  // No head at all (defensive): no fields, method Other.
  EXPECT_EQ(s->score(Request{nullptr, ip("192.0.2.1"), "/"}, 0).total, 25);
}

TEST(Scorer, H2FingerprintsMatchOnlyTheirConnections) {
  ReputationConfig c;
  ReputationRule r = rule("h2-tool", 30);
  r.h2_fingerprints = {"3:100;4:10485760;2:0|1048510465|0|m,p,s,a", "1:65536|0|0|m,s,p,a"};
  c.rules.push_back(r);
  auto s = build(c);
  Req q = req(kCurl);
  EXPECT_EQ(score(*s, q).total, 0);  // HTTP/1.1: no fingerprint, no match
  q.h2_fingerprint = "1:65536|0|0|m,s,p,a";
  EXPECT_EQ(score(*s, q).total, 30);
  q.h2_fingerprint = "1:65536|0|0|m,a,s,p";  // another pseudo-header order is another client
  EXPECT_EQ(score(*s, q).total, 0);
}

TEST(Scorer, PathPrefixReadsTheNormalisedPath) {
  ReputationConfig c;
  ReputationRule r = rule("signup", 15);
  r.path_prefix = "/signup";
  c.rules.push_back(r);
  auto s = build(c);
  EXPECT_EQ(score(*s, req(kCurl)).total, 15);
  EXPECT_EQ(score(*s, req("GET /login HTTP/1.1\nHost: a\n")).total, 0);
  EXPECT_EQ(score(*s, req("GET /Signup HTTP/1.1\nHost: a\n")).total, 0);  // case-sensitive
  // The proxy passes the normalised path: "/%73ignup" is "/signup".
  Req escaped = req("GET /%73ignup HTTP/1.1\nHost: a\n");
  EXPECT_EQ(score(*s, escaped).total, 0);
  escaped.path = "/signup";
  EXPECT_EQ(score(*s, escaped).total, 15);
}

TEST(Scorer, Methods) {
  ReputationConfig c;
  ReputationRule r = rule("writes", 5);
  r.methods = {http::Method::Post, http::Method::Put};
  c.rules.push_back(r);
  auto s = build(c);
  EXPECT_EQ(score(*s, req("POST /x HTTP/1.1\nHost: a\nContent-Length: 0\n")).total, 5);
  EXPECT_EQ(score(*s, req("PUT /x HTTP/1.1\nHost: a\nContent-Length: 0\n")).total, 5);
  EXPECT_EQ(score(*s, req("GET /x HTTP/1.1\nHost: a\n")).total, 0);
  EXPECT_EQ(score(*s, req("DELETE /x HTTP/1.1\nHost: a\n")).total, 0);
}

TEST(Scorer, HeadersPresentAndMissingAreCaseInsensitive) {
  ReputationConfig c;
  ReputationRule missing = rule("no-accept-language", 30);
  missing.headers_missing = {"Accept-Language", "ACCEPT-ENCODING"};
  ReputationRule present = rule("has-both", 3);
  present.headers_present = {"accept", "Sec-Fetch-Mode"};
  c.rules = {missing, present};
  auto s = build(c);
  EXPECT_EQ(score(*s, req(kCurl)).total, 30);  // neither header
  EXPECT_EQ(score(*s, req(kBrowser)).total, 0);
  // Only one of the two missing: the rule needs both missing.
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\naccept-language: fr\n")).total, 0);
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\nACCEPT: */*\nsec-fetch-mode: navigate\n"
                          "Accept-Language: en\n"))
                .total,
            3);
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\nAccept: */*\nAccept-Language: en\n")).total, 0);
}

TEST(Scorer, Cidrs) {
  ReputationConfig c;
  ReputationRule r = rule("nets", 20);
  r.cidrs = {cidr("10.0.0.0/8"), cidr("192.0.2.128/25"), cidr("2001:db8::/32"), cidr("10.1.0.0/16"),
             cidr("192.0.2.0/25")};  // overlapping and adjacent: merged
  c.rules.push_back(r);
  auto s = build(c);
  for (const char* hit : {"10.0.0.1", "10.255.255.255", "10.1.2.3", "192.0.2.0", "192.0.2.127",
                          "192.0.2.128", "192.0.2.255", "2001:db8::1", "2001:db8:ffff::"}) {
    EXPECT_EQ(score(*s, req(kCurl, hit)).total, 20) << hit;
  }
  for (const char* miss : {"11.0.0.0", "9.255.255.255", "192.0.3.0", "192.0.1.255",
                           "2001:db9::", "::ffff:0:0", "::a00:1"}) {
    EXPECT_EQ(score(*s, req(kCurl, miss)).total, 0) << miss;
  }

  // ::/0 holds IPv4 addresses too (as client::contains says); 0.0.0.0/0 holds no IPv6.
  ReputationConfig all;
  ReputationRule v6 = rule("v6-all", 1);
  v6.cidrs = {cidr("::/0")};
  ReputationRule v4 = rule("v4-all", 100);
  v4.cidrs = {cidr("0.0.0.0/0")};
  all.rules = {v6, v4};
  auto t = build(all);
  EXPECT_EQ(score(*t, req(kCurl, "192.0.2.1")).total, 101);
  EXPECT_EQ(score(*t, req(kCurl, "2001:db8::1")).total, 1);
}

TEST(Scorer, RecentRefusalsMakeSuspect) {
  ReputationConfig c;
  c.suspect_score = 1000;
  ReputationRule r = rule("refused-lately", 0);
  r.recent_refusals = 20;
  c.rules.push_back(r);
  auto s = build(c);
  EXPECT_FALSE(score(*s, req(kBrowser), 19).suspect);
  const Score out = score(*s, req(kBrowser), 20);
  EXPECT_TRUE(out.suspect);  // even with weight 0 and a high suspect_score
  EXPECT_EQ(out.total, 0);
  EXPECT_TRUE(score(*s, req(kBrowser), 5000).suspect);
}

TEST(Scorer, ConditionsAreAnded) {
  ReputationConfig c;
  ReputationRule r = ua_rule("scripted-signup", "curl", 50);
  r.path_prefix = "/signup";
  r.methods = {http::Method::Post};
  r.cidrs = {cidr("203.0.113.0/24")};
  r.headers_missing = {"cookie"};
  r.recent_refusals = 2;
  c.rules.push_back(r);
  auto s = build(c);
  const char* base = "POST /signup HTTP/1.1\nHost: a\nUser-Agent: curl/8\nContent-Length: 0\n";
  EXPECT_EQ(score(*s, req(base), 2).total, 50);
  EXPECT_EQ(score(*s, req(base), 1).total, 0);                  // refusals
  EXPECT_EQ(score(*s, req(base, "198.51.100.1"), 2).total, 0);  // cidr
  EXPECT_EQ(
      score(*s, req("POST /login HTTP/1.1\nHost: a\nUser-Agent: curl/8\nContent-Length: 0\n"), 2)
          .total,
      0);  // path
  EXPECT_EQ(score(*s, req("GET /signup HTTP/1.1\nHost: a\nUser-Agent: curl/8\n"), 2).total,
            0);  // method
  EXPECT_EQ(
      score(*s, req("POST /signup HTTP/1.1\nHost: a\nUser-Agent: wget\nContent-Length: 0\n"), 2)
          .total,
      0);  // user agent
  EXPECT_EQ(score(*s,
                  req("POST /signup HTTP/1.1\nHost: a\nUser-Agent: curl/8\nCookie: s=1\n"
                      "Content-Length: 0\n"),
                  2)
                .total,
            0);  // header
}

TEST(Scorer, AllowShortCircuits) {
  ReputationConfig c;
  c.suspect_score = 10;
  c.rules.push_back(ua_rule("ua-weight", "Pingdom", 5));
  ReputationRule monitoring = ua_rule("monitoring", "^Pingdom", 0);
  monitoring.cidrs = {cidr("10.0.0.0/8")};
  monitoring.action = ReputationAction::Allow;
  c.rules.push_back(monitoring);
  ReputationRule deny = ua_rule("deny-pingdom", "Pingdom", 0);
  deny.action = ReputationAction::Deny;
  c.rules.push_back(deny);
  c.rules.push_back(ua_rule("heavy", "Pingdom", 500));
  c.thresholds = {{100, ReputationAction::Deny, 0}};
  auto s = build(c);

  const char* ping = "GET /health HTTP/1.1\nHost: a\nUser-Agent: Pingdom.com_bot_version_1.4\n";
  const Score allowed = score(*s, req(ping, "10.2.3.4"), 1000);
  EXPECT_EQ(allowed.action, ReputationAction::Allow);
  EXPECT_EQ(allowed.rule, "monitoring");
  EXPECT_EQ(allowed.total, 5);  // what matched before it; the 500 after it is never added
  EXPECT_FALSE(allowed.suspect);

  // Same UA from elsewhere: the allow rule fails on its cidr and the deny rule decides.
  const Score denied = score(*s, req(ping, "198.51.100.4"));
  EXPECT_EQ(denied.action, ReputationAction::Deny);
  EXPECT_EQ(denied.rule, "deny-pingdom");
  EXPECT_EQ(denied.total, 5);
}

TEST(Scorer, DenyRuleBeatsLaterAllow) {
  ReputationConfig c;
  ReputationRule deny = ua_rule("bad-tool", "(?i)masscan", 0);
  deny.action = ReputationAction::Deny;
  ReputationRule allow = rule("office", 0);
  allow.cidrs = {cidr("192.0.2.0/24")};
  allow.action = ReputationAction::Allow;
  c.rules = {deny, allow};
  auto s = build(c);
  EXPECT_EQ(
      score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: MASSCAN/1.3\n", "192.0.2.9")).action,
      ReputationAction::Deny);
  EXPECT_EQ(score(*s, req(kCurl, "192.0.2.9")).action, ReputationAction::Allow);
  EXPECT_EQ(score(*s, req(kCurl, "198.51.100.9")).action, ReputationAction::Weigh);
}

TEST(Scorer, ThresholdsHighestFirstWhateverTheConfigOrder) {
  ReputationConfig c;
  c.rules.push_back(ua_rule("curl", "curl", 40));
  c.rules.push_back(ua_rule("curl8", "curl/8", 45));
  ReputationRule no_lang = rule("no-accept-language", 25);
  no_lang.headers_missing = {"accept-language"};
  c.rules.push_back(no_lang);
  c.thresholds = {{20, ReputationAction::Challenge, 0},
                  {80, ReputationAction::Deny, 0},
                  {40, ReputationAction::Challenge, 2}};
  auto s = build(c);

  // curl/8 without Accept-Language: 40 + 45 + 25 = 110 -> deny; the heaviest rule is named.
  Score out = score(*s, req(kCurl));
  EXPECT_EQ(out.total, 110);
  EXPECT_EQ(out.action, ReputationAction::Deny);
  EXPECT_EQ(out.rule, "curl8");
  // curl/7 with Accept-Language: 40 -> challenge level 2 (exactly at the threshold).
  out = score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: curl/7\nAccept-Language: en\n"));
  EXPECT_EQ(out.total, 40);
  EXPECT_EQ(out.action, ReputationAction::Challenge);
  EXPECT_EQ(out.level, 2);
  EXPECT_EQ(out.rule, "curl");
  // Only the missing header: 25 -> challenge level 0.
  out = score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: Lynx\n"));
  EXPECT_EQ(out.total, 25);
  EXPECT_EQ(out.action, ReputationAction::Challenge);
  EXPECT_EQ(out.level, 0);
  // Below every threshold.
  out = score(*s, req(kBrowser));
  EXPECT_EQ(out.total, 0);
  EXPECT_EQ(out.action, ReputationAction::Weigh);
  EXPECT_EQ(out.level, 0);
}

TEST(Scorer, ChallengeRuleIsAFloor) {
  ReputationConfig c;
  ReputationRule ch = rule("signup-path", 10);
  ch.path_prefix = "/signup";
  ch.action = ReputationAction::Challenge;
  ch.level = 3;
  ReputationRule ch_low = ch;
  ch_low.name = "signup-low";
  ch_low.level = 1;
  ReputationRule curl = ua_rule("curl", "curl", 60);
  ReputationRule wget = ua_rule("wget", "wget", 200);
  c.rules = {ch_low, ch, curl, wget};
  c.thresholds = {{250, ReputationAction::Deny, 0},
                  {70, ReputationAction::Challenge, 4},
                  {30, ReputationAction::Challenge, 2}};
  auto s = build(c);

  // 20 alone: no threshold, but the challenge rules still ask for level 3 (the highest).
  Score out = score(*s, req("GET /signup HTTP/1.1\nHost: a\nUser-Agent: Firefox\n"));
  EXPECT_EQ(out.total, 20);
  EXPECT_EQ(out.action, ReputationAction::Challenge);
  EXPECT_EQ(out.level, 3);
  EXPECT_EQ(out.rule, "signup-path");
  // 80 -> threshold challenge 4 is above the floor of 3: the threshold wins, the weigher is named.
  out = score(*s, req("GET /signup HTTP/1.1\nHost: a\nUser-Agent: curl\n"));
  EXPECT_EQ(out.total, 80);
  EXPECT_EQ(out.level, 4);
  EXPECT_EQ(out.rule, "curl");
  // 280 with both UA rules -> deny beats the floor.
  out = score(*s, req("GET /signup HTTP/1.1\nHost: a\nUser-Agent: wget curl\n"));
  EXPECT_EQ(out.total, 280);
  EXPECT_EQ(out.action, ReputationAction::Deny);
  EXPECT_EQ(out.rule, "wget");
  // Elsewhere the challenge rules do not match.
  out = score(*s, req("GET /about HTTP/1.1\nHost: a\nUser-Agent: Firefox\n"));
  EXPECT_EQ(out.action, ReputationAction::Weigh);
}

TEST(Scorer, ChallengeFloorOverThresholdOfLowerLevel) {
  ReputationConfig c;
  ReputationRule ch = rule("login", 0);
  ch.path_prefix = "/login";
  ch.action = ReputationAction::Challenge;
  ch.level = 2;
  c.rules = {ch, ua_rule("curl", "curl", 30)};
  c.thresholds = {{30, ReputationAction::Challenge, 1}};
  auto s = build(c);
  const Score out = score(*s, req("GET /login HTTP/1.1\nHost: a\nUser-Agent: curl\n"));
  EXPECT_EQ(out.action, ReputationAction::Challenge);
  EXPECT_EQ(out.level, 2);
  EXPECT_EQ(out.rule, "login");
}

TEST(Scorer, SuspectScore) {
  ReputationConfig c;
  c.suspect_score = 30;
  c.rules.push_back(ua_rule("curl", "curl", 30));
  c.rules.push_back(ua_rule("lynx", "Lynx", 29));
  auto s = build(c);
  EXPECT_TRUE(score(*s, req(kCurl)).suspect);
  EXPECT_FALSE(score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: Lynx\n")).suspect);
  EXPECT_FALSE(score(*s, req(kBrowser)).suspect);
}

TEST(Scorer, NegativeWeightsAndSaturation) {
  ReputationConfig c;
  c.suspect_score = 10;
  ReputationRule cookie = rule("has-session", -50);
  cookie.headers_present = {"cookie"};
  c.rules = {ua_rule("curl", "curl", 40), cookie};
  for (int i = 0; i < 3; ++i)
    c.rules.push_back(
        ua_rule("huge" + std::to_string(i), "Huge", std::numeric_limits<std::int32_t>::max()));
  auto s = build(c);
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: curl\nCookie: s=1\n")).total, -10);
  EXPECT_FALSE(score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: curl\nCookie: s=1\n")).suspect);
  EXPECT_EQ(score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: Huge\n")).total,
            std::numeric_limits<std::int32_t>::max());
}

TEST(Scorer, BuildErrorsNameTheRule) {
  {
    ReputationConfig c;
    c.rules.push_back(ua_rule("ok", "curl"));
    c.rules.push_back(ua_rule("broken", "(unclosed"));
    c.rules.back().mark = {"gatehouse.yaml", 12, 7};
    const std::string e = build_error(c);
    EXPECT_NE(e.find("gatehouse.yaml:12:7: reputation.rules[1] 'broken': user_agent:"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("missing )"), std::string::npos) << e;
  }
  {
    ReputationConfig c;
    c.rules.push_back(rule("nothing", 5));
    EXPECT_NE(build_error(c).find("'nothing': no condition"), std::string::npos);
  }
  {
    ReputationConfig c;
    ReputationRule r = rule("hdr");
    r.headers_present = {""};
    c.rules.push_back(r);
    EXPECT_NE(build_error(c).find("headers_present: empty header name"), std::string::npos);
  }
  {
    ReputationConfig c;
    ReputationRule r = rule("net");
    r.cidrs = {client::Cidr{ip("192.0.2.0"), 33}};
    c.rules.push_back(r);
    EXPECT_NE(build_error(c).find("cidrs: prefix length 33"), std::string::npos);
  }
  {
    ReputationConfig c;
    ReputationRule r = rule("cloud");
    r.asns = {16509};
    c.rules.push_back(r);
    EXPECT_NE(build_error(c).find("'cloud': asns needs reputation.asn_database"),
              std::string::npos);
  }
  {
    ReputationConfig c;
    c.asn_database = "/nonexistent/GeoLite2-ASN.mmdb";
    const std::string e = build_error(c);
    EXPECT_NE(e.find("reputation.asn_database: cannot open '/nonexistent/GeoLite2-ASN.mmdb'"),
              std::string::npos)
        << e;
  }
}

TEST(Scorer, AsnRules) {
  testing::TempDir dir;
  testing::MmdbWriter w;
  w.add(cidr("192.0.2.0/24"), 16509, "Cloud A");
  w.add(cidr("2001:db8::/32"), 14061, "Cloud B");
  w.add(cidr("198.51.100.0/24"), 3320, "Residential");
  const std::string path = dir.file("asn.mmdb");
  ASSERT_TRUE(w.write(path));

  ReputationConfig c;
  c.asn_database = path;
  ReputationRule hosting = rule("hosting", 35);
  hosting.asns = {14061, 16509, 16509};
  ReputationRule hosting_post = hosting;
  hosting_post.name = "hosting-post";
  hosting_post.methods = {http::Method::Post};
  hosting_post.weight = 5;
  c.rules = {hosting, hosting_post};
  auto s = build(c);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->uses_asn());
  EXPECT_EQ(score(*s, req(kCurl, "192.0.2.77")).total, 35);
  EXPECT_EQ(score(*s, req(kCurl, "2001:db8::5")).total, 35);
  EXPECT_EQ(score(*s, req("POST / HTTP/1.1\nHost: a\nContent-Length: 0\n", "2001:db8::5")).total,
            40);
  EXPECT_EQ(score(*s, req(kCurl, "198.51.100.77")).total, 0);  // another AS
  EXPECT_EQ(score(*s, req(kCurl, "203.0.113.1")).total, 0);    // not in the database
}

// 200 rules, each with its own UA pattern, matched in one RE2::Set pass: the sum must equal what
// 200 separate RE2 partial matches give, for user agents that hit none, one or several.
TEST(Scorer, TwoHundredUserAgentPatternsInOnePass) {
  ReputationConfig c;
  std::vector<std::unique_ptr<RE2>> singles;
  for (int i = 0; i < 200; ++i) {
    std::string pattern;
    switch (i % 4) {
      case 0:
        pattern = "(?i)^bot" + std::to_string(i) + "/";
        break;
      case 1:
        pattern = "crawler-" + std::to_string(i) + "\\b";
        break;
      case 2:
        pattern = "\\(compatible; Spider" + std::to_string(i) + "[;)]";
        break;
      default:
        pattern = "agent" + std::to_string(i) + "(\\.[0-9]+)+$";
        break;
    }
    ReputationRule r = ua_rule("p" + std::to_string(i), pattern, i + 1);
    if (i % 10 == 3) r.methods = {http::Method::Post};  // other conditions still apply
    c.rules.push_back(r);
    singles.push_back(std::make_unique<RE2>(pattern));
  }
  auto s = build(c);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->ua_pattern_count(), 200u);

  std::mt19937 rng(7);
  const char* parts[] = {"Mozilla/5.0 ",
                         "crawler-",
                         "(compatible; Spider",
                         "agent",
                         "bot",
                         "BOT",
                         "/",
                         "; ",
                         ")",
                         ".1",
                         ".22",
                         " ",
                         "x"};
  int multi = 0;
  for (int n = 0; n < 2000; ++n) {
    std::string ua;
    const int pieces = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < pieces; ++k) {
      ua += parts[rng() % std::size(parts)];
      if (rng() % 2 == 0) ua += std::to_string(rng() % 220);
    }
    const bool post = rng() % 2 == 0;
    std::int64_t expected = 0;
    int hits = 0;
    for (int i = 0; i < 200; ++i) {
      if (i % 10 == 3 && !post) continue;
      if (RE2::PartialMatch(ua, *singles[static_cast<std::size_t>(i)])) {
        expected += i + 1;
        ++hits;
      }
    }
    multi += hits > 1 ? 1 : 0;
    const std::string head = std::string(post ? "POST" : "GET") +
                             " / HTTP/1.1\nHost: a\nContent-Length: 0\nUser-Agent: " + ua + "\n";
    EXPECT_EQ(score(*s, req(head)).total, expected) << ua;
  }
  EXPECT_GT(multi, 0);  // the random agents did exercise several matches at once
  EXPECT_EQ(s->ua_match_failures(), 0u);
}

// The README's example, end to end.
TEST(Scorer, ReadmeExample) {
  ReputationConfig c;
  c.suspect_score = 30;
  ReputationRule monitoring = ua_rule("monitoring", "^Pingdom", 0);
  monitoring.cidrs = {cidr("10.0.0.0/8")};
  monitoring.action = ReputationAction::Allow;
  ReputationRule curl = ua_rule("curl-like", "(?i)^(curl|wget|python-requests|go-http-client)", 40);
  ReputationRule browser = ua_rule("browser-without-accept-language", "Mozilla/", 30);
  browser.headers_missing = {"accept-language"};
  ReputationRule refused = rule("refused-lately", 50);
  refused.recent_refusals = 20;
  c.rules = {monitoring, curl, browser, refused};
  c.thresholds = {{80, ReputationAction::Deny, 0},
                  {40, ReputationAction::Challenge, 2},
                  {20, ReputationAction::Challenge, 0}};
  auto s = build(c);

  EXPECT_EQ(
      score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: Pingdom.com_bot\n", "10.9.8.7"), 100)
          .action,
      ReputationAction::Allow);
  Score out = score(*s, req(kCurl));
  EXPECT_EQ(out.action, ReputationAction::Challenge);
  EXPECT_EQ(out.level, 2);
  EXPECT_TRUE(out.suspect);
  out = score(*s, req(kCurl), 25);
  EXPECT_EQ(out.total, 90);
  EXPECT_EQ(out.action, ReputationAction::Deny);
  EXPECT_EQ(out.rule, "refused-lately");
  out = score(*s, req("GET / HTTP/1.1\nHost: a\nUser-Agent: Mozilla/5.0 (headless)\n"));
  EXPECT_EQ(out.total, 30);
  EXPECT_EQ(out.action, ReputationAction::Challenge);
  EXPECT_EQ(out.level, 0);
  EXPECT_TRUE(out.suspect);
  out = score(*s, req(kBrowser));
  EXPECT_EQ(out.total, 0);
  EXPECT_EQ(out.action, ReputationAction::Weigh);
  EXPECT_FALSE(out.suspect);
}

}  // namespace
}  // namespace gh::reputation
