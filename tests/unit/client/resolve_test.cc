#include "client/resolve.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/address.h"

namespace gh::client {
namespace {

class ResolveTest : public ::testing::Test {
 protected:
  ResolveTest() {
    std::vector<Cidr> list = {*parse_cidr("10.0.0.0/8"), *parse_cidr("2001:db8:ffff::/48")};
    trust_ = ProxyTrust(list);
  }

  std::string xff(const char* peer, std::vector<std::string_view> fields) {
    return format_ip(resolve_client(*parse_ip(peer), fields, trust_));
  }
  std::string fwd(const char* peer, std::vector<std::string_view> fields) {
    return format_ip(resolve_client_forwarded(*parse_ip(peer), fields, trust_));
  }

  ProxyTrust trust_;
};

TEST_F(ResolveTest, UntrustedPeerIgnoresClientSuppliedHeader) {
  EXPECT_EQ(xff("198.51.100.7", {"1.2.3.4"}), "198.51.100.7");
  EXPECT_EQ(xff("198.51.100.7", {"10.0.0.1, 1.2.3.4"}), "198.51.100.7");
  EXPECT_EQ(fwd("198.51.100.7", {"for=1.2.3.4"}), "198.51.100.7");
}

TEST_F(ResolveTest, TrustedPeerWithoutHeaderIsClient) {
  EXPECT_EQ(xff("10.0.0.1", {}), "10.0.0.1");
  EXPECT_EQ(xff("10.0.0.1", {""}), "10.0.0.1");
  EXPECT_EQ(fwd("10.0.0.1", {}), "10.0.0.1");
}

TEST_F(ResolveTest, OneTrustedHop) {
  EXPECT_EQ(xff("10.0.0.1", {"203.0.113.5"}), "203.0.113.5");
  // The client prepended a spoofed entry; the load balancer appended the real peer.
  EXPECT_EQ(xff("10.0.0.1", {"6.6.6.6, 203.0.113.5"}), "203.0.113.5");
  EXPECT_EQ(xff("10.0.0.1", {"6.6.6.6", "203.0.113.5"}), "203.0.113.5");
}

TEST_F(ResolveTest, SeveralTrustedHops) {
  EXPECT_EQ(xff("10.0.0.1", {"6.6.6.6, 203.0.113.5, 10.1.1.1, 10.2.2.2"}), "203.0.113.5");
  EXPECT_EQ(xff("10.0.0.1", {"6.6.6.6, 203.0.113.5", "10.1.1.1", " 10.2.2.2 "}), "203.0.113.5");
  // A client cannot skip a hop by claiming to be a trusted proxy itself: the first untrusted one
  // wins.
  EXPECT_EQ(xff("10.0.0.1", {"10.9.9.9, 203.0.113.5, 10.1.1.1"}), "203.0.113.5");
}

TEST_F(ResolveTest, AllTrustedGivesLeftmost) {
  EXPECT_EQ(xff("10.0.0.1", {"10.3.3.3, 10.2.2.2"}), "10.3.3.3");
  EXPECT_EQ(xff("10.0.0.1", {"10.3.3.3", "10.2.2.2"}), "10.3.3.3");
}

TEST_F(ResolveTest, JunkStopsTheWalk) {
  EXPECT_EQ(xff("10.0.0.1", {"unknown"}), "10.0.0.1");
  EXPECT_EQ(xff("10.0.0.1", {"1.2.3.4, junk"}), "10.0.0.1");
  EXPECT_EQ(xff("10.0.0.1", {"1.2.3.4, junk, 10.5.5.5"}), "10.5.5.5");
  EXPECT_EQ(xff("10.0.0.1", {"1.2.3.4, 010.0.0.1"}), "10.0.0.1");
  EXPECT_EQ(xff("10.0.0.1", {"1.2.3.4 5.6.7.8"}), "10.0.0.1");
  EXPECT_EQ(xff("10.0.0.1", {"1.2.3.4", "bogus"}), "10.0.0.1");
  EXPECT_EQ(xff("10.0.0.1", {"1.2.3.4:99999"}), "10.0.0.1");
  EXPECT_EQ(xff("10.0.0.1", {"fe80::1%eth0"}), "10.0.0.1");
  EXPECT_EQ(xff("10.0.0.1", {"[1.2.3.4]"}), "10.0.0.1");
}

TEST_F(ResolveTest, EmptyElementsAreIgnored) {
  EXPECT_EQ(xff("10.0.0.1", {"1.2.3.4,, ,10.2.2.2,"}), "1.2.3.4");
}

TEST_F(ResolveTest, EntryForms) {
  EXPECT_EQ(xff("10.0.0.1", {"203.0.113.5:4711"}), "203.0.113.5");
  EXPECT_EQ(xff("10.0.0.1", {"2001:db8::7"}), "2001:db8::7");
  EXPECT_EQ(xff("10.0.0.1", {"[2001:db8::7]"}), "2001:db8::7");
  EXPECT_EQ(xff("10.0.0.1", {"[2001:db8::7]:443"}), "2001:db8::7");
  EXPECT_EQ(xff("10.0.0.1", {"::ffff:203.0.113.5"}), "203.0.113.5");
}

TEST_F(ResolveTest, Ipv6Hops) {
  EXPECT_EQ(xff("2001:db8:ffff::1", {"2001:db8::7, 2001:db8:ffff::2"}), "2001:db8::7");
  EXPECT_EQ(xff("2001:db8:ffff::1", {"6.6.6.6, [2001:db8::7]:1, 10.0.0.9"}), "2001:db8::7");
  EXPECT_EQ(xff("2001:db8:fffe::1", {"2001:db8::7"}), "2001:db8:fffe::1");
}

TEST_F(ResolveTest, WorkIsBounded) {
  std::string many;
  for (int i = 0; i < 200; ++i) many += "10.0.0.9, ";
  many += "10.0.0.8";
  // Only the rightmost 64 hops are read; all trusted, so the walk ends at the 64th.
  EXPECT_EQ(xff("10.0.0.1", {"1.2.3.4, " + many}), "10.0.0.9");
  std::string exactly = "1.2.3.4";
  for (int i = 0; i < 63; ++i) exactly += ", 10.0.0.9";
  EXPECT_EQ(xff("10.0.0.1", {exactly}), "1.2.3.4");
  exactly += ", 10.0.0.9";
  EXPECT_EQ(xff("10.0.0.1", {exactly}), "10.0.0.9");
}

TEST_F(ResolveTest, ForwardedBasics) {
  EXPECT_EQ(fwd("10.0.0.1", {"for=203.0.113.5"}), "203.0.113.5");
  EXPECT_EQ(fwd("10.0.0.1", {"For=\"203.0.113.5:4711\";proto=https;by=10.0.0.1"}), "203.0.113.5");
  EXPECT_EQ(fwd("10.0.0.1", {"for=\"[2001:db8::7]:4711\""}), "2001:db8::7");
  EXPECT_EQ(fwd("10.0.0.1", {"for=\"[2001:db8::7]\""}), "2001:db8::7");
  EXPECT_EQ(fwd("10.0.0.1", {"for=6.6.6.6, for=203.0.113.5;proto=http, for=10.1.1.1"}),
            "203.0.113.5");
  EXPECT_EQ(fwd("10.0.0.1", {"for=6.6.6.6", "for=203.0.113.5", "for=10.1.1.1"}), "203.0.113.5");
  EXPECT_EQ(fwd("10.0.0.1", {"for=10.3.3.3, for=10.2.2.2"}), "10.3.3.3");
  EXPECT_EQ(fwd("10.0.0.1", {"for=\"203.0.113.5:_gazonk\""}), "203.0.113.5");
  EXPECT_EQ(fwd("10.0.0.1", {"proto=\"a,b;c\";for=203.0.113.5"}), "203.0.113.5");
  EXPECT_EQ(fwd("10.0.0.1", {"for=203.0.113.5;;by=x"}), "203.0.113.5");
}

TEST_F(ResolveTest, ForwardedStops) {
  EXPECT_EQ(fwd("10.0.0.1", {"for=unknown"}), "10.0.0.1");
  EXPECT_EQ(fwd("10.0.0.1", {"for=1.2.3.4, for=_hidden"}), "10.0.0.1");
  EXPECT_EQ(fwd("10.0.0.1", {"for=1.2.3.4, for=unknown, for=10.4.4.4"}), "10.4.4.4");
  EXPECT_EQ(fwd("10.0.0.1", {"proto=http"}), "10.0.0.1");                  // no for=
  EXPECT_EQ(fwd("10.0.0.1", {"for=1.2.3.4;for=5.6.7.8"}), "10.0.0.1");     // twice
  EXPECT_EQ(fwd("10.0.0.1", {"for=2001:db8::7"}), "10.0.0.1");             // unbracketed
  EXPECT_EQ(fwd("10.0.0.1", {"for=\"1.2.3.4"}), "10.0.0.1");               // open quote
  EXPECT_EQ(fwd("10.0.0.1", {"for=\"6.6.6.6, for=1.2.3.4"}), "10.0.0.1");  // quote hides a comma
  EXPECT_EQ(fwd("10.0.0.1", {"for=1.2.3.4 junk"}), "10.0.0.1");
  EXPECT_EQ(fwd("10.0.0.1", {"for="}), "10.0.0.1");
  EXPECT_EQ(fwd("10.0.0.1", {"=1.2.3.4"}), "10.0.0.1");
}

TEST(ParseXffEntry, Forms) {
  EXPECT_TRUE(parse_xff_entry("1.2.3.4"));
  EXPECT_TRUE(parse_xff_entry("1.2.3.4:0"));
  EXPECT_TRUE(parse_xff_entry("::1"));
  EXPECT_TRUE(parse_xff_entry("[::1]:80"));
  for (const char* bad : {"", " 1.2.3.4", "1.2.3.4:", "1.2.3.4:80:80", "[::1", "[::1]x",
                          "[::1]:", "::1:80x", "localhost", "_obf", "1.2.3.4:_obf"}) {
    EXPECT_FALSE(parse_xff_entry(bad)) << bad;
  }
}

}  // namespace
}  // namespace gh::client
