#include "stages/challenge/key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace gh::challenge {
namespace {

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gh-key-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  void write(const std::string& path, const std::string& content, mode_t mode) {
    std::ofstream(path, std::ios::binary) << content;
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }

  std::string dir_;
};

TEST_F(KeyFile, CreatesA0600HexKeyAndParents) {
  const std::string path = dir_ + "/a/b/secret.key";
  std::string error;
  const auto key = load_or_create_key(path, error);
  ASSERT_TRUE(key.has_value()) << error;
  EXPECT_EQ(key->size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((dir_ + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text.size(), 64u);
  EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), std::string::npos);
  // Read back: the same key (restarts keep cookies valid).
  const auto again = load_or_create_key(path, error);
  ASSERT_TRUE(again.has_value()) << error;
  EXPECT_EQ(*again, *key);
  // No temporary file left behind.
  int entries = 0;
  for (const char* name : {"secret.key"})
    entries += access((dir_ + "/a/b/" + name).c_str(), F_OK) == 0;
  EXPECT_EQ(entries, 1);
  EXPECT_NE(std::system(("ls " + dir_ + "/a/b | grep -q tmp").c_str()), 0);
}

TEST_F(KeyFile, TwoCreatedKeysDiffer) {
  std::string error;
  const auto a = load_or_create_key(dir_ + "/1.key", error);
  const auto b = load_or_create_key(dir_ + "/2.key", error);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

TEST_F(KeyFile, ReadsHexText) {
  const std::string path = dir_ + "/k";
  write(path, std::string(64, 'A') + "\r\n", 0600);
  std::string error;
  const auto key = load_or_create_key(path, error);
  ASSERT_TRUE(key.has_value()) << error;
  EXPECT_EQ(*key, std::vector<std::uint8_t>(32, 0xaa));
  write(path, std::string(128, '0'), 0400);
  EXPECT_EQ(load_or_create_key(path, error)->size(), 64u);
}

TEST_F(KeyFile, ReadsRawBytes) {
  const std::string path = dir_ + "/k";
  std::string raw(40, '\0');
  for (int i = 0; i < 40; ++i) raw[i] = static_cast<char>(i * 7);
  write(path, raw, 0600);
  std::string error;
  const auto key = load_or_create_key(path, error);
  ASSERT_TRUE(key.has_value()) << error;
  EXPECT_EQ(key->size(), 40u);
  EXPECT_EQ((*key)[39], static_cast<std::uint8_t>(39 * 7));
  // 62 hex digits is too short for hex: read as 62 raw bytes.
  write(path, std::string(62, 'a'), 0600);
  EXPECT_EQ(load_or_create_key(path, error)->size(), 62u);
}

TEST_F(KeyFile, RefusesGroupOrWorldAccess) {
  const std::string path = dir_ + "/k";
  for (mode_t mode : {0640, 0604, 0660, 0620, 0644}) {
    write(path, std::string(64, 'a'), mode);
    std::string error;
    EXPECT_FALSE(load_or_create_key(path, error).has_value()) << std::oct << mode;
    EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
  }
}

TEST_F(KeyFile, RefusesShortLargeAndOddFiles) {
  const std::string path = dir_ + "/k";
  std::string error;
  write(path, std::string(31, 'x'), 0600);
  EXPECT_FALSE(load_or_create_key(path, error).has_value());
  EXPECT_NE(error.find("at least 32"), std::string::npos) << error;
  write(path, "", 0600);
  EXPECT_FALSE(load_or_create_key(path, error).has_value());
  write(path, std::string(5000, 'x'), 0600);
  EXPECT_FALSE(load_or_create_key(path, error).has_value());
  EXPECT_NE(error.find("4096"), std::string::npos) << error;
  ASSERT_EQ(mkdir((dir_ + "/d").c_str(), 0700), 0);
  EXPECT_FALSE(load_or_create_key(dir_ + "/d", error).has_value());
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
  EXPECT_FALSE(load_or_create_key("", error).has_value());
}

TEST_F(KeyFile, UncreatableDirectoryIsAnError) {
  const std::string blocker = dir_ + "/file";
  write(blocker, "x", 0600);
  std::string error;
  EXPECT_FALSE(load_or_create_key(blocker + "/sub/k", error).has_value());
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace gh::challenge
