// The single-use set of challenge ids: a solved challenge counts once. Fixed capacity, allocated
// once; shared by the worker threads (one mutex per shard). Ids come from verified tokens, so they
// are server-drawn random bytes; the table still hashes them with a random seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "stages/challenge/token-t.h"

namespace gh::challenge {

class SpentSet {
 public:
  // Holds at most `capacity` ids (at least 1). Below 4096 there is one shard, so the capacity is
  // exact; above, 16 shards of capacity/16 (+1 for the first capacity%16), and a shard can fill
  // (answer Full) slightly before the whole set does.
  explicit SpentSet(std::size_t capacity);
  ~SpentSet();
  SpentSet(const SpentSet&) = delete;
  SpentSet& operator=(const SpentSet&) = delete;

  enum class Claim : std::uint8_t {
    Fresh,   // first time: recorded until expiry_ms
    Replay,  // already claimed (and not yet forgotten)
    Full,  // no room even after forgetting expired ids: refuse the solve (503), never risk replays
  };

  // Entries are forgotten only once now_ms >= their expiry_ms, and only when room is needed.
  Claim claim(const TokenId& id, std::int64_t expiry_ms, std::int64_t now_ms);

  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    std::uint64_t a = 0;  // id bytes 0-7
    std::uint64_t b = 0;  // id bytes 8-15
    std::int64_t expiry_ms = 0;
    bool used = false;
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unique_ptr<Entry[]> slots;
    std::size_t mask = 0;   // slot count - 1 (a power of two, at least 2 × limit)
    std::size_t limit = 0;  // ids this shard may hold
    std::size_t count = 0;
    std::int64_t min_expiry = 0;  // no entry expires before this: nothing to purge until then
  };

  void purge(Shard& s, std::int64_t now_ms);
  void erase_at(Shard& s, std::size_t i);

  std::size_t capacity_;
  std::size_t shard_count_;
  std::uint64_t seed_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace gh::challenge
