// The access log, JSON lines written off the hot path. A worker copies a fixed-size record into
// its own single-producer ring (no lock, no allocation, never waits); one writer thread drains
// the rings to the file with buffered writes. A full ring drops the record (counted). Under a
// flood, refused requests are sampled before they reach the ring, and the next line written for
// that worker says how many were left out ("skipped": n), so logging never becomes the
// bottleneck or fills the disk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "observe/jsonl.h"
#include "observe/observe-t.h"

namespace gh::observe {

// One request, plain data (copied into the ring with memcpy). Texts are cut to their size.
struct AccessRecord {
  std::int64_t at_ms = 0;         // wall clock
  std::uint8_t family = 0;        // 4, 6, or 0 when unknown
  std::uint8_t address[16] = {};  // network byte order; IPv4 in the first 4 bytes
  std::uint16_t status = 0;       // 0: closed without an answer
  Verdict verdict = Verdict::Passed;
  std::uint8_t client_class = 1;  // kClassNames index (policy::ClientClass)
  std::uint32_t duration_ms = 0;  // head received -> answer sent
  std::uint32_t upstream_ms = 0;  // upstream first byte; 0 when not sent upstream
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  FixedText<8> method;
  FixedText<48> route;
  FixedText<48> rule;  // the deciding limit / list / stage, empty when passed
  FixedText<256> path;
  FixedText<128> user_agent;
  bool has_device = false;      // a resident's device token: its id, for a revocation by device
  std::uint8_t device[16] = {};
};

struct AccessLogOptions {
  std::string path;                 // e.g. <state_dir>/access.jsonl
  std::size_t ring_records = 8192;  // per worker, rounded up to a power of two
  RotateOptions files{64 << 20, 4};
  // Sampling of refused requests (verdict != passed), per worker and wall-clock second: the
  // first `refusals_keep_per_s` are all logged, after that one in `refusals_sample_one_in`.
  std::uint32_t refusals_keep_per_s = 200;
  std::uint32_t refusals_sample_one_in = 100;
  std::size_t write_buffer = 64 * 1024;  // the writer flushes at this size or when idle
  std::uint32_t poll_ms = 50;            // the writer's sleep when every ring is empty
};

struct AccessLogStats {
  std::uint64_t written = 0;      // lines written
  std::uint64_t dropped = 0;      // a ring was full
  std::uint64_t sampled_out = 0;  // refused requests left out by sampling
  std::uint64_t write_errors = 0;
  std::uint64_t rotations = 0;
};

// {"time", "client", "method", "route", "path", "status", "verdict", "rule"?, "class", "device"?,
//  "bytes_in", "bytes_out", "duration_ms", "upstream_ms", "ua", "skipped"? , "dropped"?}
std::string format_access_line(const AccessRecord& r, std::uint64_t skipped, std::uint64_t dropped);

class AccessLog {
 public:
  // Opens the file and starts the writer thread. Nullptr when the file cannot be opened.
  static std::unique_ptr<AccessLog> open(AccessLogOptions options, std::size_t workers,
                                         std::string* error);
  ~AccessLog();  // drains the rings, writes, stops the writer
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Worker `worker` only (one producer per ring). Never blocks or allocates. False when the
  // record was sampled out or dropped.
  bool log(std::size_t worker, const AccessRecord& record);

  // Asks the writer to close and reopen the file (after logrotate moved it).
  void reopen();
  // Waits until what was logged before the call is written (tests, shutdown).
  void flush();
  AccessLogStats stats() const;

 private:
  struct alignas(64) Ring {
    explicit Ring(std::size_t size) : records(new AccessRecord[size]), mask(size - 1) {}
    std::unique_ptr<AccessRecord[]> records;
    std::size_t mask;
    alignas(64) std::atomic<std::uint64_t> head{0};  // written by the worker
    alignas(64) std::atomic<std::uint64_t> tail{0};  // written by the writer
    // Worker-only state (sampling), plus counters the writer reads.
    alignas(64) std::int64_t second = INT64_MIN;
    std::uint32_t refusals_this_second = 0;
    std::uint64_t skipped_pending = 0;  // sampled out since the last record queued
    std::uint64_t dropped_pending = 0;  // dropped since the last record queued
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> sampled_out{0};
    // Carried in the ring beside each record: what was left out before it.
    std::unique_ptr<std::uint64_t[]> skipped_before;
    std::unique_ptr<std::uint64_t[]> dropped_before;
  };

  AccessLog(AccessLogOptions options, std::size_t workers);
  void run();
  bool drain(std::string& buffer);  // true when something was taken
  void write(std::string& buffer);

  AccessLogOptions options_;
  JsonlFile file_;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::thread writer_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reopen_{false};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::atomic<std::uint64_t> rotations_{0};
  std::atomic<std::uint64_t> flush_requests_{0};
  std::atomic<std::uint64_t> flushes_done_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
};

}  // namespace gh::observe
