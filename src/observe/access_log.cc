#include "observe/access_log.h"

#include <arpa/inet.h>

#include <bit>
#include <chrono>
#include <cstring>

namespace gh::observe {

using nlohmann::json;

std::string format_access_line(const AccessRecord& r, std::uint64_t skipped,
                               std::uint64_t dropped) {
  char addr[INET6_ADDRSTRLEN] = "";
  if (r.family == 4) {
    ::inet_ntop(AF_INET, r.address, addr, sizeof addr);
  } else if (r.family == 6) {
    ::inet_ntop(AF_INET6, r.address, addr, sizeof addr);
  }
  const std::size_t cls = r.client_class < kClasses ? r.client_class : 1;
  const std::size_t verdict =
      static_cast<std::size_t>(r.verdict) < kVerdicts ? static_cast<std::size_t>(r.verdict) : 0;
  json j = {
      {"time", format_time(r.at_ms)},      {"client", addr},        {"method", r.method.view()},
      {"route", r.route.view()},           {"path", r.path.view()}, {"status", r.status},
      {"verdict", kVerdictNames[verdict]},
  };
  if (r.rule.size > 0) j["rule"] = r.rule.view();
  j["class"] = kClassNames[cls];
  if (r.has_device) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (std::uint8_t b : r.device) {
      id += kHex[b >> 4];
      id += kHex[b & 15];
    }
    j["device"] = id;
  }
  j["bytes_in"] = r.bytes_in;
  j["bytes_out"] = r.bytes_out;
  j["duration_ms"] = r.duration_ms;
  j["upstream_ms"] = r.upstream_ms;
  j["ua"] = r.user_agent.view();
  if (skipped > 0) j["skipped"] = skipped;
  if (dropped > 0) j["dropped"] = dropped;
  return dump_line(j);
}

AccessLog::AccessLog(AccessLogOptions options, std::size_t workers)
    : options_(std::move(options)), file_(options_.path, options_.files) {
  std::size_t size = std::bit_ceil(std::max<std::size_t>(options_.ring_records, 2));
  for (std::size_t i = 0; i < std::max<std::size_t>(workers, 1); ++i) {
    auto ring = std::make_unique<Ring>(size);
    ring->skipped_before.reset(new std::uint64_t[size]());
    ring->dropped_before.reset(new std::uint64_t[size]());
    rings_.push_back(std::move(ring));
  }
}

std::unique_ptr<AccessLog> AccessLog::open(AccessLogOptions options, std::size_t workers,
                                           std::string* error) {
  std::unique_ptr<AccessLog> log(new AccessLog(std::move(options), workers));
  if (!log->file_.open()) {
    if (error != nullptr) *error = log->file_.last_error();
    return nullptr;
  }
  log->writer_ = std::thread([p = log.get()] { p->run(); });
  return log;
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

bool AccessLog::log(std::size_t worker, const AccessRecord& record) {
  Ring& r = *rings_[worker < rings_.size() ? worker : worker % rings_.size()];
  if (record.verdict != Verdict::Passed) {
    // Floor division: the second the record belongs to, without a clock call.
    const std::int64_t second =
        record.at_ms >= 0 ? record.at_ms / 1000 : -((-record.at_ms + 999) / 1000);
    if (second != r.second) {
      r.second = second;
      r.refusals_this_second = 0;
    }
    if (r.refusals_this_second < UINT32_MAX) ++r.refusals_this_second;
    if (r.refusals_this_second > options_.refusals_keep_per_s) {
      const std::uint32_t over = r.refusals_this_second - options_.refusals_keep_per_s;
      const std::uint32_t m = options_.refusals_sample_one_in;
      if (m == 0 || over % m != 0) {
        ++r.skipped_pending;
        r.sampled_out.store(r.sampled_out.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
        return false;
      }
    }
  }
  const std::uint64_t head = r.head.load(std::memory_order_relaxed);
  const std::uint64_t tail = r.tail.load(std::memory_order_acquire);
  if (head - tail > r.mask) {
    ++r.dropped_pending;
    r.dropped.store(r.dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return false;
  }
  const std::size_t i = head & r.mask;
  std::memcpy(static_cast<void*>(&r.records[i]), &record, sizeof record);
  r.skipped_before[i] = r.skipped_pending;
  r.dropped_before[i] = r.dropped_pending;
  r.skipped_pending = 0;
  r.dropped_pending = 0;
  r.head.store(head + 1, std::memory_order_release);
  return true;
}

bool AccessLog::drain(std::string& buffer) {
  bool any = false;
  for (auto& ring : rings_) {
    Ring& r = *ring;
    std::uint64_t tail = r.tail.load(std::memory_order_relaxed);
    const std::uint64_t head = r.head.load(std::memory_order_acquire);
    // A bounded batch per ring per pass, so one busy worker cannot starve the others.
    const std::uint64_t end = std::min(head, tail + 1024);
    for (; tail < end && buffer.size() < options_.write_buffer; ++tail) {
      const std::size_t i = tail & r.mask;
      buffer += format_access_line(r.records[i], r.skipped_before[i], r.dropped_before[i]);
      buffer += '\n';
      written_.fetch_add(1, std::memory_order_relaxed);
      any = true;
    }
    r.tail.store(tail, std::memory_order_release);
  }
  return any;
}

void AccessLog::write(std::string& buffer) {
  if (buffer.empty()) return;
  if (!file_.append(buffer)) write_errors_.fetch_add(1, std::memory_order_relaxed);
  rotations_.store(file_.rotations(), std::memory_order_relaxed);
  buffer.clear();
}

void AccessLog::run() {
  std::string buffer;
  buffer.reserve(options_.write_buffer + 4096);
  for (;;) {
    const std::uint64_t requested = flush_requests_.load(std::memory_order_acquire);
    const bool stopping = stop_.load(std::memory_order_acquire);
    if (reopen_.exchange(false)) {
      write(buffer);
      if (!file_.reopen()) write_errors_.fetch_add(1, std::memory_order_relaxed);
    }
    const bool any = drain(buffer);
    if (buffer.size() >= options_.write_buffer) write(buffer);
    if (any) continue;
    write(buffer);
    if (requested > flushes_done_.load(std::memory_order_relaxed)) {
      std::lock_guard lock(mu_);
      flushes_done_.store(requested, std::memory_order_release);
      flushed_.notify_all();
    }
    if (stopping) break;
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms), [&] {
      return stop_.load() || reopen_.load() || flush_requests_.load() > flushes_done_.load();
    });
  }
}

void AccessLog::reopen() {
  {
    std::lock_guard lock(mu_);
    reopen_.store(true);
  }
  wake_.notify_all();
}

void AccessLog::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t mine = flush_requests_.fetch_add(1) + 1;
  wake_.notify_all();
  flushed_.wait(lock, [&] { return flushes_done_.load() >= mine; });
}

AccessLogStats AccessLog::stats() const {
  AccessLogStats s;
  s.written = written_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.rotations = rotations_.load(std::memory_order_relaxed);
  for (const auto& r : rings_) {
    s.dropped += r->dropped.load(std::memory_order_relaxed);
    s.sampled_out += r->sampled_out.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace gh::observe
