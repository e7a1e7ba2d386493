// The ban journal: format, replay, a torn tail, damage skipped (and kept in a copy), compaction,
// kill -9.
#include "stages/lists/journal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "client/address.h"
#include "stages/lists/bans.h"
#include "stages/lists/crc32.h"

namespace gh::lists {
namespace {

using client::Cidr;

constexpr Seconds kT0 = 1'700'000'000;
constexpr Seconds kDay = 86'400;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/gh-journal-XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Cidr key(std::uint32_t i) {
  return client::prefix_of(
      client::make_ipv4(10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                        static_cast<std::uint8_t>(i)),
      32, 128);
}

bool banned(const BanTable& t, std::uint32_t i, Seconds now = kT0) {
  return t.is_banned(key(i).address, now).has_value();
}

JournalOptions fast() {
  JournalOptions o;
  o.sync = SyncPolicy::Never;
  return o;
}

std::unique_ptr<BanTable> table() {
  return BanTable::create(BansConfig{100'000, kDay, 0});
}

TEST(Crc32, KnownVectorAndChaining) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(crc32("", 0), 0u);
  EXPECT_EQ(crc32("6789", 4, crc32("12345", 5)), 0xCBF43926u);
}

JournalRecord ban_record(const char* cidr, Seconds start, Seconds expiry, std::uint8_t level,
                         const char* reason, const char* source) {
  JournalRecord r;
  r.type = RecordType::Ban;
  r.ban.key = *client::parse_cidr(cidr);
  r.ban.start = start;
  r.ban.expiry = expiry;
  r.ban.level = level;
  r.ban.reason = ShortText<kReasonMax>::from(reason);
  r.ban.source = ShortText<kSourceMax>::from(source);
  return r;
}

std::vector<JournalRecord> sample_records() {
  std::vector<JournalRecord> v;
  v.push_back(ban_record("192.0.2.1", kT0, kT0 + 60, 0, "too many logins", "login"));
  v.push_back(ban_record("2001:db8::/48", kT0, kForever, 3, std::string(63, 'x').c_str(),
                         std::string(31, 'y').c_str()));
  v.push_back(ban_record("0.0.0.0/0", -5, 7, 255, "", ""));
  JournalRecord u;
  u.type = RecordType::Unban;
  u.ban.key = *client::parse_cidr("192.0.2.1");
  v.push_back(u);
  u.type = RecordType::Forget;
  u.ban.key = *client::parse_cidr("::/0");
  v.push_back(u);
  JournalRecord h;
  h.type = RecordType::History;
  h.ban.key = *client::parse_cidr("2001:db8::9");
  h.ban.start = kT0 - 10;
  h.ban.level = 4;
  v.push_back(h);
  return v;
}

// A ban of 10.0.0.i (key(i)), as a table writes it.
JournalRecord ban_of(std::uint32_t i) {
  return ban_record(("10.0.0." + std::to_string(i)).c_str(), kT0, kT0 + kDay, 0, "reason", "rule");
}

// A journal of bans of key(0) .. key(n - 1); `starts` gets where each record starts.
std::string journal_of_bans(std::uint32_t n, std::vector<std::size_t>& starts) {
  std::string bytes(kJournalMagic);
  for (std::uint32_t i = 0; i < n; ++i) {
    starts.push_back(bytes.size());
    encode_record(ban_of(i), bytes);
  }
  return bytes;
}

void put_u32(std::string& bytes, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(v >> (8 * i));
}

TEST(JournalFormat, RecordsRoundTripByteForByte) {
  std::string bytes(kJournalMagic);
  const auto records = sample_records();
  for (const auto& r : records) encode_record(r, bytes);
  const JournalScan s = scan_journal(bytes);
  EXPECT_EQ(s.header, JournalScan::Header::Ok);
  EXPECT_EQ(s.records, records);
  EXPECT_EQ(s.valid_bytes, bytes.size());
  EXPECT_FALSE(s.torn_tail);
  EXPECT_FALSE(s.damaged);
  std::size_t total = kJournalMagic.size();
  for (const auto& r : records) total += encoded_size(r);
  EXPECT_EQ(total, bytes.size());
}

// The bytes of one record, computed apart from this code (Python: struct + zlib.crc32): pins
// the format, so that a journal written by one build replays in the next.
TEST(JournalFormat, GoldenRecord) {
  const std::string golden(
      "\x2e\x00\x00\x00\x41\xe6\xb8\xf6\x01\x04\x20\x02\x00\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\xff\xff\xc0\x00\x02\x01\x00\xf1\x53\x65\x00\x00\x00\x00\x58\xf3\x53\x65"
      "\x00\x00\x00\x00\x02\x68\x69\x06\x6d\x61\x6e\x75\x61\x6c",
      54);
  std::string bytes;
  encode_record(ban_record("192.0.2.1", 1'700'000'000, 1'700'000'600, 2, "hi", "manual"), bytes);
  EXPECT_EQ(bytes, golden);
}

TEST(JournalFormat, HeaderCases) {
  EXPECT_EQ(scan_journal("").header, JournalScan::Header::Empty);
  EXPECT_EQ(scan_journal("GHBA").header, JournalScan::Header::Torn);
  EXPECT_EQ(scan_journal("GHBX").header, JournalScan::Header::Foreign);
  EXPECT_EQ(scan_journal("hello world, not a journal").header, JournalScan::Header::Foreign);
  EXPECT_EQ(scan_journal(kJournalMagic).header, JournalScan::Header::Ok);
}

TEST(JournalFormat, DamageIsClassified) {
  std::string bytes(kJournalMagic);
  const auto records = sample_records();
  std::vector<std::size_t> starts;
  for (const auto& r : records) {
    starts.push_back(bytes.size());
    encode_record(r, bytes);
  }
  // Zeros after the last record: a file extended before its data reached the disk.
  JournalScan s = scan_journal(bytes + std::string(4096, '\0'));
  EXPECT_EQ(s.records.size(), records.size());
  EXPECT_TRUE(s.torn_tail);
  EXPECT_FALSE(s.damaged);
  // A flipped byte in the first record: that record is skipped, the others are read.
  std::string bad = bytes;
  bad[kJournalMagic.size() + 20] ^= 0x40;
  s = scan_journal(bad);
  EXPECT_EQ(s.records, std::vector<JournalRecord>(records.begin() + 1, records.end()));
  EXPECT_TRUE(s.damaged);
  EXPECT_FALSE(s.torn_tail);
  EXPECT_EQ(s.damaged_regions, 1u);
  EXPECT_EQ(s.damaged_bytes, encoded_size(records[0]));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].offset, kJournalMagic.size());
  EXPECT_EQ(s.damage[0].bytes, encoded_size(records[0]));
  EXPECT_EQ(s.damage[0].what, "CRC mismatch");
  EXPECT_EQ(s.valid_bytes, bytes.size() - encoded_size(records[0]));
  EXPECT_NE(s.problem.find("CRC mismatch at offset 8"), std::string::npos) << s.problem;
  // A record with a valid CRC but host bits set is not canonical: refused as well. Whole, it is
  // damage, not a cut write, even as the last record.
  std::string nc(kJournalMagic);
  JournalRecord r = ban_record("10.0.0.0/8", 1, 2, 0, "", "");
  r.ban.key.address.bytes[13] = 1;
  encode_record(r, nc);
  s = scan_journal(nc);
  EXPECT_EQ(s.records.size(), 0u);
  EXPECT_TRUE(s.damaged);
  EXPECT_FALSE(s.torn_tail);
  EXPECT_NE(s.problem.find("invalid record"), std::string::npos);
  // The last record cut short: a torn tail, not damage.
  s = scan_journal(bytes.substr(0, bytes.size() - 1));
  EXPECT_EQ(s.records.size(), records.size() - 1);
  EXPECT_TRUE(s.torn_tail);
  EXPECT_FALSE(s.damaged);
  EXPECT_EQ(s.valid_bytes, starts.back());
}

TEST(JournalFormat, GarbageBetweenRecordsIsSkipped) {
  std::vector<std::size_t> starts;
  const std::string good = journal_of_bans(4, starts);
  // Garbage that looks like record headers (good lengths, bad CRCs) at every few bytes.
  std::string garbage;
  for (int i = 0; i < 25; ++i) garbage += std::string("\x30\x00\x00\x00\xde\xad", 6);
  garbage += "x";
  const std::string bytes = good.substr(0, starts[2]) + garbage + good.substr(starts[2]);
  const JournalScan s = scan_journal(bytes);
  ASSERT_EQ(s.records.size(), 4u);
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_EQ(s.records[i], ban_of(i));
  EXPECT_TRUE(s.damaged);
  EXPECT_FALSE(s.torn_tail);
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].offset, starts[2]);
  EXPECT_EQ(s.damage[0].bytes, garbage.size());
  EXPECT_EQ(s.valid_bytes, good.size());
}

TEST(JournalFormat, HugeLengthFieldIsSkipped) {
  std::vector<std::size_t> starts;
  std::string bytes = journal_of_bans(4, starts);
  put_u32(bytes, starts[0], 0xfffffff0u);
  const JournalScan s = scan_journal(bytes);
  ASSERT_EQ(s.records.size(), 3u);
  EXPECT_EQ(s.records[0], ban_of(1));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].offset, starts[0]);
  EXPECT_EQ(s.damage[0].bytes, starts[1] - starts[0]);
  EXPECT_EQ(s.damage[0].what, "bad record length 4294967280");
  // A length that is in range but too long swallows the next record's start: the scan finds it.
  bytes = journal_of_bans(4, starts);
  put_u32(bytes, starts[1], static_cast<std::uint32_t>(kPayloadMax));
  const JournalScan s2 = scan_journal(bytes);
  ASSERT_EQ(s2.records.size(), 3u);
  EXPECT_EQ(s2.records[1], ban_of(2));
  EXPECT_EQ(s2.damaged_bytes, starts[2] - starts[1]);
}

TEST(JournalFormat, TwoDamagedRegionsAndATornTail) {
  std::vector<std::size_t> starts;
  std::string bytes = journal_of_bans(10, starts);
  bytes[starts[2] + 30] ^= 0x01;
  bytes[starts[7] + 5] ^= 0x80;    // the CRC field
  bytes.resize(bytes.size() - 3);  // and the last record cut short
  const JournalScan s = scan_journal(bytes);
  ASSERT_EQ(s.records.size(), 7u);
  std::vector<JournalRecord> want;
  for (std::uint32_t i : {0, 1, 3, 4, 5, 6, 8}) want.push_back(ban_of(i));
  EXPECT_EQ(s.records, want);
  EXPECT_TRUE(s.damaged);
  EXPECT_TRUE(s.torn_tail);
  EXPECT_EQ(s.damaged_regions, 2u);
  ASSERT_EQ(s.damage.size(), 2u);
  EXPECT_EQ(s.damage[0].offset, starts[2]);
  EXPECT_EQ(s.damage[1].offset, starts[7]);
  EXPECT_EQ(s.damaged_bytes, 2 * (starts[1] - starts[0]));
  EXPECT_EQ(s.valid_bytes + s.damaged_bytes + (bytes.size() - starts[9]), bytes.size());
}

TEST(JournalFormat, ManyDamagedRegionsAreCountedAndTheFirstDescribed) {
  std::vector<std::size_t> starts;
  std::string bytes = journal_of_bans(40, starts);
  for (std::uint32_t i = 0; i < 40; i += 2) bytes[starts[i] + 12] ^= 0x01;
  const JournalScan s = scan_journal(bytes);
  EXPECT_EQ(s.records.size(), 20u);
  EXPECT_EQ(s.damaged_regions, 20u);
  EXPECT_EQ(s.damage.size(), JournalScan::kDamageDescribed);
  EXPECT_NE(s.problem.find("; more"), std::string::npos) << s.problem;
}

TEST(JournalFormat, DamagedHeaderWithRecordsIsAJournal) {
  std::vector<std::size_t> starts;
  std::string bytes = journal_of_bans(3, starts);
  bytes[2] ^= 0x20;  // "GHbANJ1\n"
  JournalScan s = scan_journal(bytes);
  EXPECT_EQ(s.header, JournalScan::Header::Damaged);
  EXPECT_EQ(s.records.size(), 3u);
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].offset, 0u);
  EXPECT_EQ(s.damage[0].bytes, kJournalMagic.size());
  EXPECT_EQ(s.valid_bytes, bytes.size() - kJournalMagic.size());
  // No record anywhere: someone else's file.
  s = scan_journal(std::string(1000, 'x'));
  EXPECT_EQ(s.header, JournalScan::Header::Foreign);
  EXPECT_TRUE(s.records.empty());
  EXPECT_FALSE(s.damaged);
}

// Bytes built to make the search work hardest: a plausible length at every fourth offset, so
// each of those costs a CRC over a whole record, and no record anywhere. Linear: at most one
// record check per byte (a quadratic scan would not finish within the test's time).
TEST(JournalFormat, HostileBytesScanInLinearTime) {
  std::string bytes(kJournalMagic);
  const char fake[4] = {static_cast<char>(kPayloadMax), 0, 0, 0};
  while (bytes.size() < (1u << 20)) bytes.append(fake, 4);
  const auto t0 = std::chrono::steady_clock::now();
  const JournalScan s = scan_journal(bytes);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_TRUE(s.records.empty());
  EXPECT_TRUE(s.damaged);
  EXPECT_EQ(s.damaged_bytes, bytes.size() - kJournalMagic.size());
  EXPECT_LT(ms, 60'000);  // about 40 MB of CRC: well under a second unsanitised
}

TEST(Journal, ReplayAfterCleanClose) {
  TempDir dir;
  const std::string path = dir.file("bans.journal");
  {
    auto t = table();
    const ReplayReport r = t->open_journal(path, JournalOptions{}, kT0);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.records, 0u);
    for (std::uint32_t i = 0; i < 100; ++i) t->ban(key(i), {600, 6000}, "r", "rule", kT0);
    t->ban(*client::parse_cidr("2001:db8::/32"), {kDay, kDay}, "v6", "manual", kT0);
    for (std::uint32_t i = 0; i < 100; i += 3) t->unban(key(i));
    t->unban(key(1), true);
    t->ban(key(7), {600, 6000}, "again", "rule", kT0 + 1);  // live: extends, no escalation
    EXPECT_EQ(t->stats().journal_errors, 0u);
    EXPECT_GT(t->stats().journal_records, 100u);
  }
  auto t = table();
  const ReplayReport r = t->open_journal(path, JournalOptions{}, kT0 + 10);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_FALSE(r.torn_tail);
  EXPECT_FALSE(r.rewritten);
  for (std::uint32_t i = 0; i < 100; ++i) {
    EXPECT_EQ(banned(*t, i, kT0 + 10), i % 3 != 0 && i != 1) << i;
  }
  EXPECT_TRUE(t->is_banned(*client::parse_ip("2001:db8:5::1"), kT0 + 10));
  EXPECT_EQ(t->is_banned(key(7).address, kT0 + 10)->reason.view(), "again");
  EXPECT_EQ(r.bans_live, t->stats().live);
  // Escalation history came back too: unbanned 0 still counts, forgotten 1 does not.
  EXPECT_EQ(t->next_level(key(0), kT0 + 10), 1);
  EXPECT_EQ(t->next_level(key(1), kT0 + 10), 0);
}

// Another node's ban, imported, is in this node's journal: a restart without Redis keeps it.
TEST(Journal, ImportedBansAreJournaled) {
  TempDir dir;
  const std::string path = dir.file("j");
  BanInfo theirs;
  theirs.key = *client::parse_cidr("198.51.100.0/24");
  theirs.start = kT0 - 5;
  theirs.expiry = kT0 + 600;
  theirs.level = 2;
  theirs.reason = ShortText<kReasonMax>::from("flood seen on edge-2");
  theirs.source = ShortText<kSourceMax>::from("signup-per-ip");
  {
    auto t = table();
    ASSERT_TRUE(t->open_journal(path, fast(), kT0).ok);
    ASSERT_TRUE(t->import(theirs, kT0));
    EXPECT_EQ(t->stats().journal_records, 1u);
    EXPECT_FALSE(t->import(theirs, kT0 + 1));  // the echo writes nothing
    EXPECT_EQ(t->stats().journal_records, 1u);
  }
  auto t = table();
  ASSERT_TRUE(t->open_journal(path, fast(), kT0 + 10).ok);
  const auto held = t->is_banned(*client::parse_ip("198.51.100.77"), kT0 + 10);
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, theirs);
}

TEST(Journal, ExpiredBansAreSkippedOnReplay) {
  TempDir dir;
  const std::string path = dir.file("j");
  {
    auto t = table();
    ASSERT_TRUE(t->open_journal(path, fast(), kT0).ok);
    t->ban(key(1), {10, 10}, "short", "r", kT0);
    t->ban(key(2), {1000, 1000}, "long", "r", kT0);
  }
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0 + 100);
  EXPECT_EQ(r.records, 2u);
  EXPECT_EQ(r.skipped_expired, 1u);
  EXPECT_EQ(r.bans_live, 1u);
  EXPECT_FALSE(banned(*t, 1, kT0 + 100));
  EXPECT_TRUE(banned(*t, 2, kT0 + 100));
  EXPECT_EQ(t->next_level(key(1), kT0 + 100), 1);  // but it still counts as an offence
}

// kill -9 in the middle of a write: the file ends anywhere inside its last record.
TEST(Journal, TornLastRecordAtEveryOffset) {
  TempDir dir;
  const std::string path = dir.file("j");
  constexpr std::uint32_t kBans = 20;
  {
    auto t = table();
    ASSERT_TRUE(t->open_journal(path, fast(), kT0).ok);
    for (std::uint32_t i = 0; i < kBans; ++i) t->ban(key(i), {kDay, kDay}, "reason", "rule", kT0);
  }
  const std::string whole = read_all(path);
  const JournalScan scan = scan_journal(whole);
  ASSERT_EQ(scan.records.size(), kBans);
  const std::size_t last = whole.size() - encoded_size(scan.records.back());
  const std::string cut_path = dir.file("cut");
  for (std::size_t cut = last; cut < whole.size(); ++cut) {
    write_all(cut_path, whole.substr(0, cut));
    auto t = table();
    const ReplayReport r = t->open_journal(cut_path, fast(), kT0);
    ASSERT_TRUE(r.ok) << cut << ": " << r.error;
    EXPECT_EQ(r.records, kBans - 1) << cut;
    EXPECT_EQ(r.torn_tail, cut > last) << cut;
    EXPECT_FALSE(r.damaged) << cut;
    EXPECT_FALSE(exists(cut_path + ".corrupt")) << cut;  // a cut write held nothing to keep
    EXPECT_EQ(r.rewritten, cut > last) << cut;
    EXPECT_EQ(r.warnings.size(), cut > last ? 1u : 0u) << cut;
    for (std::uint32_t i = 0; i + 1 < kBans; ++i) ASSERT_TRUE(banned(*t, i)) << cut << " " << i;
    EXPECT_FALSE(banned(*t, kBans - 1)) << cut;
    // The repaired file takes appends that replay.
    t->ban(key(999), {kDay, kDay}, "after", "rule", kT0);
    t.reset();
    auto again = table();
    const ReplayReport r2 = again->open_journal(cut_path, fast(), kT0);
    EXPECT_FALSE(r2.torn_tail) << cut;
    EXPECT_EQ(r2.bans_live, kBans) << cut;
    EXPECT_TRUE(banned(*again, 999)) << cut;
  }
  // A damaged (not cut) last record is skipped the same way, but it was whole: damage, kept in a
  // copy. Only the first flip (the length's low byte, 48 -> 49) makes it look cut short.
  for (std::size_t at = last; at < whole.size(); ++at) {
    std::string bad = whole;
    bad[at] ^= 0x01;
    write_all(cut_path, bad);
    auto t = table();
    const ReplayReport r = t->open_journal(cut_path, fast(), kT0);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.records, kBans - 1) << at;
    EXPECT_EQ(r.torn_tail, at == last) << at;
    EXPECT_EQ(r.damaged, at != last) << at;
    if (r.damaged) {
      EXPECT_EQ(read_all(r.damaged_copy), bad) << at;
    }
    EXPECT_TRUE(r.rewritten) << at;
  }
}

// Writes a journal of `n` bans through a table, as the server does; `starts` gets where each
// record starts.
std::string write_bans(const std::string& path, std::uint32_t n, std::vector<std::size_t>& starts) {
  {
    auto t = table();
    EXPECT_TRUE(t->open_journal(path, fast(), kT0).ok);
    for (std::uint32_t i = 0; i < n; ++i) t->ban(key(i), {kDay, kDay}, "reason", "rule", kT0);
  }
  const std::string bytes = read_all(path);
  std::size_t off = kJournalMagic.size();
  for (const JournalRecord& r : scan_journal(bytes).records) {
    starts.push_back(off);
    off += encoded_size(r);
  }
  EXPECT_EQ(starts.size(), n);
  return bytes;
}

// The rewritten file is clean and replays the bans `want` says, and nothing else of key(0..n).
void expect_clean_replay(const std::string& path, std::uint32_t n,
                         const std::function<bool(std::uint32_t)>& want) {
  const JournalScan scan = scan_journal(read_all(path));
  EXPECT_FALSE(scan.damaged);
  EXPECT_FALSE(scan.torn_tail);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
  for (std::uint32_t i = 0; i < n; ++i) EXPECT_EQ(banned(*t, i), want(i)) << i;
}

// Issue 11, finding 8: one flipped byte in the first record of a 4-ban journal lost all 4 bans,
// and the journal was rewritten empty.
TEST(Journal, FlippedByteInTheFirstRecordLosesOnlyThatRecord) {
  TempDir dir;
  const std::string path = dir.file("bans.journal");
  std::vector<std::size_t> starts;
  std::string bytes = write_bans(path, 4, starts);
  bytes[starts[0] + 20] ^= 0x01;  // the address
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.damaged);
  EXPECT_FALSE(r.torn_tail);
  EXPECT_EQ(r.records, 3u);
  EXPECT_EQ(r.bans_live, 3u);
  EXPECT_EQ(r.damaged_regions, 1u);
  EXPECT_EQ(r.damaged_bytes, starts[1] - starts[0]);
  EXPECT_EQ(r.valid_bytes, bytes.size() - r.damaged_bytes);
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_EQ(banned(*t, i), i != 0) << i;
  // The file as it was is kept, and the report says where and what was lost.
  EXPECT_EQ(r.damaged_copy, path + ".corrupt");
  EXPECT_EQ(read_all(path + ".corrupt"), bytes);
  ASSERT_EQ(r.warnings.size(), 1u);
  const std::string& w = r.warnings[0];
  EXPECT_NE(w.find("skipped " + std::to_string(r.damaged_bytes) + " bytes in 1 region"),
            std::string::npos)
      << w;
  EXPECT_NE(w.find("CRC mismatch at offset 8"), std::string::npos) << w;
  EXPECT_NE(w.find("recovered 3 records"), std::string::npos) << w;
  EXPECT_NE(w.find(path + ".corrupt"), std::string::npos) << w;
  // The rewritten journal holds the 3 and takes appends.
  EXPECT_TRUE(r.rewritten);
  t->ban(key(9), {kDay, kDay}, "after", "rule", kT0);
  EXPECT_EQ(t->stats().journal_errors, 0u);
  t.reset();
  expect_clean_replay(path, 10,
                      [](std::uint32_t i) { return i == 1 || i == 2 || i == 3 || i == 9; });
}

TEST(Journal, CorruptByteInTheMiddleIsSkipped) {
  TempDir dir;
  const std::string path = dir.file("j");
  std::vector<std::size_t> starts;
  std::string bytes = write_bans(path, 10, starts);
  bytes[starts[4] + 30] ^= 0x10;  // inside record 4
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.damaged);
  EXPECT_FALSE(r.torn_tail);
  EXPECT_EQ(r.records, 9u);
  EXPECT_EQ(r.damaged_bytes, starts[5] - starts[4]);
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(banned(*t, i), i != 4) << i;
  EXPECT_EQ(read_all(path + ".corrupt"), bytes);  // kept for inspection
  EXPECT_TRUE(r.rewritten);
  t.reset();
  expect_clean_replay(path, 10, [](std::uint32_t i) { return i != 4; });
}

TEST(Journal, GarbageInsertedBetweenRecordsIsSkipped) {
  TempDir dir;
  const std::string path = dir.file("j");
  std::vector<std::size_t> starts;
  const std::string good = write_bans(path, 4, starts);
  const std::string bytes =
      good.substr(0, starts[2]) + std::string(300, '\xee') + good.substr(starts[2]);
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.records, 4u);
  EXPECT_EQ(r.damaged_bytes, 300u);
  EXPECT_EQ(read_all(r.damaged_copy), bytes);
  t.reset();
  expect_clean_replay(path, 4, [](std::uint32_t) { return true; });
}

TEST(Journal, HugeLengthFieldIsSkipped) {
  TempDir dir;
  const std::string path = dir.file("j");
  std::vector<std::size_t> starts;
  std::string bytes = write_bans(path, 4, starts);
  put_u32(bytes, starts[0], 0xffffffffu);
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.records, 3u);
  EXPECT_TRUE(r.damaged);
  EXPECT_EQ(r.damaged_bytes, starts[1] - starts[0]);
  EXPECT_EQ(read_all(r.damaged_copy), bytes);
  t.reset();
  expect_clean_replay(path, 4, [](std::uint32_t i) { return i != 0; });
}

TEST(Journal, TwoDamagedRegionsAreBothSkipped) {
  TempDir dir;
  const std::string path = dir.file("j");
  std::vector<std::size_t> starts;
  std::string bytes = write_bans(path, 10, starts);
  bytes[starts[1] + 40] ^= 0x02;
  put_u32(bytes, starts[6], 7);  // a length below any record's
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.records, 8u);
  EXPECT_EQ(r.damaged_regions, 2u);
  EXPECT_EQ(r.damaged_bytes, (starts[2] - starts[1]) + (starts[7] - starts[6]));
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(banned(*t, i), i != 1 && i != 6) << i;
  EXPECT_EQ(read_all(r.damaged_copy), bytes);
  t.reset();
  expect_clean_replay(path, 10, [](std::uint32_t i) { return i != 1 && i != 6; });
}

// Damage and a cut write at the end: both skipped, the records between them replayed.
TEST(Journal, DamageAndATornTail) {
  TempDir dir;
  const std::string path = dir.file("j");
  std::vector<std::size_t> starts;
  std::string bytes = write_bans(path, 6, starts);
  bytes[starts[0] + 9] ^= 0x04;
  bytes.resize(starts[5] + 10);
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.damaged);
  EXPECT_TRUE(r.torn_tail);
  EXPECT_EQ(r.records, 4u);
  for (std::uint32_t i = 0; i < 6; ++i) EXPECT_EQ(banned(*t, i), i >= 1 && i <= 4) << i;
  EXPECT_EQ(read_all(r.damaged_copy), bytes);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("record cut short at offset " + std::to_string(starts[5])),
            std::string::npos)
      << r.warnings[0];
}

// Each damage gets its own copy: a second one never replaces the first.
TEST(Journal, SecondDamageKeepsTheFirstCopy) {
  TempDir dir;
  const std::string path = dir.file("j");
  std::vector<std::size_t> starts;
  std::string first = write_bans(path, 4, starts);
  first[starts[0] + 20] ^= 0x01;
  write_all(path, first);
  {
    auto t = table();
    const ReplayReport r = t->open_journal(path, fast(), kT0);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.damaged_copy, path + ".corrupt");
  }
  // The rewritten file holds bans 1, 2, 3 (in expiry order): damage its last-but-one record.
  std::string second = read_all(path);
  const JournalScan scan = scan_journal(second);
  ASSERT_EQ(scan.records.size(), 3u);
  second[kJournalMagic.size() + encoded_size(scan.records[0]) + 30] ^= 0x08;
  write_all(path, second);
  // Something else at the next name is not touched either.
  write_all(path + ".corrupt.1", "an operator's notes");
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.records, 2u);
  EXPECT_EQ(r.damaged_copy, path + ".corrupt.2");
  EXPECT_EQ(read_all(path + ".corrupt"), first);
  EXPECT_EQ(read_all(path + ".corrupt.1"), "an operator's notes");
  EXPECT_EQ(read_all(path + ".corrupt.2"), second);
  EXPECT_NE(r.warnings[0].find(path + ".corrupt.2"), std::string::npos) << r.warnings[0];
}

// Without a copy the rewrite would drop what could not be read: the file is left as it is.
TEST(Journal, NoCopyNoRewrite) {
  TempDir dir;
  // A name the journal fits in but "<name>.corrupt" does not (NAME_MAX is 255): the copy fails
  // whoever runs the test (permissions would not stop root).
  const std::string path = dir.file(std::string(250, 'j'));
  std::vector<std::size_t> starts;
  std::string bytes = write_bans(path, 4, starts);
  bytes[starts[1] + 20] ^= 0x01;
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("left untouched"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("cannot create a copy"), std::string::npos) << r.error;
  EXPECT_TRUE(r.damaged_copy.empty());
  EXPECT_EQ(read_all(path), bytes);
  EXPECT_FALSE(exists(path + ".tmp"));
  // The table still works, in memory only.
  EXPECT_TRUE(t->ban(key(1), {10, 10}, "r", "s", kT0).has_value());
  EXPECT_EQ(t->stats().journal_records, 0u);
}

// A flipped byte in the magic: the records are still ours, recovered like any other damage.
TEST(Journal, DamagedHeaderIsRecoveredWithACopy) {
  TempDir dir;
  const std::string path = dir.file("j");
  std::vector<std::size_t> starts;
  std::string bytes = write_bans(path, 4, starts);
  bytes[0] ^= 0x01;
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.damaged);
  EXPECT_EQ(r.records, 4u);
  EXPECT_EQ(r.damaged_bytes, kJournalMagic.size());
  EXPECT_NE(r.warnings[0].find("no journal header at offset 0"), std::string::npos)
      << r.warnings[0];
  EXPECT_EQ(read_all(r.damaged_copy), bytes);
  t.reset();
  expect_clean_replay(path, 4, [](std::uint32_t) { return true; });
}

TEST(Journal, LeftoverTempFileIsRemovedAndIgnored) {
  TempDir dir;
  const std::string path = dir.file("j");
  {
    auto t = table();
    ASSERT_TRUE(t->open_journal(path, fast(), kT0).ok);
    t->ban(key(1), {kDay, kDay}, "r", "s", kT0);
  }
  write_all(path + ".tmp", std::string(kJournalMagic) + "half a compaction");
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(exists(path + ".tmp"));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("unfinished compaction"), std::string::npos);
  EXPECT_TRUE(banned(*t, 1));
}

TEST(Journal, ForeignFileIsRefusedAndLeftUntouched) {
  TempDir dir;
  const std::string path = dir.file("j");
  write_all(path, "important: not ours\n");
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not a ban journal"), std::string::npos) << r.error;
  EXPECT_EQ(read_all(path), "important: not ours\n");
  EXPECT_FALSE(exists(path + ".corrupt"));
  // The table still works, in memory only.
  EXPECT_TRUE(t->ban(key(1), {10, 10}, "r", "s", kT0).has_value());
  EXPECT_EQ(t->stats().journal_records, 0u);
}

TEST(Journal, EmptyOrTornHeaderStartsFresh) {
  TempDir dir;
  for (const char* content : {"", "GHBA"}) {
    const std::string path = dir.file("j");
    write_all(path, content);
    auto t = table();
    const ReplayReport r = t->open_journal(path, fast(), kT0);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(read_all(path), std::string(kJournalMagic));
    t->ban(key(3), {kDay, kDay}, "r", "s", kT0);
    t.reset();
    auto again = table();
    ASSERT_TRUE(again->open_journal(path, fast(), kT0).ok);
    EXPECT_TRUE(banned(*again, 3));
  }
}

TEST(Journal, SecondOpenerIsLockedOut) {
  TempDir dir;
  const std::string path = dir.file("j");
  auto a = table();
  ASSERT_TRUE(a->open_journal(path, fast(), kT0).ok);
  auto b = table();
  const ReplayReport r = b->open_journal(path, fast(), kT0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("locked"), std::string::npos) << r.error;
}

TEST(Journal, CompactionShrinksTheFileAndKeepsTheState) {
  TempDir dir;
  const std::string path = dir.file("j");
  JournalOptions o = fast();
  o.compact_min_bytes = 4096;
  o.compact_factor = 2;
  std::uint64_t compactions = 0;
  {
    auto t = table();
    ASSERT_TRUE(t->open_journal(path, o, kT0).ok);
    for (std::uint32_t i = 0; i < 2000; ++i) {
      t->ban(key(i % 50), {kDay, kDay}, "r", "s", kT0);
      if (i < 1950) t->unban(key(i % 50));  // the last round stays banned
    }
    compactions = t->stats().compactions;
    EXPECT_GT(compactions, 0u);
    EXPECT_LT(t->stats().journal_bytes, 32'768u);
    EXPECT_EQ(t->stats().journal_errors, 0u);
    EXPECT_FALSE(exists(path + ".tmp"));
  }
  auto t = table();
  const ReplayReport r = t->open_journal(path, o, kT0);
  ASSERT_TRUE(r.ok);
  for (std::uint32_t i = 0; i < 50; ++i) {
    EXPECT_TRUE(banned(*t, i)) << i;
    EXPECT_EQ(t->is_banned(key(i).address, kT0)->level, 39) << i;  // the 40th ban in a row
  }
}

TEST(Journal, IntervalSyncAndMaintain) {
  TempDir dir;
  const std::string path = dir.file("j");
  JournalOptions o;
  o.sync = SyncPolicy::Interval;
  o.sync_interval_ms = 0;
  auto t = table();
  ASSERT_TRUE(t->open_journal(path, o, kT0).ok);
  t->ban(key(1), {10, 10}, "r", "s", kT0);
  t->maintain(kT0 + 20);  // expires it
  EXPECT_EQ(t->stats().live, 0u);
  EXPECT_EQ(t->stats().journal_errors, 0u);
  EXPECT_TRUE(t->compact(kT0 + 20));
  EXPECT_EQ(t->journal_error(), "");
}

// A child bans in a loop, acknowledging each ban over a pipe once ban() has returned, and is
// killed with SIGKILL at a random point (also during compactions, which run often here). Every
// acknowledged operation must replay; at most the one in flight may be missing or present.
TEST(JournalCrash, KillNineLosesNoAcknowledgedBan) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 4; ++round) {
    TempDir dir;
    const std::string path = dir.file("bans.journal");
    JournalOptions o;
    o.sync = round % 2 == 0 ? SyncPolicy::Never : SyncPolicy::EveryRecord;
    o.compact_min_bytes = 4096;
    o.compact_factor = 2;
    auto op_unbans = [](std::uint32_t i) { return i >= 50 && i % 2 == 0; };
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto t = BanTable::create(BansConfig{100'000, kDay, 0});
      if (!t->open_journal(path, o, kT0).ok) _exit(2);
      for (std::uint32_t i = 0; i < 200'000; ++i) {
        t->ban(key(i), {kDay, kDay}, "loop", "child", kT0);
        if (op_unbans(i)) t->unban(key(i - 50));
        if (::write(fds[1], &i, sizeof i) != sizeof i) _exit(3);
      }
      _exit(0);
    }
    ::close(fds[1]);
    const std::uint32_t target = 50 + rng() % 1500;
    std::int64_t acked = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (acked + 1 < target && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      std::uint32_t i = 0;
      if (::read(fds[0], &i, sizeof i) != sizeof i) break;
      acked = i;
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended on its own: " << status;
    std::uint32_t i = 0;
    while (::read(fds[0], &i, sizeof i) == sizeof i) acked = i;
    ::close(fds[0]);
    ASSERT_GE(acked, 0);

    auto t = table();
    const ReplayReport r = t->open_journal(path, fast(), kT0);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.damaged) << round;
    const auto done = static_cast<std::uint32_t>(acked) + 1;  // ops 0 .. done-1 returned
    for (std::uint32_t k = 0; k < done; ++k) {
      const bool unbanned = k + 50 < done && op_unbans(k + 50);
      if (k + 50 == done && op_unbans(done)) continue;  // the op in flight may unban it
      ASSERT_EQ(banned(*t, k), !unbanned) << "round " << round << " key " << k << " of " << done;
    }
    for (std::uint32_t k = done + 1; k < done + 10; ++k) EXPECT_FALSE(banned(*t, k));
  }
}

}  // namespace
}  // namespace gh::lists
