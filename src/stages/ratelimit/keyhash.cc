#include "stages/ratelimit/keyhash.h"

#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <mutex>

#include "core/hash.h"

namespace gh::ratelimit {

namespace {

template <int C, int D>
std::uint64_t siphash(const HashSeed& seed, std::span<const std::uint8_t> data) {
  siphash_detail::State s(seed);
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t m = 0;
    for (int j = 0; j < 8; ++j) m |= std::uint64_t{data[i + j]} << (8 * j);
    s.absorb<C>(m);
  }
  // Last block: the remaining bytes, and the length's low byte in the top byte.
  std::uint64_t b = static_cast<std::uint64_t>(n) << 56;
  for (std::size_t j = 0; i + j < n; ++j) b |= std::uint64_t{data[i + j]} << (8 * j);
  s.absorb<C>(b);
  return s.finish<D>();
}

}  // namespace

std::uint64_t siphash24(const HashSeed& seed, std::span<const std::uint8_t> data) {
  return siphash<2, 4>(seed, data);
}

std::uint64_t siphash13(const HashSeed& seed, std::span<const std::uint8_t> data) {
  return siphash<1, 3>(seed, data);
}

Key digest_key(const HashSeed& seed, std::span<const std::uint8_t> tuple) {
  const HashSeed second{seed.k0 ^ 0x5bd1e9955bd1e995ULL, seed.k1 ^ 0xc6a4a7935bd1e995ULL};
  return Key{siphash24(seed, tuple), siphash24(second, tuple)};
}

HashSeed random_seed() {
  HashSeed seed;
  if (getrandom(&seed, sizeof(seed), 0) == static_cast<ssize_t>(sizeof(seed))) return seed;
  int local = 0;
  const auto addr = reinterpret_cast<std::uintptr_t>(&local);
  // The mixer only stretches this weak fallback entropy.
  seed.k0 = core::mix64(static_cast<std::uint64_t>(core::monotonic_ns()) ^ addr);
  seed.k1 = core::mix64(seed.k0 ^ static_cast<std::uint64_t>(getpid()) ^ 0x9e3779b97f4a7c15ULL);
  return seed;
}

const HashSeed& process_seed() {
  static const HashSeed seed = random_seed();
  return seed;
}

namespace {
HashSeed fleet_key_seed;
// Set once (the first fleet's: several nodes in one process, as in tests, share it), before it is
// read: readers on other threads see either no seed or the whole of it.
std::atomic<bool> fleet_key_seed_set{false};
std::once_flag fleet_key_seed_once;
}  // namespace

const HashSeed& key_seed() {
  return fleet_key_seed_set.load(std::memory_order_acquire) ? fleet_key_seed : process_seed();
}

void set_key_seed(const HashSeed& seed) {
  std::call_once(fleet_key_seed_once, [&] {
    fleet_key_seed = seed;
    fleet_key_seed_set.store(true, std::memory_order_release);
  });
}

}  // namespace gh::ratelimit
