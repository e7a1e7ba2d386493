#include "control/token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace gh::control {
namespace {

namespace fs = std::filesystem;

class TokenFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gatehouse-token-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& content, mode_t mode = 0600) {
    std::string path = dir_ + "/token";
    std::ofstream(path, std::ios::trunc) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(TokenFile, LoadsTrimmedPrivateToken) {
  std::string error;
  auto token = BearerToken::load(write("  s3cret-0123456789\n\n"), &error);
  ASSERT_TRUE(token.has_value()) << error;
  EXPECT_TRUE(token->matches("s3cret-0123456789"));
  EXPECT_FALSE(token->matches("s3cret-012345678"));    // shorter
  EXPECT_FALSE(token->matches("s3cret-01234567890"));  // longer
  EXPECT_FALSE(token->matches("S3cret-0123456789"));
  EXPECT_FALSE(token->matches(""));
  EXPECT_FALSE(token->matches("  s3cret-0123456789\n\n"));  // the file's bytes are not the token
}

TEST_F(TokenFile, OwnerOnlyModes) {
  std::string error;
  EXPECT_TRUE(BearerToken::load(write("tok", 0400), &error).has_value()) << error;
  EXPECT_TRUE(BearerToken::load(write("tok", 0600), &error).has_value()) << error;
}

TEST_F(TokenFile, RefusesGroupOrWorldAccess) {
  for (mode_t mode : {0640, 0604, 0644, 0660, 0620, 0602}) {
    std::string error;
    const std::string path = write("tok", mode);
    EXPECT_FALSE(BearerToken::load(path, &error).has_value()) << std::oct << mode;
    EXPECT_NE(error.find("chmod 600 " + path), std::string::npos) << error;
  }
}

TEST_F(TokenFile, RefusesMissingEmptyAndOddFiles) {
  std::string error;
  EXPECT_FALSE(BearerToken::load(dir_ + "/nope", &error).has_value());
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;

  EXPECT_FALSE(BearerToken::load(write(""), &error).has_value());
  EXPECT_NE(error.find("empty"), std::string::npos) << error;
  EXPECT_FALSE(BearerToken::load(write(" \n\t\n"), &error).has_value());
  EXPECT_NE(error.find("empty"), std::string::npos) << error;

  EXPECT_FALSE(BearerToken::load(write("two words"), &error).has_value());
  EXPECT_NE(error.find("printable ASCII"), std::string::npos) << error;

  EXPECT_FALSE(BearerToken::load(write(std::string(5000, 'a')), &error).has_value());
  EXPECT_NE(error.find("4 KiB"), std::string::npos) << error;

  ::chmod(dir_.c_str(), 0700);
  EXPECT_FALSE(BearerToken::load(dir_, &error).has_value());
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

TEST_F(TokenFile, ClientReadDoesNotCheckTheMode) {
  std::string error;
  auto t = read_token_file(write("tok\n", 0644), &error);
  ASSERT_TRUE(t.has_value()) << error;
  EXPECT_EQ(*t, "tok");
  EXPECT_FALSE(read_token_file(write("\n"), &error).has_value());
}

TEST(Bearer, ParsesTheAuthorizationValue) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER   abc  "), "abc");
  EXPECT_EQ(bearer_token("Bearer a.b-c_d~e+f/g="), "a.b-c_d~e+f/g=");
  EXPECT_FALSE(bearer_token("Basic YWxhZGRpbjpvcGVuc2VzYW1l"));
  EXPECT_FALSE(bearer_token("Bearer"));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token("Bearerabc"));
  EXPECT_FALSE(bearer_token("Bearer a b"));
  EXPECT_FALSE(bearer_token(""));
  EXPECT_FALSE(bearer_token("abc"));
}

TEST(Bearer, FromString) {
  BearerToken t = BearerToken::from_string("x");
  EXPECT_TRUE(t.matches("x"));
  EXPECT_FALSE(t.matches("y"));
}

}  // namespace
}  // namespace gh::control
