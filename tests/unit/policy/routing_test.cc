// Routes meet requests in their canonical form (http/path.h): every spelling a framework routes
// to /signup or /login meets that route's limits. And the loader's check of route paths.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "policy/config.h"
#include "policy/route_table.h"
#include "test_util.h"

namespace gh::policy {
namespace {

std::string route_of(const Snapshot& s, std::string_view path,
                     http::Method method = http::Method::Post) {
  char scratch[256];
  const http::PathResult p =
      http::canonical_path(path, path_options(s.config.routing), scratch, sizeof scratch);
  if (p.error != http::PathError::None) return "<400>";
  const RouteConfig* hit = s.routes.match("h", method, p.path);
  return hit ? hit->name : "<none>";
}

constexpr const char* kRoutes =
    "routes:\n"
    "  - name: signup\n"
    "    match: { path: /signup }\n"
    "  - name: login\n"
    "    match: { path: /login/ }\n"
    "  - name: api\n"
    "    match: { path_prefix: /API/ }\n"
    "  - name: users\n"
    "    match: { path_regex: \"/u/[0-9]+\" }\n"
    "  - name: rest\n";

TEST(Routing, EverySpellingOfARouteMeetsIt) {
  auto r = load_config_string(std::string(test::kBase) + kRoutes, "t.yaml");
  ASSERT_TRUE(r.ok());
  const Snapshot& s = *r.snapshot;
  EXPECT_EQ(route_of(s, "/signup"), "signup");
  EXPECT_EQ(route_of(s, "/%73ignup"), "signup");
  EXPECT_EQ(route_of(s, "//signup"), "signup");
  EXPECT_EQ(route_of(s, "/x/../signup"), "signup");
  EXPECT_EQ(route_of(s, "/./%73%69gnup"), "signup");
  EXPECT_EQ(route_of(s, "/Signup"), "signup");  // Express and ASP.NET ignore case
  EXPECT_EQ(route_of(s, "/SIGNUP/"), "signup");  // ... and one trailing slash
  EXPECT_EQ(route_of(s, "/signup;jsessionid=x"), "signup");
  EXPECT_EQ(route_of(s, "/x/..;/signup"), "signup");
  EXPECT_EQ(route_of(s, "/login"), "login");  // the route says /login/, the request /login
  EXPECT_EQ(route_of(s, "/LOGIN/"), "login");
  EXPECT_EQ(route_of(s, "/%u0073ignup"), "<400>");
  EXPECT_EQ(route_of(s, "/signup%2F"), "<400>");
  EXPECT_EQ(route_of(s, "/signupx"), "rest");
  EXPECT_EQ(route_of(s, "/signup/x"), "rest");
  EXPECT_EQ(route_of(s, "/%61pi//v1"), "api");
  EXPECT_EQ(route_of(s, "/Api/v1"), "api");
  EXPECT_EQ(route_of(s, "/api/../u/%31%32"), "users");
  EXPECT_EQ(route_of(s, "/U/12"), "users");
}

TEST(Routing, CaseSensitiveAndEncodedSlashesWhenAsked) {
  auto r = load_config_string(std::string(test::kBase) +
                                  "routing: { case_sensitive: true, encoded_slashes: keep }\n" +
                                  kRoutes,
                              "t.yaml");
  ASSERT_TRUE(r.ok());
  const Snapshot& s = *r.snapshot;
  EXPECT_EQ(route_of(s, "/Signup"), "rest");
  EXPECT_EQ(route_of(s, "/api/v1"), "rest");
  EXPECT_EQ(route_of(s, "/API/a%2Fb"), "api");
  EXPECT_EQ(route_of(s, "/signup%2F"), "rest");
  EXPECT_EQ(route_of(s, "/%u0073ignup"), "<400>");  // never optional
}

TEST(Routing, SectionErrors) {
  using ::testing::ElementsAre;
  EXPECT_THAT(test::errors_of(std::string(test::kBase) +
                              "routing: { case_sensitve: true, encoded_slashes: decode }\n"),
              ElementsAre("test.yaml:6:12: unknown key 'case_sensitve' in routing (did you mean "
                          "'case_sensitive'?)",
                          "test.yaml:6:50: routing.encoded_slashes: unknown setting 'decode': "
                          "use refuse or keep"));
}

TEST(Routing, RoutePathsMustBeCanonical) {
  using ::testing::ElementsAre;
  EXPECT_THAT(
      test::errors_of(std::string(test::kBase) + "routes:\n"
                                                 "  - name: a\n"
                                                 "    match: { path: /a//b }\n"
                                                 "  - name: b\n"
                                                 "    match: { path_prefix: /static/./ }\n"
                                                 "  - name: c\n"
                                                 "    match: { path: /%7Euser }\n"
                                                 "  - name: d\n"
                                                 "    match: { path_prefix: /x%zz }\n"),
      ElementsAre("test.yaml:8:20: routes[0].match.path: '/a//b' never matches: request paths are "
                  "normalised before matching (write '/a/b')",
                  "test.yaml:10:27: routes[1].match.path_prefix: '/static/./' never matches: "
                  "request paths are normalised before matching (write '/static/')",
                  "test.yaml:12:20: routes[2].match.path: '/%7Euser' never matches: request paths "
                  "are normalised before matching (write '/~user')",
                  "test.yaml:14:27: routes[3].match.path_prefix: '/x%zz' never matches: requests "
                  "with '%' not followed by two hex digits in the path are refused"));
}

}  // namespace
}  // namespace gh::policy
