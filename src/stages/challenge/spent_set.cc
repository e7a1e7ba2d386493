#include "stages/challenge/spent_set.h"

#include <openssl/rand.h>

#include <bit>
#include <cstring>
#include <limits>

namespace gh::challenge {

namespace {

constexpr std::size_t kShardedFrom = 4096;
constexpr std::size_t kShards = 16;

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  return x ^ (x >> 32);
}

}  // namespace

SpentSet::SpentSet(std::size_t capacity)
    : capacity_(capacity == 0 ? 1 : capacity),
      shard_count_(capacity_ < kShardedFrom ? 1 : kShards),
      seed_(0),
      shards_(new Shard[shard_count_]) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed_), sizeof(seed_)) != 1) {
    seed_ = 0x9e3779b97f4a7c15ULL ^ reinterpret_cast<std::uintptr_t>(this);
  }
  for (std::size_t i = 0; i < shard_count_; ++i) {
    Shard& s = shards_[i];
    s.limit = capacity_ / shard_count_ + (i < capacity_ % shard_count_ ? 1 : 0);
    const std::size_t slots = std::bit_ceil(s.limit * 2);
    s.slots.reset(new Entry[slots]);
    s.mask = slots - 1;
    s.min_expiry = std::numeric_limits<std::int64_t>::max();
  }
}

SpentSet::~SpentSet() = default;

std::size_t SpentSet::size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].count;
  }
  return n;
}

// Backward-shift deletion keeps linear probing free of tombstones: the entries after the hole
// that would be unreachable move up into it.
void SpentSet::erase_at(Shard& s, std::size_t i) {
  s.slots[i].used = false;
  --s.count;
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & s.mask; s.slots[j].used; j = (j + 1) & s.mask) {
    const std::size_t home = mix(s.slots[j].a ^ seed_) & s.mask;
    // Move j into the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      s.slots[hole] = s.slots[j];
      s.slots[j].used = false;
      hole = j;
    }
  }
}

void SpentSet::purge(Shard& s, std::int64_t now_ms) {
  std::int64_t min_left = std::numeric_limits<std::int64_t>::max();
  for (std::size_t i = 0; i <= s.mask;) {
    Entry& e = s.slots[i];
    if (e.used && now_ms >= e.expiry_ms) {
      erase_at(s, i);  // may pull a later entry into i: look at i again
      continue;
    }
    if (e.used && e.expiry_ms < min_left) min_left = e.expiry_ms;
    ++i;
  }
  // An erase only ever moves live entries into slots already passed (a cluster wrapping to the
  // front), so nothing expired is skipped and min_left saw every entry that is left.
  s.min_expiry = min_left;
}

SpentSet::Claim SpentSet::claim(const TokenId& id, std::int64_t expiry_ms, std::int64_t now_ms) {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, id.data(), 8);
  std::memcpy(&b, id.data() + 8, 8);
  const std::uint64_t h = mix(a ^ seed_);
  Shard& s = shards_[(h >> 59) % shard_count_];
  std::lock_guard lock(s.mu);
  std::size_t i = h & s.mask;
  for (; s.slots[i].used; i = (i + 1) & s.mask) {
    if (s.slots[i].a == a && s.slots[i].b == b) return Claim::Replay;
  }
  if (s.count >= s.limit) {
    if (now_ms < s.min_expiry) return Claim::Full;
    purge(s, now_ms);
    if (s.count >= s.limit) return Claim::Full;
    // The probe end may have moved: find the free slot again.
    i = h & s.mask;
    while (s.slots[i].used) i = (i + 1) & s.mask;
  }
  s.slots[i] = Entry{a, b, expiry_ms, true};
  ++s.count;
  if (expiry_ms < s.min_expiry) s.min_expiry = expiry_ms;
  return Claim::Fresh;
}

}  // namespace gh::challenge
