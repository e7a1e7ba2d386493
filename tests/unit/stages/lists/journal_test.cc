// The ban journal: format, replay, damage at the tail and in the middle, compaction, kill -9.
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

TEST(JournalFormat, RecordsRoundTripByteForByte) {
  std::string bytes(kJournalMagic);
  const auto records = sample_records();
  for (const auto& r : records) encode_record(r, bytes);
  const JournalScan s = scan_journal(bytes);
  EXPECT_EQ(s.header, JournalScan::Header::Ok);
  EXPECT_EQ(s.records, records);
  EXPECT_EQ(s.valid_bytes, bytes.size());
  EXPECT_FALSE(s.torn_tail);
  EXPECT_FALSE(s.corrupt_middle);
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
  for (const auto& r : records) encode_record(r, bytes);
  // Zeros after the last record: a file extended before its data reached the disk.
  JournalScan s = scan_journal(bytes + std::string(4096, '\0'));
  EXPECT_EQ(s.records.size(), records.size());
  EXPECT_TRUE(s.torn_tail);
  EXPECT_FALSE(s.corrupt_middle);
  // A flipped byte in the first record, with more after it.
  std::string bad = bytes;
  bad[kJournalMagic.size() + 20] ^= 0x40;
  s = scan_journal(bad);
  EXPECT_EQ(s.records.size(), 0u);
  EXPECT_TRUE(s.corrupt_middle);
  EXPECT_EQ(s.valid_bytes, kJournalMagic.size());
  EXPECT_NE(s.problem.find("CRC mismatch at offset 8"), std::string::npos) << s.problem;
  // A record with a valid CRC but host bits set is not canonical: refused as well.
  std::string nc(kJournalMagic);
  JournalRecord r = ban_record("10.0.0.0/8", 1, 2, 0, "", "");
  r.ban.key.address.bytes[13] = 1;
  encode_record(r, nc);
  s = scan_journal(nc);
  EXPECT_EQ(s.records.size(), 0u);
  EXPECT_TRUE(s.torn_tail);  // it is the last record
  EXPECT_NE(s.problem.find("invalid record"), std::string::npos);
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
    EXPECT_FALSE(r.corrupt_middle) << cut;
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
  // A damaged (not cut) last record is skipped the same way.
  for (std::size_t at = last; at < whole.size(); ++at) {
    std::string bad = whole;
    bad[at] ^= 0x01;
    write_all(cut_path, bad);
    auto t = table();
    const ReplayReport r = t->open_journal(cut_path, fast(), kT0);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.records, kBans - 1) << at;
    EXPECT_TRUE(r.torn_tail) << at;
  }
}

TEST(Journal, CorruptByteInTheMiddleStopsReplayThere) {
  TempDir dir;
  const std::string path = dir.file("j");
  {
    auto t = table();
    ASSERT_TRUE(t->open_journal(path, fast(), kT0).ok);
    for (std::uint32_t i = 0; i < 10; ++i) t->ban(key(i), {kDay, kDay}, "reason", "rule", kT0);
  }
  std::string bytes = read_all(path);
  const JournalScan scan = scan_journal(bytes);
  std::size_t off = kJournalMagic.size();
  for (int i = 0; i < 4; ++i) off += encoded_size(scan.records[static_cast<std::size_t>(i)]);
  bytes[off + 30] ^= 0x10;  // inside record 4
  write_all(path, bytes);
  auto t = table();
  const ReplayReport r = t->open_journal(path, fast(), kT0);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.corrupt_middle);
  EXPECT_FALSE(r.torn_tail);
  EXPECT_EQ(r.records, 4u);
  EXPECT_EQ(r.valid_bytes, off);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("not trusted"), std::string::npos) << r.warnings[0];
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(banned(*t, i), i < 4) << i;
  EXPECT_EQ(read_all(path + ".corrupt"), bytes);  // kept for inspection
  EXPECT_TRUE(r.rewritten);
  t.reset();
  auto again = table();
  const ReplayReport r2 = again->open_journal(path, fast(), kT0);
  EXPECT_TRUE(r2.warnings.empty());
  EXPECT_EQ(r2.bans_live, 4u);
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
    EXPECT_FALSE(r.corrupt_middle) << round;
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
