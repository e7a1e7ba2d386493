// Arbitrary bytes as a ban journal. Reading never crashes; whatever it accepts re-encodes to the
// same bytes (the format has one spelling per record) and reads back as the same records; the
// records, replayed into a table, give a state whose compaction replays to the same state.
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
  FUZZ_CHECK(s.valid_bytes <= size);
  FUZZ_CHECK(!(s.torn_tail && s.corrupt_middle));
  if (s.header != JournalScan::Header::Ok) {
    FUZZ_CHECK(s.records.empty());
    return 0;
  }
  FUZZ_CHECK((s.valid_bytes == size) == (!s.torn_tail && !s.corrupt_middle));
  std::string again(kJournalMagic);
  for (const JournalRecord& r : s.records) encode_record(r, again);
  FUZZ_CHECK(again == bytes.substr(0, s.valid_bytes));
  const JournalScan s2 = scan_journal(again);
  FUZZ_CHECK(s2.records == s.records);
  FUZZ_CHECK(!s2.torn_tail && !s2.corrupt_middle && s2.valid_bytes == again.size());

  check_replay(s.records, 1'700'000'000);
  if (!s.records.empty()) check_replay(s.records, s.records.front().ban.start);
  return 0;
}
