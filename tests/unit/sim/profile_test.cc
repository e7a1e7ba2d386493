// Client profiles: each profile's fields and their order, per kind of request. The browser's
// orders are those captured from Debian's Chromium 156 (see sim/profile.h).
#include "sim/profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace gh::sim {
namespace {

// The field names of a head, in order.
std::vector<std::string> names(const std::string& head) {
  std::vector<std::string> out;
  std::size_t at = head.find("\r\n") + 2;  // past the request line
  while (at < head.size()) {
    const std::size_t end = head.find("\r\n", at);
    const std::string line = head.substr(at, end - at);
    out.push_back(line.substr(0, line.find(':')));
    at = end + 2;
  }
  return out;
}

std::string value(const std::string& head, const std::string& name) {
  const std::string key = "\r\n" + name + ": ";
  const std::size_t at = head.find(key);
  if (at == std::string::npos) return "<absent>";
  const std::size_t from = at + key.size();
  return head.substr(from, head.find("\r\n", from) - from);
}

HeadSpec spec(Kind kind, std::string_view method = "GET", std::string_view path = "/signup") {
  HeadSpec s;
  s.method = method;
  s.path = path;
  s.authority = "127.0.0.1:8080";
  s.kind = kind;
  s.cookie = "gh_pv=1";
  return s;
}

using Names = std::vector<std::string>;

TEST(Profile, BrowserNavigationIsChromesOrder) {
  const std::string h = request_head(Profile::Browser, 0, spec(Kind::Navigate));
  EXPECT_EQ(h.substr(0, h.find("\r\n")), "GET /signup HTTP/1.1");
  EXPECT_EQ(names(h), (Names{"Host", "Connection", "sec-ch-ua", "sec-ch-ua-mobile",
                             "sec-ch-ua-platform", "Upgrade-Insecure-Requests", "User-Agent",
                             "Accept", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-User",
                             "Sec-Fetch-Dest", "Accept-Encoding", "Accept-Language", "Cookie"}));
  EXPECT_EQ(value(h, "Sec-Fetch-Site"), "none");
  EXPECT_EQ(value(h, "Sec-Fetch-Mode"), "navigate");
  EXPECT_EQ(value(h, "Sec-Fetch-User"), "?1");
  EXPECT_EQ(value(h, "Sec-Fetch-Dest"), "document");
  EXPECT_EQ(value(h, "User-Agent"), kChromeUserAgent);
  EXPECT_EQ(value(h, "sec-ch-ua"),
            R"("Not:A-Brand";v="8", "Chromium";v="156", "Google Chrome";v="156")");
  EXPECT_EQ(value(h, "sec-ch-ua-platform"), "\"Windows\"");
  EXPECT_EQ(value(h, "Accept-Encoding"), "gzip, deflate, br, zstd");
  EXPECT_EQ(value(h, "Accept-Language"), "en-US,en;q=0.9");
  EXPECT_EQ(value(h, "Cookie"), "gh_pv=1");
}

TEST(Profile, BrowserLinkAndRedirect) {
  auto s = spec(Kind::Link, "GET", "/account");
  s.referer = "/account";
  const std::string link = request_head(Profile::Browser, 0, s);
  EXPECT_EQ(value(link, "Sec-Fetch-Site"), "same-origin");
  EXPECT_EQ(value(link, "Referer"), "http://127.0.0.1:8080/account");
  auto n = names(link);
  EXPECT_EQ(std::find(n.begin(), n.end(), "Referer") - n.begin(),
            std::find(n.begin(), n.end(), "Sec-Fetch-Dest") - n.begin() + 1);

  // After a 303: the client hints come late, after the Sec-Fetch fields.
  s.kind = Kind::Redirect;
  s.referer = "/login";
  const std::string r = request_head(Profile::Browser, 0, s);
  EXPECT_EQ(names(r),
            (Names{"Host", "Connection", "Cache-Control", "Upgrade-Insecure-Requests", "User-Agent",
                   "Accept", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-User", "Sec-Fetch-Dest",
                   "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "Referer",
                   "Accept-Encoding", "Accept-Language", "Cookie"}));
  s.user_activated = false;  // the redirect after a script's form.submit()
  const auto quiet = names(request_head(Profile::Browser, 0, s));
  EXPECT_EQ(std::count(quiet.begin(), quiet.end(), "Sec-Fetch-User"), 0);
}

TEST(Profile, BrowserFormPostAndScriptSubmit) {
  auto s = spec(Kind::FormPost, "POST", "/signup");
  s.referer = "/signup";
  s.content_type = "application/x-www-form-urlencoded";
  s.content_length = 42;
  const std::string h = request_head(Profile::Browser, 0, s);
  EXPECT_EQ(names(h), (Names{"Host",
                             "Connection",
                             "Content-Length",
                             "Cache-Control",
                             "sec-ch-ua",
                             "sec-ch-ua-mobile",
                             "sec-ch-ua-platform",
                             "Upgrade-Insecure-Requests",
                             "Content-Type",
                             "User-Agent",
                             "Origin",
                             "Accept",
                             "Sec-Fetch-Site",
                             "Sec-Fetch-Mode",
                             "Sec-Fetch-User",
                             "Sec-Fetch-Dest",
                             "Referer",
                             "Accept-Encoding",
                             "Accept-Language",
                             "Cookie"}));
  EXPECT_EQ(value(h, "Content-Length"), "42");
  EXPECT_EQ(value(h, "Origin"), "http://127.0.0.1:8080");
  EXPECT_EQ(value(h, "Referer"), "http://127.0.0.1:8080/signup");
  EXPECT_EQ(value(h, "Cache-Control"), "max-age=0");

  s.kind = Kind::ScriptSubmit;
  auto n = names(request_head(Profile::Browser, 0, s));
  EXPECT_EQ(std::count(n.begin(), n.end(), "Sec-Fetch-User"), 0);
  EXPECT_EQ(n.size(), 19u);
}

TEST(Profile, BrowserFetchPutsScriptFieldsBetweenChromesOwn) {
  auto s = spec(Kind::Fetch, "GET", "/api/items");
  s.cookie = "";
  s.bearer = "a.b.c";
  s.referer = "/";
  const std::string get = request_head(Profile::Browser, 0, s);
  EXPECT_EQ(names(get),
            (Names{"Host", "Connection", "sec-ch-ua-platform", "Authorization", "User-Agent",
                   "Accept", "sec-ch-ua", "sec-ch-ua-mobile", "Sec-Fetch-Site", "Sec-Fetch-Mode",
                   "Sec-Fetch-Dest", "Referer", "Accept-Encoding", "Accept-Language"}));
  EXPECT_EQ(value(get, "Authorization"), "Bearer a.b.c");
  EXPECT_EQ(value(get, "Sec-Fetch-Mode"), "cors");
  EXPECT_EQ(value(get, "Sec-Fetch-Dest"), "empty");
  EXPECT_EQ(value(get, "Accept"), "application/json");

  s = spec(Kind::Fetch, "POST", "/api/login");
  s.cookie = "";
  s.referer = "/";
  s.content_type = "application/json";
  s.content_length = 30;
  EXPECT_EQ(
      names(request_head(Profile::Browser, 0, s)),
      (Names{"Host", "Connection", "Content-Length", "sec-ch-ua-platform", "User-Agent", "Accept",
             "sec-ch-ua", "Content-Type", "sec-ch-ua-mobile", "Origin", "Sec-Fetch-Site",
             "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Referer", "Accept-Encoding", "Accept-Language"}));
  // A navigation never carries a script's Authorization.
  auto nav = spec(Kind::Navigate);
  nav.bearer = "a.b.c";
  EXPECT_EQ(value(request_head(Profile::Browser, 0, nav), "Authorization"), "<absent>");
}

TEST(Profile, PerfectIsByteIdenticalToBrowser) {
  for (Kind k : {Kind::Navigate, Kind::Link, Kind::Redirect, Kind::FormPost, Kind::ScriptSubmit,
                 Kind::Fetch}) {
    auto s = spec(k, k == Kind::FormPost || k == Kind::ScriptSubmit ? "POST" : "GET");
    s.referer = "/signup";
    s.content_length = 10;
    s.content_type = "application/x-www-form-urlencoded";
    s.extra = "X-Sim-Population: farm\r\n";
    EXPECT_EQ(request_head(Profile::Perfect, 0, s), request_head(Profile::Browser, 0, s))
        << static_cast<int>(k);
  }
}

TEST(Profile, TheSimulatorsOwnFieldsComeLast) {
  auto s = spec(Kind::Navigate);
  s.extra = "X-Sim-Population: newcomers\r\nX-Forwarded-For: 127.2.0.1\r\n";
  auto n = names(request_head(Profile::Browser, 0, s));
  ASSERT_GE(n.size(), 2u);
  EXPECT_EQ(n[n.size() - 2], "X-Sim-Population");
  EXPECT_EQ(n.back(), "X-Forwarded-For");
}

TEST(Profile, ScriptedIsABareLibrary) {
  auto s = spec(Kind::FormPost, "POST", "/signup");
  s.referer = "/signup";
  s.content_type = "application/x-www-form-urlencoded";
  s.content_length = 5;
  const std::string h = request_head(Profile::Scripted, 0, s);
  EXPECT_EQ(names(h), (Names{"Host", "User-Agent", "Accept-Encoding", "Accept", "Connection",
                             "Cookie", "Content-Length", "Content-Type"}));
  EXPECT_EQ(value(h, "User-Agent"), kScriptedUserAgent);
  EXPECT_EQ(value(h, "Accept"), "*/*");
  EXPECT_EQ(h.find("Sec-"), std::string::npos);
  EXPECT_EQ(h.find("sec-ch"), std::string::npos);
  EXPECT_EQ(h.find("Referer"), std::string::npos);
}

TEST(Profile, AppIsAMobileHttpClient) {
  auto s = spec(Kind::Fetch, "GET", "/api/me");
  s.cookie = "";
  s.bearer = "t.o.k";
  const std::string h = request_head(Profile::App, 0, s);
  EXPECT_EQ(names(h), (Names{"Authorization", "Accept", "Host", "Connection", "Accept-Encoding",
                             "User-Agent"}));
  EXPECT_EQ(value(h, "User-Agent"), kAppUserAgent);
}

TEST(Profile, HeadlessTellsOneByOne) {
  auto s = spec(Kind::Navigate);
  const auto browser = names(request_head(Profile::Browser, 0, s));

  // No tells: the browser's fields, in its order (an imitation that got everything right).
  EXPECT_EQ(request_head(Profile::Headless, 0, s), request_head(Profile::Browser, 0, s));

  const std::string ua = request_head(Profile::Headless, kTellHeadlessUa, s);
  EXPECT_EQ(value(ua, "User-Agent"), kHeadlessUserAgent);
  EXPECT_NE(value(ua, "User-Agent").find("HeadlessChrome/"), std::string::npos);
  EXPECT_EQ(value(ua, "sec-ch-ua-platform"), "\"Linux\"");
  EXPECT_EQ(names(ua), browser);

  const auto hints = names(request_head(Profile::Headless, kTellNoClientHints, s));
  EXPECT_EQ(hints.size(), browser.size() - 3);
  for (const auto& n : hints) EXPECT_EQ(n.rfind("sec-ch-ua", 0), std::string::npos) << n;

  const auto lang = names(request_head(Profile::Headless, kTellNoAcceptLanguage, s));
  EXPECT_EQ(std::count(lang.begin(), lang.end(), "Accept-Language"), 0);
  EXPECT_EQ(lang.size(), browser.size() - 1);

  const auto early = names(request_head(Profile::Headless, kTellLanguageEarly, s));
  const auto ua_at = std::find(early.begin(), early.end(), "User-Agent");
  ASSERT_NE(ua_at, early.end());
  EXPECT_EQ(*(ua_at + 1), "Accept-Language");
  EXPECT_EQ(early.size(), browser.size());

  // Go's net/http: Host, User-Agent, then the rest sorted, names in canonical case.
  const auto order = names(request_head(Profile::Headless, kTellFieldOrder, s));
  ASSERT_GE(order.size(), 3u);
  EXPECT_EQ(order[0], "Host");
  EXPECT_EQ(order[1], "User-Agent");
  EXPECT_TRUE(std::is_sorted(order.begin() + 2, order.end())) << ::testing::PrintToString(order);
  EXPECT_NE(std::find(order.begin(), order.end(), "Sec-Ch-Ua"), order.end());

  // The default tells: HeadlessChrome and no Accept-Language (a headless browser without a
  // locale, as puppeteer starts one).
  const std::string d = request_head(Profile::Headless, kDefaultHeadlessTells, s);
  EXPECT_NE(d.find("HeadlessChrome"), std::string::npos);
  EXPECT_EQ(value(d, "Accept-Language"), "<absent>");
}

TEST(Profile, DefaultIsTheHeadTheSimulatorAlwaysSent) {
  HeadSpec s;
  s.method = "POST";
  s.path = "/signup";
  s.authority = "127.0.0.1:8080";
  s.content_type = "application/x-www-form-urlencoded";
  s.content_length = 7;
  s.extra = "X-Sim-Population: bots\r\n";
  EXPECT_EQ(request_head(Profile::Default, 0, s),
            "POST /signup HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: gatehouse-sim/0.1\r\n"
            "Accept: application/json\r\nX-Sim-Population: bots\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n");
  s.default_browser = true;
  s.cookie = "gh_device=x";
  s.method = "GET";
  s.path = "/account";
  s.content_type = "";
  s.content_length.reset();
  EXPECT_EQ(request_head(Profile::Default, 0, s),
            "GET /account HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64; gatehouse-sim resident)\r\n"
            "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
            "X-Sim-Population: bots\r\nCookie: gh_device=x\r\n");
}

TEST(Profile, NamesRoundTrip) {
  for (const char* n : {"default", "browser", "scripted", "headless", "perfect", "app"}) {
    auto p = profile_of(n);
    ASSERT_TRUE(p.has_value()) << n;
    EXPECT_STREQ(profile_name(*p), n);
  }
  EXPECT_FALSE(profile_of("chrome").has_value());
  for (const char* t :
       {"headless-ua", "no-client-hints", "no-accept-language", "language-early", "field-order"}) {
    auto bit = tell_of(t);
    ASSERT_TRUE(bit.has_value()) << t;
    EXPECT_STREQ(tell_name(*bit), t);
  }
  EXPECT_FALSE(tell_of("webdriver").has_value());
}

}  // namespace
}  // namespace gh::sim
