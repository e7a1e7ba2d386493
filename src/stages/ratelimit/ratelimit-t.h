// Plain types of the rate limiter: limits, keys, decisions, table configuration and counters.
// Behaviour lives in gcra.h (the algorithm), keyhash.h (keyed hashing) and table.h (the table).
#pragma once

#include <cstdint>
#include <limits>

#include "core/clock.h"

namespace gh::ratelimit {

using Nanos = core::Nanos;

// retry_after when no amount of waiting helps (cost above the burst, or a full table of bans).
inline constexpr Nanos kNever = std::numeric_limits<Nanos>::max();

// Bounds that keep every sum of the arithmetic below 2^63: `now` must lie in [0, kMaxNow)
// (CLOCK_MONOTONIC is uptime, so this is 146 years), one full bucket (T × burst) spans at most
// kMaxSpan, and unconditional counting (add) saturates the debt at kMaxDebt.
inline constexpr Nanos kMaxNow = Nanos{1} << 62;
inline constexpr Nanos kMaxSpan = Nanos{1} << 60;
inline constexpr Nanos kMaxDebt = Nanos{1} << 61;

// A limit as configured: `rate` events per `period`, with `burst` back-to-back from an idle key.
struct RateSpec {
  std::uint32_t rate = 0;
  Nanos period = 0;
  std::uint32_t burst = 1;
};

// A validated limit in the GCRA's own terms (see make_limit in gcra.h).
struct Limit {
  Nanos emission_interval = 0;  // T = ceil(period / rate), >= 1
  Nanos tolerance = 0;          // tau = T * (burst - 1)
  std::uint32_t burst = 1;      // >= 1

  friend bool operator==(const Limit&, const Limit&) = default;
};

// 16 bytes that name one client of one limit: a raw IPv6/v4-mapped address or prefix, or a keyed
// 128-bit digest of a longer tuple (digest_key in keyhash.h). The table never stores it whole.
struct Key {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;

  friend bool operator==(const Key&, const Key&) = default;
  friend auto operator<=>(const Key&, const Key&) = default;
};

struct HashSeed {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

enum class Status : std::uint8_t {
  Tracked,    // the key has a slot (it may have been inserted by this call)
  Untracked,  // no slot and none needed: peek of an absent key, or a cost above the burst
  TableFull,  // no slot and none free: the table's FullPolicy decided `allowed`
};

// What a table returns: the verdict plus the values of the IETF RateLimit/Retry-After headers.
struct Decision {
  Nanos retry_after = 0;        // ns until this request would conform; 0 when allowed; kNever
  Nanos reset = 0;              // ns until the key's bucket is full again (state after the call)
  std::uint32_t remaining = 0;  // whole requests of cost 1 that would conform now (after the call)
  bool allowed = false;
  bool banned = false;  // the key carries the ban flag (the limiter itself does not deny for it)
  Status status = Status::Untracked;
};

// What to answer when a new key cannot get a slot because every candidate is protected.
enum class FullPolicy : std::uint8_t {
  FailOpen,    // allow (the key is not limited while the table is full), count in table_full
  FailClosed,  // deny, count in table_full
};

struct TableConfig {
  std::uint64_t capacity = 0;  // keys; rounded up to a whole number of buckets, never grows
  FullPolicy full_policy = FullPolicy::FailClosed;
};

// Counters for metrics; each is a sum of relaxed per-stripe atomics, so a snapshot taken while
// workers run is approximate but every counter is monotonic except `tracked`.
struct TableStats {
  std::uint64_t capacity = 0;  // slots
  std::uint64_t tracked = 0;   // occupied slots, including expired ones not yet reused
  std::uint64_t lookups = 0;
  std::uint64_t inserts = 0;
  std::uint64_t evictions_expired = 0;
  std::uint64_t evictions_least_limited = 0;
  std::uint64_t table_full = 0;
};

}  // namespace gh::ratelimit
