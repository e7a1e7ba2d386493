// RefusalTracker: counting per prefix, the two-window decay, fixed capacity and eviction of the
// least refused, saturation, and concurrent notes.
#include "stages/reputation/refusals.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/address.h"
#include "test_util.h"

namespace gh::reputation {
namespace {

using testing::cidr;

constexpr std::int64_t kMinute = 60'000;

TEST(RefusalTracker, CountsPerPrefix) {
  RefusalTracker t(1024, kMinute);
  const auto a = cidr("192.0.2.0/24");
  const auto b = cidr("198.51.100.0/24");
  for (int i = 0; i < 5; ++i) t.note(a, 1000 + i);
  t.note(b, 1000);
  EXPECT_EQ(t.recent(a, 2000), 5u);
  EXPECT_EQ(t.recent(b, 2000), 1u);
  EXPECT_EQ(t.recent(cidr("203.0.113.0/24"), 2000), 0u);
}

TEST(RefusalTracker, PrefixLengthAndHostBitsMatter) {
  RefusalTracker t(1024, kMinute);
  client::Cidr with_host_bits = cidr("2001:db8:1:2::/64");
  with_host_bits.address.bytes[15] = 0x55;  // a caller that forgot to clear them
  t.note(with_host_bits, 0);
  EXPECT_EQ(t.recent(cidr("2001:db8:1:2::/64"), 0), 1u);
  EXPECT_EQ(t.recent(cidr("2001:db8:1::/48"), 0), 0u);  // same leading bits, other length
  EXPECT_EQ(t.recent(cidr("2001:db8:1:3::/64"), 0), 0u);
  // IPv4 0.0.0.0/0 and IPv6 ::/0 are different keys.
  t.note(cidr("0.0.0.0/0"), 0);
  EXPECT_EQ(t.recent(cidr("0.0.0.0/0"), 0), 1u);
  EXPECT_EQ(t.recent(cidr("::/0"), 0), 0u);
}

TEST(RefusalTracker, DecaysOverTheNextWindow) {
  RefusalTracker t(64, kMinute);
  const auto p = cidr("192.0.2.0/24");
  for (int i = 0; i < 10; ++i) t.note(p, 0);
  EXPECT_EQ(t.recent(p, 0), 10u);
  EXPECT_EQ(t.recent(p, kMinute - 1), 10u);
  EXPECT_EQ(t.recent(p, kMinute), 10u);               // the previous window, fully weighed
  EXPECT_EQ(t.recent(p, kMinute + kMinute / 2), 5u);  // half of it left
  EXPECT_EQ(t.recent(p, 2 * kMinute - kMinute / 10), 1u);
  EXPECT_EQ(t.recent(p, 2 * kMinute), 0u);  // two windows on: forgotten
  EXPECT_EQ(t.recent(p, 50 * kMinute), 0u);

  // New refusals in the next window add to the fading old ones.
  for (int i = 0; i < 4; ++i) t.note(p, 60 * kMinute);
  for (int i = 0; i < 3; ++i) t.note(p, 61 * kMinute + kMinute / 2);
  EXPECT_EQ(t.recent(p, 61 * kMinute + kMinute / 2), 3u + 2u);  // 3 now + half of 4
  EXPECT_EQ(t.recent(p, 62 * kMinute), 3u);
  EXPECT_EQ(t.recent(p, 63 * kMinute), 0u);
}

TEST(RefusalTracker, ANegativeClockOrWindowIsClamped) {
  RefusalTracker t(8, 0);  // window 0 -> 1 ms
  EXPECT_EQ(t.window_ms(), 1);
  t.note(cidr("192.0.2.0/24"), -5);
  EXPECT_EQ(t.recent(cidr("192.0.2.0/24"), -5), 1u);
  EXPECT_EQ(t.recent(cidr("192.0.2.0/24"), 2), 0u);
}

TEST(RefusalTracker, CountsSaturate) {
  RefusalTracker t(8, kMinute);
  const auto p = cidr("192.0.2.0/24");
  for (std::uint32_t i = 0; i < RefusalTracker::kMaxCount + 100; ++i) t.note(p, 0);
  EXPECT_EQ(t.recent(p, 0), RefusalTracker::kMaxCount);
}

TEST(RefusalTracker, CapacityIsFixedAndRounded) {
  RefusalTracker a(0, kMinute);
  EXPECT_EQ(a.capacity(), RefusalTracker::kWays);
  RefusalTracker b(100, kMinute);
  EXPECT_EQ(b.capacity(), 104u);
  EXPECT_EQ(b.memory_bytes(), 13u * 64u);
}

// One bucket: the ninth prefix takes the slot of the least refused one; the most refused stay.
TEST(RefusalTracker, FullBucketEvictsTheLeastRefused) {
  RefusalTracker t(RefusalTracker::kWays, kMinute);
  std::vector<client::Cidr> prefixes;
  for (int i = 0; i < 8; ++i) {
    prefixes.push_back(cidr("10.0." + std::to_string(i) + ".0/24"));
    for (int k = 0; k <= i + 1; ++k) t.note(prefixes.back(), 0);  // prefix i: i + 2 refusals
  }
  for (int i = 0; i < 8; ++i) EXPECT_EQ(t.recent(prefixes[i], 0), static_cast<unsigned>(i + 2));
  EXPECT_EQ(t.stats().evictions, 0u);

  const auto newcomer = cidr("10.1.0.0/24");
  t.note(newcomer, 0);
  EXPECT_EQ(t.stats().evictions, 1u);
  EXPECT_EQ(t.recent(newcomer, 0), 1u);
  EXPECT_EQ(t.recent(prefixes[0], 0), 0u);  // had the fewest (2)
  for (int i = 1; i < 8; ++i) EXPECT_EQ(t.recent(prefixes[i], 0), static_cast<unsigned>(i + 2));

  // Two windows later every slot has faded: new prefixes take them without evicting anyone.
  for (int i = 0; i < 8; ++i) t.note(cidr("10.2." + std::to_string(i) + ".0/24"), 2 * kMinute);
  EXPECT_EQ(t.stats().evictions, 1u);
}

// Many more prefixes than slots: memory stays put, at most capacity() prefixes are tracked, and
// the heavily refused prefix survives the churn of one-off ones.
TEST(RefusalTracker, FloodOfPrefixesStaysWithinCapacity) {
  RefusalTracker t(64, kMinute);
  const auto heavy = cidr("2001:db8:dead::/48");
  for (int i = 0; i < 50; ++i) t.note(heavy, 0);
  std::vector<client::Cidr> flood;
  for (int i = 0; i < 5000; ++i) {
    client::Cidr c = cidr("2001:db8::/64");
    c.address.bytes[4] = static_cast<std::uint8_t>(i >> 8);
    c.address.bytes[5] = static_cast<std::uint8_t>(i);
    c.address.bytes[6] = 0x77;
    flood.push_back(c);
    t.note(c, 1);
  }
  std::size_t tracked = 0;
  for (const auto& c : flood) tracked += t.recent(c, 1) > 0 ? 1 : 0;
  EXPECT_LE(tracked, t.capacity());
  EXPECT_GT(tracked, t.capacity() / 2);  // the flood did fill the table
  EXPECT_EQ(t.recent(heavy, 1), 50u);
  // A 24-bit tag shared by chance counts as the same prefix (no eviction): allow a few.
  EXPECT_GE(t.stats().evictions, 5000u - t.capacity() - 8);
}

TEST(RefusalTracker, ConcurrentNotesAreCountedOrReportedDropped) {
  RefusalTracker t(1024, kMinute);
  const auto p = cidr("192.0.2.0/24");
  constexpr int kThreads = 4;
  constexpr int kEach = 1000;  // 4000 < kMaxCount: no saturation
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kEach; ++k) t.note(p, 5);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(t.recent(p, 5) + t.stats().dropped, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_LT(t.stats().dropped, static_cast<std::uint64_t>(kThreads * kEach) / 10);
}

}  // namespace
}  // namespace gh::reputation
