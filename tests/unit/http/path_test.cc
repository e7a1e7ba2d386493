// The canonical path routes are matched on: one reading that common frameworks agree on, or a
// refusal. Each refused family is a bypass seen against a real framework (see issue 11).
#include "http/path.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gh::http {
namespace {

PathResult canon(std::string_view path, PathOptions o = {}) {
  static thread_local std::vector<char> scratch;
  scratch.assign(path.size() + 1, '\0');
  return canonical_path(path, o, scratch.data(), scratch.size());
}

std::string canonical(std::string_view path, PathOptions o = {}) {
  const PathResult r = canon(path, o);
  return r.error == PathError::None ? std::string(r.path) : "<" + std::string(describe(r.error)) + ">";
}

TEST(CanonicalPath, Table) {
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
      // Every escape decodes, hex in either case; letters fold to lower case.
      {"/%73ignup", "/signup"},
      {"/%73%69%67%6E%75%70", "/signup"},
      {"/%53ignup", "/signup"},
      {"/SIGNUP", "/signup"},
      {"/%7e%7E/%2D%2e%5F%30%39%41%5a", "/~~/-._09az"},
      {"/a%20b", "/a b"},
      {"/a%3Fb", "/a?b"},
      {"/caf%C3%A9", "/caf\xC3\xA9"},
      {"/100%25-off", "/100%-off"},  // a literal '%' that spells no escape
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
      {"/.", "/"},
      {"/..", "/"},
      {"/a/b/../../../c/./d//", "/c/d/"},
      {"/%2e%2e/signup", "/signup"},
      {"/.%2e/x", "/x"},
      // Path parameters are cut from each segment (Tomcat, Spring), before dot segments.
      {"/signup;jsessionid=1", "/signup"},
      {"/sign;x/up", "/sign/up"},
      {"/x/..;/signup", "/signup"},
      {"/;x/login", "/login"},
      {"/login%3Bx", "/login"},
      {"/a;b/../c", "/c"},
      // Trailing slashes stay (the route table compares exact paths without them).
      {"/login/", "/login/"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(canonical(c.in), c.want) << "input: " << c.in;
  }
}

TEST(CanonicalPath, RefusesEveryPathWithTwoReadings) {
  struct Case {
    const char* in;
    PathError want;
  } cases[] = {
      {"/%u0073ignup", PathError::BadEscape},  // IIS and some frameworks decode %uXXXX
      {"/%U006Cogin", PathError::BadEscape},
      {"/a%zz", PathError::BadEscape},
      {"/a%", PathError::BadEscape},
      {"/a%4", PathError::BadEscape},
      {"/a%4g", PathError::BadEscape},
      {"/signup%2F", PathError::EncodedSeparator},
      {"/%2fsignup", PathError::EncodedSeparator},
      {"/..%2f../signup", PathError::EncodedSeparator},
      {"/x%5Csignup", PathError::EncodedSeparator},
      {"/x\\..\\signup", PathError::Backslash},
      {"/a%00b", PathError::ControlByte},
      {"/login%0a", PathError::ControlByte},
      {"/login%0D%0AX-Injected:1", PathError::ControlByte},
      {"/a%7F", PathError::ControlByte},
      {"/%2573ignup", PathError::DoubleEncoding},
      {"/%25%37%33ignup", PathError::DoubleEncoding},
      {"/%25u0073ignup", PathError::DoubleEncoding},
      {"/%252f", PathError::DoubleEncoding},
      {"/%C0%AFsignup", PathError::BadUtf8},      // overlong '/'
      {"/%C1%B3ignup", PathError::BadUtf8},       // overlong 's'
      {"/%E0%80%AF", PathError::BadUtf8},         // overlong, three bytes
      {"/%F0%80%80%AF", PathError::BadUtf8},      // overlong, four bytes
      {"/%ED%A0%80", PathError::BadUtf8},         // a UTF-16 surrogate
      {"/%F4%90%80%80", PathError::BadUtf8},      // above U+10FFFF
      {"/%C3", PathError::BadUtf8},               // cut sequence
      {"/%C3/x", PathError::BadUtf8},
      {"/%A9", PathError::BadUtf8},               // lone continuation byte
      {"/%EF%BD%93ignup", PathError::Fullwidth},  // U+FF53 FULLWIDTH s
      {"/%EF%BC%8Fsignup", PathError::Fullwidth}, // U+FF0F FULLWIDTH SOLIDUS
  };
  for (const Case& c : cases) {
    EXPECT_EQ(canon(c.in).error, c.want) << "input: " << c.in;
  }
}

TEST(CanonicalPath, Options) {
  PathOptions sensitive;
  sensitive.fold_case = false;
  EXPECT_EQ(canonical("/SignUp", sensitive), "/SignUp");
  EXPECT_EQ(canonical("/%53ignup", sensitive), "/Signup");
  PathOptions keep;
  keep.keep_encoded_slashes = true;
  EXPECT_EQ(canonical("/a%2fb/%5c", keep), "/a%2Fb/%5C");
  EXPECT_EQ(canonical("/..%2f../signup", keep), "/..%2F../signup");  // one segment, not ".."
  EXPECT_EQ(canon("/x\\y", keep).error, PathError::Backslash);
}

TEST(CanonicalPath, UnchangedReturnsTheInput) {
  char scratch[64];
  const std::string_view in = "/a/b/..x";
  EXPECT_EQ(canonical_path(in, {}, scratch, sizeof scratch).path.data(), in.data());
  const std::string_view changed = "/a//b";
  EXPECT_EQ(canonical_path(changed, {}, scratch, sizeof scratch).path.data(), scratch);
}

TEST(CanonicalPath, TooSmallAScratchGivesTheInputAfterTheChecks) {
  char scratch[8];
  const std::string_view in = "//a/b/c/d/e/f";
  EXPECT_EQ(canonical_path(in, {}, scratch, 0).path, in);
  EXPECT_EQ(canonical_path("/%2F", {}, scratch, 0).error, PathError::EncodedSeparator);
}

// Every path up to 7 bytes over an alphabet rich in the interesting bytes: never longer, never
// empty, always rooted, and a result without '%' is its own canonical form.
TEST(CanonicalPath, NeverLongerAndStable) {
  const std::string_view alphabet = "/.%2e;5FA";
  std::size_t checked = 0;
  std::size_t refused = 0;
  for (std::size_t len = 0; len <= 6; ++len) {
    std::vector<std::size_t> digits(len, 0);
    for (;;) {
      std::string p = "/";
      for (std::size_t d : digits) p += alphabet[d];
      const PathResult once = canon(p);
      if (once.error != PathError::None) {
        ++refused;
      } else {
        const std::string out(once.path);
        ASSERT_LE(out.size(), p.size()) << p;
        ASSERT_FALSE(out.empty()) << p;
        ASSERT_EQ(out.front(), '/') << p;
        ASSERT_EQ(out.find(';'), std::string::npos) << p;
        if (out.find('%') == std::string::npos) {
          ASSERT_EQ(canonical(out), out) << p;
        }
      }
      ++checked;
      std::size_t i = 0;
      while (i < len && ++digits[i] == alphabet.size()) digits[i++] = 0;
      if (i == len) break;
    }
  }
  EXPECT_GT(checked, 500'000u);
  EXPECT_GT(refused, 0u);
}

}  // namespace
}  // namespace gh::http
