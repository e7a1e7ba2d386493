// The ban table without a journal: matching, expiry, escalation, the capacity, concurrency.
#include "stages/lists/bans.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "client/address.h"

namespace gh::lists {
namespace {

using client::Cidr;
using client::IpAddress;

constexpr Seconds kT0 = 1'700'000'000;
constexpr Seconds kHour = 3600;

Cidr cidr(const char* text) {
  return *client::parse_cidr(text);
}

IpAddress ip(const char* text) {
  return *client::parse_ip(text);
}

std::unique_ptr<BanTable> table(std::size_t capacity = 1000, Seconds window = 86'400) {
  auto t = BanTable::create(BansConfig{capacity, window, 0});
  EXPECT_NE(t, nullptr);
  return t;
}

TEST(Bans, CreateRefusesZeroCapacity) {
  EXPECT_EQ(BanTable::create(BansConfig{0, 1, 0}), nullptr);
  EXPECT_NE(BanTable::create(BansConfig{1, 1, 0}), nullptr);
}

TEST(Bans, ExactAddressesOfBothFamilies) {
  auto t = table();
  EXPECT_EQ(t->ban(cidr("192.0.2.1"), {600, 600}, "too many logins", "login", kT0), kT0 + 600);
  EXPECT_EQ(t->ban(cidr("2001:db8::1"), {60, 60}, "signup flood", "signup", kT0), kT0 + 60);
  const auto b = t->is_banned(ip("192.0.2.1"), kT0 + 1);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(client::format_cidr(b->key), "192.0.2.1/32");
  EXPECT_EQ(b->reason.view(), "too many logins");
  EXPECT_EQ(b->source.view(), "login");
  EXPECT_EQ(b->start, kT0);
  EXPECT_EQ(b->expiry, kT0 + 600);
  EXPECT_EQ(b->level, 0);
  EXPECT_FALSE(t->is_banned(ip("192.0.2.2"), kT0 + 1));
  EXPECT_TRUE(t->is_banned(ip("2001:db8::1"), kT0 + 1));
  EXPECT_FALSE(t->is_banned(ip("2001:db8::2"), kT0 + 1));
  EXPECT_FALSE(t->is_banned(ip("::ffff:192.0.2.2"), kT0 + 1));
  EXPECT_TRUE(t->is_banned(ip("::ffff:192.0.2.1"), kT0 + 1));  // the same address
}

TEST(Bans, PrefixesCoverTheirAddresses) {
  auto t = table();
  t->ban(cidr("198.51.100.0/24"), {kHour, kHour}, "scan", "manual", kT0);
  t->ban(cidr("2001:db8:aa::/48"), {kHour, kHour}, "rotating /64s", "manual", kT0);
  EXPECT_TRUE(t->is_banned(ip("198.51.100.0"), kT0));
  EXPECT_TRUE(t->is_banned(ip("198.51.100.255"), kT0));
  EXPECT_FALSE(t->is_banned(ip("198.51.101.0"), kT0));
  EXPECT_TRUE(t->is_banned(ip("2001:db8:aa:ffff::1"), kT0));
  EXPECT_FALSE(t->is_banned(ip("2001:db8:ab::1"), kT0));
  EXPECT_EQ(client::format_cidr(t->is_banned(ip("198.51.100.7"), kT0)->key), "198.51.100.0/24");
  // Host bits of the key are cleared; unban takes the same prefix in any spelling.
  EXPECT_TRUE(t->unban(cidr("198.51.100.99/24")));
  EXPECT_FALSE(t->is_banned(ip("198.51.100.7"), kT0));
}

TEST(Bans, Ipv6PrefixCoveringMappedSpaceHoldsIpv4) {
  auto t = table();
  t->ban(cidr("::/0"), {kHour, kHour}, "lockdown", "manual", kT0);
  EXPECT_TRUE(t->is_banned(ip("203.0.113.1"), kT0));
  EXPECT_TRUE(t->is_banned(ip("2001:db8::1"), kT0));
  t->unban(cidr("::/0"));
  t->ban(cidr("0.0.0.0/0"), {kHour, kHour}, "all v4", "manual", kT0);
  EXPECT_TRUE(t->is_banned(ip("203.0.113.1"), kT0));
  EXPECT_FALSE(t->is_banned(ip("2001:db8::1"), kT0));
}

TEST(Bans, OfSeveralMatchesTheLongestLastingIsReported) {
  auto t = table();
  t->ban(cidr("10.0.0.0/8"), {100, 100}, "wide", "a", kT0);
  t->ban(cidr("10.1.0.0/16"), {300, 300}, "mid", "b", kT0);
  t->ban(cidr("10.1.2.3"), {200, 200}, "exact", "c", kT0);
  EXPECT_EQ(t->is_banned(ip("10.1.2.3"), kT0)->reason.view(), "mid");
  EXPECT_EQ(t->is_banned(ip("10.9.9.9"), kT0)->reason.view(), "wide");
  EXPECT_EQ(t->is_banned(ip("10.1.2.3"), kT0 + 299)->reason.view(), "mid");
  EXPECT_FALSE(t->is_banned(ip("10.1.2.3"), kT0 + 300));
  // Equal expiries: the longest prefix.
  t->ban(cidr("172.16.0.0/12"), {100, 100}, "wide", "a", kT0);
  t->ban(cidr("172.16.0.1"), {100, 100}, "exact", "a", kT0);
  EXPECT_EQ(t->is_banned(ip("172.16.0.1"), kT0)->reason.view(), "exact");
}

TEST(Bans, ExpiryAndExpire) {
  auto t = table();
  t->ban(cidr("192.0.2.1"), {10, 10}, "r", "s", kT0);
  t->ban(cidr("192.0.2.2"), {20, 20}, "r", "s", kT0);
  EXPECT_TRUE(t->is_banned(ip("192.0.2.1"), kT0 + 9));
  EXPECT_FALSE(t->is_banned(ip("192.0.2.1"), kT0 + 10));  // banned while now < expiry
  EXPECT_EQ(t->list(kT0 + 10).size(), 1u);
  EXPECT_EQ(t->stats().live, 2u);
  EXPECT_EQ(t->expire(kT0 + 10), 1u);
  EXPECT_EQ(t->stats().live, 1u);
  EXPECT_EQ(t->stats().expired, 1u);
  EXPECT_EQ(t->expire(kT0 + 100), 1u);
  EXPECT_EQ(t->stats().live, 0u);
}

TEST(Bans, EscalationDoublesUpToTheCapAndResetsAfterTheWindow) {
  auto t = table(100, 1000);
  const Cidr k = cidr("192.0.2.1");
  const BanDuration d{60, 500};
  Seconds now = kT0;
  const Seconds expected[] = {60, 120, 240, 480, 500, 500};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(t->next_level(k, now), i);
    const Seconds expiry = *t->ban(k, d, "r", "s", now);
    EXPECT_EQ(expiry - now, expected[i]) << i;
    EXPECT_EQ(t->is_banned(ip("192.0.2.1"), now)->level, i);
    now = expiry + 999;  // offends again within the window after the ban ended
  }
  now += 2;  // now more than the window after the last ban's end
  EXPECT_EQ(t->next_level(k, now), 0);
  EXPECT_EQ(*t->ban(k, d, "r", "s", now) - now, 60);
}

TEST(Bans, RebanWhileBannedExtendsWithoutEscalating) {
  auto t = table();
  const Cidr k = cidr("2001:db8::7");
  EXPECT_EQ(t->ban(k, {100, 10000}, "first", "a", kT0), kT0 + 100);
  EXPECT_EQ(t->ban(k, {100, 10000}, "second", "b", kT0 + 50), kT0 + 150);
  const auto b = t->is_banned(ip("2001:db8::7"), kT0 + 60);
  EXPECT_EQ(b->level, 0);
  EXPECT_EQ(b->start, kT0);
  EXPECT_EQ(b->reason.view(), "second");
  // A shorter re-ban never shortens.
  EXPECT_EQ(t->ban(k, {10, 10}, "third", "c", kT0 + 60), kT0 + 150);
  EXPECT_EQ(t->stats().live, 1u);
  // After it ends, the next one escalates once.
  EXPECT_EQ(t->ban(k, {100, 10000}, "fourth", "d", kT0 + 200), kT0 + 400);
}

TEST(Bans, UnbanKeepsHistoryUnlessAskedToForget) {
  auto t = table();
  const Cidr k = cidr("192.0.2.9");
  t->ban(k, {60, 6000}, "r", "s", kT0);
  EXPECT_TRUE(t->unban(k));
  EXPECT_FALSE(t->unban(k));
  EXPECT_FALSE(t->is_banned(ip("192.0.2.9"), kT0));
  EXPECT_EQ(t->next_level(k, kT0 + 1), 1);
  EXPECT_EQ(*t->ban(k, {60, 6000}, "r", "s", kT0 + 1) - (kT0 + 1), 120);
  EXPECT_TRUE(t->unban(k, true));
  EXPECT_EQ(t->next_level(k, kT0 + 2), 0);
  EXPECT_EQ(t->stats().unbans, 2u);
}

TEST(Bans, FullTableDropsTheEarliestExpiryAndCountsIt) {
  auto t = table(3);
  t->ban(cidr("10.0.0.1"), {300, 300}, "r", "s", kT0);
  t->ban(cidr("10.0.0.2"), {100, 100}, "r", "s", kT0);
  t->ban(cidr("10.0.0.3"), {200, 200}, "r", "s", kT0);
  t->ban(cidr("10.0.0.4"), {400, 400}, "r", "s", kT0);
  EXPECT_FALSE(t->is_banned(ip("10.0.0.2"), kT0));
  EXPECT_TRUE(t->is_banned(ip("10.0.0.1"), kT0));
  EXPECT_TRUE(t->is_banned(ip("10.0.0.3"), kT0));
  EXPECT_TRUE(t->is_banned(ip("10.0.0.4"), kT0));
  EXPECT_EQ(t->stats().evicted_full, 1u);
  EXPECT_EQ(t->stats().live, 3u);
  // An expired ban makes room first, and that is not an eviction.
  t->ban(cidr("10.0.0.5"), {10, 10}, "r", "s", kT0 + 250);  // 10.0.0.3 has expired
  EXPECT_EQ(t->stats().evicted_full, 1u);
  EXPECT_EQ(t->stats().expired, 1u);
  EXPECT_TRUE(t->is_banned(ip("10.0.0.5"), kT0 + 250));
  EXPECT_TRUE(t->is_banned(ip("10.0.0.1"), kT0 + 250));
}

// A fleet: a node tells the others the ban it stored exactly (find), and stores theirs as given
// (import): the same ban twice is one, an expired one or a bad key none.
TEST(Bans, FindAndImportCarryABanExactly) {
  auto a = table();
  ASSERT_TRUE(a->ban(cidr("192.0.2.0/24"), {600, 600}, "flood", "signup", kT0));
  EXPECT_FALSE(a->find(cidr("192.0.2.7"), kT0));  // exact key only, not a covering prefix
  const auto made = a->find(cidr("192.0.2.0/24"), kT0 + 1);
  ASSERT_TRUE(made);
  EXPECT_EQ(made->expiry, kT0 + 600);
  EXPECT_FALSE(a->find(cidr("192.0.2.0/24"), kT0 + 600));  // over

  auto b = table();
  EXPECT_TRUE(b->import(*made, kT0 + 2));
  EXPECT_FALSE(b->import(*made, kT0 + 3));  // held already: an echo changes nothing
  EXPECT_EQ(b->stats().bans, 1u);
  const auto held = b->is_banned(ip("192.0.2.9"), kT0 + 3);
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, *made);  // start, expiry, level, reason and source as made
  BanInfo later = *made;
  later.expiry += 600;
  EXPECT_TRUE(b->import(later, kT0 + 3));  // a change (a longer ban) is taken
  EXPECT_EQ(b->find(cidr("192.0.2.0/24"), kT0 + 3)->expiry, kT0 + 1200);
  EXPECT_FALSE(b->import(*made, kT0 + 4));  // older news: the later expiry holds
  EXPECT_EQ(b->find(cidr("192.0.2.0/24"), kT0 + 4)->expiry, kT0 + 1200);

  BanInfo over = *made;
  over.key = cidr("198.51.100.1");
  EXPECT_FALSE(b->import(over, kT0 + 600));
  BanInfo bad = *made;
  bad.key.prefix_len = 33;
  EXPECT_FALSE(b->import(bad, kT0));
  // An imported ban escalates the next one like a ban made here.
  EXPECT_EQ(b->next_level(cidr("192.0.2.0/24"), kT0 + 1300), 1);
}

TEST(Bans, HistoryIsBounded) {
  auto t = BanTable::create(BansConfig{10, 86'400, 4});
  for (int i = 0; i < 10; ++i) {
    t->ban(client::prefix_of(client::make_ipv4(10, 0, 0, static_cast<std::uint8_t>(i)), 32, 128),
           {1, 1}, "r", "s", kT0 + i);
  }
  EXPECT_EQ(t->stats().history, 4u);
  EXPECT_EQ(t->stats().history_evicted, 6u);
  EXPECT_EQ(t->next_level(cidr("10.0.0.0"), kT0 + 20), 0);  // the oldest went first
  EXPECT_EQ(t->next_level(cidr("10.0.0.9"), kT0 + 20), 1);
}

TEST(Bans, TextsAreBoundedAndSanitised) {
  auto t = table();
  std::string reason(62, 'a');
  reason += "\xc3\xa9";  // 'é' straddles the 63-byte cap: cut before it
  t->ban(cidr("192.0.2.1"), {60, 60}, reason, "rule\nname", kT0);
  const auto b = t->is_banned(ip("192.0.2.1"), kT0);
  EXPECT_EQ(b->reason.view(), std::string(62, 'a'));
  EXPECT_EQ(b->source.view(), "rule?name");
  EXPECT_EQ(ShortText<8>::from("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac").view(),
            "\xe2\x82\xac\xe2\x82\xac");
}

TEST(Bans, BadInputIsRefused) {
  auto t = table();
  Cidr c = cidr("10.0.0.0/8");
  c.prefix_len = 40;
  EXPECT_EQ(t->ban(c, {60, 60}, "r", "s", kT0), std::nullopt);
  EXPECT_EQ(t->ban(cidr("10.0.0.1"), {0, 60}, "r", "s", kT0), std::nullopt);
  EXPECT_EQ(t->ban(cidr("10.0.0.1"), {-5, 60}, "r", "s", kT0), std::nullopt);
  EXPECT_EQ(t->stats().live, 0u);
  // Durations saturate at forever instead of overflowing.
  EXPECT_EQ(t->ban(cidr("10.0.0.2"), {kForever, kForever}, "r", "s", kT0), kForever);
  EXPECT_TRUE(t->is_banned(ip("10.0.0.2"), kForever - 1));
}

// A model of the table: a map scanned with client::contains. No evictions (capacity is ample).
TEST(Bans, RandomOperationsAgainstAModel) {
  std::mt19937_64 rng(11);
  auto t = table(4096, 500);
  struct ModelBan {
    Seconds expiry;
    Seconds start;
    std::uint8_t level;
  };
  std::map<std::string, std::pair<Cidr, ModelBan>> model;
  std::vector<Cidr> keys;
  for (int i = 0; i < 40; ++i) {
    const IpAddress a = i % 2 == 0 ? client::make_ipv4(10, static_cast<std::uint8_t>(rng() % 4),
                                                       static_cast<std::uint8_t>(rng() % 4), 1)
                                   : *client::parse_ip("2001:db8::" + std::to_string(rng() % 4));
    const unsigned len = static_cast<unsigned>(rng() % 4) * 8 + (a.is_v4 ? 8 : 96);
    keys.push_back(client::prefix_of(a, rng() % 3 == 0 ? 32 : len, rng() % 3 == 0 ? 128 : len));
  }
  Seconds now = kT0;
  for (int step = 0; step < 20'000; ++step) {
    const Cidr& k = keys[rng() % keys.size()];
    const std::string name = client::format_cidr(k);
    switch (rng() % 6) {
      case 0:
      case 1: {
        const Seconds base = 1 + static_cast<Seconds>(rng() % 50);
        const auto e = t->ban(k, {base, 400}, "r", "s", now);
        ASSERT_TRUE(e.has_value());
        ASSERT_GT(*e, now);
        model[name] = {k, ModelBan{*e, 0, 0}};
        break;
      }
      case 2:
        // The table may still hold it expired (not yet collected): only "true" is certain.
        if (model.erase(name) == 1) {
          EXPECT_TRUE(t->unban(k));
        } else {
          t->unban(k);
        }
        break;
      case 3:
        now += static_cast<Seconds>(rng() % 20);
        break;
      case 4:
        t->expire(now);
        break;
      default: {
        const IpAddress probe = client::make_ipv4(10, static_cast<std::uint8_t>(rng() % 4),
                                                  static_cast<std::uint8_t>(rng() % 4), 1);
        const IpAddress probe6 = *client::parse_ip("2001:db8::" + std::to_string(rng() % 4));
        for (const IpAddress& p : {probe, probe6}) {
          Seconds best = now;
          for (const auto& [n, kb] : model) {
            if (client::contains(kb.first, p) && kb.second.expiry > best) best = kb.second.expiry;
          }
          const auto got = t->is_banned(p, now);
          ASSERT_EQ(got.has_value(), best > now) << client::format_ip(p) << " step " << step;
          if (got) {
            ASSERT_EQ(got->expiry, best);
          }
        }
      }
    }
    for (auto it = model.begin(); it != model.end();) {
      it = it->second.second.expiry <= now ? model.erase(it) : std::next(it);
    }
  }
  EXPECT_EQ(t->list(now).size(), model.size());
}

// Readers never miss a ban that stays, nor see one that never was, while a writer churns the
// table (inserts and backward-shift deletions move slots under their feet).
TEST(BansConcurrency, ReadersSeeAConsistentTableWhileAWriterChurns) {
  auto t = table(2048);
  std::vector<IpAddress> stay;
  for (int i = 0; i < 64; ++i) {
    stay.push_back(client::make_ipv4(10, 1, 0, static_cast<std::uint8_t>(i)));
    t->ban(client::prefix_of(stay.back(), 32, 128), {kForever, kForever}, "stay", "s", kT0);
  }
  t->ban(cidr("2001:db8:1::/48"), {kForever, kForever}, "stay", "s", kT0);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<int> started{0};
  auto reader = [&] {
    std::uint64_t n = 0;
    started.fetch_add(1);
    // At least one pass even if the writer is already done (a loaded machine may start the
    // readers late): the checks below must have run.
    do {
      for (const IpAddress& a : stay) {
        const auto b = t->is_banned(a, kT0 + 1);
        if (!b || b->reason.view() != "stay") failures.fetch_add(1);
      }
      if (!t->is_banned(ip("2001:db8:1:2::3"), kT0 + 1)) failures.fetch_add(1);
      if (t->is_banned(ip("10.2.0.1"), kT0 + 1)) failures.fetch_add(1);  // never banned
      n += stay.size() + 2;
    } while (!done.load(std::memory_order_relaxed));
    reads.fetch_add(n);
  };
  std::thread r1(reader);
  std::thread r2(reader);
  // Churn while the readers read: wait (bounded) until both are running.
  for (int i = 0; i < 5'000 && started.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::mt19937_64 rng(5);
  for (int i = 0; i < 30'000; ++i) {
    const IpAddress a = client::make_ipv4(10, 3, static_cast<std::uint8_t>(rng() % 16),
                                          static_cast<std::uint8_t>(rng()));
    if (rng() % 2 == 0) {
      t->ban(client::prefix_of(a, 32, 128), {10, 10}, "churn", "w", kT0);
    } else {
      t->unban(client::prefix_of(a, 32, 128));
    }
    if (i % 97 == 0) t->ban(client::prefix_of(a, 16 + rng() % 8, 128), {5, 5}, "churn", "w", kT0);
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
}

}  // namespace
}  // namespace gh::lists

namespace gh::lists {
namespace {

// The observer (what the kernel-level drops follow): each ban that takes effect with its level,
// each unban; nothing for an unban of a key that was not banned.
TEST(BansObserver, ToldOfBansWithTheirLevelAndOfUnbans) {
  auto t = BanTable::create(BansConfig{16, 3600, 0});
  struct Seen {
    std::string key;
    bool banned;
    std::uint8_t level;
    Seconds expiry;
  };
  std::vector<Seen> seen;
  t->set_observer([&](const BanInfo& b, bool banned) {
    seen.push_back({client::format_cidr(b.key), banned, b.level, b.expiry});
  });
  const Seconds t0 = 1'000'000;
  ASSERT_TRUE(t->ban(*client::parse_cidr("192.0.2.1"), {60, 600}, "r", "rule", t0));
  ASSERT_TRUE(t->ban(*client::parse_cidr("192.0.2.1"), {60, 600}, "r", "rule", t0 + 61));  // repeat
  EXPECT_TRUE(t->unban(*client::parse_cidr("192.0.2.1")));
  EXPECT_FALSE(t->unban(*client::parse_cidr("198.51.100.0/24")));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].key, "192.0.2.1/32");
  EXPECT_TRUE(seen[0].banned);
  EXPECT_EQ(seen[0].level, 0);
  EXPECT_EQ(seen[0].expiry, t0 + 60);
  EXPECT_TRUE(seen[1].banned);
  EXPECT_EQ(seen[1].level, 1);  // the second ban of the chain: doubled
  EXPECT_EQ(seen[1].expiry, t0 + 61 + 120);
  EXPECT_EQ(seen[2].key, "192.0.2.1/32");
  EXPECT_FALSE(seen[2].banned);
}

}  // namespace
}  // namespace gh::lists
