#include "control/text.h"

#include <gtest/gtest.h>

#include "client/address.h"

namespace gh::control {
namespace {

TEST(Duration, ConfigSyntax) {
  std::string why;
  EXPECT_EQ(parse_duration_ms("500ms", &why), 500u);
  EXPECT_EQ(parse_duration_ms("10s", &why), 10'000u);
  EXPECT_EQ(parse_duration_ms("2m", &why), 120'000u);
  EXPECT_EQ(parse_duration_ms("1h", &why), 3'600'000u);
  EXPECT_EQ(parse_duration_ms("30d", &why), 30ull * 86'400'000);
  EXPECT_EQ(parse_duration_ms("0s", &why), 0u);

  EXPECT_FALSE(parse_duration_ms("10", &why));
  EXPECT_NE(why.find("add a unit"), std::string::npos) << why;
  for (const char* bad : {"", "h", "1 h", "1H", "1.5h", "-1h", "1h30m", "1w", "1sec", " 1h", "1h "}) {
    EXPECT_FALSE(parse_duration_ms(bad, &why)) << bad;
  }
  EXPECT_FALSE(parse_duration_ms("99999999999999999999s", &why));  // beyond 64 bits
  EXPECT_NE(why.find("99999999999999999999s"), std::string::npos) << why;
  EXPECT_FALSE(parse_duration_ms("18446744073709551615d", &why));
}

TEST(Duration, BanRange) {
  std::string why;
  EXPECT_EQ(parse_ban_seconds("1s", &why), 1);
  EXPECT_EQ(parse_ban_seconds("1000ms", &why), 1);
  EXPECT_EQ(parse_ban_seconds("1h", &why), 3600);
  EXPECT_EQ(parse_ban_seconds("365d", &why), 365 * 86'400);
  EXPECT_FALSE(parse_ban_seconds("0s", &why));
  EXPECT_FALSE(parse_ban_seconds("999ms", &why));
  EXPECT_NE(why.find("between 1s and 365d"), std::string::npos) << why;
  EXPECT_FALSE(parse_ban_seconds("366d", &why));
  EXPECT_FALSE(parse_ban_seconds("1500ms", &why));
  EXPECT_NE(why.find("whole seconds"), std::string::npos) << why;
  EXPECT_FALSE(parse_ban_seconds("1", &why));
}

TEST(Address, Loopback) {
  EXPECT_TRUE(is_loopback(*client::parse_ip("127.0.0.1")));
  EXPECT_TRUE(is_loopback(*client::parse_ip("127.1.2.3")));
  EXPECT_TRUE(is_loopback(*client::parse_ip("::1")));
  EXPECT_TRUE(is_loopback(*client::parse_ip("::ffff:127.0.0.1")));
  EXPECT_FALSE(is_loopback(*client::parse_ip("0.0.0.0")));
  EXPECT_FALSE(is_loopback(*client::parse_ip("::")));
  EXPECT_FALSE(is_loopback(*client::parse_ip("10.0.0.1")));
  EXPECT_FALSE(is_loopback(*client::parse_ip("::2")));
}

TEST(Address, HostIsLiteral) {
  for (const char* ok : {"127.0.0.1", "127.0.0.1:9090", "localhost", "LOCALHOST:9090", "[::1]",
                         "[::1]:9090", "::1", "10.0.0.1:80"}) {
    EXPECT_TRUE(host_is_literal(ok)) << ok;
  }
  for (const char* bad : {"", "evil.example", "evil.example:9090", "localhost.evil.example", "127.0.0.1.nip.io",
                          "[::1", "[::1]x", "127.0.0.1:", "127.0.0.1:x", "localhost:99999", "[evil]:80"}) {
    EXPECT_FALSE(host_is_literal(bad)) << bad;
  }
}

}  // namespace
}  // namespace gh::control
