// Plain types of the lists stage: prefix-set entries and matches, list-file errors, bans, the ban
// journal's options and replay report. Behaviour lives in prefix_set.h, bans.h and journal.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "client/address-t.h"

namespace gh::lists {

// ---- prefix sets ----------------------------------------------------------------------------

enum class Action : std::uint8_t { Allow = 0, Deny = 1 };

// What a prefix carries. Fits the 3 bytes the set stores next to each range.
struct Entry {
  Action action = Action::Deny;
  std::uint16_t list = 0;  // which configured list it came from (for logs and metrics)

  friend bool operator==(const Entry&, const Entry&) = default;
};

// The longest prefix that holds an address. An IPv6 prefix can hold IPv4 addresses (::/0 does,
// see client::contains), so the family of the prefix is given apart from the address's.
struct Match {
  Entry entry;
  std::uint8_t prefix_len = 0;  // bits of the prefix's own family (0-32 or 0-128)
  bool prefix_is_v4 = false;

  friend bool operator==(const Match&, const Match&) = default;
};

struct PrefixSetStats {
  std::size_t prefixes = 0;    // distinct prefixes in the set
  std::size_t duplicates = 0;  // prefixes given again; the one added last won
  std::size_t ranges_v4 = 0;   // disjoint address ranges searched for IPv4 / IPv6 lookups
  std::size_t ranges_v6 = 0;
  std::size_t memory_bytes = 0;
};

// One problem in a list file. line 0: about the file as a whole (cannot be read).
struct ListError {
  std::string file;
  std::size_t line = 0;
  std::string message;

  std::string to_string() const;  // "file:line: message" or "file: message"
};

inline constexpr std::size_t kDefaultMaxErrors = 20;

// ---- bans -----------------------------------------------------------------------------------

using Seconds = std::int64_t;  // wall-clock Unix seconds: bans outlive the process
inline constexpr Seconds kForever = std::numeric_limits<Seconds>::max();

// Text of bounded length stored inline, so that a ban copies without allocating. Longer input is
// cut at a UTF-8 character boundary; control characters become '?' (the text reaches logs).
template <std::size_t Cap>
struct ShortText {
  static_assert(Cap < 256);
  std::array<char, Cap> bytes{};
  std::uint8_t size = 0;

  static ShortText from(std::string_view text) {
    ShortText out;
    std::size_t n = text.size() < Cap ? text.size() : Cap;
    if (n < text.size()) {
      while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      out.bytes[i] = (c < 0x20 || c == 0x7f) ? '?' : text[i];
    }
    out.size = static_cast<std::uint8_t>(n);
    return out;
  }
  std::string_view view() const { return {bytes.data(), size}; }

  friend bool operator==(const ShortText&, const ShortText&) = default;
};

inline constexpr std::size_t kReasonMax = 63;
inline constexpr std::size_t kSourceMax = 31;

// One ban. The key is an address (a /32 or /128) or a prefix.
struct BanInfo {
  Seconds start = 0;
  Seconds expiry = 0;  // banned while now < expiry; kForever: until unbanned
  client::Cidr key;
  std::uint8_t level = 0;  // escalation level: this ban lasted min(base << level, max)
  ShortText<kReasonMax> reason;
  ShortText<kSourceMax> source;  // rule name, or "manual"

  friend bool operator==(const BanInfo&, const BanInfo&) = default;
};

// Escalation: the n-th ban of a key within the window lasts min(base << (n - 1), max).
struct BanDuration {
  Seconds base = 0;  // > 0
  Seconds max = 0;   // below base: no escalation
};

struct BansConfig {
  std::size_t capacity = 100'000;  // live bans; when full the earliest expiry goes
  // A ban starting within this of the end of the key's previous one escalates.
  Seconds escalation_window = Seconds{7} * 86'400;
  std::size_t history_capacity = 0;  // keys remembered for escalation; 0: 4 × capacity
};

struct BanStats {
  std::uint64_t live = 0;  // bans held, including expired ones not yet removed by expire()
  std::uint64_t capacity = 0;
  std::uint64_t bans = 0;          // ban() calls that took effect
  std::uint64_t unbans = 0;        // unban() calls that removed a ban
  std::uint64_t expired = 0;       // removed by expire()
  std::uint64_t evicted_full = 0;  // live bans dropped because the table was full
  std::uint64_t history = 0;       // keys remembered for escalation
  std::uint64_t history_evicted = 0;
  std::uint64_t journal_records = 0;  // records written since open
  std::uint64_t journal_errors = 0;   // failed writes or syncs (the ban still applies in memory)
  std::uint64_t journal_bytes = 0;
  std::uint64_t compactions = 0;
};

// ---- journal --------------------------------------------------------------------------------

enum class SyncPolicy : std::uint8_t {
  EveryRecord,  // fdatasync after each record: a ban survives power loss once ban() returns
  Interval,     // fdatasync when a record finds the last sync older than sync_interval_ms
  Never,        // write() only: survives a process crash (kill -9), not a power loss
};

struct JournalOptions {
  SyncPolicy sync = SyncPolicy::EveryRecord;
  std::int64_t sync_interval_ms = 1000;
  std::uint64_t compact_factor = 4;            // rewrite when the file is this × the live set ...
  std::uint64_t compact_min_bytes = 1u << 20;  // ... and at least this big
};

enum class RecordType : std::uint8_t {
  Ban = 1,
  Unban = 2,    // key only
  Forget = 3,   // unban and forget the key's escalation history; key only
  History = 4,  // no live ban, escalation only: key, start = last ban, level = ban count
};

struct JournalRecord {
  RecordType type = RecordType::Ban;
  BanInfo ban;

  friend bool operator==(const JournalRecord&, const JournalRecord&) = default;
};

struct ReplayReport {
  bool ok = false;              // the journal is open for appending
  std::string error;            // why not, when !ok
  std::uint64_t records = 0;    // records read and trusted (also those after damage)
  std::uint64_t bans_live = 0;  // live bans after replay
  std::uint64_t skipped_expired = 0;
  std::uint64_t file_bytes = 0;
  std::uint64_t valid_bytes = 0;  // bytes of the file that were trusted: magic and records
  bool torn_tail = false;         // the file ended in a cut write (part of a record): skipped
  bool damaged = false;           // other bytes held no readable record: skipped, replay went on
  std::uint64_t damaged_regions = 0;
  std::uint64_t damaged_bytes = 0;
  std::string damaged_copy;  // where the file was copied, as read, before it was rewritten
  bool rewritten = false;    // the file was rewritten from the replayed state
  std::vector<std::string> warnings;
};

}  // namespace gh::lists
