// Longest-prefix match against a brute-force scan with client::contains over random prefix sets.
#include "stages/lists/prefix_set.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "client/address.h"

namespace gh::lists {
namespace {

using client::Cidr;
using client::IpAddress;

struct Prefix {
  Cidr cidr;
  Entry entry;
};

unsigned len128(const Cidr& c) {
  return c.address.is_v4 ? 96u + c.prefix_len : c.prefix_len;
}

// The longest prefix holding ip; of equal prefixes the one added last.
std::optional<Match> reference(const std::vector<Prefix>& prefixes, const IpAddress& ip) {
  const Prefix* best = nullptr;
  for (const Prefix& p : prefixes) {
    if (!client::contains(p.cidr, ip)) continue;
    if (best == nullptr || len128(p.cidr) >= len128(best->cidr)) best = &p;
  }
  if (best == nullptr) return std::nullopt;
  return Match{best->entry, best->cidr.prefix_len, best->cidr.address.is_v4};
}

Cidr cidr(const char* text) {
  auto c = client::parse_cidr(text);
  EXPECT_TRUE(c.has_value()) << text;
  return *c;
}

IpAddress ip(const char* text) {
  auto a = client::parse_ip(text);
  EXPECT_TRUE(a.has_value()) << text;
  return *a;
}

std::unique_ptr<PrefixSet> build(const std::vector<Prefix>& prefixes) {
  PrefixSetBuilder b;
  for (const Prefix& p : prefixes) EXPECT_TRUE(b.add(p.cidr, p.entry));
  return b.build();
}

class Gen {
 public:
  explicit Gen(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t u64() { return rng_(); }
  unsigned below(unsigned n) { return static_cast<unsigned>(rng_() % n); }

  IpAddress v4() {
    const auto x = static_cast<std::uint32_t>(rng_());
    return client::make_ipv4(x >> 24, x >> 16, x >> 8, x);
  }
  IpAddress v6() {
    IpAddress a;
    for (auto& b : a.bytes) b = static_cast<std::uint8_t>(rng_());
    a.is_v4 = false;
    return a;
  }
  // An address sharing a random number of leading bits with `base` (nested prefixes).
  IpAddress near(const IpAddress& base) {
    IpAddress a = base.is_v4 ? v4() : v6();
    const unsigned keep = base.is_v4 ? 96 + below(33) : below(129);
    for (unsigned bit = 0; bit < keep; ++bit) {
      const unsigned byte = bit / 8;
      const auto m = static_cast<std::uint8_t>(0x80u >> (bit % 8));
      a.bytes[byte] = static_cast<std::uint8_t>((a.bytes[byte] & ~m) | (base.bytes[byte] & m));
    }
    return a;
  }
  Entry entry() {
    return Entry{below(2) != 0 ? Action::Deny : Action::Allow,
                 static_cast<std::uint16_t>(below(65536))};
  }

 private:
  std::mt19937_64 rng_;
};

// Prefixes around a few bases, so that many nest; lengths uniform over the family's width.
std::vector<Prefix> random_prefixes(Gen& g, std::size_t n, int v4_percent,
                                    const std::vector<IpAddress>& bases) {
  std::vector<Prefix> out;
  for (std::size_t i = 0; i < n; ++i) {
    const bool v4 = static_cast<int>(g.below(100)) < v4_percent;
    IpAddress base = bases[g.below(static_cast<unsigned>(bases.size()))];
    if (base.is_v4 != v4) base = v4 ? g.v4() : g.v6();
    const IpAddress a = g.near(base);
    const unsigned len = g.below(v4 ? 33 : 129);
    out.push_back(Prefix{client::prefix_of(a, len, len), g.entry()});
  }
  return out;
}

void check_against_reference(const std::vector<Prefix>& prefixes, Gen& g,
                             const std::vector<IpAddress>& bases, std::size_t queries) {
  const auto set = build(prefixes);
  std::vector<IpAddress> probes;
  for (std::size_t i = 0; i < queries; ++i) {
    switch (g.below(4)) {
      case 0:
        probes.push_back(g.v4());
        break;
      case 1:
        probes.push_back(g.v6());
        break;
      default:
        probes.push_back(g.near(bases[g.below(static_cast<unsigned>(bases.size()))]));
    }
  }
  // Every prefix's first and last address and their neighbours: the range boundaries.
  for (const Prefix& p : prefixes) {
    const auto p128 = to_prefix128(p.cidr);
    for (u128 x : {p128->start, p128->end(), p128->start - 1, p128->end() + 1}) {
      probes.push_back(from_u128(x));
    }
  }
  for (const IpAddress& a : probes) {
    ASSERT_EQ(set->lookup(a), reference(prefixes, a)) << client::format_ip(a);
  }
}

std::vector<IpAddress> bases(Gen& g, int v4, int v6) {
  std::vector<IpAddress> out;
  for (int i = 0; i < v4; ++i) out.push_back(g.v4());
  for (int i = 0; i < v6; ++i) out.push_back(g.v6());
  return out;
}

TEST(PrefixSet, EmptyMatchesNothing) {
  PrefixSet empty;
  EXPECT_EQ(empty.lookup(ip("1.2.3.4")), std::nullopt);
  EXPECT_EQ(empty.lookup(ip("::")), std::nullopt);
  EXPECT_EQ(empty.lookup(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), std::nullopt);
  EXPECT_EQ(empty.lookup(ip("255.255.255.255")), std::nullopt);
  EXPECT_EQ(PrefixSetBuilder().build()->lookup(ip("10.0.0.1")), std::nullopt);
}

TEST(PrefixSet, LongestPrefixWins) {
  const Entry deny{Action::Deny, 1};
  const Entry allow{Action::Allow, 2};
  const auto set = build({{cidr("10.0.0.0/8"), deny},
                          {cidr("10.1.0.0/16"), allow},
                          {cidr("10.1.2.3"), deny},
                          {cidr("2001:db8::/32"), deny},
                          {cidr("2001:db8:1::/48"), allow}});
  EXPECT_EQ(set->lookup(ip("10.200.0.1")), (Match{deny, 8, true}));
  EXPECT_EQ(set->lookup(ip("10.1.9.9")), (Match{allow, 16, true}));
  EXPECT_EQ(set->lookup(ip("10.1.2.3")), (Match{deny, 32, true}));
  EXPECT_EQ(set->lookup(ip("10.1.2.4")), (Match{allow, 16, true}));
  EXPECT_EQ(set->lookup(ip("11.0.0.0")), std::nullopt);
  EXPECT_EQ(set->lookup(ip("9.255.255.255")), std::nullopt);
  EXPECT_EQ(set->lookup(ip("2001:db8:1:2::1")), (Match{allow, 48, false}));
  EXPECT_EQ(set->lookup(ip("2001:db8:2::1")), (Match{deny, 32, false}));
  EXPECT_EQ(set->lookup(ip("2001:db9::")), std::nullopt);
  EXPECT_EQ(set->stats().prefixes, 5u);
}

TEST(PrefixSet, ExtremesOfTheSpace) {
  const Entry e{Action::Deny, 7};
  const auto set = build({{cidr("0.0.0.0/0"), e},
                          {cidr("255.255.255.255/32"), Entry{Action::Allow, 1}},
                          {cidr("0.0.0.0/32"), Entry{Action::Allow, 2}},
                          {cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), e},
                          {cidr("::/128"), e}});
  EXPECT_EQ(set->lookup(ip("255.255.255.255")), (Match{Entry{Action::Allow, 1}, 32, true}));
  EXPECT_EQ(set->lookup(ip("0.0.0.0")), (Match{Entry{Action::Allow, 2}, 32, true}));
  EXPECT_EQ(set->lookup(ip("128.0.0.1")), (Match{e, 0, true}));
  EXPECT_EQ(set->lookup(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), (Match{e, 128, false}));
  EXPECT_EQ(set->lookup(ip("::")), (Match{e, 128, false}));
  EXPECT_EQ(set->lookup(ip("::1")), std::nullopt);
}

TEST(PrefixSet, Ipv6PrefixCoveringTheMappedSpaceHoldsIpv4Addresses) {
  const Entry all{Action::Deny, 1};
  const Entry low{Action::Allow, 2};
  const auto set = build({{cidr("::/0"), all}, {cidr("::/64"), low}});
  // As client::contains: ::/0 and ::/64 hold ::ffff:1.2.3.4.
  EXPECT_EQ(set->lookup(ip("1.2.3.4")), (Match{low, 64, false}));
  EXPECT_EQ(set->lookup(ip("2001:db8::1")), (Match{all, 0, false}));
  // ::ffff:0:0/96 is spelt as the IPv4 0.0.0.0/0.
  const auto mapped = build({{cidr("::ffff:0:0/96"), all}});
  EXPECT_EQ(mapped->lookup(ip("9.9.9.9")), (Match{all, 0, true}));
  EXPECT_EQ(mapped->lookup(ip("::1")), std::nullopt);
}

TEST(PrefixSet, LastOfEqualPrefixesWinsAndIsCounted) {
  PrefixSetBuilder b;
  b.add(cidr("192.0.2.0/24"), Entry{Action::Deny, 1});
  b.add(cidr("192.0.2.77/24"), Entry{Action::Allow, 2});        // host bits ignored: same prefix
  b.add(cidr("::ffff:192.0.2.0/120"), Entry{Action::Deny, 3});  // same prefix again
  const auto set = b.build();
  EXPECT_EQ(set->lookup(ip("192.0.2.1")), (Match{Entry{Action::Deny, 3}, 24, true}));
  EXPECT_EQ(set->stats().prefixes, 1u);
  EXPECT_EQ(set->stats().duplicates, 2u);
  EXPECT_EQ(b.size(), 0u);  // build() empties the builder
}

TEST(PrefixSet, RefusesLengthsBeyondTheFamily) {
  PrefixSetBuilder b;
  Cidr c = cidr("10.0.0.0/8");
  c.prefix_len = 33;
  EXPECT_FALSE(b.add(c, Entry{}));
  c = cidr("2001:db8::/32");
  c.prefix_len = 129;
  EXPECT_FALSE(b.add(c, Entry{}));
  EXPECT_EQ(b.size(), 0u);
}

TEST(PrefixSet, AdjacentEqualValuesMerge) {
  PrefixSetBuilder b;
  for (int i = 0; i < 256; ++i) {
    b.add(client::prefix_of(client::make_ipv4(10, static_cast<std::uint8_t>(i), 0, 0), 16, 128),
          Entry{Action::Deny, 5});
  }
  const auto set = b.build();
  EXPECT_EQ(set->stats().ranges_v4, 3u);  // below 10/8, the 256 /16s, above
  EXPECT_EQ(set->lookup(ip("10.77.1.1")), (Match{Entry{Action::Deny, 5}, 16, true}));
}

TEST(PrefixSetRandom, Ipv4AgainstBruteForce) {
  Gen g(1);
  const auto b = bases(g, 6, 0);
  for (int round = 0; round < 4; ++round) {
    check_against_reference(random_prefixes(g, 800, 100, b), g, b, 4000);
  }
}

TEST(PrefixSetRandom, Ipv6AgainstBruteForce) {
  Gen g(2);
  const auto b = bases(g, 0, 6);
  for (int round = 0; round < 4; ++round) {
    check_against_reference(random_prefixes(g, 800, 0, b), g, b, 4000);
  }
}

TEST(PrefixSetRandom, MixedWithExtremesAgainstBruteForce) {
  Gen g(3);
  auto b = bases(g, 4, 4);
  b.push_back(ip("::"));  // prefixes of :: cover the mapped space for short lengths
  b.push_back(ip("0.0.0.0"));
  b.push_back(ip("255.255.255.255"));
  b.push_back(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  for (int round = 0; round < 4; ++round) {
    auto prefixes = random_prefixes(g, 1000, 50, b);
    prefixes.push_back({cidr("::/0"), g.entry()});
    prefixes.push_back({cidr("0.0.0.0/0"), g.entry()});
    prefixes.push_back({cidr("::ffff:0:0/95"), g.entry()});
    prefixes.push_back({cidr("::/80"), g.entry()});
    check_against_reference(prefixes, g, b, 6000);
  }
}

TEST(PrefixSetRandom, SmallSetsOfEverySize) {
  Gen g(4);
  const auto b = bases(g, 2, 2);
  for (std::size_t n = 0; n < 80; ++n)
    check_against_reference(random_prefixes(g, n, 50, b), g, b, 200);
}

TEST(PrefixSetRandom, LargeSetSampled) {
  Gen g(5);
  std::vector<Prefix> prefixes;
  PrefixSetBuilder builder;
  for (int i = 0; i < 200'000; ++i) {
    const bool v4 = g.below(2) == 0;
    const unsigned len = v4 ? 8 + g.below(25) : 16 + g.below(113);
    const IpAddress a = v4 ? g.v4() : g.v6();
    prefixes.push_back(Prefix{client::prefix_of(a, len, len), g.entry()});
    builder.add(prefixes.back().cidr, prefixes.back().entry);
  }
  const auto set = builder.build();
  EXPECT_EQ(set->stats().prefixes + set->stats().duplicates, prefixes.size());
  // Bytes per prefix: at most two range boundaries each, plus the tree's inner nodes.
  EXPECT_LT(set->stats().memory_bytes / prefixes.size(), 64u);
  for (int i = 0; i < 100; ++i) {
    const Prefix& p = prefixes[g.below(static_cast<unsigned>(prefixes.size()))];
    const IpAddress inside = g.near(p.cidr.address);
    ASSERT_EQ(set->lookup(inside), reference(prefixes, inside));
    const IpAddress any = g.below(2) == 0 ? g.v4() : g.v6();
    ASSERT_EQ(set->lookup(any), reference(prefixes, any));
  }
}

}  // namespace
}  // namespace gh::lists
