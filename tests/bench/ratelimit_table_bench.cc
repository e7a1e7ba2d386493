// Decisions per second of the limiter table. `now` is a virtual clock advanced per call: the
// caller reads the real clock once per request anyway, so it is not part of a decision's cost.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "stages/ratelimit/table.h"

namespace gh::ratelimit {
namespace {

constexpr Nanos kSec = 1'000'000'000;
constexpr std::uint64_t kHotKeys = 1024;          // ~1024 buckets × 128 B: stays in L2
constexpr std::uint64_t kColdKeys = 1 << 20;      // 1M keys ...
constexpr std::uint64_t kColdCapacity = 1 << 20;  // ... in a 1M-slot table (~18 MB)

// Virtual time goes on across the library's repeated runs of a benchmark: restarting it would
// replay old instants against newer TATs and make keys look limited.
std::atomic<Nanos> g_clock{1000 * kSec};

Nanos clock_start() {
  return g_clock.load(std::memory_order_relaxed);
}

void clock_stop(Nanos now) {
  Nanos seen = g_clock.load(std::memory_order_relaxed);
  while (seen < now && !g_clock.compare_exchange_weak(seen, now)) {
  }
}

// Likewise the walk through the cold keys goes on where the last run stopped; the second thread
// walks half a cycle behind the first.
std::atomic<std::uint64_t> g_cursor{0};

std::uint64_t cursor_start(const benchmark::State& state) {
  return g_cursor.load(std::memory_order_relaxed) +
         static_cast<std::uint64_t>(state.thread_index()) * (kColdKeys / 2);
}

void cursor_stop(const benchmark::State& state) {
  if (state.thread_index() == 0) g_cursor.fetch_add(state.iterations());
}

Limit bench_limit() {
  return *make_limit(RateSpec{50, kSec, 10});
}

Table& hot_table() {
  static const std::unique_ptr<Table> t =
      Table::create(bench_limit(), TableConfig{1 << 16, FullPolicy::FailOpen});
  return *t;
}

Table& cold_table() {
  static const std::unique_ptr<Table> t = [] {
    auto table = Table::create(bench_limit(), TableConfig{kColdCapacity, FullPolicy::FailOpen});
    for (std::uint64_t i = 0; i < kColdKeys; ++i) table->decide(Key{i, 1}, kSec);
    return table;
  }();
  return *t;
}

// An odd multiplier walks all 2^20 residues before repeating: every key, no locality.
std::uint64_t cold_index(std::uint64_t i) {
  return (i * 0x9E3779B1u) & (kColdKeys - 1);
}

void BM_HashKey(benchmark::State& state) {
  const HashSeed seed = process_seed();
  std::uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(hash_key(seed, Key{++i, 1}));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashKey);

// Each thread works on its own slice of the hot set (distinct keys, shared table).
void BM_DecideHot(benchmark::State& state) {
  Table& t = hot_table();
  const std::uint64_t base = static_cast<std::uint64_t>(state.thread_index()) << 32;
  Nanos now = clock_start();
  std::uint64_t i = 0;
  for (auto _ : state) {
    now += 997;
    benchmark::DoNotOptimize(t.decide(Key{base | (++i & (kHotKeys - 1)), 2}, now));
  }
  clock_stop(now);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideHot)->UseRealTime();
BENCHMARK(BM_DecideHot)->Threads(2)->UseRealTime();

void BM_PeekHot(benchmark::State& state) {
  Table& t = hot_table();
  Nanos now = clock_start();
  std::uint64_t i = 0;
  for (auto _ : state) {
    now += 997;
    benchmark::DoNotOptimize(t.peek(Key{++i & (kHotKeys - 1), 2}, now));
  }
  clock_stop(now);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PeekHot)->UseRealTime();

// Worst case: every thread on one key, so the bucket's line bounces between cores.
void BM_DecideOneSharedKey(benchmark::State& state) {
  Table& t = hot_table();
  Nanos now = clock_start();
  for (auto _ : state) {
    now += 997;
    benchmark::DoNotOptimize(t.decide(Key{7, 7}, now));
  }
  clock_stop(now);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideOneSharedKey)->UseRealTime();
BENCHMARK(BM_DecideOneSharedKey)->Threads(2)->UseRealTime();

// 1M keys in a 1M-slot table: every decision misses the cache, and since a full table cannot
// place every key, some decisions evict or meet TableFull (the counters say how many).
void BM_DecideCold(benchmark::State& state) {
  Table& t = cold_table();
  const TableStats before = t.stats();
  Nanos now = clock_start();
  std::uint64_t i = cursor_start(state);
  for (auto _ : state) {
    now += 997;
    benchmark::DoNotOptimize(t.decide(Key{cold_index(++i), 1}, now));
  }
  clock_stop(now);
  cursor_stop(state);
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    const TableStats after = t.stats();
    const double n = static_cast<double>(after.lookups - before.lookups);
    state.counters["evict%"] =
        100.0 *
        static_cast<double>(after.evictions_expired + after.evictions_least_limited -
                            before.evictions_expired - before.evictions_least_limited) /
        n;
    state.counters["full%"] = 100.0 * static_cast<double>(after.table_full - before.table_full) / n;
    state.counters["load%"] =
        100.0 * static_cast<double>(after.tracked) / static_cast<double>(after.capacity);
  }
}
BENCHMARK(BM_DecideCold)->UseRealTime();
BENCHMARK(BM_DecideCold)->Threads(2)->UseRealTime();

// The same, with locate() run 8 requests ahead: how a worker with a batch of ready requests
// would overlap the misses.
void BM_DecideColdLocateAhead(benchmark::State& state) {
  constexpr std::uint64_t kAhead = 8;
  Table& t = cold_table();
  Nanos now = clock_start();
  std::uint64_t i = cursor_start(state);
  Ticket ring[kAhead];
  for (std::uint64_t j = 0; j < kAhead; ++j) ring[j] = t.locate(Key{cold_index(i + j), 1});
  for (auto _ : state) {
    now += 997;
    const Ticket ticket = ring[i % kAhead];
    ring[i % kAhead] = t.locate(Key{cold_index(i + kAhead), 1});
    ++i;
    benchmark::DoNotOptimize(t.decide(ticket, now));
  }
  clock_stop(now);
  cursor_stop(state);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideColdLocateAhead)->UseRealTime();
BENCHMARK(BM_DecideColdLocateAhead)->Threads(2)->UseRealTime();

// The request path between the moment the key is known (route matched) and the limiter's
// decision: classification, cookies, tokens. A dependent chain of multiply-adds stands for it:
// no memory traffic of its own, and long enough (3 instructions a step) to exceed the core's
// out-of-order window, as the real path (thousands of instructions) does.
std::uint64_t other_work(std::uint64_t x, std::int64_t steps) {
  for (std::int64_t i = 0; i < steps; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    benchmark::DoNotOptimize(x);
  }
  return x;
}

void BM_RequestWork(benchmark::State& state) {
  std::uint64_t x = 1;
  for (auto _ : state) x = other_work(x, state.range(0));
  benchmark::DoNotOptimize(x);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RequestWork)->Arg(128)->Arg(512);

// The request path without an early prefetch: the work, then a cold decision. Minus
// BM_RequestWork of the same argument = what the cold lookup adds to a request.
void BM_DecideColdAfterWork(benchmark::State& state) {
  Table& t = cold_table();
  Nanos now = clock_start();
  std::uint64_t i = cursor_start(state);
  std::uint64_t x = 1;
  for (auto _ : state) {
    now += 997;
    const Key key{cold_index(++i), 1};
    x = other_work(x, state.range(0));
    benchmark::DoNotOptimize(t.decide(key, now));
  }
  clock_stop(now);
  cursor_stop(state);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideColdAfterWork)->Arg(128)->Arg(512)->UseRealTime();

// The same with locate() as soon as the key is known, as the pipeline does now
// (RouteLimits::prefetch when the route is matched): the miss overlaps the work, and the
// decision takes the ticket, as RouteLimits::check does.
void BM_DecideColdLocateEarly(benchmark::State& state) {
  Table& t = cold_table();
  Nanos now = clock_start();
  std::uint64_t i = cursor_start(state);
  std::uint64_t x = 1;
  for (auto _ : state) {
    now += 997;
    const Ticket ticket = t.locate(Key{cold_index(++i), 1});
    x = other_work(x, state.range(0));
    benchmark::DoNotOptimize(t.decide(ticket, now));  // check() uses prefetch's ticket
  }
  clock_stop(now);
  cursor_stop(state);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideColdLocateEarly)->Arg(128)->Arg(512)->UseRealTime();

// Not a timing: the memory cost of a tracked key, reported as counters.
void BM_BytesPerKey(benchmark::State& state) {
  Table& t = cold_table();
  for (auto _ : state) benchmark::DoNotOptimize(t.capacity());
  state.counters["slot_B"] = static_cast<double>(sizeof(Slot));
  state.counters["bucket_B"] = static_cast<double>(sizeof(Bucket));
  state.counters["table_B/key"] =
      static_cast<double>(t.memory_bytes()) / static_cast<double>(t.capacity());
  state.counters["table_MiB"] = static_cast<double>(t.memory_bytes()) / (1024.0 * 1024.0);
}
BENCHMARK(BM_BytesPerKey)->Iterations(1);

}  // namespace
}  // namespace gh::ratelimit
