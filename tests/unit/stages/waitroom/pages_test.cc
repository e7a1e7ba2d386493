#include "stages/waitroom/pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace gh::waitroom {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::size_t count(const std::string& s, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(Pages, QueuePageHasTheParts) {
  QueuePage p;
  p.position = 12;
  p.eta_s = 120;
  p.refresh_s = 20;
  p.site_name = "Example Forum";
  const std::string html = queue_page(p);
  EXPECT_THAT(html, HasSubstr("<!doctype html>"));
  EXPECT_THAT(html, HasSubstr("<html lang=\"en\">"));
  EXPECT_THAT(html, HasSubstr("<meta http-equiv=\"refresh\" content=\"20\">"));
  EXPECT_THAT(html, HasSubstr("<title>You are in line \xe2\x80\x93 Example Forum</title>"));
  EXPECT_THAT(html, HasSubstr("<h1>You are in line</h1>"));
  EXPECT_THAT(html, HasSubstr("role=\"status\" aria-live=\"polite\""));
  EXPECT_THAT(html, HasSubstr("number <strong>12</strong> in line"));
  EXPECT_THAT(html, HasSubstr("about 2 minutes"));
  EXPECT_THAT(html, HasSubstr("arrival time is kept in a cookie in this browser"));
  EXPECT_THAT(html, HasSubstr("places may be reset"));
  EXPECT_THAT(html, HasSubstr("starts you again at the back"));
  EXPECT_THAT(html, HasSubstr("every 20 seconds"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_LT(html.size(), 3000u);
}

TEST(Pages, QueuePageWithUnknownEtaAndOtherLanguage) {
  QueuePage p;
  p.position = 3;
  p.eta_s = kEtaUnknown;
  p.lang = "de";
  const std::string html = queue_page(p);
  EXPECT_THAT(html, HasSubstr("<html lang=\"de\">"));
  EXPECT_THAT(html, HasSubstr("cannot estimate"));
  EXPECT_THAT(html, HasSubstr("<title>You are in line</title>"));
}

TEST(Pages, HostileInputIsEscaped) {
  QueuePage p;
  p.site_name = "<script>alert('x')</script>&\"";
  p.lang = "en\"><script>";
  p.theme_css = "body{color:red}</style><script>alert(1)</script><style>";
  const std::string html = queue_page(p);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
  EXPECT_EQ(count(html, "</style>"), 1u);
  EXPECT_EQ(count(html, "<style>"), 1u);
  EXPECT_THAT(html, HasSubstr("body{color:red}\\3c /style>"));

  ClosedPage c;
  c.login_url = "javascript:\"><script>x</script>";
  c.site_name = "<b>";
  const std::string closed = closed_page(c);
  EXPECT_THAT(closed, Not(HasSubstr("<script")));
  EXPECT_THAT(closed, Not(HasSubstr("<b>")));
  EXPECT_THAT(closed, HasSubstr("&lt;b&gt;"));

  FullPage f;
  f.site_name = "</title><script>";
  EXPECT_THAT(full_page(f), Not(HasSubstr("<script")));
}

TEST(Pages, ThemeCssIsInlinedAfterTheBuiltInStyle) {
  QueuePage p;
  p.theme_css = "body{background:#000;color:#fff}";
  const std::string html = queue_page(p);
  const auto base = html.find("body{font:");
  const auto theme = html.find("body{background:#000;color:#fff}");
  ASSERT_NE(base, std::string::npos);
  ASSERT_NE(theme, std::string::npos);
  EXPECT_LT(base, theme);
}

TEST(Pages, QueueJsonIsExact) {
  QueuePage p;
  p.position = 12;
  p.eta_s = 40;
  p.refresh_s = 20;
  EXPECT_EQ(queue_json(p),
            R"({"status":"queued","position":12,"eta_seconds":40,"retry_after":20})");
  p.eta_s = kEtaUnknown;
  EXPECT_EQ(queue_json(p),
            R"({"status":"queued","position":12,"eta_seconds":null,"retry_after":20})");
}

TEST(Pages, ClosedPageAndJson) {
  ClosedPage c;
  c.retry_after_s = 1800;
  c.login_url = "/login?next=a&b";
  const std::string html = closed_page(c);
  EXPECT_THAT(html, HasSubstr("<h1>Registrations are paused</h1>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/login?next=a&amp;b\">log in</a>"));
  EXPECT_THAT(html, HasSubstr("about 30 minutes"));
  EXPECT_THAT(html, Not(HasSubstr("http-equiv=\"refresh\"")));
  EXPECT_EQ(closed_json(c),
            R"({"error":"signup_closed","message":"Registrations are paused. Existing users can )"
            R"(still log in. Try again later.","retry_after":1800})");
}

TEST(Pages, FullPagesNameTheReason) {
  FullPage f;
  f.retry_after_s = 120;
  const std::string q = full_page(f);
  EXPECT_THAT(q, HasSubstr("line for new sign-ups is full"));
  EXPECT_THAT(q, HasSubstr("about 2 minutes"));
  EXPECT_EQ(full_json(f), R"({"error":"queue_full","message":"The waiting room is full. Try )"
                          R"(again later.","retry_after":120})");
  f.reason = Answer::Kind::PrefixFull;
  f.retry_after_s = 30;
  EXPECT_THAT(full_page(f), HasSubstr("from your network"));
  EXPECT_THAT(full_page(f), HasSubstr("try again in a minute"));
  EXPECT_EQ(full_json(f), R"({"error":"prefix_full","message":"Too many places are held from )"
                          R"(your network. Try again later.","retry_after":30})");
}

TEST(Pages, EtaWords) {
  EXPECT_EQ(eta_words(0), "less than a minute");
  EXPECT_EQ(eta_words(59), "less than a minute");
  EXPECT_EQ(eta_words(60), "about 1 minute");
  EXPECT_EQ(eta_words(61), "about 2 minutes");
  EXPECT_EQ(eta_words(120), "about 2 minutes");
  EXPECT_EQ(eta_words(3540), "about 59 minutes");
  EXPECT_EQ(eta_words(3541), "about 1 hour");
  EXPECT_EQ(eta_words(5399), "about 1 hour");
  EXPECT_EQ(eta_words(5400), "about 2 hours");
  EXPECT_EQ(eta_words(kEtaUnknown), "unknown");
  EXPECT_EQ(eta_words(kEtaUnknown - 1), "about 1193046 hours");
  EXPECT_EQ(eta_words(7199), "about 2 hours");
}

TEST(Pages, WantsJson) {
  EXPECT_TRUE(wants_json("application/json"));
  EXPECT_TRUE(wants_json("Application/JSON"));
  EXPECT_TRUE(wants_json("application/json, text/plain, */*"));
  EXPECT_TRUE(wants_json("application/json;q=0.9, text/html;q=0.5"));
  EXPECT_TRUE(wants_json("application/*"));
  EXPECT_TRUE(wants_json("text/html;q=0.1, application/json"));
  EXPECT_TRUE(wants_json("*/*;q=0.1, application/json"));

  EXPECT_FALSE(wants_json(""));
  EXPECT_FALSE(wants_json("*/*"));
  EXPECT_FALSE(wants_json("text/html"));
  EXPECT_FALSE(
      wants_json("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"));
  EXPECT_FALSE(wants_json("application/json, text/html"));  // a tie goes to HTML
  EXPECT_FALSE(wants_json("application/json;q=0"));
  EXPECT_FALSE(wants_json("application/json;q=0.5, */*"));  // */* covers HTML at 1
  EXPECT_FALSE(wants_json("application/*, text/*"));
  EXPECT_FALSE(wants_json("application/json;q=0, */*;q=0"));
  EXPECT_FALSE(wants_json("application/json;q=2"));  // malformed: ignored
  EXPECT_FALSE(wants_json("application/json;q=abc"));
  EXPECT_FALSE(wants_json("application/jsonx"));
  EXPECT_FALSE(wants_json(",,,;;;=/"));
  // The most specific range decides, not the highest q.
  EXPECT_FALSE(wants_json("application/json;q=0.2, application/*;q=1, text/html;q=0.5"));
}

}  // namespace
}  // namespace gh::waitroom
