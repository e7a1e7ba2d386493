// The ban table: banned addresses and prefixes with expiry, escalation for repeat offenders, a
// hard capacity, and an optional journal that makes bans survive restarts and kill -9.
//
// Readers (the workers) call is_banned() without taking a lock or writing shared memory: the
// table is a fixed-size open-addressing hash guarded by a sequence counter (seqlock). Writers
// (ban, unban, expire: rare) serialise on a mutex and may do I/O, outside the readers' window.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "client/address-t.h"
#include "stages/lists/journal.h"
#include "stages/lists/key128.h"
#include "stages/lists/lists-t.h"
#include "stages/lists/mapped_array.h"

namespace gh::lists {

class BanTable {
 public:
  // nullptr when capacity is 0 or above 2^26.
  static std::unique_ptr<BanTable> create(const BansConfig& config);
  ~BanTable();
  BanTable(const BanTable&) = delete;
  BanTable& operator=(const BanTable&) = delete;

  // Bans `key` (an address as a /32 or /128, or a prefix) from `now`. The n-th ban of a key
  // within escalation_window of the end of its previous one lasts min(base << (n - 1), max).
  // A key still banned keeps its level and gets the later of both expiries. Returns the
  // expiry, or nullopt for a prefix length beyond the family's width or base <= 0. When the
  // table is full the ban with the earliest expiry is dropped (stats().evicted_full).
  std::optional<Seconds> ban(const client::Cidr& key, BanDuration duration, std::string_view reason,
                             std::string_view source, Seconds now);

  // Removes the ban of exactly this key (not of prefixes covering it). True if there was one.
  // forget_history also resets the key's escalation.
  bool unban(const client::Cidr& key, bool forget_history = false);

  // The ban holding `ip` at `now`: one on the address itself or on any prefix covering it; of
  // several, the one that lasts longest (then the longest prefix). Lock-free, allocation-free.
  std::optional<BanInfo> is_banned(const client::IpAddress& ip, Seconds now) const noexcept;

  // The live ban stored under exactly `key` (not a prefix covering it), to tell other nodes.
  std::optional<BanInfo> find(const client::Cidr& key, Seconds now) const;

  // Stores `ban` as given (another node's, read from the fleet's store) and journals it. False,
  // and nothing written, when it is over at `now`, its key is invalid, or a live ban on the key
  // lasts as long or longer (an echo, the store read again after a reconnect, or older news).
  bool import(const BanInfo& ban, Seconds now);

  // Live bans at `now`, soonest expiry first (admin API).
  std::vector<BanInfo> list(Seconds now) const;

  // Drops bans whose expiry has passed and escalation history older than the window. Returns
  // the bans dropped. Expired bans are already ignored by is_banned; this frees their slots.
  std::size_t expire(Seconds now);

  // The level the next ban of `key` would get at `now`.
  std::uint8_t next_level(const client::Cidr& key, Seconds now) const;

  BanStats stats() const;
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t memory_bytes() const noexcept;

  // Replays the journal at `path` into the table (expired bans skipped), then records every
  // change there. Call once, at start. Damaged records are skipped and the rest replayed; the
  // file is copied aside before the rewrite that follows (Journal::open). On failure (report.ok
  // false) the table works without persistence; the caller decides whether that is acceptable.
  ReplayReport open_journal(const std::string& path, const JournalOptions& options, Seconds now);
  // Periodic task (every second or so): expire(now), the Interval sync, a pending rewrite.
  void maintain(Seconds now);
  // Rewrites the journal with the live state now. False without a journal or on I/O error.
  bool compact(Seconds now);
  std::string journal_error() const;

  // Told of every ban that takes effect (banned = true, with its level and expiry) and every
  // ban lifted by unban() (banned = false, the key only), under the table's writer lock: the
  // kernel-level drops follow the table this way. Not told of replayed, expired or evicted bans.
  // Set before the table is shared.
  using Observer = std::function<void(const BanInfo& info, bool banned)>;
  void set_observer(Observer fn);

  // Applies one journal record as replay does, without journaling it (tests and fuzzers).
  void apply(const JournalRecord& record, Seconds now);
  // What a compaction at `now` writes: live bans, then escalation history of unbanned keys.
  std::vector<JournalRecord> records(Seconds now) const;

 private:
  struct Key {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    std::uint8_t len = 0;  // 128-bit prefix length
    friend bool operator==(const Key&, const Key&) = default;
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct History {
    std::uint32_t count = 0;  // bans in the current chain
    Seconds last = 0;         // end of the last ban (its start if it had no end)
  };

  explicit BanTable(const BansConfig& config, std::size_t slots);

  static Key key_of(const Prefix128& p);
  std::size_t home(const Key& k) const noexcept;
  std::optional<std::size_t> find_slot(const Key& k) const;
  BanInfo read_record(std::uint64_t rec) const;
  void write_record(std::uint64_t rec, const BanInfo& info);

  // Writer side, with mu_ held.
  void store(const Key& k, const BanInfo& info, Seconds now, bool journal);
  void remove_slot(std::size_t slot);
  void count_length(const Key& k, int delta);
  void make_room(Seconds now, bool journal);
  std::size_t expire_locked(Seconds now);
  void remember(const Key& k, std::uint32_t count, Seconds last, Seconds now);
  void forget(const Key& k);
  std::uint32_t chain_length(const Key& k, Seconds now) const;
  void apply_locked(const JournalRecord& r, Seconds now, std::uint64_t* skipped_expired);
  void journal(RecordType type, const BanInfo& info);
  std::vector<JournalRecord> records_locked(Seconds now) const;
  bool compact_locked(Seconds now);
  void maybe_compact(Seconds now);
  std::size_t live_locked() const { return capacity_ - free_.size(); }

  void write_begin() noexcept;
  void write_end() noexcept;

  // Read by the workers.
  alignas(64) std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> bits_v4_[3] = {};  // 128-bit lengths with bans an IPv4 address can hit
  std::atomic<std::uint64_t> bits_v6_[3] = {};  // ... and an IPv6 address
  MappedArray<std::uint64_t> index_;            // slots of 4 words: hi, lo, meta, expiry
  MappedArray<std::uint64_t> records_;          // kRecordWords per BanInfo
  std::size_t mask_;                            // slots - 1
  std::size_t capacity_;

  // Writer side.
  alignas(64) mutable std::mutex mu_;
  Seconds window_;
  std::size_t history_capacity_;
  std::vector<std::uint32_t> free_;                        // free record ids
  std::set<std::pair<Seconds, std::uint32_t>> by_expiry_;  // (expiry, record id)
  std::unordered_map<Key, History, KeyHash> history_;
  std::set<std::pair<Seconds, Key>> history_order_;  // (last, key): oldest forgotten first
  std::uint32_t count_v4_[129] = {};
  std::uint32_t count_v6_[129] = {};
  Seconds last_now_ = std::numeric_limits<Seconds>::min();  // latest `now` a writer was given
  std::uint64_t live_bytes_ = 0;  // journal bytes the live bans take (compaction trigger)
  std::unique_ptr<Journal> journal_;
  JournalOptions journal_options_;

  struct Counters {
    std::atomic<std::uint64_t> bans{0}, unbans{0}, expired{0}, evicted_full{0}, history_evicted{0},
        journal_records{0}, journal_errors{0}, compactions{0};
  };
  mutable Counters counters_;
  Observer observer_;
};

}  // namespace gh::lists
