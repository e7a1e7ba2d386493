// The per-key limiter table: fixed capacity, allocated once, shared by all worker threads.
// One table serves one limit (README.md says why); `now` is always an argument.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "stages/ratelimit/deltas.h"
#include "stages/ratelimit/gcra.h"
#include "stages/ratelimit/keyhash.h"
#include "stages/ratelimit/ratelimit-t.h"
#include "stages/ratelimit/table-t.h"

namespace gh::ratelimit {

class Table {
 public:
  // nullptr when capacity is 0 or the memory cannot be had. Capacity is rounded up to a whole
  // number of buckets (capacity() tells the result).
  static std::unique_ptr<Table> create(const Limit& limit, const TableConfig& config,
                                       const HashSeed& seed = process_seed());
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Request time: consume n when conforming (a deny consumes nothing). Tracks a new key.
  Decision decide(const Key& key, Nanos now, std::uint32_t n = 1) {
    return decide(place(key), now, n);
  }

  // "check": would a cost-n request conform now? Changes nothing, never tracks a key.
  Decision peek(const Key& key, Nanos now, std::uint32_t n = 1) const {
    return peek(place(key), now, n);
  }

  // Response time: count n events unconditionally (e.g. a failed login); returns what a cost-1
  // peek would say afterwards. Tracks a new key.
  Decision add(const Key& key, Nanos now, std::uint32_t n = 1) { return add(place(key), now, n); }

  // Response time: give back n emissions an earlier decide/add charged to this key (a count_when
  // request whose status does not count), never leaving the key fuller than an idle one. Only a
  // key that is still tracked is refunded: a key evicted meanwhile has already forgotten its
  // charge, and whichever key now holds its slot has another tag and is not touched. Never tracks
  // a key. Returns what a cost-1 peek would say afterwards.
  Decision refund(const Key& key, Nanos now, std::uint32_t n = 1) {
    return refund(place(key), now, n);
  }

  // Hashes the key and prefetches its bucket. A worker holding several requests can locate them
  // all first and then decide each, so that their cache misses overlap instead of queueing.
  Ticket locate(const Key& key) const;
  Decision decide(const Ticket& ticket, Nanos now, std::uint32_t n = 1);
  Decision peek(const Ticket& ticket, Nanos now, std::uint32_t n = 1) const;
  Decision add(const Ticket& ticket, Nanos now, std::uint32_t n = 1);
  Decision refund(const Ticket& ticket, Nanos now, std::uint32_t n = 1);

  // Sets or clears the ban flag, which pins the key (never evicted) and is reported in
  // Decision::banned. Setting it on an absent key tracks the key; TableFull if no slot is free.
  Status set_banned(const Key& key, bool banned, Nanos now);

  // Shared limits. A table given a log reports every change of a tracked key's debt to it while
  // its sharing is not Local; fleet_id names the limit in the fleet. Set before workers use it;
  // the sharing may change later (a reload).
  void share(DeltaLog* log, std::uint64_t fleet_id, Sharing sharing);
  void set_sharing(Sharing s) { sharing_.store(s, std::memory_order_relaxed); }
  Sharing sharing() const { return sharing_.load(std::memory_order_relaxed); }
  std::uint64_t fleet_id() const { return fleet_id_; }
  // The fleet's figures, applied without being reported back: the key's debt becomes `debt`
  // (global debt plus what this node added since it pushed), or grows by `extra` (the local
  // share while the fleet is away). A key not tracked is tracked when it owes something and a
  // slot is free; otherwise nothing happens.
  void set_debt(const Key& key, Nanos now, Nanos debt);
  void add_debt(const Key& key, Nanos now, Nanos extra);
  // Never lowers: the debt becomes at least `debt` (a figure another node published, which may
  // arrive after a newer one).
  void raise_debt(const Key& key, Nanos now, Nanos debt);

  const Limit& limit() const { return limit_; }
  FullPolicy full_policy() const { return policy_; }
  std::uint64_t capacity() const { return bucket_count_ * kSlotsPerBucket; }
  std::uint64_t memory_bytes() const { return mapped_bytes_ + sizeof(Table); }
  TableStats stats() const;

  // Occupied slots by a full scan under each bucket's lock (tests, fuzzing, debugging).
  std::uint64_t count_occupied() const;

 private:
  Table(const Limit& limit, const TableConfig& config, const HashSeed& seed, Bucket* buckets,
        std::uint64_t bucket_count, std::size_t mapped_bytes);

  Ticket place(const Key& key) const;
  Slot* claim(Bucket& b, Nanos now);
  // The slot of `key` for set_debt/add_debt, claimed if absent and `claim_new`; nullptr if none.
  Slot* slot_for(const Ticket& p, Nanos now, bool claim_new);
  struct Change;
  void report(const Ticket& p, Nanos now, Nanos tat_before, Nanos tat_after) const;
  Decision table_full(const Bucket& b, Nanos now, std::uint32_t n, bool counting);
  CounterStripe& stripe() const;

  Limit limit_;
  FullPolicy policy_;
  HashSeed seed_;
  Bucket* buckets_;
  std::uint64_t bucket_count_;
  std::size_t mapped_bytes_;
  mutable CounterStripe stripes_[kCounterStripes];
  DeltaLog* log_ = nullptr;
  std::uint64_t fleet_id_ = 0;
  std::atomic<Sharing> sharing_{Sharing::Local};
};

}  // namespace gh::ratelimit
