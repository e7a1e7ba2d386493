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
  if (bytes.size() < kJournalMagic.size() ||
      bytes.substr(0, kJournalMagic.size()) != kJournalMagic) {
    s.header = bytes.size() < kJournalMagic.size() && kJournalMagic.starts_with(bytes)
                   ? JournalScan::Header::Torn
                   : JournalScan::Header::Foreign;
    return s;
  }
  s.header = JournalScan::Header::Ok;
  std::size_t off = kJournalMagic.size();
  const auto* base = reinterpret_cast<const std::uint8_t*>(bytes.data());
  // A bad record that ends the file is a write cut short (or a damaged last record); one with
  // bytes after it is damage in the middle. Zeros to the end are a cut write too: some file
  // systems extend a file before the data reaches the disk.
  auto stop = [&](const std::string& what, bool reaches_end) {
    const std::string_view rest = bytes.substr(off);
    s.torn_tail = reaches_end || all_zero(rest);
    s.corrupt_middle = !s.torn_tail;
    s.problem = what + " at offset " + std::to_string(off);
  };
  while (off < bytes.size()) {
    const std::size_t rest = bytes.size() - off;
    if (rest < kRecordHeader) {
      stop("record header cut short", true);
      break;
    }
    const std::uint32_t len = get_u32(base + off);
    if (len < kPayloadMin || len > kPayloadMax) {
      stop("bad record length " + std::to_string(len), rest <= kRecordMax);
      break;
    }
    if (kRecordHeader + len > rest) {
      stop("record cut short", true);
      break;
    }
    const std::uint8_t* p = base + off + kRecordHeader;
    const bool whole = kRecordHeader + len == rest;
    if (crc32(p, len, crc32(base + off, 4)) != get_u32(base + off + 4)) {
      stop("CRC mismatch", whole);
      break;
    }
    JournalRecord r;
    if (!decode(p, len, r)) {
      stop("invalid record", whole);
      break;
    }
    s.records.push_back(r);
    off += kRecordHeader + len;
  }
  s.valid_bytes = s.torn_tail || s.corrupt_middle ? off : bytes.size();
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
      report.error = path + ": not a ban journal (no " + "GHBANJ1 header); left untouched";
      return nullptr;
    case JournalScan::Header::Empty:
    case JournalScan::Header::Torn:
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
      break;
  }
  j->bytes_ = bytes.size();
  report.valid_bytes = scan.valid_bytes;
  report.records = scan.records.size();
  report.torn_tail = scan.torn_tail;
  report.corrupt_middle = scan.corrupt_middle;
  if (scan.torn_tail) {
    report.warnings.push_back(path + ": last record damaged or cut short (" + scan.problem +
                              "); skipped");
    j->needs_rewrite_ = true;
  }
  if (scan.corrupt_middle) {
    const std::string copy = path + ".corrupt";
    std::string note;
    const int cfd = ::open(copy.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (cfd >= 0 && write_all(cfd, bytes.data(), bytes.size())) {
      note = "the file was copied to " + copy;
    } else {
      note = "could not copy it to " + copy;
    }
    if (cfd >= 0) ::close(cfd);
    report.warnings.push_back(path + ": corrupt record (" + scan.problem + "); replay stopped, " +
                              std::to_string(bytes.size() - scan.valid_bytes) +
                              " bytes after it are not trusted; " + note);
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
    // A partial record would hide every later one from replay: cut it off.
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
  const int dfd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
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
