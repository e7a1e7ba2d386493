#include "stages/challenge/spent_set.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

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

TEST(SpentSet, SecondClaimIsReplay) {
  SpentSet s(10);
  EXPECT_EQ(s.claim(id_of(1), 1000, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(1), 1000, 10), Claim::Replay);
  EXPECT_EQ(s.claim(id_of(1), 5000, 999), Claim::Replay);
  EXPECT_EQ(s.claim(id_of(2), 1000, 10), Claim::Fresh);
  EXPECT_EQ(s.size(), 2u);
}

TEST(SpentSet, IdsDifferingInOneHalfAreDistinct) {
  SpentSet s(10);
  TokenId a{};
  TokenId b{};
  b[15] = 1;
  TokenId c{};
  c[0] = 1;
  EXPECT_EQ(s.claim(a, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(b, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(c, 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(b, 100, 0), Claim::Replay);
}

TEST(SpentSet, FullWhenNothingHasExpired) {
  SpentSet s(3);
  EXPECT_EQ(s.claim(id_of(1), 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(2), 200, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(3), 300, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(4), 400, 99), Claim::Full);
  EXPECT_EQ(s.size(), 3u);
  // Replays are still recognised when full.
  EXPECT_EQ(s.claim(id_of(2), 200, 99), Claim::Replay);
}

TEST(SpentSet, ExpiredEntriesMakeRoomWhenFull) {
  SpentSet s(3);
  EXPECT_EQ(s.claim(id_of(1), 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(2), 200, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(3), 300, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(4), 400, 100), Claim::Fresh);  // id 1 expired at 100
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.claim(id_of(5), 500, 150), Claim::Full);
  // Forgotten only because it expired: a token that old no longer decodes anyway.
  EXPECT_EQ(s.claim(id_of(1), 100, 250), Claim::Fresh);  // 2 expired, room again
  EXPECT_EQ(s.claim(id_of(3), 300, 250), Claim::Replay);
  EXPECT_EQ(s.claim(id_of(4), 400, 250), Claim::Replay);
}

TEST(SpentSet, NotForgottenBeforeExpiryEvenWithRoom) {
  SpentSet s(100);
  EXPECT_EQ(s.claim(id_of(1), 100, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(1), 100, 5'000), Claim::Replay);
}

TEST(SpentSet, ChurnThroughManyGenerations) {
  // Many purges with clustered probes: every live id must stay a replay.
  SpentSet s(1000);
  std::int64_t now = 0;
  for (std::uint64_t gen = 0; gen < 20; ++gen) {
    for (std::uint64_t i = 0; i < 1000; ++i) {
      ASSERT_EQ(s.claim(id_of(gen * 1000 + i), now + 10, now), Claim::Fresh) << gen << " " << i;
    }
    for (std::uint64_t i = 0; i < 1000; i += 7) {
      ASSERT_EQ(s.claim(id_of(gen * 1000 + i), now + 10, now), Claim::Replay);
    }
    ASSERT_EQ(s.claim(id_of(999'999), now + 10, now), Claim::Full);
    now += 10;
  }
  EXPECT_EQ(s.size(), 1000u);
}

TEST(SpentSet, PartialExpiryKeepsTheLiveOnes) {
  SpentSet s(512);
  for (std::uint64_t i = 0; i < 512; ++i) {
    ASSERT_EQ(s.claim(id_of(i), (i % 2 == 0) ? 100 : 1000, 0), Claim::Fresh);
  }
  EXPECT_EQ(s.claim(id_of(10'000), 1000, 100), Claim::Fresh);  // purges the 256 even ones
  EXPECT_EQ(s.size(), 257u);
  for (std::uint64_t i = 1; i < 512; i += 2) EXPECT_EQ(s.claim(id_of(i), 1000, 100), Claim::Replay);
  // 257 held: room for 255 of the 256 forgotten ids.
  for (std::uint64_t i = 2; i < 512; i += 2) EXPECT_EQ(s.claim(id_of(i), 1000, 100), Claim::Fresh);
  EXPECT_EQ(s.size(), 512u);
  EXPECT_EQ(s.claim(id_of(0), 1000, 100), Claim::Full);
}

TEST(SpentSet, ShardedCapacityIsHard) {
  SpentSet s(5000);
  EXPECT_EQ(s.capacity(), 5000u);
  std::size_t fresh = 0;
  for (std::uint64_t i = 0; i < 20'000; ++i) {
    if (s.claim(id_of(i), 1000, 0) == Claim::Fresh) ++fresh;
  }
  EXPECT_LE(s.size(), 5000u);
  EXPECT_EQ(s.size(), fresh);
  EXPECT_GE(fresh, 4900u);  // shards fill at nearly the same time
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
        const Claim c = s.claim(id_of(i), 1000, 0);
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
  EXPECT_EQ(s.claim(id_of(1), 10, 0), Claim::Fresh);
  EXPECT_EQ(s.claim(id_of(2), 10, 0), Claim::Full);
}

}  // namespace
}  // namespace gh::challenge
