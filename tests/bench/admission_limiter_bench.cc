// Cost of admission on the request path: one try_acquire + release on the shared limiter (alone
// and with threads contending for the same packed word), and one push + pop on a worker's queue.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "stages/admission/limiter.h"
#include "stages/admission/wait_queue.h"

namespace gh::admission {
namespace {

policy::AdmissionConfig bench_config() {
  policy::AdmissionConfig c;
  c.min_limit = 64;
  c.max_limit = 1024;
  c.initial_limit = 512;
  return c;
}

Limiter& shared_limiter() {
  static Limiter l(bench_config());
  return l;
}

// Virtual clock: 1 ms per 256 operations, so windows close and recalculations are included.
void BM_AcquireRelease(benchmark::State& state) {
  Limiter& l = shared_limiter();
  const auto p = static_cast<Priority>(state.thread_index() % kPriorities);
  std::int64_t i = 0;
  for (auto _ : state) {
    const bool ok = l.try_acquire(p);
    benchmark::DoNotOptimize(ok);
    if (ok) l.release(p, 900 + (i & 127), true, i >> 8);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AcquireRelease)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

// Refusal must be cheaper than admission: a saturated limiter, non-resident asks.
void BM_RefuseWhenFull(benchmark::State& state) {
  policy::AdmissionConfig c = bench_config();
  c.min_limit = c.max_limit = c.initial_limit = 16;
  Limiter l(c);
  while (l.try_acquire(Priority::Resident)) {
  }
  for (auto _ : state) benchmark::DoNotOptimize(l.try_acquire(Priority::AnonymousSignup));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RefuseWhenFull);

// A queue holding `range(0)` waiters spread over the priorities; each iteration adds one and
// serves one (steady state: no allocation).
void BM_QueuePushPop(benchmark::State& state) {
  const auto depth = static_cast<std::size_t>(state.range(0));
  policy::AdmissionConfig c;
  WaitQueue<std::uint64_t> q(depth + 1, c);
  std::uint64_t next = 0;
  for (std::size_t i = 0; i < depth; ++i) {
    q.push(next++, static_cast<Priority>(i % kPriorities), 0, nullptr);
  }
  for (auto _ : state) {
    q.push(next, static_cast<Priority>(next % kPriorities), 1, nullptr);
    ++next;
    benchmark::DoNotOptimize(q.pop(1));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QueuePushPop)->Arg(0)->Arg(16)->Arg(256);

// Full queue: every arrival of a higher priority evicts (the flood case).
void BM_QueuePushEvicting(benchmark::State& state) {
  policy::AdmissionConfig c;
  WaitQueue<std::uint64_t> q(256, c);
  std::uint64_t next = 0, evicted = 0;
  for (auto _ : state) {
    // Suspects fill it; each verified arrival evicts one; the pop keeps room for the next round.
    q.push(next++, Priority::Suspect, 0, &evicted);
    q.push(next++, Priority::Verified, 0, &evicted);
    benchmark::DoNotOptimize(q.pop(0));
  }
  benchmark::DoNotOptimize(evicted);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QueuePushEvicting);

}  // namespace
}  // namespace gh::admission
