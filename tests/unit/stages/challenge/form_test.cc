#include "stages/challenge/form.h"

#include <gtest/gtest.h>

#include <string>

namespace gh::challenge {
namespace {

TEST(SolutionForm, ReadsAllThreeFields) {
  Solution s;
  ASSERT_EQ(parse_solution_form("token=abc-_9&nonce=12345&return=%2Fsignup%3Fref%3Dmail", s),
            FormStatus::Ok);
  EXPECT_EQ(s.token(), "abc-_9");
  EXPECT_EQ(s.nonce(), "12345");
  EXPECT_EQ(s.return_path(), "/signup?ref=mail");
  EXPECT_TRUE(s.has_return());
}

TEST(SolutionForm, OrderAndUnknownFieldsDoNotMatter) {
  Solution s;
  ASSERT_EQ(parse_solution_form("x=1&&return=/a&nonce=7&submit&token=T&", s), FormStatus::Ok);
  EXPECT_EQ(s.token(), "T");
  EXPECT_EQ(s.nonce(), "7");
  EXPECT_EQ(s.return_path(), "/a");
}

TEST(SolutionForm, ReturnDefaultsToRoot) {
  Solution s;
  ASSERT_EQ(parse_solution_form("token=T&nonce=1", s), FormStatus::Ok);
  EXPECT_FALSE(s.has_return());
  EXPECT_EQ(s.return_path(), "/");
  ASSERT_EQ(parse_solution_form("token=T&nonce=1&return=", s), FormStatus::Ok);
  EXPECT_FALSE(s.has_return());
}

TEST(SolutionForm, MissingParts) {
  Solution s;
  EXPECT_EQ(parse_solution_form("", s), FormStatus::MissingToken);
  EXPECT_EQ(parse_solution_form("nonce=1", s), FormStatus::MissingToken);
  EXPECT_EQ(parse_solution_form("token=&nonce=1", s), FormStatus::MissingToken);
  EXPECT_EQ(parse_solution_form("token", s), FormStatus::MissingToken);
  EXPECT_EQ(parse_solution_form("token=T", s), FormStatus::MissingNonce);
  EXPECT_EQ(parse_solution_form("token=T&nonce=", s), FormStatus::MissingNonce);
}

TEST(SolutionForm, Duplicates) {
  Solution s;
  EXPECT_EQ(parse_solution_form("token=A&token=B&nonce=1", s), FormStatus::Duplicate);
  EXPECT_EQ(parse_solution_form("token=A&nonce=1&nonce=2", s), FormStatus::Duplicate);
  EXPECT_EQ(parse_solution_form("token=A&nonce=1&return=/a&return=/b", s), FormStatus::Duplicate);
  EXPECT_EQ(parse_solution_form("token=A&nonce=1&token", s), FormStatus::Duplicate);
}

TEST(SolutionForm, Limits) {
  Solution s;
  const std::string t512(512, 'a');
  EXPECT_EQ(parse_solution_form("token=" + t512 + "&nonce=1", s), FormStatus::Ok);
  EXPECT_EQ(s.token().size(), 512u);
  EXPECT_EQ(parse_solution_form("token=" + t512 + "a&nonce=1", s), FormStatus::TooLong);
  EXPECT_EQ(parse_solution_form("token=T&nonce=" + std::string(20, '1'), s), FormStatus::Ok);
  EXPECT_EQ(parse_solution_form("token=T&nonce=" + std::string(21, '1'), s), FormStatus::TooLong);
  const std::string r1024 = "/" + std::string(1023, 'r');
  EXPECT_EQ(parse_solution_form("token=T&nonce=1&return=" + r1024, s), FormStatus::Ok);
  EXPECT_EQ(s.return_path().size(), 1024u);
  EXPECT_EQ(parse_solution_form("token=T&nonce=1&return=" + r1024 + "r", s), FormStatus::TooLong);
  // The limit is on the decoded value: 512 escapes of 3 bytes each decode to 512 bytes.
  std::string escaped;
  for (int i = 0; i < 512; ++i) escaped += "%41";
  EXPECT_EQ(parse_solution_form("token=" + escaped + "&nonce=1", s), FormStatus::Ok);
  EXPECT_EQ(s.token(), std::string(512, 'A'));
}

TEST(SolutionForm, Encoding) {
  Solution s;
  EXPECT_EQ(parse_solution_form("token=%4a%4B&nonce=1&return=/a+b", s), FormStatus::UnsafeReturn);
  EXPECT_EQ(s.token(), "JK");
  EXPECT_EQ(parse_solution_form("token=T%&nonce=1", s), FormStatus::BadEncoding);
  EXPECT_EQ(parse_solution_form("token=T%4&nonce=1", s), FormStatus::BadEncoding);
  EXPECT_EQ(parse_solution_form("token=T%zz&nonce=1", s), FormStatus::BadEncoding);
  EXPECT_EQ(parse_solution_form("token=T&nonce=%31%32", s), FormStatus::Ok);
  EXPECT_EQ(s.nonce(), "12");
  // Unknown fields are skipped without being decoded.
  EXPECT_EQ(parse_solution_form("x=%zz&token=T&nonce=1", s), FormStatus::Ok);
}

TEST(SolutionForm, NonceDigitsOnly) {
  Solution s;
  EXPECT_EQ(parse_solution_form("token=T&nonce=12a", s), FormStatus::BadNonce);
  EXPECT_EQ(parse_solution_form("token=T&nonce=-1", s), FormStatus::BadNonce);
  EXPECT_EQ(parse_solution_form("token=T&nonce=+1", s), FormStatus::BadNonce);  // '+' is a space
  EXPECT_EQ(parse_solution_form("token=T&nonce=%00", s), FormStatus::BadNonce);
}

TEST(SolutionForm, UnsafeReturnIsRefused) {
  Solution s;
  EXPECT_EQ(parse_solution_form("token=T&nonce=1&return=//evil.example", s),
            FormStatus::UnsafeReturn);
  EXPECT_EQ(parse_solution_form("token=T&nonce=1&return=%2F%2Fevil.example", s),
            FormStatus::UnsafeReturn);
  EXPECT_EQ(parse_solution_form("token=T&nonce=1&return=https://evil.example/", s),
            FormStatus::UnsafeReturn);
  EXPECT_EQ(parse_solution_form("token=T&nonce=1&return=/%0D%0ASet-Cookie:x", s),
            FormStatus::UnsafeReturn);
}

TEST(WaitQuery, TokenAndReturnNoNonce) {
  Solution s;
  ASSERT_EQ(parse_wait_query("token=T&return=%2Fsignup", s), FormStatus::Ok);
  EXPECT_EQ(s.token(), "T");
  EXPECT_EQ(s.return_path(), "/signup");
  EXPECT_TRUE(s.nonce().empty());
  EXPECT_EQ(parse_wait_query("token=T", s), FormStatus::Ok);
  EXPECT_EQ(s.return_path(), "/");
  EXPECT_EQ(parse_wait_query("token=T&nonce=1", s), FormStatus::UnexpectedNonce);
  EXPECT_EQ(parse_wait_query("return=/a", s), FormStatus::MissingToken);
  EXPECT_EQ(parse_wait_query("token=T&token=T", s), FormStatus::Duplicate);
  EXPECT_EQ(parse_wait_query("token=T&return=/%5C/evil", s), FormStatus::UnsafeReturn);
}

TEST(SafeReturnPath, OnlySameOriginPaths) {
  for (const char* ok : {"/", "/signup", "/a/b?c=d&e=%2F#frag", "/.gatehouse", "/a//b", "/~x"}) {
    EXPECT_TRUE(safe_return_path(ok)) << ok;
  }
  for (const char* bad :
       {"", "signup", "//evil.example", "///evil", "/\\evil.example", "\\\\evil", "/a\\b",
        "https://evil.example", "javascript:alert(1)", " /a", "/a b", "/\t/evil", "/\n/evil",
        "/a\r\nX: y", "/\x7f", "/\xc3\xa9", "?x", "#x", "%2F%2Fevil"}) {
    EXPECT_FALSE(safe_return_path(bad)) << bad;
  }
  EXPECT_FALSE(safe_return_path(std::string_view("/a\0b", 4)));
  EXPECT_TRUE(safe_return_path("/" + std::string(1023, 'a')));
  EXPECT_FALSE(safe_return_path("/" + std::string(1024, 'a')));
}

TEST(ReturnOrRoot, FallsBackToRoot) {
  EXPECT_EQ(return_or_root("/signup?x=1"), "/signup?x=1");
  EXPECT_EQ(return_or_root("//evil.example/"), "/");
  EXPECT_EQ(return_or_root("http://h/x"), "/");
  EXPECT_EQ(return_or_root(""), "/");
}

}  // namespace
}  // namespace gh::challenge
