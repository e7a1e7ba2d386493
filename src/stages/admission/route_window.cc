#include "stages/admission/route_window.h"

#include <algorithm>

namespace gh::admission {

namespace {
constexpr auto kRelaxed = std::memory_order_relaxed;
}  // namespace

RouteWindow::Second* RouteWindow::claim(std::int64_t now_ms) {
  const std::int64_t s = std::max<std::int64_t>(now_ms, 0) / 1000;
  Second& b = ring_[static_cast<std::size_t>(s % kSeconds)];
  std::int64_t tag = b.tag.load(std::memory_order_acquire);
  if (tag == 2 * s) return &b;
  // Odd: someone is resetting it. Newer: this writer is a ring's turn late. Either way the count
  // is dropped rather than waited for; it can only happen at a second's edge.
  if ((tag & 1) != 0 || tag > 2 * s) return nullptr;
  if (!b.tag.compare_exchange_strong(tag, 2 * s + 1, std::memory_order_acq_rel)) {
    return tag == 2 * s ? &b : nullptr;
  }
  b.requests.store(0, kRelaxed);
  b.answers.store(0, kRelaxed);
  b.errors.store(0, kRelaxed);
  b.shed.store(0, kRelaxed);
  for (auto& c : b.latency) c.store(0, kRelaxed);
  b.tag.store(2 * s, std::memory_order_release);
  return &b;
}

void RouteWindow::record_request(std::int64_t now_ms) {
  if (Second* b = claim(now_ms)) b->requests.fetch_add(1, kRelaxed);
}

void RouteWindow::record_answer(std::int64_t now_ms, std::uint32_t latency_ms, bool error) {
  Second* b = claim(now_ms);
  if (b == nullptr) return;
  b->answers.fetch_add(1, kRelaxed);
  if (error) b->errors.fetch_add(1, kRelaxed);
  b->latency[LatencyBuckets::index(latency_ms)].fetch_add(1, kRelaxed);
}

void RouteWindow::record_shed(std::int64_t now_ms) {
  if (Second* b = claim(now_ms)) b->shed.fetch_add(1, kRelaxed);
}

Signals RouteWindow::signals(std::int64_t now_ms, std::int64_t window_ms) const {
  const std::int64_t now_s = std::max<std::int64_t>(now_ms, 0) / 1000;
  const std::int64_t w = std::clamp<std::int64_t>((window_ms + 999) / 1000, 1, kMaxWindowSeconds);
  std::uint64_t requests = 0, answers = 0, errors = 0, shed = 0;
  std::array<std::uint64_t, LatencyBuckets::kCount> latency{};
  std::array<std::uint32_t, LatencyBuckets::kCount> one;
  for (std::int64_t s = now_s - w; s < now_s; ++s) {
    if (s < 0) continue;
    const Second& b = ring_[static_cast<std::size_t>(s % kSeconds)];
    // Seqlock-style read: a bucket reset while we read it is left out, not half counted.
    const std::int64_t tag = b.tag.load(std::memory_order_acquire);
    if (tag != 2 * s) continue;
    const std::uint64_t r = b.requests.load(kRelaxed);
    const std::uint64_t a = b.answers.load(kRelaxed);
    const std::uint64_t e = b.errors.load(kRelaxed);
    const std::uint64_t d = b.shed.load(kRelaxed);
    for (std::size_t i = 0; i < one.size(); ++i) one[i] = b.latency[i].load(kRelaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (b.tag.load(kRelaxed) != tag) continue;
    requests += r;
    answers += a;
    errors += e;
    shed += d;
    for (std::size_t i = 0; i < one.size(); ++i) latency[i] += one[i];
  }
  std::uint64_t counted = 0;
  for (std::uint64_t c : latency) counted += c;
  Signals out;
  out.request_rate = static_cast<double>(requests) / static_cast<double>(w);
  if (answers > 0) {
    out.error_rate_pct = 100.0 * static_cast<double>(errors) / static_cast<double>(answers);
  }
  if (requests > 0) {
    out.shed_rate_pct =
        std::min(100.0, 100.0 * static_cast<double>(shed) / static_cast<double>(requests));
  }
  out.upstream_latency_ms = LatencyBuckets::quantile(latency.data(), counted, 0.9);
  return out;
}

}  // namespace gh::admission
