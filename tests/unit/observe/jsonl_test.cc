// Rotated JSON-lines files: rotation bounds, reading order, damage, torn tails, field access.
#include "observe/jsonl.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "temp_dir.h"

namespace gh::observe {
namespace {

using nlohmann::json;
using testing::read_all;
using testing::TempDir;
using testing::write_all;

TEST(JsonlFile, RotatesAtSizeAndKeepsTheConfiguredFiles) {
  TempDir dir;
  const std::string path = dir.file("x.jsonl");
  JsonlFile f(path, RotateOptions{100, 3});
  ASSERT_TRUE(f.open());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(f.append(dump_line(json{{"i", i}, {"pad", "0123456789"}}) + "\n"));
  }
  EXPECT_GT(f.rotations(), 0u);
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::exists(path + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
  for (const char* suffix : {"", ".1", ".2"}) {
    EXPECT_LE(std::filesystem::file_size(path + suffix), 100u) << suffix;
  }
  // Oldest first across the files, and the newest line is last.
  std::vector<int> seen;
  const ReadStats s = read_json_lines(path, [&](const json& j) {
    seen.push_back(static_cast<int>(*get_int(j, "i")));
    return true;
  });
  EXPECT_EQ(s.files, 3u);
  EXPECT_EQ(s.bad_lines, 0u);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 49);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_EQ(seen[i], seen[i - 1] + 1);
  EXPECT_LT(seen.size(), 50u);  // the oldest were rotated away
}

TEST(JsonlFile, OneFileMeansTruncate) {
  TempDir dir;
  const std::string path = dir.file("x.jsonl");
  JsonlFile f(path, RotateOptions{40, 1});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(f.append("{\"i\":" + std::to_string(i) + "}\n"));
  EXPECT_LE(std::filesystem::file_size(path), 40u);
  EXPECT_FALSE(std::filesystem::exists(path + ".1"));
}

TEST(JsonlFile, ATornLastLineDoesNotSwallowTheNextOne) {
  TempDir dir;
  const std::string path = dir.file("x.jsonl");
  write_all(path, "{\"i\":1}\n{\"i\":2, \"cut");
  JsonlFile f(path, RotateOptions{});
  ASSERT_TRUE(f.open());
  ASSERT_TRUE(f.append("{\"i\":3}\n"));
  std::vector<std::int64_t> seen;
  const ReadStats s = read_json_lines(path, [&](const json& j) {
    seen.push_back(*get_int(j, "i"));
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(s.bad_lines, 1u);
}

TEST(JsonlFile, ReopenFollowsAnOutsideRotation) {
  TempDir dir;
  const std::string path = dir.file("x.jsonl");
  JsonlFile f(path, RotateOptions{});
  ASSERT_TRUE(f.append("{\"a\":1}\n"));
  std::filesystem::rename(path, path + ".old");
  ASSERT_TRUE(f.reopen());
  ASSERT_TRUE(f.append("{\"b\":2}\n"));
  EXPECT_EQ(read_all(path), "{\"b\":2}\n");
  EXPECT_EQ(read_all(path + ".old"), "{\"a\":1}\n");
}

TEST(JsonLines, DamageIsSkippedAndCounted) {
  std::string bytes = "{\"ok\":1}\nnot json\n[1,2]\n\n{\"ok\":2}\n";
  bytes += std::string(kMaxLineBytes + 1, ' ') + "\n{\"ok\":3}";
  int ok = 0;
  const ReadStats s = read_json_lines_from(bytes, [&](const json&) {
    ++ok;
    return true;
  });
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(s.bad_lines, 3u);
  // A line the caller rejects counts as bad too.
  const ReadStats r = read_json_lines_from("{\"a\":1}\n", [](const json&) { return false; });
  EXPECT_EQ(r.bad_lines, 1u);
}

TEST(JsonFields, TypedAccessNeverThrows) {
  const json j =
      json::parse(R"({"i": -3, "u": 5, "s": "x", "o": {}, "a": [], "big": 18446744073709551615})");
  EXPECT_EQ(get_int(j, "i"), -3);
  EXPECT_EQ(get_uint(j, "i"), std::nullopt);
  EXPECT_EQ(get_uint(j, "u"), 5u);
  EXPECT_EQ(get_int(j, "big"), std::nullopt);
  EXPECT_EQ(get_uint(j, "big"), 18446744073709551615ull);
  EXPECT_EQ(get_string(j, "s"), "x");
  EXPECT_EQ(get_string(j, "i"), std::nullopt);
  EXPECT_NE(get_object(j, "o"), nullptr);
  EXPECT_EQ(get_object(j, "a"), nullptr);
  EXPECT_NE(get_array(j, "a"), nullptr);
  EXPECT_EQ(get_int(json::array(), "i"), std::nullopt);
  EXPECT_EQ(get_int(json(), "i"), std::nullopt);
}

TEST(JsonLines, InvalidUtf8IsReplacedNotThrown) {
  const json j = {{"ua", std::string("bad \xff\xfe bytes")}};
  const std::string line = dump_line(j);
  EXPECT_NE(line.find("bad "), std::string::npos);
  EXPECT_NE(line.find("\xEF\xBF\xBD"), std::string::npos);
}

TEST(Time, FormatsUtc) {
  EXPECT_EQ(format_time(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_time(1795514400123), "2026-11-24T10:00:00.123Z");
  EXPECT_EQ(format_minute(1795514400123), "2026-11-24 10:00");
  EXPECT_EQ(format_time(-1), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace gh::observe
