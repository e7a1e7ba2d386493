// List files: syntax, comments, errors with file:line, the error cap, files that cannot be read.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "client/address.h"
#include "stages/lists/prefix_set.h"

namespace gh::lists {
namespace {

client::IpAddress ip(const char* text) {
  return *client::parse_ip(text);
}

TEST(ListFile, CommentsBlankLinesAndBareAddresses) {
  PrefixSetBuilder b;
  const Entry e{Action::Deny, 3};
  const std::size_t added = b.add_text(
      "# blocklist\n"
      "\n"
      "10.0.0.0/8\n"
      "  192.0.2.1   # a bare address is a /32\r\n"
      "\t2001:db8::/32\t\n"
      "2001:db8::1\n"
      "   # indented comment\n"
      "198.51.100.0/24",  // no final newline
      "deny.txt", e);
  EXPECT_EQ(added, 5u);
  EXPECT_EQ(b.error_count(), 0u);
  const auto set = b.build();
  EXPECT_EQ(set->lookup(ip("10.9.9.9")), (Match{e, 8, true}));
  EXPECT_EQ(set->lookup(ip("192.0.2.1")), (Match{e, 32, true}));
  EXPECT_EQ(set->lookup(ip("192.0.2.2")), std::nullopt);
  EXPECT_EQ(set->lookup(ip("2001:db8::1")), (Match{e, 128, false}));
  EXPECT_EQ(set->lookup(ip("2001:db8::2")), (Match{e, 32, false}));
  EXPECT_EQ(set->lookup(ip("198.51.100.200")), (Match{e, 24, true}));
}

TEST(ListFile, ErrorsCarryFileAndLineAndGoodLinesStillLoad) {
  PrefixSetBuilder b;
  const std::size_t added = b.add_text(
      "10.0.0.0/8\n"           // 1
      "10.0.0.256\n"           // 2
      "\n"                     // 3
      "10.0.0.0/33\n"          // 4
      "2001:db8::/129\n"       // 5
      "1.2.3.4 5.6.7.8\n"      // 6
      "example.com\n"          // 7
      "010.0.0.1\n"            // 8: leading zeros are refused (octal in some stacks)
      "10.0.0.0/\n"            // 9
      "::ffff:1.2.3.4/120\n",  // 10: fine, an IPv4 /24
      "lists/deny.txt", Entry{});
  EXPECT_EQ(added, 2u);
  ASSERT_EQ(b.error_count(), 7u);
  ASSERT_EQ(b.errors().size(), 7u);
  const auto& e = b.errors();
  EXPECT_EQ(e[0].to_string(), "lists/deny.txt:2: not an IP address: \"10.0.0.256\"");
  EXPECT_EQ(e[1].to_string(), "lists/deny.txt:4: bad prefix length \"/33\" (IPv4: /0 to /32)");
  EXPECT_EQ(e[2].to_string(), "lists/deny.txt:5: bad prefix length \"/129\" (IPv6: /0 to /128)");
  EXPECT_EQ(e[3].to_string(), "lists/deny.txt:6: unexpected text after the prefix: \"5.6.7.8\"");
  EXPECT_EQ(e[4].line, 7u);
  EXPECT_EQ(e[5].line, 8u);
  EXPECT_EQ(e[6].line, 9u);
}

TEST(ListFile, ErrorsAreCappedButCounted) {
  PrefixSetBuilder b(3);
  std::string text;
  for (int i = 0; i < 50; ++i) text += "bad" + std::to_string(i) + "\n1.1.1.1\n";
  EXPECT_EQ(b.add_text(text, "x", Entry{}), 50u);
  EXPECT_EQ(b.error_count(), 50u);
  ASSERT_EQ(b.errors().size(), 3u);
  EXPECT_EQ(b.errors()[2].line, 5u);
}

TEST(ListFile, UnprintableAndLongTokensAreEscapedAndCut) {
  PrefixSetBuilder b;
  b.add_text(std::string("1.2.3.\x01\"\n", 9) + std::string(500, 'z') + "\n", "f", Entry{});
  ASSERT_EQ(b.errors().size(), 2u);
  EXPECT_EQ(b.errors()[0].message, "not an IP address: \"1.2.3.\\x01\\x22\"");
  EXPECT_LT(b.errors()[1].message.size(), 100u);
  EXPECT_NE(b.errors()[1].message.find("\"..."), std::string::npos);
}

TEST(ListFile, MissingFileIsOneError) {
  PrefixSetBuilder b;
  EXPECT_EQ(b.add_file("/nonexistent/gatehouse/list.txt", Entry{}), 0u);
  ASSERT_EQ(b.errors().size(), 1u);
  EXPECT_EQ(b.errors()[0].to_string(),
            "/nonexistent/gatehouse/list.txt: cannot open: No such file or directory");
}

TEST(ListFile, LoadsFromDiskWithLineNumbers) {
  char dir[] = "/tmp/gh-lists-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/allow.txt";
  {
    std::ofstream f(path);
    f << "# office\n203.0.113.0/24\nnonsense\n";
  }
  PrefixSetBuilder b;
  EXPECT_EQ(b.add_file(path, Entry{Action::Allow, 9}), 1u);
  ASSERT_EQ(b.errors().size(), 1u);
  EXPECT_EQ(b.errors()[0].to_string(), path + ":3: not an IP address: \"nonsense\"");
  EXPECT_EQ(b.prefixes().size(), 1u);
  EXPECT_EQ(client::format_cidr(b.prefixes()[0].first), "203.0.113.0/24");
  const auto set = b.build();
  EXPECT_EQ(set->lookup(ip("203.0.113.9")), (Match{Entry{Action::Allow, 9}, 24, true}));
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace gh::lists
