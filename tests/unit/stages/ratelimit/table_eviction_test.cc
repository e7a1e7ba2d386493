// Full-table behaviour on a one-bucket table (capacity 7: every key shares the probe window).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <memory>

#include "stages/ratelimit/table.h"

namespace gh::ratelimit {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kSec = 1'000'000'000;
constexpr HashSeed kSeed{0x1234, 0x5678};

Key key(std::uint64_t i) {
  return Key{i, 0xabcdef};
}

std::unique_ptr<Table> one_bucket(const Limit& l, FullPolicy policy = FullPolicy::FailClosed) {
  auto t = Table::create(l, TableConfig{kSlotsPerBucket, policy}, kSeed);
  EXPECT_NE(t, nullptr);
  EXPECT_EQ(t->capacity(), static_cast<std::uint64_t>(kSlotsPerBucket));
  return t;
}

bool tracked(const Table& t, std::uint64_t i, Nanos now) {
  return t.peek(key(i), now).status == Status::Tracked;
}

TEST(TableCreate, CapacityRoundsUpToBucketsAndBadInputIsRefused) {
  const Limit l = *make_limit(RateSpec{1, kSec, 1});
  EXPECT_EQ(Table::create(l, TableConfig{1, FullPolicy::FailOpen}, kSeed)->capacity(), 7u);
  EXPECT_EQ(Table::create(l, TableConfig{1000, FullPolicy::FailOpen}, kSeed)->capacity(), 1001u);
  EXPECT_EQ(Table::create(l, TableConfig{0, FullPolicy::FailOpen}, kSeed), nullptr);
  EXPECT_EQ(Table::create(Limit{}, TableConfig{10, FullPolicy::FailOpen}, kSeed), nullptr);
  EXPECT_EQ(Table::create(Limit{10, 5, 2}, TableConfig{10, FullPolicy::FailOpen}, kSeed), nullptr);
  EXPECT_EQ(Table::create(Limit{kMaxSpan, kMaxSpan, 2}, TableConfig{10, FullPolicy::FailOpen}),
            nullptr);
  EXPECT_NE(Table::create(Limit{10, 10, 2}, TableConfig{10, FullPolicy::FailOpen}, kSeed), nullptr);
  const auto t = Table::create(l, TableConfig{1 << 20, FullPolicy::FailOpen});
  ASSERT_NE(t, nullptr);
  EXPECT_LE(t->memory_bytes() / t->capacity(), 32u);
  EXPECT_EQ(sizeof(Slot), 16u);
}

TEST(TableEviction, ExpiredKeyGoesFirstAndIsInvisible) {
  const Limit l = *make_limit(RateSpec{1, kSec, 2});  // T = 1 s, tau = 1 s
  auto t = one_bucket(l);
  const Nanos t0 = 100 * kSec;
  // Key i gets TAT = t0 + i × 100 ms + 1 s.
  for (std::uint64_t i = 0; i < 7; ++i) {
    ASSERT_EQ(t->decide(key(i), t0 + static_cast<Nanos>(i) * 100 * kMs).status, Status::Tracked);
  }
  const Nanos now = t0 + 1250 * kMs;  // keys 0, 1, 2 expired; 3..6 live but not limited
  const Decision d = t->decide(key(100), now);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.status, Status::Tracked);
  EXPECT_FALSE(tracked(*t, 0, now));  // the smallest TAT among the expired
  for (std::uint64_t i = 1; i < 7; ++i) EXPECT_TRUE(tracked(*t, i, now)) << i;
  TableStats s = t->stats();
  EXPECT_EQ(s.evictions_expired, 1u);
  EXPECT_EQ(s.evictions_least_limited, 0u);
  EXPECT_EQ(s.inserts, 8u);
  EXPECT_EQ(s.tracked, 7u);
  // Key 0 comes back as a fresh key: full burst, as if it had never left.
  EXPECT_EQ(t->decide(key(0), now).remaining, 1u);
  EXPECT_EQ(t->stats().evictions_expired, 2u);
}

TEST(TableEviction, LeastLimitedWhenNoneExpired) {
  const Limit l = *make_limit(RateSpec{1, kSec, 3});  // T = 1 s, tau = 2 s
  auto t = one_bucket(l);
  const Nanos t0 = 100 * kSec;
  // Key i takes 1 + (i % 2) tokens: debts of 1 s or 2 s, none limited.
  for (std::uint64_t i = 0; i < 7; ++i) {
    ASSERT_TRUE(t->decide(key(i), t0 + static_cast<Nanos>(i) * kMs, 1 + (i % 2)).allowed);
  }
  EXPECT_TRUE(t->decide(key(100), t0 + 10 * kMs).allowed);
  EXPECT_FALSE(tracked(*t, 0, t0 + 10 * kMs));  // TAT t0 + 1 s: the smallest
  EXPECT_EQ(t->stats().evictions_least_limited, 1u);
  EXPECT_TRUE(t->decide(key(101), t0 + 10 * kMs).allowed);
  EXPECT_FALSE(tracked(*t, 2, t0 + 10 * kMs));  // t0 + 2 ms + 1 s
  EXPECT_TRUE(tracked(*t, 1, t0 + 10 * kMs));   // t0 + 1 ms + 2 s
  EXPECT_EQ(t->stats().evictions_least_limited, 2u);
  EXPECT_EQ(t->stats().evictions_expired, 0u);
}

TEST(TableEviction, LimitedKeysAreNeverEvictedFailClosed) {
  const Limit l = *make_limit(RateSpec{1, kSec, 1});  // tau = 0: one request limits a key
  auto t = one_bucket(l, FullPolicy::FailClosed);
  const Nanos t0 = 100 * kSec;
  for (std::uint64_t i = 0; i < 7; ++i) {
    ASSERT_TRUE(t->decide(key(i), t0 + static_cast<Nanos>(i) * kMs).allowed);
  }
  Decision d = t->decide(key(100), t0 + 10 * kMs);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.status, Status::TableFull);
  EXPECT_EQ(d.retry_after, 990 * kMs);  // key 0 stops being limited at t0 + 1 s
  for (std::uint64_t i = 0; i < 7; ++i) EXPECT_TRUE(tracked(*t, i, t0 + 10 * kMs));
  EXPECT_FALSE(tracked(*t, 100, t0 + 10 * kMs));
  EXPECT_EQ(t->add(key(101), t0 + 10 * kMs).status, Status::TableFull);
  EXPECT_EQ(t->stats().table_full, 2u);
  // The limited keys themselves are still decided normally.
  EXPECT_FALSE(t->decide(key(3), t0 + 10 * kMs).allowed);
  // Once key 0 is no longer limited, the new key gets its slot.
  d = t->decide(key(100), t0 + 10 * kMs + d.retry_after);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.status, Status::Tracked);
  EXPECT_FALSE(tracked(*t, 0, t0 + kSec));
  EXPECT_EQ(t->stats().evictions_expired, 1u);  // at exactly TAT, so expired
}

TEST(TableEviction, FailOpenAllowsAndCounts) {
  const Limit l = *make_limit(RateSpec{1, kSec, 4});
  auto t = one_bucket(l, FullPolicy::FailOpen);
  const Nanos t0 = 100 * kSec;
  for (std::uint64_t i = 0; i < 7; ++i) ASSERT_TRUE(t->decide(key(i), t0, 4).allowed);
  for (int r = 0; r < 10; ++r) {
    const Decision d = t->decide(key(100), t0);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.status, Status::TableFull);
    EXPECT_EQ(d.remaining, 3u);  // as a fresh key would be
  }
  EXPECT_EQ(t->stats().table_full, 10u);
  EXPECT_FALSE(tracked(*t, 100, t0));
  // A cost above the burst is denied without looking for a slot.
  EXPECT_EQ(t->decide(key(100), t0, 5).status, Status::Untracked);
  EXPECT_EQ(t->stats().table_full, 10u);
}

TEST(TableEviction, BannedKeysAreNeverEvicted) {
  const Limit l = *make_limit(RateSpec{1, kSec, 1});
  auto t = one_bucket(l);
  const Nanos t0 = 100 * kSec;
  for (std::uint64_t i = 0; i < 7; ++i) ASSERT_EQ(t->set_banned(key(i), true, t0), Status::Tracked);
  const Nanos later = t0 + 3600 * kSec;  // all TATs long expired
  Decision d = t->decide(key(100), later);
  EXPECT_EQ(d.status, Status::TableFull);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kNever);
  EXPECT_EQ(t->set_banned(key(101), true, later), Status::TableFull);
  for (std::uint64_t i = 0; i < 7; ++i) {
    const Decision p = t->peek(key(i), later);
    EXPECT_EQ(p.status, Status::Tracked);
    EXPECT_TRUE(p.banned);
  }
  // A banned key is still rate limited as usual, and reports the flag.
  d = t->decide(key(3), later);
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.banned);
  // Lifting one ban frees its slot for eviction (it is expired), the others stay.
  EXPECT_EQ(t->set_banned(key(5), false, later), Status::Tracked);
  EXPECT_EQ(t->set_banned(key(102), false, later), Status::Untracked);
  EXPECT_EQ(t->decide(key(100), later).status, Status::Tracked);
  EXPECT_FALSE(tracked(*t, 5, later));
  EXPECT_TRUE(t->peek(key(3), later).banned);
}

TEST(TableEviction, BanningATrackedKeyKeepsItsState) {
  const Limit l = *make_limit(RateSpec{1, kSec, 2});
  auto t = one_bucket(l);
  ASSERT_TRUE(t->decide(key(1), kSec).allowed);
  ASSERT_EQ(t->set_banned(key(1), true, kSec), Status::Tracked);
  const Decision d = t->peek(key(1), kSec);
  EXPECT_TRUE(d.banned);
  EXPECT_EQ(d.remaining, 1u);
  EXPECT_EQ(t->stats().tracked, 1u);
}

TEST(Table, PeekAndNoOpCostsTrackNothing) {
  const Limit l = *make_limit(RateSpec{5, kSec, 5});
  auto t = one_bucket(l);
  for (std::uint64_t i = 0; i < 20; ++i) {
    const Decision d = t->peek(key(i), kSec, 3);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.status, Status::Untracked);
    EXPECT_EQ(d.remaining, 5u);
  }
  EXPECT_EQ(t->decide(key(1), kSec, 0).status, Status::Untracked);
  EXPECT_EQ(t->add(key(1), kSec, 0).status, Status::Untracked);
  EXPECT_EQ(t->decide(key(1), kSec, 6).retry_after, kNever);
  EXPECT_EQ(t->count_occupied(), 0u);
  const TableStats s = t->stats();
  EXPECT_EQ(s.lookups, 23u);
  EXPECT_EQ(s.inserts, 0u);
}

TEST(Table, CheckThenAddCountsOnlyFailures) {
  // 3 failed logins per minute, burst 3; successes are never counted.
  const Limit l = *make_limit(RateSpec{3, 60 * kSec, 3});
  auto t = Table::create(l, TableConfig{1024, FullPolicy::FailClosed}, kSeed);
  const Key user = key(42);
  Nanos now = 10 * kSec;
  int failures = 0;
  for (int attempt = 0; attempt < 10; ++attempt, now += kSec) {
    if (!t->peek(user, now).allowed) break;
    const bool login_ok = attempt % 2 == 1;
    if (!login_ok) {
      ++failures;
      t->add(user, now);
    }
  }
  EXPECT_EQ(failures, 3);
  const Decision d = t->peek(user, now);
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after, 0);
}

// A refund finds its key by tag: it never tracks a key, and once the key has been evicted the key
// now holding its slot is not credited.
TEST(Table, RefundTouchesOnlyItsOwnTrackedKey) {
  const Limit l = *make_limit(RateSpec{1, kSec, 3});  // T = 1 s, tau = 2 s
  auto t = one_bucket(l);
  const Nanos t0 = 100 * kSec;
  Decision d = t->refund(key(0), t0);
  EXPECT_EQ(d.status, Status::Untracked);
  EXPECT_EQ(d.remaining, 3u);
  EXPECT_EQ(t->count_occupied(), 0u);
  EXPECT_EQ(t->stats().inserts, 0u);

  ASSERT_TRUE(t->decide(key(0), t0).allowed);
  ASSERT_TRUE(t->decide(key(0), t0).allowed);
  d = t->refund(key(0), t0);
  EXPECT_EQ(d.status, Status::Tracked);
  EXPECT_EQ(d.remaining, 2u);
  EXPECT_EQ(d.reset, kSec);

  // Seven later keys, one charge each: key 0 (the smallest TAT) is evicted by the last of them.
  for (std::uint64_t i = 1; i <= 7; ++i) ASSERT_TRUE(t->decide(key(i), t0 + 1).allowed);
  ASSERT_FALSE(tracked(*t, 0, t0));
  const TableStats before = t->stats();
  d = t->refund(key(0), t0 + 2);
  EXPECT_EQ(d.status, Status::Untracked);
  EXPECT_EQ(t->stats().inserts, before.inserts);
  for (std::uint64_t i = 1; i <= 7; ++i) {
    const Decision o = t->peek(key(i), t0 + 2);
    EXPECT_EQ(o.status, Status::Tracked);
    EXPECT_EQ(o.reset, kSec - 1) << i;
  }
}

// Memory is allocated once: neither the table's size nor the heap moves across heavy churn.
TEST(TableMemory, ConstantUnderChurnAndNoAllocationPerDecision) {
  const Limit l = *make_limit(RateSpec{10, kSec, 5});
  auto t = Table::create(l, TableConfig{1 << 12, FullPolicy::FailOpen}, kSeed);
  const std::uint64_t bytes = t->memory_bytes();
  const auto heap_before = mallinfo2().uordblks;
  Nanos now = kSec;
  for (std::uint64_t i = 0; i < 200'000; ++i) {
    now += 1000;
    t->decide(key(i * 2654435761u % 50'000), now, 1 + i % 3);
    if (i % 7 == 0) t->add(key(i % 10'000), now);
    if (i % 11 == 0) t->peek(key(i % 60'000), now);
    if (i % 13 == 0) t->refund(key(i % 50'000), now);
    if (i % 1000 == 0) t->set_banned(key(i), i % 2000 == 0, now);
  }
  EXPECT_EQ(mallinfo2().uordblks, heap_before);
  EXPECT_EQ(t->memory_bytes(), bytes);
  const TableStats s = t->stats();
  EXPECT_EQ(s.tracked, t->count_occupied());
  EXPECT_LE(s.tracked, t->capacity());
  EXPECT_GT(s.evictions_expired + s.evictions_least_limited, 0u);
  EXPECT_EQ(s.inserts, s.tracked + s.evictions_expired + s.evictions_least_limited);
}

}  // namespace
}  // namespace gh::ratelimit
