// Worker-side costs of the operator's view: logging one access record (copy into the ring; the
// writer thread drains to a file in /tmp meanwhile), a sampled-out refusal, and HeavyHitters::add
// on a skewed key stream (K = 64) and on all-distinct keys (every add replaces the minimum).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "observe/access_log.h"
#include "observe/top.h"

namespace gh::observe {
namespace {

AccessRecord sample() {
  AccessRecord r;
  r.at_ms = 1'795'514'400'000;
  r.family = 4;
  r.address[0] = 203;
  r.address[2] = 113;
  r.address[3] = 7;
  r.status = 200;
  r.method.set("POST");
  r.route.set("signup");
  r.path.set("/signup?utm_source=newsletter");
  r.user_agent.set("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)");
  return r;
}

// Time per record accepted into the ring: batches of kBatch records into an emptied ring (the
// writer drains it between batches, outside the timing), so every record is copied, none dropped.
void BM_AccessLogRecord(benchmark::State& state) {
  constexpr int kBatch = 4096;
  const std::string path = "/tmp/gh-observe-bench-" + std::to_string(::getpid()) + ".jsonl";
  AccessLogOptions o;
  o.path = path;
  o.ring_records = kBatch;
  o.poll_ms = 1;
  std::string error;
  auto log = AccessLog::open(o, 1, &error);
  AccessRecord r = sample();
  std::int64_t accepted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    log->flush();
    state.ResumeTiming();
    for (int i = 0; i < kBatch; ++i) {
      r.at_ms++;
      accepted += log->log(0, r);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBatch);
  state.counters["ns_per_record"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kBatch,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["accepted_share"] =
      static_cast<double>(accepted) / (static_cast<double>(state.iterations()) * kBatch);
  log.reset();
  ::unlink(path.c_str());
  for (int i = 1; i < 4; ++i) ::unlink((path + "." + std::to_string(i)).c_str());
}
BENCHMARK(BM_AccessLogRecord);

void BM_AccessLogSampledOutRefusal(benchmark::State& state) {
  const std::string path = "/tmp/gh-observe-bench-s-" + std::to_string(::getpid()) + ".jsonl";
  AccessLogOptions o;
  o.path = path;
  o.refusals_keep_per_s = 0;
  o.refusals_sample_one_in = 1'000'000'000;
  std::string error;
  auto log = AccessLog::open(o, 1, &error);
  AccessRecord r = sample();
  r.verdict = Verdict::RateLimited;
  r.status = 429;
  for (auto _ : state) benchmark::DoNotOptimize(log->log(0, r));
  log.reset();
  ::unlink(path.c_str());
}
BENCHMARK(BM_AccessLogSampledOutRefusal);

std::vector<std::string> zipf_keys(std::size_t n, std::size_t distinct, double s) {
  std::vector<double> w(distinct);
  for (std::size_t i = 0; i < distinct; ++i) w[i] = 1.0 / std::pow(static_cast<double>(i + 1), s);
  std::discrete_distribution<std::size_t> d(w.begin(), w.end());
  std::mt19937 rng(1);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("198.51." + std::to_string(d(rng)) + ".0/24");
  return out;
}

void BM_HeavyHittersAddZipf(benchmark::State& state) {
  const auto keys = zipf_keys(1 << 16, 10'000, 1.1);
  HeavyHitters h(64);
  std::size_t i = 0;
  for (auto _ : state) {
    h.add(keys[i++ & (keys.size() - 1)]);
  }
  benchmark::DoNotOptimize(h.total());
}
BENCHMARK(BM_HeavyHittersAddZipf);

void BM_HeavyHittersAddDistinct(benchmark::State& state) {
  std::vector<std::string> keys;
  for (int i = 0; i < (1 << 16); ++i) keys.push_back("ua-" + std::to_string(i) + "-Mozilla/5.0");
  HeavyHitters h(64);
  std::size_t i = 0;
  for (auto _ : state) h.add(keys[i++ & (keys.size() - 1)]);
  benchmark::DoNotOptimize(h.total());
}
BENCHMARK(BM_HeavyHittersAddDistinct);

}  // namespace
}  // namespace gh::observe
