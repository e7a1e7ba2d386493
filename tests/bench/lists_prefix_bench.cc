// Longest-prefix match over 1M random IPv4 + IPv6 prefixes (build, bytes per prefix, lookups
// hit and miss, throughput and latency), loading a 1M-line list file, and is_banned with 10k bans.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "client/address.h"
#include "stages/lists/bans.h"
#include "stages/lists/prefix_set.h"

namespace gh::lists {
namespace {

using client::Cidr;
using client::IpAddress;

constexpr std::size_t kPrefixes = 1'000'000;
constexpr std::size_t kProbes = 1 << 20;

IpAddress random_v4(std::mt19937_64& rng) {
  const auto x = static_cast<std::uint32_t>(rng());
  return client::make_ipv4(x >> 24, x >> 16, x >> 8, x);
}

// Global unicast (2000::/3), where real lists live.
IpAddress random_v6(std::mt19937_64& rng) {
  IpAddress a;
  for (auto& b : a.bytes) b = static_cast<std::uint8_t>(rng());
  a.bytes[0] = static_cast<std::uint8_t>(0x20 | (a.bytes[0] & 0x1f));
  return a;
}

// Lengths as blocklists have them: IPv4 mostly /24 and /32, IPv6 mostly /32../64 and /128.
unsigned v4_len(std::mt19937_64& rng) {
  const unsigned r = rng() % 10;
  return r < 4 ? 24 : r < 7 ? 32 : 8 + static_cast<unsigned>(rng() % 24);
}

unsigned v6_len(std::mt19937_64& rng) {
  const unsigned r = rng() % 10;
  if (r < 1) return 32;
  if (r < 4) return 48;
  if (r < 7) return 64;
  if (r < 9) return 128;
  return 16 + static_cast<unsigned>(rng() % 112);
}

const std::vector<Cidr>& prefixes() {
  static const std::vector<Cidr> v = [] {
    std::mt19937_64 rng(42);
    std::vector<Cidr> out;
    out.reserve(kPrefixes);
    for (std::size_t i = 0; i < kPrefixes; ++i) {
      if (i % 2 == 0) {
        const unsigned len = v4_len(rng);
        out.push_back(client::prefix_of(random_v4(rng), len, len));
      } else {
        const unsigned len = v6_len(rng);
        out.push_back(client::prefix_of(random_v6(rng), len, len));
      }
    }
    return out;
  }();
  return v;
}

std::unique_ptr<PrefixSet> build_set() {
  PrefixSetBuilder b;
  std::uint16_t list = 0;
  for (const Cidr& c : prefixes())
    b.add(c, Entry{Action::Deny, static_cast<std::uint16_t>(list++ % 8)});
  return b.build();
}

const PrefixSet& big_set() {
  static const std::unique_ptr<PrefixSet> s = build_set();
  return *s;
}

// family: 0 both, 4 IPv4 only, 6 IPv6 only. hit: inside a random prefix of the set (its host
// bits random), else a uniformly random address.
std::vector<IpAddress> probes(int family, bool hit) {
  std::mt19937_64 rng(7 + static_cast<unsigned>(family) + (hit ? 100 : 0));
  const auto& ps = prefixes();
  std::vector<IpAddress> out;
  out.reserve(kProbes);
  while (out.size() < kProbes) {
    const bool v4 = family == 4 || (family == 0 && rng() % 2 == 0);
    IpAddress a = v4 ? random_v4(rng) : random_v6(rng);
    if (hit) {
      const Cidr& c = ps[2 * (rng() % (ps.size() / 2)) + (v4 ? 0 : 1)];
      const unsigned bits = v4 ? 96u + c.prefix_len : c.prefix_len;
      for (unsigned bit = 0; bit < bits; ++bit) {
        const auto m = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        a.bytes[bit / 8] =
            static_cast<std::uint8_t>((a.bytes[bit / 8] & ~m) | (c.address.bytes[bit / 8] & m));
      }
    }
    out.push_back(a);
  }
  return out;
}

void BM_Build1M(benchmark::State& state) {
  prefixes();
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto s = build_set();
    bytes = s->stats().memory_bytes;
    benchmark::DoNotOptimize(s);
  }
  state.counters["prefixes"] = static_cast<double>(kPrefixes);
  state.counters["bytes/prefix"] = static_cast<double>(bytes) / static_cast<double>(kPrefixes);
  state.counters["MB"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_Build1M)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_LoadFile1M(benchmark::State& state) {
  char path[] = "/tmp/gh-lists-bench-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) {
    state.SkipWithError("mkstemp");
    return;
  }
  close(fd);
  {
    std::ofstream f(path);
    f << "# 1M prefixes\n";
    for (const Cidr& c : prefixes()) f << client::format_cidr(c) << '\n';
  }
  for (auto _ : state) {
    PrefixSetBuilder b;
    b.add_file(path, Entry{});
    auto s = b.build();
    if (b.error_count() != 0 || s->stats().prefixes + s->stats().duplicates != kPrefixes) {
      state.SkipWithError("load failed");
    }
  }
  unlink(path);
}
BENCHMARK(BM_LoadFile1M)->Unit(benchmark::kMillisecond)->Iterations(3);

// Independent lookups: the core overlaps their cache misses (throughput).
void BM_Lookup(benchmark::State& state) {
  const PrefixSet& s = big_set();
  const auto addrs = probes(static_cast<int>(state.range(0)), state.range(1) != 0);
  std::size_t i = 0;
  std::uint64_t hits = 0;
  for (auto _ : state) {
    const auto m = s.lookup(addrs[i++ & (kProbes - 1)]);
    hits += m.has_value() ? 1 : 0;
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit%"] =
      100.0 * static_cast<double>(hits) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Lookup)
    ->ArgNames({"family", "hit"})
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({4, 1})
    ->Args({4, 0})
    ->Args({6, 1})
    ->Args({6, 0});

// Each address depends on the previous answer, so misses cannot overlap (latency).
void BM_LookupLatency(benchmark::State& state) {
  const PrefixSet& s = big_set();
  const auto addrs = probes(0, true);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto m = s.lookup(addrs[i & (kProbes - 1)]);
    i += 1 + (m ? m->entry.list >> 15 : 0u);  // always 1, but only known after the lookup
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupLatency);

// Bytes per prefix of each family alone (500k each, from the same generator).
void BM_MemoryByFamily(benchmark::State& state) {
  const std::size_t parity = state.range(0) == 4 ? 0 : 1;
  std::size_t bytes = 0;
  for (auto _ : state) {
    PrefixSetBuilder b;
    for (std::size_t i = parity; i < kPrefixes; i += 2) b.add(prefixes()[i], Entry{});
    bytes = b.build()->stats().memory_bytes;
  }
  state.counters["bytes/prefix"] = static_cast<double>(bytes) / (kPrefixes / 2.0);
}
BENCHMARK(BM_MemoryByFamily)
    ->ArgName("family")
    ->Arg(4)
    ->Arg(6)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Worst case for the slice index: 500k IPv6 prefixes all inside 2001:db8::/32, so every lookup
// descends the whole tree.
void BM_LookupSkewedV6(benchmark::State& state) {
  static const auto set = [] {
    std::mt19937_64 rng(17);
    PrefixSetBuilder b;
    for (std::size_t i = 0; i < kPrefixes / 2; ++i) {
      IpAddress a = random_v6(rng);
      a.bytes[0] = 0x20, a.bytes[1] = 0x01, a.bytes[2] = 0x0d, a.bytes[3] = 0xb8;
      const unsigned len = std::max(33u, v6_len(rng));
      b.add(client::prefix_of(a, len, len), Entry{});
    }
    return b.build();
  }();
  std::mt19937_64 rng(18);
  std::vector<IpAddress> addrs(kProbes);
  for (auto& a : addrs) {
    a = random_v6(rng);
    a.bytes[0] = 0x20, a.bytes[1] = 0x01, a.bytes[2] = 0x0d, a.bytes[3] = 0xb8;
  }
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(set->lookup(addrs[i++ & (kProbes - 1)]));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupSkewedV6);

constexpr std::size_t kBans = 10'000;
constexpr Seconds kNow = 1'700'000'000;

struct BanFixture {
  std::unique_ptr<BanTable> table = BanTable::create(BansConfig{4 * kBans, 86'400, 0});
  std::vector<IpAddress> banned;
  std::vector<IpAddress> clean;
};

// 60% IPv4 /32, 10% IPv4 /24, 20% IPv6 /128, 10% IPv6 /64: four lengths to probe per family.
const BanFixture& bans() {
  static const BanFixture f = [] {
    BanFixture f;
    std::mt19937_64 rng(9);
    for (std::size_t i = 0; i < kBans; ++i) {
      const unsigned r = rng() % 10;
      const bool v4 = r < 7;
      const IpAddress a = v4 ? random_v4(rng) : random_v6(rng);
      const unsigned len = r < 6 ? 32 : r < 7 ? 24 : r < 9 ? 128 : 64;
      f.table->ban(client::prefix_of(a, len, len), {3600, 3600}, "bench", "rule", kNow);
      f.banned.push_back(a);
    }
    for (std::size_t i = 0; i < kBans; ++i)
      f.clean.push_back(i % 10 < 7 ? random_v4(rng) : random_v6(rng));
    return f;
  }();
  return f;
}

void BM_IsBanned10k(benchmark::State& state) {
  const BanFixture& f = bans();
  const auto& addrs = state.range(0) != 0 ? f.banned : f.clean;
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 977;
  std::uint64_t hits = 0;
  for (auto _ : state) {
    const auto b = f.table->is_banned(addrs[i++ % kBans], kNow + 1);
    hits += b.has_value() ? 1 : 0;
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit%"] =
      100.0 * static_cast<double>(hits) / static_cast<double>(state.iterations());
  state.counters["bytes/slot"] = benchmark::Counter(
      static_cast<double>(f.table->memory_bytes()) / static_cast<double>(f.table->capacity()),
      benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_IsBanned10k)->ArgName("hit")->Arg(1)->Arg(0);
BENCHMARK(BM_IsBanned10k)->ArgName("hit")->Arg(0)->Threads(2)->UseRealTime();

void BM_Ban(benchmark::State& state) {
  auto t = BanTable::create(BansConfig{kBans, 86'400, 0});
  std::mt19937_64 rng(3);
  for (auto _ : state) {
    t->ban(client::prefix_of(random_v4(rng), 32, 128), {60, 3600}, "bench", "rule", kNow);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["evicted"] = static_cast<double>(t->stats().evicted_full);
}
BENCHMARK(BM_Ban);

}  // namespace
}  // namespace gh::lists
