#include "client/trust.h"

#include <gtest/gtest.h>

#include <vector>

#include "client/address.h"

namespace gh::client {
namespace {

ProxyTrust make_trust(std::initializer_list<const char*> cidrs) {
  std::vector<Cidr> list;
  for (const char* c : cidrs) list.push_back(*parse_cidr(c));
  return ProxyTrust(list);
}

TEST(ProxyTrust, EmptyTrustsNobody) {
  ProxyTrust trust;
  EXPECT_TRUE(trust.empty());
  EXPECT_FALSE(trust.trusted(*parse_ip("127.0.0.1")));
}

TEST(ProxyTrust, MatchesPrefixes) {
  auto trust = make_trust({"10.0.0.0/8", "192.168.1.64/27", "2001:db8::/32", "203.0.113.9"});
  EXPECT_TRUE(trust.trusted(*parse_ip("10.9.8.7")));
  EXPECT_TRUE(trust.trusted(*parse_ip("192.168.1.70")));
  EXPECT_FALSE(trust.trusted(*parse_ip("192.168.1.96")));
  EXPECT_TRUE(trust.trusted(*parse_ip("2001:db8:1::1")));
  EXPECT_FALSE(trust.trusted(*parse_ip("2001:db9::1")));
  EXPECT_TRUE(trust.trusted(*parse_ip("203.0.113.9")));
  EXPECT_FALSE(trust.trusted(*parse_ip("203.0.113.10")));
  EXPECT_FALSE(trust.trusted(*parse_ip("::a09:807")));  // IPv4-compatible is not IPv4
  EXPECT_EQ(trust.cidrs().size(), 4u);
}

TEST(ProxyTrust, AgreesWithContains) {
  std::vector<Cidr> list = {*parse_cidr("0.0.0.0/0"), *parse_cidr("::/1"), *parse_cidr("fe80::/64"),
                            *parse_cidr("2001:db8::1:0/112"), *parse_cidr("100.64.0.0/10")};
  for (const Cidr& c : list) {
    ProxyTrust one(std::span<const Cidr>(&c, 1));
    for (const char* ip : {"1.2.3.4", "100.127.255.255", "100.128.0.0", "::1", "8000::",
                           "fe80::ffff", "fe80:0:0:1::", "2001:db8::1:ffff", "2001:db8::2:0"}) {
      EXPECT_EQ(one.trusted(*parse_ip(ip)), contains(c, *parse_ip(ip)))
          << format_cidr(c) << " " << ip;
    }
  }
}

}  // namespace
}  // namespace gh::client
