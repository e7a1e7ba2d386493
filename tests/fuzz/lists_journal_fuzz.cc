// Arbitrary bytes as a ban journal. Reading never crashes and accounts for every byte (records,
// damage skipped, a torn tail); whatever it accepts re-encodes to the same bytes (the format has
// one spelling per record) and reads back as the same records; the records, replayed into a
// table, give a state whose compaction replays to the same state.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "stages/lists/bans.h"
#include "stages/lists/journal.h"

using namespace gh::lists;

namespace {

void check_replay(const std::vector<JournalRecord>& records, Seconds now) {
  // A small table, so that replay also evicts; history large enough never to evict.
  const BansConfig config{8, 1000, 1 << 16};
  auto t = BanTable::create(config);
  for (const JournalRecord& r : records) t->apply(r, now);
  const auto compacted = t->records(now);
  auto t2 = BanTable::create(config);
  for (const JournalRecord& r : compacted) t2->apply(r, now);
  FUZZ_CHECK(t2->list(now) == t->list(now));
  FUZZ_CHECK(t2->records(now) == compacted);
  for (const BanInfo& b : t->list(now)) {
    const auto hit = t2->is_banned(b.key.address, now);
    FUZZ_CHECK(hit.has_value());
    FUZZ_CHECK(hit == t->is_banned(b.key.address, now));
  }
  std::string bytes(kJournalMagic);
  for (const JournalRecord& r : compacted) encode_record(r, bytes);
  const JournalScan s = scan_journal(bytes);
  FUZZ_CHECK(s.records == compacted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const JournalScan s = scan_journal(bytes);
  FUZZ_CHECK(s.valid_bytes + s.damaged_bytes <= size);
  FUZZ_CHECK(s.damaged == (s.damaged_regions > 0));
  FUZZ_CHECK(s.damage.size() ==
             std::min<std::uint64_t>(s.damaged_regions, JournalScan::kDamageDescribed));
  if (s.header != JournalScan::Header::Ok && s.header != JournalScan::Header::Damaged) {
    FUZZ_CHECK(s.records.empty() && !s.damaged && !s.torn_tail);
    return 0;
  }
  FUZZ_CHECK(s.header == JournalScan::Header::Ok || (s.damaged && !s.records.empty()));
  FUZZ_CHECK((s.valid_bytes + s.damaged_bytes == size) == !s.torn_tail);
  // Damaged regions lie in the file, in order, apart.
  std::uint64_t end = 0;
  for (const JournalScan::Damage& d : s.damage) {
    FUZZ_CHECK(d.offset >= end && d.offset + d.bytes <= size);
    end = d.offset + d.bytes;
  }
  // Every record read is spelt in the file as it re-encodes (in order); with no damage, the
  // records are the file up to the torn tail.
  std::string again(kJournalMagic);
  std::size_t at = 0;
  for (const JournalRecord& r : s.records) {
    std::string one;
    encode_record(r, one);
    at = bytes.find(one, at);
    FUZZ_CHECK(at != std::string_view::npos);
    at += one.size();
    again += one;
  }
  const std::size_t magic = s.header == JournalScan::Header::Ok ? kJournalMagic.size() : 0;
  FUZZ_CHECK(again.size() - kJournalMagic.size() + magic == s.valid_bytes);
  if (!s.damaged) FUZZ_CHECK(again == bytes.substr(0, s.valid_bytes));
  const JournalScan s2 = scan_journal(again);
  FUZZ_CHECK(s2.records == s.records);
  FUZZ_CHECK(!s2.torn_tail && !s2.damaged && s2.valid_bytes == again.size());

  check_replay(s.records, 1'700'000'000);
  if (!s.records.empty()) check_replay(s.records, s.records.front().ban.start);
  return 0;
}
