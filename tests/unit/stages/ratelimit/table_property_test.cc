// Property tests: seeded random arrival sequences over many keys and limits; every decision of
// the real table (one per limit, sized never to evict a live key) must equal the reference's.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "stages/ratelimit/table.h"
#include "unit/stages/ratelimit/reference.h"

namespace gh::ratelimit {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kSec = 1'000'000'000;

struct Subject {
  Limit limit;
  std::unique_ptr<Table> table;
  std::unique_ptr<test::ReferenceLimiter> ref;
};

RateSpec random_spec(std::mt19937_64& rng) {
  static constexpr Nanos kPeriods[] = {kSec, 60 * kSec, 15 * 60 * kSec, 3600 * kSec};
  RateSpec s;
  s.rate = 1 + static_cast<std::uint32_t>(rng() % 100);
  s.period = rng() % 4 == 0 ? 1 + static_cast<Nanos>(rng() % (10 * kSec))
                            : kPeriods[rng() % std::size(kPeriods)];
  s.burst = 1 + static_cast<std::uint32_t>(rng() % 20);
  return s;
}

// A gap that lands near the interesting boundaries: none, a fraction of T, about T, exactly a
// few T, or long enough to empty the bucket.
Nanos random_gap(std::mt19937_64& rng, const Limit& l) {
  const Nanos t = l.emission_interval;
  switch (rng() % 8) {
    case 0:
    case 1:
      return 0;
    case 2:
      return static_cast<Nanos>(rng() % static_cast<std::uint64_t>(t));
    case 3:
      return t - 1 + static_cast<Nanos>(rng() % 3);
    case 4:
      return t * static_cast<Nanos>(1 + rng() % 3);
    case 5:
      return static_cast<Nanos>(rng() % 1000);
    case 6:
      return static_cast<Nanos>(rng() % static_cast<std::uint64_t>(t / 8 + 1));
    default:
      return (l.tolerance + t) * static_cast<Nanos>(1 + rng() % 2) + static_cast<Nanos>(rng() % 3) -
             1;
  }
}

void expect_same(const Decision& real, const Decision& ref, const char* op, int step) {
  ASSERT_EQ(real.allowed, ref.allowed) << op << " at step " << step;
  ASSERT_EQ(real.retry_after, ref.retry_after) << op << " at step " << step;
  ASSERT_EQ(real.remaining, ref.remaining) << op << " at step " << step;
  ASSERT_EQ(real.reset, ref.reset) << op << " at step " << step;
  ASSERT_NE(real.status, Status::TableFull) << op << " at step " << step;
}

void run_sequence(std::uint64_t seed, int limits, int keys, int steps, std::uint64_t capacity) {
  std::mt19937_64 rng(seed);
  std::vector<Subject> subjects;
  for (int i = 0; i < limits; ++i) {
    const auto l = make_limit(random_spec(rng));
    ASSERT_TRUE(l.has_value());
    Subject s{
        *l,
        Table::create(*l, TableConfig{capacity, FullPolicy::FailClosed}, HashSeed{rng(), rng()}),
        std::make_unique<test::ReferenceLimiter>(*l)};
    ASSERT_NE(s.table, nullptr);
    subjects.push_back(std::move(s));
  }
  std::vector<Key> key_set(static_cast<std::size_t>(keys));
  for (Key& k : key_set) k = Key{rng(), rng()};

  Nanos now = static_cast<Nanos>(rng() % (1000 * kSec)) + kMs;
  for (int step = 0; step < steps; ++step) {
    Subject& s = subjects[rng() % subjects.size()];
    // Skewed towards a few hot keys so buckets run dry and refill.
    const std::size_t ki = rng() % 4 == 0 ? rng() % key_set.size() : rng() % 8;
    const Key& key = key_set[ki % key_set.size()];
    now += random_gap(rng, s.limit);
    const std::uint32_t burst = s.limit.burst;
    const std::uint32_t n =
        rng() % 4 == 0 ? 1 + static_cast<std::uint32_t>(rng() % (burst + 1)) : 1;
    switch (rng() % 5) {
      case 0:
        expect_same(s.table->peek(key, now, n), s.ref->peek(key, now, n), "peek", step);
        break;
      case 1:
        expect_same(s.table->add(key, now, n), s.ref->add(key, now, n), "add", step);
        break;
      case 2:  // the same through a ticket (locate, then decide)
        expect_same(s.table->decide(s.table->locate(key), now, n), s.ref->decide(key, now, n),
                    "locate+decide", step);
        break;
      default:
        expect_same(s.table->decide(key, now, n), s.ref->decide(key, now, n), "decide", step);
        break;
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (const Subject& s : subjects) {
    const TableStats st = s.table->stats();
    EXPECT_EQ(st.evictions_least_limited, 0u);
    EXPECT_EQ(st.table_full, 0u);
    EXPECT_LE(st.tracked, s.ref->size());  // peeks of absent keys track nothing
    EXPECT_EQ(st.tracked, s.table->count_occupied());
  }
}

TEST(TableProperty, MatchesReferenceOnHotKeys) {
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    SCOPED_TRACE(seed);
    run_sequence(seed, 4, 64, 6000, 4096);
    if (HasFatalFailure()) return;
  }
}

TEST(TableProperty, MatchesReferenceOnManyKeysAndLimits) {
  for (std::uint64_t seed = 100; seed < 104; ++seed) {
    SCOPED_TRACE(seed);
    run_sequence(seed, 12, 4000, 40000, 1 << 15);
    if (HasFatalFailure()) return;
  }
}

// Expired keys may be evicted at any time without changing a single decision: an expired TAT is
// the same as no state. A table far too small for the key set must still match the reference as
// long as no live key is ever evicted, which the slow arrivals here guarantee.
TEST(TableProperty, EvictingExpiredKeysChangesNoDecision) {
  std::mt19937_64 rng(7);
  const Limit l = *make_limit(RateSpec{10, kSec, 3});  // T = 100 ms, full after 300 ms
  auto table = Table::create(l, TableConfig{14, FullPolicy::FailClosed}, HashSeed{rng(), rng()});
  test::ReferenceLimiter ref(l);
  Nanos now = kSec;
  for (int step = 0; step < 20000; ++step) {
    const Key key{rng() % 500, 9};
    now += 300 * kMs + static_cast<Nanos>(rng() % 1000);  // every key idle again by now
    const std::uint32_t n = 1 + static_cast<std::uint32_t>(rng() % 3);
    expect_same(table->decide(key, now, n), ref.decide(key, now, n), "decide", step);
    if (HasFatalFailure()) return;
  }
  const TableStats st = table->stats();
  EXPECT_GT(st.evictions_expired, 10000u);
  EXPECT_EQ(st.evictions_least_limited, 0u);
  EXPECT_EQ(st.table_full, 0u);
  EXPECT_LE(table->count_occupied(), table->capacity());
}

}  // namespace
}  // namespace gh::ratelimit
