// Path normalisation for route matching: cases, idempotence, and the loader's check of route
// paths.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/config.h"
#include "policy/route_table.h"
#include "test_util.h"

namespace gh::policy {
namespace {

std::string normalize(std::string_view path) {
  std::vector<char> scratch(path.size() + 1);
  return std::string(normalize_path(path, scratch.data(), scratch.size()));
}

TEST(NormalizePath, Table) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      // Unchanged.
      {"/", "/"},
      {"/signup", "/signup"},
      {"/a/b/", "/a/b/"},
      {"/.well-known/x", "/.well-known/x"},
      {"/a/...", "/a/..."},
      {"/a..b/c.", "/a..b/c."},
      {"", ""},
      {"*", "*"},
      {"no/slash//x", "no/slash//x"},  // not a path starting with '/': left alone
      // Unreserved escapes decode, hex in either case; the decoded letter keeps its case.
      {"/%73ignup", "/signup"},
      {"/%73%69%67%6E%75%70", "/signup"},
      {"/%53ignup", "/Signup"},
      {"/%7e%7E/%2D%2e%5F%30%39%41%5a", "/~~/-._09AZ"},
      // Other escapes stay as sent, whatever the case of their hex digits.
      {"/signup%2Fx", "/signup%2Fx"},
      {"/%2fsignup", "/%2fsignup"},
      {"/a%00b", "/a%00b"},
      {"/%73ignup%2F%20", "/signup%2F%20"},
      {"/%25%37%33", "/%2573"},  // "%25" is '%' itself: kept, and the rest cannot join it
      // Invalid escapes stay; neighbours still decode.
      {"/a%zz", "/a%zz"},
      {"/a%", "/a%"},
      {"/a%4", "/a%4"},
      {"/%73%", "/s%"},
      {"/%73ignup%zz", "/signup%zz"},
      // ... but never into a new escape that a second pass would decode.
      {"/%4%31", "/%4%31"},
      {"/%%34%31", "/%%341"},
      {"/%%7A", "/%z"},
      {"/%%46", "/%%46"},
      // Repeated slashes.
      {"//signup", "/signup"},
      {"///a//b//", "/a/b/"},
      {"//", "/"},
      // Dot segments, never above the root; a trailing one leaves a trailing slash.
      {"/./signup", "/signup"},
      {"/a/../signup", "/signup"},
      {"/../../signup", "/signup"},
      {"/a/b/..", "/a/"},
      {"/a/.", "/a/"},
      {"/a/./", "/a/"},
      {"/.", "/"},
      {"/..", "/"},
      {"/a/..", "/"},
      {"/a/b/../../../c/./d//", "/c/d/"},
      {"/a;b/../c", "/c"},
      // Dot segments spelled with escapes count; "%2F" is no separator.
      {"/%2e%2e/signup", "/signup"},
      {"/a/%2E%2e/signup", "/signup"},
      {"/.%2e/x", "/x"},
      {"/..%2f../signup", "/..%2f../signup"},
      {"/x/%2e%2e%2fsignup", "/x/..%2fsignup"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(normalize(c.in), c.want) << "input: " << c.in;
  }
}

TEST(NormalizePath, UnchangedReturnsTheInput) {
  char scratch[64];
  const std::string_view in = "/a/b/..x";
  EXPECT_EQ(normalize_path(in, scratch, sizeof scratch).data(), in.data());
  const std::string_view changed = "/a//b";
  EXPECT_EQ(normalize_path(changed, scratch, sizeof scratch).data(), scratch);
}

TEST(NormalizePath, TooSmallAScratchGivesTheInput) {
  char scratch[8];
  const std::string_view in = "//a/b/c/d/e/f";
  EXPECT_EQ(normalize_path(in, scratch, 0), in);
  EXPECT_EQ(normalize_path(in, scratch, 5), in);
  EXPECT_EQ(normalize_path("//abc", scratch, 4), "/abc");  // the result fits
  EXPECT_EQ(normalize_path("/x%41", scratch, 3), "/xA");
  EXPECT_EQ(normalize_path("/x%2F", scratch, 4), "/x%2F");
}

// Every path up to 7 bytes over an alphabet rich in the interesting bytes.
TEST(NormalizePath, IdempotentAndNeverLonger) {
  const std::string_view alphabet = "/.%2e41aF";
  std::vector<char> a(16);
  std::vector<char> b(16);
  std::string path = "/";
  std::size_t checked = 0;
  auto check = [&](const std::string& p) {
    std::string_view once = normalize_path(p, a.data(), a.size());
    ASSERT_LE(once.size(), p.size()) << p;
    std::string_view twice = normalize_path(once, b.data(), b.size());
    ASSERT_EQ(twice, once) << p;
    ASSERT_FALSE(once.empty()) << p;
    ASSERT_EQ(once.front(), '/') << p;
    ++checked;
  };
  // Odometer over lengths 1..6 after the leading '/'.
  for (std::size_t len = 0; len <= 6; ++len) {
    std::vector<std::size_t> digits(len, 0);
    for (;;) {
      std::string p = "/";
      for (std::size_t d : digits) p += alphabet[d];
      check(p);
      if (HasFatalFailure()) return;
      std::size_t i = 0;
      while (i < len && ++digits[i] == alphabet.size()) digits[i++] = 0;
      if (i == len) break;
    }
  }
  EXPECT_GT(checked, 500'000u);
}

TEST(NormalizePath, RoutesMatchTheNormalisedPath) {
  auto r = load_config_string(std::string(test::kBase) +
                                  "routes:\n"
                                  "  - name: signup\n"
                                  "    match: { path: /signup }\n"
                                  "  - name: api\n"
                                  "    match: { path_prefix: /api/ }\n"
                                  "  - name: users\n"
                                  "    match: { path_regex: \"/u/[0-9]+\" }\n"
                                  "  - name: rest\n",
                              "t.yaml");
  ASSERT_TRUE(r.ok());
  const RouteTable& t = r.snapshot->routes;
  auto route = [&](std::string_view path) {
    char scratch[256];
    const RouteConfig* hit =
        t.match("h", http::Method::Post, normalize_path(path, scratch, sizeof scratch));
    return hit ? hit->name : "<none>";
  };
  EXPECT_EQ(route("/signup"), "signup");
  EXPECT_EQ(route("/%73ignup"), "signup");
  EXPECT_EQ(route("//signup"), "signup");
  EXPECT_EQ(route("/x/../signup"), "signup");
  EXPECT_EQ(route("/./%73%69gnup"), "signup");
  EXPECT_EQ(route("/Signup"), "rest");  // paths stay case-sensitive
  EXPECT_EQ(route("/signup%2F"), "rest");
  EXPECT_EQ(route("/%61pi//v1"), "api");
  EXPECT_EQ(route("/api/../u/%31%32"), "users");
  EXPECT_EQ(route("/api/../../api/x"), "api");
}

TEST(NormalizePath, RoutePathsMustBeNormal) {
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
                                                 "    match: { path_prefix: /x%2F }\n"),
      ElementsAre("test.yaml:8:20: routes[0].match.path: '/a//b' never matches: request paths are "
                  "normalised before matching (write '/a/b')",
                  "test.yaml:10:27: routes[1].match.path_prefix: '/static/./' never matches: "
                  "request paths are normalised before matching (write '/static/')",
                  "test.yaml:12:20: routes[2].match.path: '/%7Euser' never matches: request paths "
                  "are normalised before matching (write '/~user')"));
}

}  // namespace
}  // namespace gh::policy
