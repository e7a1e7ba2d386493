// The single-use set of challenge ids: a solved challenge counts once, and no one client network
// can fill the set for everyone else. Fixed capacity, allocated once; shared by the worker threads
// under one mutex (a claim is a few hash probes and a heap step; README says why not shards).
// Ids come from verified tokens, so they are server-drawn random bytes; network keys are the
// client's; both tables hash with a random seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "client/address-t.h"
#include "stages/challenge/token-t.h"

namespace gh::challenge {

class SpentSet {
 public:
  // Holds at most `capacity` ids (at least 1, at most 2^30), exactly.
  explicit SpentSet(std::size_t capacity);
  ~SpentSet();
  SpentSet(const SpentSet&) = delete;
  SpentSet& operator=(const SpentSet&) = delete;

  enum class Claim : std::uint8_t {
    Fresh,   // first time: recorded until expiry_ms
    Replay,  // already claimed (and not yet expired)
    // The client's network already holds `per_prefix` unexpired ids: refuse this solve (429)
    // while other networks keep claiming.
    PrefixFull,
    // Every slot holds an unexpired id: refuse the solve (503), never risk a replay.
    Full,
  };

  // `prefix` is the claiming client's network (the token's binding was checked against it),
  // counted under network_of(prefix). `per_prefix` is that network's quota (0 counts as 1; it is
  // an argument so that a reload can change it). On PrefixFull, *free_at_ms (when given) is when
  // the network's oldest id (the earliest claimed it holds) expires: by then at least one of its
  // ids is forgotten, so that retry time is never too early.
  //
  // Ids are forgotten at the first claim at or after their expiry_ms, never before (a token that
  // old no longer decodes, so forgetting it cannot let it be replayed).
  Claim claim(const TokenId& id, const client::Cidr& prefix, std::uint32_t per_prefix,
              std::int64_t expiry_ms, std::int64_t now_ms, std::int64_t* free_at_ms = nullptr);

  // Records an id another node of a fleet claimed, until expiry_ms, so that it is refused here
  // too. Counted under one network of its own, without quota (the set's capacity still holds).
  // False when it was held already or the set is full. Does not call the claim hook.
  bool mark(const TokenId& id, std::int64_t expiry_ms, std::int64_t now_ms);

  // Called after every Fresh claim, on the claiming thread, outside the set's lock (the fleet
  // tells the other nodes). Set before the workers start; never changed while they run.
  using OnClaim = std::function<void(const TokenId& id, std::int64_t expiry_ms)>;
  void on_claim(OnClaim f) { on_claim_ = std::move(f); }

  std::size_t size() const;
  std::size_t networks() const;  // networks holding at least one id
  std::size_t capacity() const { return capacity_; }

  // The network a client prefix is counted under: the prefix itself, widened to /24 for IPv4 and
  // /48 for IPv6 when it is narrower. Those are the blocks one holder gets cheaply in numbers (a
  // tunnel broker hands out a /48 for free, i.e. 65 536 /64s); quotas on anything finer would
  // multiply an attacker's share by that much.
  static client::Cidr network_of(const client::Cidr& prefix);

 private:
  static constexpr std::uint32_t kNone = 0xffff'ffff;

  Claim claim_locked(const TokenId& id, const client::Cidr& prefix, std::uint32_t per_prefix,
                     std::int64_t expiry_ms, std::int64_t now_ms, std::int64_t* free_at_ms);
  OnClaim on_claim_;

  struct Entry {
    std::uint64_t a = 0;  // id bytes 0-7
    std::uint64_t b = 0;  // id bytes 8-15
    std::int64_t expiry_ms = 0;
    std::uint32_t net = kNone;   // index in nets_
    std::uint32_t prev = kNone;  // the network's ids in claim order
    std::uint32_t next = kNone;  // ... and the free list while unused
  };
  struct Net {
    std::uint64_t hi = 0;  // address bytes 0-7 (host bits cleared)
    std::uint64_t lo = 0;  // address bytes 8-15
    std::uint8_t len = 0;
    bool v4 = false;
    std::uint32_t count = 0;
    std::uint32_t head = kNone;  // oldest id (earliest claimed); the free list while unused
    std::uint32_t tail = kNone;  // newest id
  };
  struct Due {
    std::int64_t expiry_ms;
    std::uint32_t entry;
  };

  void forget_expired(std::int64_t now_ms);
  void forget(std::uint32_t e);
  std::size_t id_home(std::uint64_t a) const;
  std::size_t net_home(const Net& n) const;

  mutable std::mutex mu_;
  std::size_t capacity_;
  std::uint64_t seed_;
  std::size_t size_ = 0;
  std::size_t nets_size_ = 0;
  std::unique_ptr<Entry[]> entries_;  // capacity_
  // Every network holding ids holds at least one, so at most capacity_ networks hold ids at any
  // time: capacity_ records can never run out.
  std::unique_ptr<Net[]> nets_;
  std::uint32_t free_entry_ = kNone;
  std::uint32_t free_net_ = kNone;
  // Open addressing (linear probing, backward-shift deletion) over indices, kNone = empty. Each
  // table has at least 2 × capacity_ slots and holds at most capacity_ keys: never more than
  // half full, so probes stay short and always end at an empty slot.
  std::unique_ptr<std::uint32_t[]> id_slots_;
  std::unique_ptr<std::uint32_t[]> net_slots_;
  std::size_t mask_ = 0;  // slot count - 1 (both tables)
  // Min-heap of live ids by expiry (exactly one element per live id): expired ids are found in
  // O(log n) each, without scanning the tables.
  std::unique_ptr<Due[]> heap_;
};

}  // namespace gh::challenge
