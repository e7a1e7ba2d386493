#include "stages/challenge/spent_set.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "client/address.h"

namespace gh::challenge {
namespace {

using Claim = SpentSet::Claim;

TokenId id_of(std::uint64_t n) {
  TokenId id{};
  // Spread n over both halves, like random ids.
  const std::uint64_t a = n * 0x9e3779b97f4a7c15ULL;
  std::memcpy(id.data(), &a, 8);
  std::memcpy(id.data() + 8, &n, 8);
  return id;
}

// One network with a quota above the capacity: the single-use behaviour on its own.
const client::Cidr kNet = *client::parse_cidr("198.51.100.0/24");

Claim claim(SpentSet& s, const TokenId& id, std::int64_t expiry_ms, std::int64_t now_ms) {
  return s.claim(id, kNet, static_cast<std::uint32_t>(s.capacity() + 1), expiry_ms, now_ms);
}

client::Cidr v4_net(std::uint32_t n) {
  return client::prefix_of(
      client::make_ipv4(10, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n), 7), 24,
      64);
}

TEST(SpentSet, SecondClaimIsReplay) {
  SpentSet s(10);
  EXPECT_EQ(claim(s, id_of(1), 1000, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(1), 1000, 10), Claim::Replay);
  EXPECT_EQ(claim(s, id_of(1), 5000, 999), Claim::Replay);
  EXPECT_EQ(claim(s, id_of(2), 1000, 10), Claim::Fresh);
  EXPECT_EQ(s.size(), 2u);
}

// A fleet: fresh claims are announced (and only they), and ids other nodes claimed are refused
// here without counting against any client network's quota.
TEST(SpentSet, FreshClaimsAreAnnouncedAndMarkedIdsRefused) {
  SpentSet s(16);
  std::vector<std::pair<TokenId, std::int64_t>> told;
  s.on_claim([&](const TokenId& id, std::int64_t expiry) { told.emplace_back(id, expiry); });
  EXPECT_EQ(s.claim(id_of(1), kNet, 1, 5000, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(1), kNet, 1, 5000, 0), Claim::Replay);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].first, id_of(1));
  EXPECT_EQ(told[0].second, 5000);

  EXPECT_TRUE(s.mark(id_of(2), 5000, 0));
  EXPECT_FALSE(s.mark(id_of(2), 5000, 0));
  EXPECT_EQ(told.size(), 1u);  // a mark is not announced back
  const client::Cidr other = *client::parse_cidr("203.0.113.0/24");
  EXPECT_EQ(s.claim(id_of(2), other, 1, 5000, 10), Claim::Replay);
  // Marks take no client network's quota: that network still claims its one id.
  for (std::uint64_t i = 3; i < 10; ++i) EXPECT_TRUE(s.mark(id_of(i), 5000, 0));
  EXPECT_EQ(s.claim(id_of(100), other, 1, 5000, 10), Claim::Fresh);
  // Forgotten at expiry like any other id.
  EXPECT_EQ(s.claim(id_of(2), other, 8, 9000, 5000), Claim::Fresh);
}

TEST(SpentSet, IdsDifferingInOneHalfAreDistinct) {
  SpentSet s(10);
  TokenId a{};
  TokenId b{};
  b[15] = 1;
  TokenId c{};
  c[0] = 1;
  EXPECT_EQ(claim(s, a, 100, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, b, 100, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, c, 100, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, b, 100, 0), Claim::Replay);
}

TEST(SpentSet, FullWhenNothingHasExpired) {
  SpentSet s(3);
  EXPECT_EQ(claim(s, id_of(1), 100, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(2), 200, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(3), 300, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(4), 400, 99), Claim::Full);
  EXPECT_EQ(s.size(), 3u);
  // Replays are still recognised when full.
  EXPECT_EQ(claim(s, id_of(2), 200, 99), Claim::Replay);
}

TEST(SpentSet, ExpiredEntriesMakeRoomWhenFull) {
  SpentSet s(3);
  EXPECT_EQ(claim(s, id_of(1), 100, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(2), 200, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(3), 300, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(4), 400, 100), Claim::Fresh);  // id 1 expired at 100
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(claim(s, id_of(5), 500, 150), Claim::Full);
  // Forgotten only because it expired: a token that old no longer decodes anyway.
  EXPECT_EQ(claim(s, id_of(1), 100, 250), Claim::Fresh);  // 2 expired, room again
  EXPECT_EQ(claim(s, id_of(3), 300, 250), Claim::Replay);
  EXPECT_EQ(claim(s, id_of(4), 400, 250), Claim::Replay);
}

TEST(SpentSet, ForgottenAtExpiryNotBefore) {
  SpentSet s(100);
  EXPECT_EQ(claim(s, id_of(1), 100, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(1), 100, 99), Claim::Replay);
  // From its expiry on the token no longer decodes, so forgetting it cannot allow a replay.
  EXPECT_EQ(claim(s, id_of(1), 100, 100), Claim::Fresh);
  EXPECT_EQ(s.size(), 1u);
}

TEST(SpentSet, ChurnThroughManyGenerations) {
  // Many purges with clustered probes: every live id must stay a replay.
  SpentSet s(1000);
  std::int64_t now = 0;
  for (std::uint64_t gen = 0; gen < 20; ++gen) {
    for (std::uint64_t i = 0; i < 1000; ++i) {
      ASSERT_EQ(claim(s, id_of(gen * 1000 + i), now + 10, now), Claim::Fresh) << gen << " " << i;
    }
    for (std::uint64_t i = 0; i < 1000; i += 7) {
      ASSERT_EQ(claim(s, id_of(gen * 1000 + i), now + 10, now), Claim::Replay);
    }
    ASSERT_EQ(claim(s, id_of(999'999), now + 10, now), Claim::Full);
    now += 10;
  }
  EXPECT_EQ(s.size(), 1000u);
}

TEST(SpentSet, PartialExpiryKeepsTheLiveOnes) {
  SpentSet s(512);
  for (std::uint64_t i = 0; i < 512; ++i) {
    ASSERT_EQ(claim(s, id_of(i), (i % 2 == 0) ? 100 : 1000, 0), Claim::Fresh);
  }
  EXPECT_EQ(claim(s, id_of(10'000), 1000, 100), Claim::Fresh);  // forgets the 256 even ones
  EXPECT_EQ(s.size(), 257u);
  for (std::uint64_t i = 1; i < 512; i += 2)
    EXPECT_EQ(claim(s, id_of(i), 1000, 100), Claim::Replay);
  // 257 held: room for 255 of the 256 forgotten ids.
  for (std::uint64_t i = 2; i < 512; i += 2) EXPECT_EQ(claim(s, id_of(i), 1000, 100), Claim::Fresh);
  EXPECT_EQ(s.size(), 512u);
  EXPECT_EQ(claim(s, id_of(0), 1000, 100), Claim::Full);
}

TEST(SpentSet, LargeCapacityIsExact) {
  SpentSet s(5000);
  EXPECT_EQ(s.capacity(), 5000u);
  std::size_t fresh = 0;
  for (std::uint64_t i = 0; i < 20'000; ++i) {
    if (claim(s, id_of(i), 1000, 0) == Claim::Fresh) ++fresh;
  }
  EXPECT_EQ(fresh, 5000u);
  EXPECT_EQ(s.size(), 5000u);
}

TEST(SpentSet, ConcurrentClaimsOfOneIdYieldOneFresh) {
  SpentSet s(100'000);
  constexpr int kThreads = 4;
  constexpr std::uint64_t kIds = 2000;
  std::atomic<int> fresh{0};
  std::atomic<int> replay{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (std::uint64_t i = 0; i < kIds; ++i) {
        const Claim c = claim(s, id_of(i), 1000, 0);
        (c == Claim::Fresh ? fresh : replay).fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(fresh.load(), static_cast<int>(kIds));
  EXPECT_EQ(replay.load(), static_cast<int>(kIds * (kThreads - 1)));
  EXPECT_EQ(s.size(), kIds);
}

TEST(SpentSet, ZeroCapacityHoldsOne) {
  SpentSet s(0);
  EXPECT_EQ(claim(s, id_of(1), 10, 0), Claim::Fresh);
  EXPECT_EQ(claim(s, id_of(2), 10, 0), Claim::Full);
}

// ---- per-network quotas ---------------------------------------------------------------------

TEST(SpentSet, NetworkAtQuotaIsRefusedUntilItsOldestExpires) {
  SpentSet s(100);
  const client::Cidr a = v4_net(1);
  std::int64_t free_at = -1;
  EXPECT_EQ(s.claim(id_of(1), a, 3, 300, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(2), a, 3, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(3), a, 3, 200, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(4), a, 3, 400, 10, &free_at), Claim::PrefixFull);
  // The earliest claimed (id 1): by then at least one slot is free for sure.
  EXPECT_EQ(free_at, 300);
  // A replay is a replay, at quota or not.
  EXPECT_EQ(s.claim(id_of(2), a, 3, 100, 10), Claim::Replay);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.networks(), 1u);
  // Id 2 expires at 100: the network has room again without the set being full.
  EXPECT_EQ(s.claim(id_of(4), a, 3, 400, 100), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(5), a, 3, 400, 100, &free_at), Claim::PrefixFull);
  EXPECT_EQ(free_at, 300);
  // A quota given by a reload applies to the next claim.
  EXPECT_EQ(s.claim(id_of(5), a, 4, 400, 100), Claim::Fresh);
}

TEST(SpentSet, OtherNetworksKeepClaimingWhileOneIsAtQuota) {
  SpentSet s(1000);
  std::uint64_t next = 0;
  for (int i = 0; i < 100; ++i) {
    const Claim c = s.claim(id_of(next++), v4_net(0), 8, 1000, 0);
    ASSERT_EQ(c, i < 8 ? Claim::Fresh : Claim::PrefixFull) << i;
  }
  for (std::uint32_t n = 1; n <= 50; ++n) {
    for (int i = 0; i < 8; ++i)
      ASSERT_EQ(s.claim(id_of(next++), v4_net(n), 8, 1000, 0), Claim::Fresh);
  }
  EXPECT_EQ(s.size(), 51u * 8);
  EXPECT_EQ(s.networks(), 51u);
}

TEST(SpentSet, CountsAndNetworksAreReleasedOnExpiry) {
  SpentSet s(100);
  for (std::uint32_t n = 0; n < 10; ++n) {
    for (std::uint64_t i = 0; i < 5; ++i) {
      ASSERT_EQ(s.claim(id_of(n * 10 + i), v4_net(n), 5, 100 + n, 0), Claim::Fresh);
    }
  }
  EXPECT_EQ(s.networks(), 10u);
  EXPECT_EQ(s.size(), 50u);
  // At 105 the ids of networks 0-5 have expired; the claim from network 0 sees its full quota.
  for (std::uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(s.claim(id_of(1000 + i), v4_net(0), 5, 1000, 105), Claim::Fresh);
  }
  EXPECT_EQ(s.size(), 4u * 5 + 5);
  EXPECT_EQ(s.networks(), 5u);
  // Later networks still hold theirs until they expire.
  EXPECT_EQ(s.claim(id_of(2000), v4_net(9), 5, 1000, 105), Claim::PrefixFull);
  EXPECT_EQ(s.claim(id_of(2000), v4_net(9), 5, 1000, 109), Claim::Fresh);
  EXPECT_EQ(s.networks(), 2u);  // 0 and 9
}

TEST(SpentSet, FullWhenManyNetworksFillTheSet) {
  SpentSet s(1000);
  for (std::uint32_t n = 0; n < 250; ++n) {
    for (std::uint64_t i = 0; i < 4; ++i) {
      ASSERT_EQ(s.claim(id_of(n * 4 + i), v4_net(n), 4, 500 + n, 0), Claim::Fresh);
    }
  }
  EXPECT_EQ(s.size(), 1000u);
  std::int64_t free_at = 0;
  // A network with room hits the last resort; one at quota hears about its own share first.
  EXPECT_EQ(s.claim(id_of(5000), v4_net(300), 4, 900, 1), Claim::Full);
  EXPECT_EQ(s.claim(id_of(5000), v4_net(7), 4, 900, 1, &free_at), Claim::PrefixFull);
  EXPECT_EQ(free_at, 507);
  EXPECT_EQ(s.claim(id_of(17), v4_net(4), 4, 504, 1), Claim::Replay);
  EXPECT_EQ(s.networks(), 250u);
  // Nothing unexpired is given up for room; once network 0 expires, there is room for 4.
  EXPECT_EQ(s.claim(id_of(5000), v4_net(300), 4, 900, 499), Claim::Full);
  for (std::uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(s.claim(id_of(5000 + i), v4_net(300 + i), 4, 900, 500), Claim::Fresh);
  }
  EXPECT_EQ(s.claim(id_of(5004), v4_net(304), 4, 900, 500), Claim::Full);
}

TEST(SpentSet, QuotasCountPerSlash24AndSlash48) {
  const auto net = [](const char* text) { return *client::parse_cidr(text); };
  EXPECT_EQ(SpentSet::network_of(net("203.0.113.77/32")), net("203.0.113.0/24"));
  EXPECT_EQ(SpentSet::network_of(net("203.0.113.0/24")), net("203.0.113.0/24"));
  EXPECT_EQ(SpentSet::network_of(net("203.0.0.0/16")), net("203.0.0.0/16"));
  EXPECT_EQ(SpentSet::network_of(net("2001:db8:1:2::/64")), net("2001:db8:1::/48"));
  EXPECT_EQ(SpentSet::network_of(net("2001:db8::/32")), net("2001:db8::/32"));

  SpentSet s(100);
  // 65 536 /64s of one /48 share one quota; the next /48 has its own.
  EXPECT_EQ(s.claim(id_of(1), net("2001:db8:1:1::/64"), 2, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(2), net("2001:db8:1:ffff::/64"), 2, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(3), net("2001:db8:1:7::/64"), 2, 100, 0), Claim::PrefixFull);
  EXPECT_EQ(s.claim(id_of(3), net("2001:db8:2:7::/64"), 2, 100, 0), Claim::Fresh);
  // Per-address IPv4 prefixes (clients.ipv4_prefix: 32) likewise share their /24.
  EXPECT_EQ(s.claim(id_of(4), net("192.0.2.1/32"), 2, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(5), net("192.0.2.2/32"), 2, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(6), net("192.0.2.3/32"), 2, 100, 0), Claim::PrefixFull);
  // A v4-mapped prefix is the IPv4 network (parse_cidr maps it); a NAT64 one is IPv6.
  EXPECT_EQ(s.claim(id_of(6), net("::ffff:c000:200/120"), 2, 100, 0), Claim::PrefixFull);
  EXPECT_EQ(s.claim(id_of(6), net("64:ff9b::c000:200/120"), 2, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.networks(), 4u);
}

TEST(SpentSet, ZeroQuotaCountsAsOne) {
  SpentSet s(10);
  EXPECT_EQ(s.claim(id_of(1), kNet, 0, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(2), kNet, 0, 100, 0), Claim::PrefixFull);
}

TEST(SpentSet, ConcurrentNetworksGetExactlyTheirQuota) {
  SpentSet s(100'000);
  constexpr int kThreads = 4;
  constexpr std::uint32_t kQuota = 50;
  std::atomic<int> own_fresh{0};
  std::atomic<int> shared_fresh{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < 1000; ++i) {
        // Distinct ids: one network of the thread's own and one that all threads share.
        const std::uint64_t base = static_cast<std::uint64_t>(t) << 32;
        if (s.claim(id_of(base + i), v4_net(100 + t), kQuota, 1000, 0) == Claim::Fresh) {
          own_fresh.fetch_add(1);
        }
        if (s.claim(id_of(base + 100'000 + i), v4_net(1), kQuota, 1000, 0) == Claim::Fresh) {
          shared_fresh.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(own_fresh.load(), static_cast<int>(kThreads * kQuota));
  EXPECT_EQ(shared_fresh.load(), static_cast<int>(kQuota));
  EXPECT_EQ(s.size(), (kThreads + 1) * kQuota);
  EXPECT_EQ(s.networks(), static_cast<std::size_t>(kThreads + 1));
}

// Random claims against a plain model of the rules: small tables, so probes wrap, clusters form
// and both tables delete in every position.
TEST(SpentSet, MatchesAPlainModel) {
  constexpr std::size_t kCapacity = 64;
  constexpr std::uint32_t kQuota = 5;
  SpentSet s(kCapacity);
  struct Held {
    std::int64_t expiry;
    std::uint32_t net;
    std::uint64_t seq;
  };
  std::map<std::uint64_t, Held> model;
  std::mt19937_64 rng(7);
  std::int64_t now = 0;
  std::uint64_t seq = 0;
  std::size_t outcomes[4] = {};
  for (int step = 0; step < 200'000; ++step) {
    now += rng() % 8 == 0 ? 1 : 0;
    const std::uint64_t id = rng() % 400;
    const auto net = static_cast<std::uint32_t>(rng() % 20);
    const std::int64_t expiry = now + 1 + static_cast<std::int64_t>(rng() % 60);

    std::erase_if(model, [&](const auto& kv) { return now >= kv.second.expiry; });
    Claim want = Claim::Fresh;
    std::int64_t want_free_at = 0;
    std::uint32_t in_net = 0;
    std::uint64_t oldest = ~std::uint64_t{0};
    for (const auto& [k, h] : model) {
      if (h.net != net) continue;
      ++in_net;
      if (h.seq < oldest) {
        oldest = h.seq;
        want_free_at = h.expiry;
      }
    }
    if (model.contains(id)) {
      want = Claim::Replay;
    } else if (in_net >= kQuota) {
      want = Claim::PrefixFull;
    } else if (model.size() >= kCapacity) {
      want = Claim::Full;
    } else {
      model[id] = Held{expiry, net, seq++};
    }
    std::int64_t free_at = 0;
    const Claim got = s.claim(id_of(id), v4_net(net), kQuota, expiry, now, &free_at);
    ASSERT_EQ(got, want) << "step " << step;
    if (got == Claim::PrefixFull) {
      ASSERT_EQ(free_at, want_free_at) << "step " << step;
    }
    ASSERT_EQ(s.size(), model.size()) << "step " << step;
    std::set<std::uint32_t> nets;
    for (const auto& kv : model) nets.insert(kv.second.net);
    ASSERT_EQ(s.networks(), nets.size()) << "step " << step;
    ++outcomes[static_cast<int>(got)];
  }
  // Every outcome was exercised many times.
  for (std::size_t n : outcomes)
    EXPECT_GT(n, 1000u) << outcomes[0] << " " << outcomes[1] << " " << outcomes[2] << " "
                        << outcomes[3];
}

}  // namespace
}  // namespace gh::challenge
