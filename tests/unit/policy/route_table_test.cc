#include "policy/route_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gh::policy {
namespace {

using http::Method;

RouteConfig route(std::string name, std::string host = "", std::vector<Method> methods = {},
                  std::string path = "", std::string prefix = "", std::string regex = "") {
  RouteConfig r;
  r.name = std::move(name);
  r.match.host = std::move(host);
  r.match.methods = std::move(methods);
  r.match.path = std::move(path);
  r.match.path_prefix = std::move(prefix);
  r.match.path_regex = std::move(regex);
  return r;
}

std::string name_of(const RouteTable& t, std::string_view host, Method m, std::string_view path) {
  const RouteConfig* r = t.match(host, m, path);
  return r ? r->name : "<none>";
}

TEST(RouteTable, EmptyMatchesNothing) {
  RouteTable t;
  EXPECT_EQ(t.match("example.com", Method::Get, "/"), nullptr);
  EXPECT_EQ(RouteTable(std::vector<RouteConfig>{}).match("", Method::Get, "/"), nullptr);
}

TEST(RouteTable, PrecedenceTable) {
  // Declared from least to most specific, so declaration order never explains a result.
  RouteTable t({
      route("catch-all"), route("regex-user", "", {}, "", "", "^/u/[0-9]+$"),
      route("regex-any-u", "", {}, "", "", "^/u/.*$"), route("prefix-short", "", {}, "", "/api/"),
      route("prefix-long", "", {}, "", "/api/v2/"),
      route("prefix-long-post", "", {Method::Post}, "", "/api/v2/"),
      route("exact-login", "", {}, "/login"),
      route("exact-login-post", "", {Method::Post, Method::Put}, "/login"),
      route("host-any", "example.com"), route("host-prefix", "example.com", {}, "", "/api/"),
      route("host-exact-login", "example.com", {}, "/login"),
      route("first-of-twins"),  // same specificity as catch-all, declared later: never wins
  });
  struct Case {
    const char* host;
    Method method;
    const char* path;
    const char* want;
  } cases[] = {
      {"other.org", Method::Get, "/", "catch-all"},
      {"other.org", Method::Get, "/login", "exact-login"},
      {"other.org", Method::Post, "/login", "exact-login-post"},
      {"other.org", Method::Put, "/login", "exact-login-post"},
      {"other.org", Method::Get, "/login/", "exact-login"},  // one trailing slash, as Express
      {"other.org", Method::Get, "/login//", "catch-all"},
      {"other.org", Method::Get, "/api/x", "prefix-short"},
      {"other.org", Method::Get, "/api/v2/x", "prefix-long"},        // longest prefix
      {"other.org", Method::Post, "/api/v2/x", "prefix-long-post"},  // methods listed beat none
      {"other.org", Method::Get, "/u/42", "regex-user"},             // first declared regex
      {"other.org", Method::Get, "/u/abc", "regex-any-u"},
      {"other.org", Method::Get, "/u/42/x", "regex-any-u"},  // full match, not search
      {"example.com", Method::Get, "/login", "host-exact-login"},
      {"EXAMPLE.COM:8443", Method::Post, "/login", "host-exact-login"},  // host beats methods
      {"example.com.", Method::Get, "/api/v2/x", "host-prefix"},  // host beats a longer prefix
      {"example.com", Method::Get, "/u/42", "host-any"},  // host catch-all beats host-less regex
      {"", Method::Get, "/u/42", "regex-user"},
      {"www.example.com", Method::Get, "/", "catch-all"},
      {"other.org", Method::Other, "/login", "exact-login"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(name_of(t, c.host, c.method, c.path), c.want) << c.host << " " << c.path;
  }
}

TEST(RouteTable, NoCatchAllGivesNull) {
  RouteTable t({route("signup", "", {Method::Post}, "/signup")});
  EXPECT_EQ(name_of(t, "h", Method::Post, "/signup"), "signup");
  EXPECT_EQ(t.match("h", Method::Get, "/signup"), nullptr);
  EXPECT_EQ(t.match("h", Method::Post, "/signup/x"), nullptr);
}

TEST(RouteTable, HostForms) {
  RouteTable t({route("v6", "[2001:db8::1]"), route("name", "Example.COM"), route("rest")});
  EXPECT_EQ(name_of(t, "[2001:DB8::1]:80", Method::Get, "/"), "v6");
  EXPECT_EQ(name_of(t, "[2001:db8::1]", Method::Get, "/"), "v6");
  EXPECT_EQ(name_of(t, "example.com", Method::Get, "/"), "name");
  EXPECT_EQ(name_of(t, "eXample.com:", Method::Get, "/"), "name");
  EXPECT_EQ(name_of(t, "example.com.evil", Method::Get, "/"), "rest");
  EXPECT_EQ(name_of(t, "xexample.com", Method::Get, "/"), "rest");
  EXPECT_EQ(route_host("a.b:80"), "a.b");
  EXPECT_EQ(route_host("[::1]:80"), "[::1]");
  EXPECT_EQ(route_host("a.b."), "a.b");
}

TEST(RouteTable, TiesGoToTheFirstDeclared) {
  RouteTable t({route("one", "", {}, "", "/a/"), route("two", "", {}, "", "/a/"),
                route("three", "", {}, "", "/b/")});
  EXPECT_EQ(name_of(t, "", Method::Get, "/a/x"), "one");
  EXPECT_EQ(name_of(t, "", Method::Get, "/b/x"), "three");
  EXPECT_EQ(t.routes()[1].name, "two");  // declaration order kept
}

TEST(RouteTable, MovedTableStillMatches) {
  RouteTable a({route("r", "", {}, "", "", "^/x+$"), route("s", "", {}, "/short")});
  RouteTable b(std::move(a));
  RouteTable c;
  c = std::move(b);
  EXPECT_EQ(name_of(c, "", Method::Get, "/xxx"), "r");
  EXPECT_EQ(name_of(c, "", Method::Get, "/short"), "s");
}

TEST(RouteTable, CheckRegex) {
  EXPECT_FALSE(check_path_regex("^/u/[0-9]+$"));
  auto err = check_path_regex("(");
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "missing ): (");
}

}  // namespace
}  // namespace gh::policy
