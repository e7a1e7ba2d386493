// The waiting room under a full line: a refresh of a queued id (position in O(log n)), a tick
// in steady state, a newcomer joining and leaving, and the heap cost of one place.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdint>
#include <memory>

#include "stages/waitroom/room.h"

namespace gh::waitroom {
namespace {

constexpr std::uint32_t kQueued = 100'000;
constexpr std::int64_t kT0 = 1'000'000;

Visit visitor(std::uint32_t n) {
  Visit v;
  for (int b = 0; b < 4; ++b) v.id[b] = static_cast<std::uint8_t>(n >> (8 * b));
  v.id[15] = 0x5a;
  v.first_seen_ms = kT0 + n;
  v.prefix.address.bytes[0] = 0x20;
  v.prefix.address.bytes[1] = static_cast<std::uint8_t>(n >> 8);
  v.prefix.address.bytes[2] = static_cast<std::uint8_t>(n >> 16);
  v.prefix.prefix_len = 48;
  return v;
}

policy::WaitingRoomConfig bench_config() {
  policy::WaitingRoomConfig c;
  c.new_users_per_minute = 60;
  c.max_active = 1;  // held by visitor 0: nobody is admitted while benchmarking
  c.max_queue = 2 * kQueued;
  c.max_per_prefix = 1'000;
  return c;
}

// Visitor 0 is admitted; 1..kQueued wait.
std::unique_ptr<Room> full_room() {
  auto room = std::make_unique<Room>(bench_config());
  for (std::uint32_t n = 0; n <= kQueued; ++n) room->visit(visitor(n), kT0 + n / 1000);
  return room;
}

Room& shared_room() {
  static const std::unique_ptr<Room> room = full_room();
  return *room;
}

void BM_VisitQueued(benchmark::State& state) {
  Room& room = shared_room();
  std::uint64_t x = 88172645463325252ULL;
  std::int64_t now = kT0 + 200;
  for (auto _ : state) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const Visit v = visitor(1 + static_cast<std::uint32_t>(x % kQueued));
    benchmark::DoNotOptimize(room.visit(v, now));
  }
  state.counters["queued"] = static_cast<double>(room.stats().queued);
}
BENCHMARK(BM_VisitQueued);

// Steady state: nothing to expire, capacity full; one call per simulated second would be the
// real rate, this measures what that call costs.
void BM_TickSteady(benchmark::State& state) {
  Room& room = shared_room();
  std::int64_t now = kT0 + 300;
  for (auto _ : state) {
    room.tick(now);
    now += 1;  // stays far below the gone timeout
  }
}
BENCHMARK(BM_TickSteady);

// A newcomer joins the 100k line (tree insert, index insert) and is revoked again.
void BM_JoinAndLeave(benchmark::State& state) {
  Room& room = shared_room();
  std::uint32_t n = 10 * kQueued;
  for (auto _ : state) {
    const Visit v = visitor(n++);
    benchmark::DoNotOptimize(room.visit(v, kT0 + 400));
    room.revoke(v.id);
  }
}
BENCHMARK(BM_JoinAndLeave);

// tick() dropping a line of 100k gone places at once (bounded per call by kMaxExpiryPerTick).
void BM_TickDropsGoneLine(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    auto room = full_room();
    state.ResumeTiming();
    std::int64_t now = kT0 + Room::gone_ms_for(bench_config()) + 1'000;
    while (room->stats().queued > 0) room->tick(now++);
    state.PauseTiming();
    room.reset();
    state.ResumeTiming();
  }
  state.counters["places"] = kQueued;
}
BENCHMARK(BM_TickDropsGoneLine)->Iterations(3)->Unit(benchmark::kMillisecond);

// Heap bytes per queued place (index node, tree node, record, per-prefix share), from malloc's
// own accounting.
void BM_MemoryPerPlace(benchmark::State& state) {
  double per_place = 0;
  for (auto _ : state) {
    const std::size_t before = mallinfo2().uordblks;
    auto room = full_room();
    const std::size_t after = mallinfo2().uordblks;
    per_place = static_cast<double>(after - before) / kQueued;
    benchmark::DoNotOptimize(room.get());
  }
  state.counters["bytes_per_place"] = per_place;
}
BENCHMARK(BM_MemoryPerPlace)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gh::waitroom
