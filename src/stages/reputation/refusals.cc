#include "stages/reputation/refusals.h"

#include <algorithm>
#include <limits>

#include "client/address.h"
#include "stages/lists/key128.h"

namespace gh::reputation {

namespace {

// A slot, one 64-bit word: tag (24 bits) | window number mod 2^16 | count in that window (12) |
// count in the window before it (12). All zero = free. A count of zero in both windows is free
// too, so a slot needs no clearing: it fades out by itself.
constexpr unsigned kTagShift = 40;
constexpr unsigned kEpochShift = 24;
constexpr unsigned kCurShift = 12;
constexpr std::uint64_t kTagMask = 0xffffff;
constexpr std::uint64_t kEpochMask = 0xffff;
constexpr std::uint64_t kCountMask = 0xfff;
constexpr int kMaxAttempts = 4;
constexpr std::int64_t kMaxWindowMs = std::int64_t{1} << 40;  // keeps prev × window in range

struct Counts {
  std::uint32_t cur = 0;   // refusals in the current window
  std::uint32_t prev = 0;  // in the one before
  bool live() const { return cur + prev > 0; }
};

std::uint32_t tag_of(std::uint64_t v) {
  return static_cast<std::uint32_t>(v >> kTagShift);
}

// The slot's counts seen from window `epoch`: a slot last written one window ago shifts its count
// to `prev`; older ones count nothing. Window numbers wrap at 2^16, so a slot untouched for
// exactly a multiple of 65536 windows reads as live again; that can only raise a count.
Counts counts_at(std::uint64_t v, std::uint32_t epoch) {
  const auto e = static_cast<std::uint32_t>((v >> kEpochShift) & kEpochMask);
  const auto cur = static_cast<std::uint32_t>((v >> kCurShift) & kCountMask);
  const auto prev = static_cast<std::uint32_t>(v & kCountMask);
  switch ((epoch - e) & kEpochMask) {
    case 0:
      return Counts{cur, prev};
    case 1:
      return Counts{0, cur};
    default:
      return Counts{};
  }
}

std::uint64_t pack(std::uint32_t tag, std::uint32_t epoch, Counts c) {
  return (std::uint64_t{tag} & kTagMask) << kTagShift |
         (std::uint64_t{epoch} & kEpochMask) << kEpochShift |
         (std::uint64_t{c.cur} & kCountMask) << kCurShift | (std::uint64_t{c.prev} & kCountMask);
}

// The sliding estimate: all of this window's count plus the part of the previous window that
// still lies within one window of now.
std::uint64_t estimate(Counts c, std::int64_t into_ms, std::int64_t window_ms) {
  return c.cur + static_cast<std::uint64_t>(c.prev) *
                     static_cast<std::uint64_t>(window_ms - into_ms) /
                     static_cast<std::uint64_t>(window_ms);
}

}  // namespace

RefusalTracker::RefusalTracker(std::size_t slots, std::int64_t window_ms)
    : bucket_count_(std::max<std::size_t>(1, (slots + kWays - 1) / kWays)),
      window_ms_(std::clamp<std::int64_t>(window_ms, 1, kMaxWindowMs)) {
  // Value-initialised: every slot starts free. The only allocation the tracker ever makes.
  buckets_ = std::make_unique<Bucket[]>(bucket_count_);
}

RefusalTracker::Place RefusalTracker::place(const client::Cidr& prefix) const noexcept {
  // Host bits cleared and the length hashed in, so 2001:db8::/48 and 2001:db8::/64 are
  // different keys. The hash is seeded per process: prefixes are attacker-chosen.
  const unsigned width = prefix.address.is_v4 ? 32 : 128;
  const unsigned len = std::min<unsigned>(prefix.prefix_len, width);
  const lists::u128 start =
      lists::to_u128(prefix.address) & ~lists::host_mask(prefix.address.is_v4 ? 96 + len : len);
  const client::IpKey key{static_cast<std::uint64_t>(start >> 64),
                          static_cast<std::uint64_t>(start)};
  const std::uint64_t h =
      client::hash_key(client::IpKey{client::hash_key(key), len | (width << 8)});
  // The bucket from the high bits, the tag from the low ones: independent of each other.
  const auto index = static_cast<std::size_t>((static_cast<lists::u128>(h) * bucket_count_) >> 64);
  return Place{&buckets_[index], static_cast<std::uint32_t>(h & kTagMask)};
}

void RefusalTracker::note(const client::Cidr& prefix, std::int64_t now_ms) noexcept {
  const Place at = place(prefix);
  const std::int64_t now = std::max<std::int64_t>(0, now_ms);
  const auto epoch = static_cast<std::uint32_t>((now / window_ms_) & kEpochMask);
  const std::int64_t into = now % window_ms_;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::uint64_t seen[kWays];
    int free_slot = -1;
    int victim = -1;
    std::uint64_t victim_weight = std::numeric_limits<std::uint64_t>::max();
    bool raced = false;
    for (std::size_t i = 0; i < kWays && !raced; ++i) {
      std::uint64_t v = at.bucket->slot[i].load(std::memory_order_relaxed);
      seen[i] = v;
      const Counts c = counts_at(v, epoch);
      if (!c.live()) {
        if (free_slot < 0) free_slot = static_cast<int>(i);
        continue;
      }
      if (tag_of(v) == at.tag) {
        const Counts next{std::min<std::uint32_t>(c.cur + 1, kMaxCount), c.prev};
        if (at.bucket->slot[i].compare_exchange_strong(v, pack(at.tag, epoch, next),
                                                       std::memory_order_relaxed)) {
          return;
        }
        raced = true;  // another thread changed this slot: look at the bucket again
        break;
      }
      const std::uint64_t w = estimate(c, into, window_ms_);
      if (w < victim_weight) {
        victim_weight = w;
        victim = static_cast<int>(i);
      }
    }
    if (raced) continue;
    // Not tracked yet: a free slot, else the live slot with the smallest estimate, so that the
    // prefixes refused most are the ones kept.
    const int target = free_slot >= 0 ? free_slot : victim;
    std::uint64_t expected = seen[target];
    if (at.bucket->slot[target].compare_exchange_strong(expected, pack(at.tag, epoch, Counts{1, 0}),
                                                        std::memory_order_relaxed)) {
      if (free_slot < 0) evictions_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
}

std::uint32_t RefusalTracker::recent(const client::Cidr& prefix,
                                     std::int64_t now_ms) const noexcept {
  const Place at = place(prefix);
  const std::int64_t now = std::max<std::int64_t>(0, now_ms);
  const auto epoch = static_cast<std::uint32_t>((now / window_ms_) & kEpochMask);
  const std::int64_t into = now % window_ms_;
  // Summed over every slot with the tag: two threads that note a new prefix at once may each
  // take a slot, and together they hold its count.
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kWays; ++i) {
    const std::uint64_t v = at.bucket->slot[i].load(std::memory_order_relaxed);
    const Counts c = counts_at(v, epoch);
    if (c.live() && tag_of(v) == at.tag) sum += estimate(c, into, window_ms_);
  }
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(sum, 0xffffffffu));
}

RefusalStats RefusalTracker::stats() const noexcept {
  return RefusalStats{evictions_.load(std::memory_order_relaxed),
                      dropped_.load(std::memory_order_relaxed)};
}

}  // namespace gh::reputation
