#include "demo/forms.h"

#include <gtest/gtest.h>

namespace gh::demo {
namespace {

TEST(DemoForms, ParsesUrlencoded) {
  auto f = parse_urlencoded("username=al+ice&email=a%40b.co&x&&password=p%2x%41&username=dup");
  EXPECT_EQ(f["username"], "al ice");  // first occurrence wins
  EXPECT_EQ(f["email"], "a@b.co");
  EXPECT_EQ(f["x"], "");
  EXPECT_EQ(f["password"], "p%2xA");  // malformed escape kept literally
  EXPECT_TRUE(parse_urlencoded("").empty());
  EXPECT_EQ(parse_urlencoded("a=%")["a"], "%");
}

TEST(DemoForms, MediaType) {
  EXPECT_EQ(media_type("Application/JSON; charset=utf-8"), "application/json");
  EXPECT_EQ(media_type("  application/x-www-form-urlencoded "),
            "application/x-www-form-urlencoded");
  EXPECT_EQ(media_type(""), "");
}

TEST(DemoForms, CookieValue) {
  EXPECT_EQ(cookie_value("a=1; demo_session=abc; b=2", "demo_session"), "abc");
  EXPECT_EQ(cookie_value("demo_session=\"q\"", "demo_session"), "q");
  EXPECT_EQ(cookie_value("xdemo_session=abc", "demo_session"), std::nullopt);
  EXPECT_EQ(cookie_value("", "demo_session"), std::nullopt);
}

TEST(DemoForms, Population) {
  std::string s = "bots_1-a";
  EXPECT_EQ(population_of(nullptr), "direct");
  EXPECT_EQ(population_of(&s), "bots_1-a");
  for (std::string bad : {std::string(), std::string("Bots"), std::string("a b"),
                          std::string("x/y"), std::string(33, 'a')}) {
    EXPECT_EQ(population_of(&bad), "unknown") << bad;
  }
  std::string max(32, 'a');
  EXPECT_EQ(population_of(&max), max);
}

TEST(DemoForms, Username) {
  EXPECT_EQ(check_username("al.ice_9-x"), "");
  EXPECT_EQ(check_username(std::string(32, 'a')), "");
  EXPECT_NE(check_username("ab"), "");
  EXPECT_NE(check_username(std::string(33, 'a')), "");
  EXPECT_NE(check_username("Alice"), "");
  EXPECT_NE(check_username("al ice"), "");
  EXPECT_NE(check_username("<script>"), "");
}

TEST(DemoForms, Email) {
  for (const char* ok : {"a@b.co", "first.last+tag@mail.example.org", "x_y@sub-domain.io"}) {
    EXPECT_EQ(check_email(ok), "") << ok;
  }
  for (const char* bad : {"", "a", "a@b", "@b.co", "a@@b.co", "a@b@c.co", "a b@c.co", ".a@b.co",
                          "a..b@c.co", "a@.b.co", "a@b..co", "a@-b.co", "a@b.co.", "a@b_c.co"}) {
    EXPECT_NE(check_email(bad), "") << bad;
  }
  EXPECT_NE(check_email(std::string(65, 'a') + "@b.co"), "");
}

TEST(DemoForms, Password) {
  EXPECT_NE(check_password("1234567"), "");
  EXPECT_EQ(check_password("12345678"), "");
  EXPECT_NE(check_password(std::string(1025, 'p')), "");
}

TEST(DemoForms, HtmlEscape) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace gh::demo
