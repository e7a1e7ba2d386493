#include "client/address.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace gh::client {
namespace {

std::string roundtrip(std::string_view text) {
  auto ip = parse_ip(text);
  return ip ? format_ip(*ip) : "<invalid>";
}

TEST(ParseIp, Ipv4Strict) {
  EXPECT_EQ(roundtrip("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(roundtrip("255.255.255.255"), "255.255.255.255");
  EXPECT_EQ(roundtrip("192.168.1.10"), "192.168.1.10");
  auto ip = parse_ip("10.1.2.3");
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->is_v4);
  EXPECT_EQ(*ip, make_ipv4(10, 1, 2, 3));
  EXPECT_EQ(ip->bytes[10], 0xff);
  EXPECT_EQ(ip->bytes[11], 0xff);
  for (const char* bad : {"", "1", "1.2.3", "1.2.3.4.5", "010.0.0.1", "1.2.3.04", "256.0.0.1",
                          "1.2.3.4 ", " 1.2.3.4", "1.2.3.4x", "1..2.3", "1.2.3.", ".1.2.3",
                          "0x1.2.3.4", "1.2.3.1000", "+1.2.3.4", "1.2.3.4/8", "1.2.3.4\n"}) {
    EXPECT_FALSE(parse_ip(bad)) << bad;
  }
}

TEST(ParseIp, Ipv6) {
  EXPECT_EQ(roundtrip("::"), "::");
  EXPECT_EQ(roundtrip("::1"), "::1");
  EXPECT_EQ(roundtrip("1::"), "1::");
  EXPECT_EQ(roundtrip("2001:DB8::1"), "2001:db8::1");
  EXPECT_EQ(roundtrip("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  EXPECT_EQ(roundtrip("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(roundtrip("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(roundtrip("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
  EXPECT_EQ(roundtrip("::2:3:4:5:6:7:8"), "0:2:3:4:5:6:7:8");
  EXPECT_EQ(roundtrip("fe80::1:2"), "fe80::1:2");
  EXPECT_EQ(roundtrip("::1.2.3.4"), "::102:304");
  EXPECT_EQ(roundtrip("1:2:3:4:5:6:1.2.3.4"), "1:2:3:4:5:6:102:304");
  for (const char* bad :
       {":", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", "12345::", "g::1",
        "fe80::1%eth0", "[::1]", "::1:", ":1::", "1:2:3:4:5:6:7:8::", "::1.2.3",
        "1.2.3.4::", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "::01.2.3.4"}) {
    EXPECT_FALSE(parse_ip(bad)) << bad;
  }
}

TEST(ParseIp, V4MappedIsIpv4) {
  auto ip = parse_ip("::ffff:192.0.2.1");
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->is_v4);
  EXPECT_EQ(*ip, make_ipv4(192, 0, 2, 1));
  EXPECT_EQ(roundtrip("::FFFF:c000:0201"), "192.0.2.1");
}

TEST(ParseCidr, Forms) {
  auto c = parse_cidr("10.0.0.0/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix_len, 8);
  EXPECT_EQ(format_cidr(*c), "10.0.0.0/8");
  EXPECT_EQ(format_cidr(*parse_cidr("2001:db8::/32")), "2001:db8::/32");
  EXPECT_EQ(format_cidr(*parse_cidr("1.2.3.4")), "1.2.3.4/32");
  EXPECT_EQ(format_cidr(*parse_cidr("::1")), "::1/128");
  EXPECT_EQ(format_cidr(*parse_cidr("0.0.0.0/0")), "0.0.0.0/0");
  // Host bits are cleared, not refused.
  EXPECT_EQ(format_cidr(*parse_cidr("10.1.2.3/8")), "10.0.0.0/8");
  EXPECT_EQ(format_cidr(*parse_cidr("2001:db8::1/32")), "2001:db8::/32");
  EXPECT_EQ(format_cidr(*parse_cidr("192.168.1.77/27")), "192.168.1.64/27");
  // v4-mapped prefixes of 96+ bits are IPv4 prefixes.
  EXPECT_EQ(format_cidr(*parse_cidr("::ffff:10.0.0.0/104")), "10.0.0.0/8");
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1",
                          "10.0.0.0/8/8", "/8", "10.0.0/8", "10.0.0.0/ 8", "x"}) {
    EXPECT_FALSE(parse_cidr(bad)) << bad;
  }
}

TEST(Contains, FamiliesAndEdges) {
  auto c = *parse_cidr("10.0.0.0/8");
  EXPECT_TRUE(contains(c, *parse_ip("10.255.1.2")));
  EXPECT_FALSE(contains(c, *parse_ip("11.0.0.0")));
  EXPECT_FALSE(contains(c, *parse_ip("::a00:1")));  // not v4-mapped
  auto c27 = *parse_cidr("192.168.1.64/27");
  EXPECT_TRUE(contains(c27, *parse_ip("192.168.1.95")));
  EXPECT_FALSE(contains(c27, *parse_ip("192.168.1.96")));
  auto v6 = *parse_cidr("2001:db8::/32");
  EXPECT_TRUE(contains(v6, *parse_ip("2001:db8:ffff::1")));
  EXPECT_FALSE(contains(v6, *parse_ip("2001:db9::1")));
  EXPECT_FALSE(contains(v6, *parse_ip("32.1.13.184")));
  EXPECT_TRUE(contains(*parse_cidr("0.0.0.0/0"), *parse_ip("8.8.8.8")));
  EXPECT_FALSE(contains(*parse_cidr("0.0.0.0/0"), *parse_ip("::1")));
  EXPECT_TRUE(contains(*parse_cidr("::/0"), *parse_ip("8.8.8.8")));
  EXPECT_TRUE(contains(*parse_cidr("1.2.3.4"), *parse_ip("1.2.3.4")));
  EXPECT_FALSE(contains(*parse_cidr("1.2.3.4"), *parse_ip("1.2.3.5")));
}

TEST(PrefixOf, MasksByFamily) {
  EXPECT_EQ(format_cidr(prefix_of(*parse_ip("203.0.113.77"), 24, 64)), "203.0.113.0/24");
  EXPECT_EQ(format_cidr(prefix_of(*parse_ip("2001:db8:1:2:3:4:5:6"), 24, 64)), "2001:db8:1:2::/64");
  EXPECT_EQ(format_cidr(prefix_of(*parse_ip("1.2.3.4"), 99, 200)), "1.2.3.4/32");
  EXPECT_EQ(prefix_of(*parse_ip("203.0.113.77"), 24, 64),
            prefix_of(*parse_ip("203.0.113.1"), 24, 64));
}

TEST(SocketAddress, ParseAndFormat) {
  auto a = parse_socket_address("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(format_socket_address(*a), "127.0.0.1:8080");
  EXPECT_EQ(format_socket_address(*parse_socket_address("[::1]:443")), "[::1]:443");
  EXPECT_EQ(*parse_socket_address("localhost:3000"), *parse_socket_address("127.0.0.1:3000"));
  EXPECT_EQ(parse_socket_address("0.0.0.0:0")->port, 0);
  EXPECT_EQ(parse_socket_address("[::]:65535")->port, 65535);
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:080", "::1:80",
                          "[::1]", "[::1]80", "[1.2.3.4]:80", "example.com:80", "LOCALHOST:80",
                          "1.2.3.4:+80", "1.2.3.4:80 ", ":80", "[]:80", "[::1:80"}) {
    EXPECT_FALSE(parse_socket_address(bad)) << bad;
  }
}

TEST(SocketAddress, SockaddrRoundTrip) {
  for (const char* text : {"192.0.2.7:1234", "[2001:db8::5]:443", "0.0.0.0:0"}) {
    auto a = *parse_socket_address(text);
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(a, ss);
    EXPECT_EQ(ss.ss_family, a.ip.is_v4 ? AF_INET : AF_INET6);
    auto back = from_sockaddr(ss, len);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, a) << text;
  }
  // A dual-stack socket reports IPv4 peers as v4-mapped IPv6.
  auto mapped = *parse_socket_address("[::ffff:198.51.100.3]:99");
  mapped.ip.is_v4 = false;
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(mapped, ss);
  EXPECT_EQ(ss.ss_family, AF_INET6);
  auto back = from_sockaddr(ss, len);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->ip.is_v4);
  EXPECT_EQ(format_socket_address(*back), "198.51.100.3:99");
  EXPECT_FALSE(from_sockaddr(ss, 4));
  ss.ss_family = AF_UNIX;
  EXPECT_FALSE(from_sockaddr(ss, sizeof ss));
}

TEST(IpKey, DistinctAndHashable) {
  IpKey v4 = key_of(*parse_ip("1.2.3.4"));
  IpKey v6 = key_of(*parse_ip("::102:304"));
  EXPECT_NE(v4, v6);
  EXPECT_EQ(v4, key_of(*parse_ip("::ffff:1.2.3.4")));
  EXPECT_EQ(v4.lo, 0x0000ffff01020304ULL);
  std::unordered_set<IpKey, IpKeyHash> set{v4, v6, v4};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(IpKeyHash{}(v4), IpKeyHash{}(key_of(make_ipv4(1, 2, 3, 4))));
}

}  // namespace
}  // namespace gh::client
