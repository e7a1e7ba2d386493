#include "stages/challenge/binding.h"

#include <gtest/gtest.h>

#include "client/address.h"

namespace gh::challenge {
namespace {

client::Cidr cidr(const char* text) {
  return *client::parse_cidr(text);
}

TEST(BindingOf, DocumentedDerivation) {
  // SHA-256("gatehouse binding v1\0" || v4-mapped bytes || len || 4 || UA), first 8 bytes.
  EXPECT_EQ(binding_of(cidr("203.0.113.0/24"), "Mozilla/5.0"), 0xea09db8304845c59ULL);
}

TEST(BindingOf, SamePrefixSameUserAgentAgrees) {
  const auto a = client::prefix_of(*client::parse_ip("198.51.100.7"), 24, 64);
  const auto b = client::prefix_of(*client::parse_ip("198.51.100.200"), 24, 64);
  EXPECT_EQ(binding_of(a, "UA"), binding_of(b, "UA"));
  const auto c = client::prefix_of(*client::parse_ip("2001:db8:1:2:aaaa::1"), 24, 64);
  const auto d = client::prefix_of(*client::parse_ip("2001:db8:1:2:bbbb::9"), 24, 64);
  EXPECT_EQ(binding_of(c, "UA"), binding_of(d, "UA"));
}

TEST(BindingOf, HostBitsAreIgnored) {
  client::Cidr raw = cidr("10.1.2.0/24");
  const std::uint64_t clean = binding_of(raw, "x");
  raw.address.bytes[15] = 99;  // a host bit the caller forgot to clear
  EXPECT_EQ(binding_of(raw, "x"), clean);
  raw.address.bytes[14] ^= 1;  // a prefix bit
  EXPECT_NE(binding_of(raw, "x"), clean);
}

TEST(BindingOf, EveryPartCounts) {
  const std::uint64_t base = binding_of(cidr("10.1.2.0/24"), "UA");
  EXPECT_NE(binding_of(cidr("10.1.3.0/24"), "UA"), base);
  EXPECT_NE(binding_of(cidr("10.1.0.0/16"), "UA"), base);
  EXPECT_NE(binding_of(cidr("10.1.2.0/24"), "UA "), base);
  EXPECT_NE(binding_of(cidr("10.1.2.0/24"), ""), base);
  // Families never collide: ::ffff:10.1.2.0/120 spelled as IPv6 is the IPv4 prefix (parse_cidr
  // folds it), but a plain IPv6 prefix with the same bytes and length is another binding.
  client::Cidr v6 = cidr("10.1.2.0/24");
  v6.address.is_v4 = false;
  v6.prefix_len = 24;
  EXPECT_NE(binding_of(v6, "UA"), base);
}

TEST(AccountHash, FoldsAsciiCaseOnly) {
  // printf 'gatehouse account v1\0alice@example.com' | sha256sum → 18eec7ee95608b41...
  EXPECT_EQ(account_hash("alice@example.com"), 0x18eec7ee95608b41ULL);
  EXPECT_EQ(account_hash("Alice@EXAMPLE.com"), account_hash("alice@example.com"));
  EXPECT_NE(account_hash(" alice@example.com"), account_hash("alice@example.com"));
  EXPECT_NE(account_hash("\xc3\x89mile"), account_hash("\xc3\xa9mile"));  // É vs é: not folded
  const std::string long_name(1000, 'Q');
  EXPECT_EQ(account_hash(long_name), account_hash(std::string(1000, 'q')));
  EXPECT_NE(account_hash(long_name), account_hash(std::string(999, 'q')));
}

}  // namespace
}  // namespace gh::challenge
