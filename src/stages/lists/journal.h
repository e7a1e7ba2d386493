// The ban journal: an append-only file of CRC-checked records (README.md, "Ban journal"). It
// knows records, not bans: BanTable (bans.h) decides what to write and applies what is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stages/lists/lists-t.h"

namespace gh::lists {

// File layout: kJournalMagic, then records: u32 payload length | u32 CRC-32 of (length, payload)
// | payload. Integers little-endian. Payload: type, family (4/6), prefix_len, level, 16 address
// bytes, i64 start, i64 expiry, u8 n + n reason bytes, u8 m + m source bytes.
inline constexpr std::string_view kJournalMagic{"GHBANJ1\n", 8};
inline constexpr std::size_t kRecordHeader = 8;
inline constexpr std::size_t kPayloadMin = 38;
inline constexpr std::size_t kPayloadMax = kPayloadMin + kReasonMax + kSourceMax;
inline constexpr std::size_t kRecordMax = kRecordHeader + kPayloadMax;

// Appends one record. The record must be canonical (as BanTable writes them): the key as
// to_cidr gives it, unused fields zero, no control characters in the texts.
void encode_record(const JournalRecord& record, std::string& out);
std::size_t encoded_size(const JournalRecord& record) noexcept;

// What the bytes of a journal file hold. A record that is incomplete, fails its CRC or is not
// canonical does not end the reading: the scan resynchronises at the next offset where a whole
// valid record starts (each record carries its own CRC) and goes on from there. Each candidate
// offset costs at most one record's CRC, so the scan is linear in the file.
struct JournalScan {
  // Empty: no bytes. Torn: a cut magic (nothing else). Foreign: no magic and no readable record:
  // not a journal. Damaged: no magic, but readable records: a journal whose start was damaged.
  enum class Header : std::uint8_t { Ok, Empty, Torn, Foreign, Damaged };
  // A stretch of bytes that held no readable record.
  struct Damage {
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
    std::string what;  // what was wrong with the record expected at `offset`
  };
  static constexpr std::size_t kDamageDescribed = 8;

  Header header = Header::Empty;
  std::vector<JournalRecord> records;  // every readable record, in file order
  std::uint64_t valid_bytes = 0;       // the magic and the records above
  // The file ends in what a cut write leaves: part of one record (its length reaches past the
  // end) or zeros (some file systems extend a file before the data lands). Never acknowledged
  // whole, so nothing readable is lost by dropping it.
  bool torn_tail = false;
  // Anything else that was skipped (a damaged header, record or stretch of bytes, anywhere):
  // bytes that may have held records once. valid_bytes + damaged_bytes + the torn tail = size.
  bool damaged = false;
  std::uint64_t damaged_regions = 0;
  std::uint64_t damaged_bytes = 0;
  std::vector<Damage> damage;  // the first kDamageDescribed regions
  std::string problem;         // for people: the regions above, then the torn tail
};
JournalScan scan_journal(std::string_view bytes);

class Journal {
 public:
  // Removes a leftover "<path>.tmp" (a compaction that did not finish; the file at `path` is
  // whole), reads `path`, creating it when absent, locks it against a second process, and
  // returns the readable records in `records`. nullptr on failure: report.error says why. After
  // a torn tail or damage the caller must rewrite() before appending. Damage is first copied,
  // byte for byte, to a new "<path>.corrupt" (".corrupt.1", ... when taken: an earlier copy is
  // never replaced); when that copy cannot be made, open fails and leaves the file untouched,
  // since the rewrite would drop what could not be read.
  static std::unique_ptr<Journal> open(const std::string& path, const JournalOptions& options,
                                       std::vector<JournalRecord>& records, ReplayReport& report);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // One write() of the whole record, then fdatasync per the policy. On failure the file is cut
  // back to its last whole record; if even that fails, appends are refused until rewrite().
  bool append(const JournalRecord& record);

  // Compaction: writes `records` to "<path>.tmp", fsyncs it, renames it over `path` and fsyncs
  // the directory. A crash at any point leaves either the old file or the new one, whole.
  bool rewrite(std::span<const JournalRecord> records);

  bool sync();         // fdatasync now, if anything was written since the last one
  void sync_if_due();  // for SyncPolicy::Interval, from a periodic task

  std::uint64_t bytes() const noexcept { return bytes_; }
  bool needs_rewrite() const noexcept { return needs_rewrite_; }
  const std::string& path() const noexcept { return path_; }
  const std::string& last_error() const noexcept { return last_error_; }

 private:
  Journal(std::string path, const JournalOptions& options);
  bool fail(const std::string& what);

  std::string path_;
  JournalOptions options_;
  int fd_ = -1;
  std::uint64_t bytes_ = 0;
  bool dirty_ = false;
  bool needs_rewrite_ = false;
  std::int64_t last_sync_ms_ = 0;
  std::string last_error_;
};

}  // namespace gh::lists
