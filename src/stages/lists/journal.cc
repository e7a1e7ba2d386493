#include "stages/lists/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/clock.h"
#include "stages/lists/crc32.h"
#include "stages/lists/key128.h"

namespace gh::lists {
namespace {

constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void put_i64(std::uint8_t* p, std::int64_t s) {
  const auto v = static_cast<std::uint64_t>(s);
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

std::int64_t get_i64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return static_cast<std::int64_t>(v);
}

// Writes the whole record into out[0 .. kRecordMax) and returns its size.
std::size_t encode(const JournalRecord& r, std::uint8_t* out) {
  std::uint8_t* p = out + kRecordHeader;
  const BanInfo& b = r.ban;
  p[0] = static_cast<std::uint8_t>(r.type);
  p[1] = b.key.address.is_v4 ? 4 : 6;
  p[2] = b.key.prefix_len;
  p[3] = b.level;
  std::memcpy(p + 4, b.key.address.bytes.data(), 16);
  put_i64(p + 20, b.start);
  put_i64(p + 28, b.expiry);
  std::size_t n = 36;
  const std::size_t rs = b.reason.size < kReasonMax ? b.reason.size : kReasonMax;
  p[n++] = static_cast<std::uint8_t>(rs);
  std::memcpy(p + n, b.reason.bytes.data(), rs);
  n += rs;
  const std::size_t ss = b.source.size < kSourceMax ? b.source.size : kSourceMax;
  p[n++] = static_cast<std::uint8_t>(ss);
  std::memcpy(p + n, b.source.bytes.data(), ss);
  n += ss;
  put_u32(out, static_cast<std::uint32_t>(n));
  put_u32(out + 4, crc32(p, n, crc32(out, 4)));
  return kRecordHeader + n;
}

bool printable(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] < 0x20 || p[i] == 0x7f) return false;
  }
  return true;
}

template <std::size_t Cap>
bool read_text(const std::uint8_t* p, std::size_t avail, std::size_t& used, ShortText<Cap>& out) {
  if (avail < 1 || p[0] > Cap || avail < 1u + p[0] || !printable(p + 1, p[0])) return false;
  out.size = p[0];
  std::memcpy(out.bytes.data(), p + 1, p[0]);
  used = 1u + p[0];
  return true;
}

// Accepts exactly what encode() produces from a record BanTable would write, so that a decoded
// record encodes back to the same bytes.
bool decode(const std::uint8_t* p, std::size_t n, JournalRecord& r) {
  if (n < kPayloadMin || n > kPayloadMax || p[0] < 1 || p[0] > 4) return false;
  r = JournalRecord{};
  r.type = static_cast<RecordType>(p[0]);
  BanInfo& b = r.ban;
  b.key.prefix_len = p[2];
  std::memcpy(b.key.address.bytes.data(), p + 4, 16);
  if (p[1] == 4) {
    if (std::memcmp(p + 4, kMapped, 12) != 0) return false;
    b.key.address.is_v4 = true;
  } else if (p[1] != 6) {
    return false;
  }
  const auto key = to_prefix128(b.key);
  if (!key || to_cidr(*key) != b.key) return false;  // host bits set, or IPv4 spelt as IPv6
  b.level = p[3];
  b.start = get_i64(p + 20);
  b.expiry = get_i64(p + 28);
  std::size_t off = 36;
  std::size_t used = 0;
  if (!read_text(p + off, n - off, used, b.reason)) return false;
  off += used;
  if (!read_text(p + off, n - off, used, b.source)) return false;
  off += used;
  if (off != n) return false;
  switch (r.type) {
    case RecordType::Ban:
      return b.expiry > b.start;
    case RecordType::Unban:
    case RecordType::Forget:
      return b.start == 0 && b.expiry == 0 && b.level == 0 && b.reason.size == 0 &&
             b.source.size == 0;
    case RecordType::History:
      return b.expiry == 0 && b.level > 0 && b.reason.size == 0 && b.source.size == 0;
  }
  return false;
}

bool all_zero(std::string_view s) {
  for (char c : s) {
    if (c != 0) return false;
  }
  return true;
}

bool write_all(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::generic_category().message(errno);
}

std::string dir_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool read_file(int fd, std::string& out) {
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return true;
    } else if (errno != EINTR) {
      return false;
    }
  }
}

// Why the bytes at an offset are not a record.
enum class Bad : std::uint8_t { None, HeaderCut, Length, Cut, Crc, Invalid };

std::string bad_text(Bad bad, std::uint32_t len) {
  switch (bad) {
    case Bad::None:
      break;
    case Bad::HeaderCut:
      return "record header cut short";
    case Bad::Length:
      return "bad record length " + std::to_string(len);
    case Bad::Cut:
      return "record cut short";
    case Bad::Crc:
      return "CRC mismatch";
    case Bad::Invalid:
      return "invalid record";
  }
  return "record";
}

// Reads the record at `off`: None when a whole, canonical record with a valid CRC starts there
// (then `r` holds it and `len` its payload length). At most one CRC over kRecordMax bytes.
Bad read_record(const std::uint8_t* base, std::size_t size, std::size_t off, JournalRecord& r,
                std::uint32_t& len) {
  const std::size_t rest = size - off;
  if (rest < kRecordHeader) return Bad::HeaderCut;
  len = get_u32(base + off);
  if (len < kPayloadMin || len > kPayloadMax) return Bad::Length;
  if (kRecordHeader + len > rest) return Bad::Cut;
  const std::uint8_t* p = base + off + kRecordHeader;
  if (crc32(p, len, crc32(base + off, 4)) != get_u32(base + off + 4)) return Bad::Crc;
  if (!decode(p, len, r)) return Bad::Invalid;
  return Bad::None;
}

void sync_dir(const std::string& path) {
  const int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// Enough numbered copies for any operator; past that, something is wrong enough to stop.
constexpr int kCopiesMax = 1000;

// Writes `bytes` to the first free name of "<path>.corrupt", "<path>.corrupt.1", ... and makes
// it durable before the caller replaces the original. O_EXCL: an earlier copy (of an earlier
// damage) is never overwritten, nor a file or link an attacker put at that name followed.
bool keep_copy(const std::string& path, std::string_view bytes, std::string& copy,
               std::string& error) {
  for (int i = 0; i < kCopiesMax; ++i) {
    copy = path + ".corrupt" + (i == 0 ? "" : "." + std::to_string(i));
    const int fd = ::open(copy.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) {
      error = errno_text("cannot create a copy at " + copy);
      return false;
    }
    const bool ok = write_all(fd, bytes.data(), bytes.size()) && ::fsync(fd) == 0;
    if (!ok) error = errno_text("cannot write a copy at " + copy);
    ::close(fd);
    if (!ok) {
      ::unlink(copy.c_str());
      return false;
    }
    sync_dir(copy);
    return true;
  }
  error = "no free name for a copy (" + path + ".corrupt to .corrupt." +
          std::to_string(kCopiesMax - 1) + " exist)";
  return false;
}

}  // namespace

void encode_record(const JournalRecord& record, std::string& out) {
  std::uint8_t buf[kRecordMax];
  const std::size_t n = encode(record, buf);
  out.append(reinterpret_cast<const char*>(buf), n);
}

std::size_t encoded_size(const JournalRecord& record) noexcept {
  const std::size_t rs = record.ban.reason.size < kReasonMax ? record.ban.reason.size : kReasonMax;
  const std::size_t ss = record.ban.source.size < kSourceMax ? record.ban.source.size : kSourceMax;
  return kRecordHeader + kPayloadMin + rs + ss;
}

JournalScan scan_journal(std::string_view bytes) {
  JournalScan s;
  if (bytes.empty()) return s;
  const auto* base = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t size = bytes.size();
  std::size_t off = 0;
  if (bytes.starts_with(kJournalMagic)) {
    s.header = JournalScan::Header::Ok;
    off = s.valid_bytes = kJournalMagic.size();
  } else if (size < kJournalMagic.size() && kJournalMagic.starts_with(bytes)) {
    s.header = JournalScan::Header::Torn;
    return s;
  } else {
    s.header = JournalScan::Header::Foreign;  // unless records turn up below
  }
  auto describe = [&](std::size_t at, std::size_t n, const std::string& what) {
    if (!s.problem.empty()) s.problem += "; ";
    s.problem += what + " at offset " + std::to_string(at) + " (" + std::to_string(n) + " bytes)";
  };
  auto damaged = [&](std::size_t at, std::size_t n, std::string what) {
    s.damaged = true;
    ++s.damaged_regions;
    s.damaged_bytes += n;
    if (s.damage.size() < JournalScan::kDamageDescribed) {
      describe(at, n, what);
      s.damage.push_back({at, n, std::move(what)});
    } else if (s.damaged_regions == JournalScan::kDamageDescribed + 1) {
      s.problem += "; more";
    }
  };
  JournalRecord r;
  std::uint32_t len = 0;
  if (s.header == JournalScan::Header::Foreign) {
    // Records somewhere in it: our journal with its start damaged. None: someone else's file.
    std::size_t first = 0;
    while (first < size && read_record(base, size, first, r, len) != Bad::None) ++first;
    if (first == size) return s;
    s.header = JournalScan::Header::Damaged;
    damaged(0, first, "no journal header");
    off = first;
  }
  while (off < size) {
    const Bad bad = read_record(base, size, off, r, len);
    if (bad == Bad::None) {
      s.records.push_back(r);
      off += kRecordHeader + len;
      s.valid_bytes += kRecordHeader + len;
      continue;
    }
    const std::string what = bad_text(bad, len);
    // Resynchronise on the next whole valid record. Searches never overlap (the next one starts
    // past this one's end), so the scan costs at most one record check per byte.
    std::size_t next = off + 1;
    while (next < size && read_record(base, size, next, r, len) != Bad::None) ++next;
    if (next < size) {
      damaged(off, next - off, what);
      off = next;
      continue;
    }
    // Nothing readable to the end. What a cut write leaves is a torn tail; anything else (a
    // whole record that fails its check, garbage) is damage.
    if (bad == Bad::HeaderCut || bad == Bad::Cut || all_zero(bytes.substr(off))) {
      s.torn_tail = true;
      describe(off, size - off, what);
    } else {
      damaged(off, size - off, what);
    }
    break;
  }
  return s;
}

Journal::Journal(std::string path, const JournalOptions& options)
    : path_(std::move(path)), options_(options) {}

Journal::~Journal() {
  if (fd_ >= 0) {
    if (dirty_ && options_.sync != SyncPolicy::Never) ::fdatasync(fd_);
    ::close(fd_);
  }
}

bool Journal::fail(const std::string& what) {
  last_error_ = path_ + ": " + what;
  return false;
}

std::unique_ptr<Journal> Journal::open(const std::string& path, const JournalOptions& options,
                                       std::vector<JournalRecord>& records, ReplayReport& report) {
  records.clear();
  report = ReplayReport{};
  std::unique_ptr<Journal> j(new Journal(path, options));
  const std::string tmp = path + ".tmp";
  if (::unlink(tmp.c_str()) == 0) {
    report.warnings.push_back(tmp + ": removed an unfinished compaction (" + path + " is whole)");
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT) {
    report.error = path + ": " + errno_text("cannot open");
    return nullptr;
  }
  if (fd < 0) {
    if (!j->rewrite({})) {
      report.error = j->last_error();
      return nullptr;
    }
    report.ok = true;
    report.file_bytes = report.valid_bytes = j->bytes_;
    return j;
  }
  j->fd_ = fd;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    report.error = path + ": " + errno_text("locked by another process");
    return nullptr;
  }
  std::string bytes;
  if (!read_file(fd, bytes)) {
    report.error = path + ": " + errno_text("cannot read");
    return nullptr;
  }
  JournalScan scan = scan_journal(bytes);
  report.file_bytes = bytes.size();
  switch (scan.header) {
    case JournalScan::Header::Foreign:
      // Maybe someone's file, named by mistake in the config: never written over.
      report.error = path +
                     ": not a ban journal (no GHBANJ1 header and no readable record); left "
                     "untouched";
      return nullptr;
    case JournalScan::Header::Empty:
    case JournalScan::Header::Torn:
      // The bytes are at most a prefix of the magic, which the new file starts with: no copy.
      if (scan.header == JournalScan::Header::Torn) {
        report.warnings.push_back(path + ": header cut short; starting empty");
      }
      if (!j->rewrite({})) {
        report.error = j->last_error();
        return nullptr;
      }
      report.ok = true;
      report.valid_bytes = 0;
      return j;
    case JournalScan::Header::Ok:
    case JournalScan::Header::Damaged:
      break;
  }
  j->bytes_ = bytes.size();
  report.valid_bytes = scan.valid_bytes;
  report.records = scan.records.size();
  report.torn_tail = scan.torn_tail;
  report.damaged = scan.damaged;
  report.damaged_regions = scan.damaged_regions;
  report.damaged_bytes = scan.damaged_bytes;
  if (scan.damaged) {
    // The rewrite that must follow drops what could not be read: keep it first, or touch nothing.
    std::string error;
    if (!keep_copy(path, bytes, report.damaged_copy, error)) {
      report.error = path + ": damaged (" + scan.problem + "); " + error +
                     "; left untouched, since rewriting it would drop what could not be read";
      report.damaged_copy.clear();
      return nullptr;
    }
    report.warnings.push_back(path + ": damaged: skipped " + std::to_string(scan.damaged_bytes) +
                              " bytes in " + std::to_string(scan.damaged_regions) + " region(s) (" +
                              scan.problem + "); recovered " + std::to_string(scan.records.size()) +
                              " records before and after; the file as it was is in " +
                              report.damaged_copy);
    j->needs_rewrite_ = true;
  } else if (scan.torn_tail) {
    report.warnings.push_back(path + ": last record cut short (" + scan.problem + "); skipped");
    j->needs_rewrite_ = true;
  }
  records = std::move(scan.records);
  report.ok = true;
  return j;
}

bool Journal::append(const JournalRecord& record) {
  if (fd_ < 0 || needs_rewrite_) return fail("damaged; appends wait for a rewrite");
  std::uint8_t buf[kRecordMax];
  const std::size_t n = encode(record, buf);
  if (!write_all(fd_, buf, n)) {
    const std::string what = errno_text("write");
    // A partial record would read as damage at the next replay (and cost a copy): cut it off.
    if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) needs_rewrite_ = true;
    return fail(what);
  }
  bytes_ += n;
  dirty_ = true;
  switch (options_.sync) {
    case SyncPolicy::EveryRecord:
      return sync();
    case SyncPolicy::Interval:
      sync_if_due();
      return !needs_rewrite_;
    case SyncPolicy::Never:
      break;
  }
  return true;
}

bool Journal::sync() {
  if (!dirty_ || fd_ < 0) return true;
  if (::fdatasync(fd_) != 0) {
    // After a failed fsync the kernel may have dropped the dirty pages: rewrite to be sure.
    needs_rewrite_ = true;
    return fail(errno_text("fdatasync"));
  }
  dirty_ = false;
  last_sync_ms_ = core::monotonic_ms();
  return true;
}

void Journal::sync_if_due() {
  if (dirty_ && core::monotonic_ms() - last_sync_ms_ >= options_.sync_interval_ms) sync();
}

bool Journal::rewrite(std::span<const JournalRecord> records) {
  const std::string tmp = path_ + ".tmp";
  const int tfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (tfd < 0) return fail(errno_text("cannot create " + tmp));
  std::string buf(kJournalMagic);
  bool ok = true;
  std::uint64_t total = 0;
  for (std::size_t i = 0; ok && i <= records.size(); ++i) {
    if (i < records.size()) encode_record(records[i], buf);
    if (buf.size() >= (1u << 20) || (i == records.size() && !buf.empty())) {
      ok = write_all(tfd, buf.data(), buf.size());
      total += buf.size();
      buf.clear();
    }
  }
  std::string what;
  if (!ok) what = errno_text("write " + tmp);
  if (ok && ::fsync(tfd) != 0) {
    ok = false;
    what = errno_text("fsync " + tmp);
  }
  ::close(tfd);
  if (ok && ::rename(tmp.c_str(), path_.c_str()) != 0) {
    ok = false;
    what = errno_text("rename " + tmp);
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return fail(what);
  }
  // The rename is durable once the directory is: until then a crash may bring the old file
  // back, which is whole too.
  sync_dir(path_);
  const int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    needs_rewrite_ = true;
    return fail(errno_text("cannot reopen"));
  }
  ::flock(fd, LOCK_EX | LOCK_NB);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  bytes_ = total;
  dirty_ = false;
  needs_rewrite_ = false;
  last_sync_ms_ = core::monotonic_ms();
  return true;
}

}  // namespace gh::lists
