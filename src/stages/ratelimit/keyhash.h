// Keyed hashing for the rate limiter: SipHash (Aumasson & Bernstein), written from the paper.
// Keys are attacker-chosen (addresses, usernames), so bucket placement must not be predictable:
// every table hashes with a secret per-process seed and an attacker cannot aim collisions.
#pragma once

#include <bit>
#include <cstdint>
#include <span>

#include "stages/ratelimit/ratelimit-t.h"

namespace gh::ratelimit {

namespace siphash_detail {

struct State {
  std::uint64_t v0, v1, v2, v3;

  constexpr explicit State(const HashSeed& s)
      : v0(s.k0 ^ 0x736f6d6570736575ULL),
        v1(s.k1 ^ 0x646f72616e646f6dULL),
        v2(s.k0 ^ 0x6c7967656e657261ULL),
        v3(s.k1 ^ 0x7465646279746573ULL) {}

  constexpr void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  template <int C>
  constexpr void absorb(std::uint64_t m) {
    v3 ^= m;
    for (int i = 0; i < C; ++i) round();
    v0 ^= m;
  }

  template <int D>
  constexpr std::uint64_t finish() {
    v2 ^= 0xff;
    for (int i = 0; i < D; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

}  // namespace siphash_detail

// SipHash-2-4 (the paper's recommended strength) and SipHash-1-3 (fewer rounds, for the hot path).
std::uint64_t siphash24(const HashSeed& seed, std::span<const std::uint8_t> data);
std::uint64_t siphash13(const HashSeed& seed, std::span<const std::uint8_t> data);

// The 128-bit output of SipHash-1-3 over the key's 16 bytes (lo then hi, little-endian): h0
// picks the bucket and h1 is the tag stored in the slot, so the tag's bits are independent of
// the bucket's and two keys in one bucket share a tag with probability 2^-63. Spelled out so the
// hot path has no loop over bytes.
struct KeyHash {
  std::uint64_t h0 = 0;
  std::uint64_t h1 = 0;
};

constexpr KeyHash hash_key(const HashSeed& seed, const Key& key) {
  siphash_detail::State s(seed);
  s.v1 ^= 0xee;  // 128-bit output mode
  s.absorb<1>(key.lo);
  s.absorb<1>(key.hi);
  s.absorb<1>(std::uint64_t{16} << 56);
  KeyHash out;
  s.v2 ^= 0xee;
  for (int i = 0; i < 3; ++i) s.round();
  out.h0 = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
  s.v1 ^= 0xdd;
  for (int i = 0; i < 3; ++i) s.round();
  out.h1 = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
  return out;
}

// A keyed 128-bit digest of a key tuple longer than 16 bytes (two SipHash-2-4 under two keys
// derived from the seed). The caller frames the tuple unambiguously (e.g. length prefixes).
Key digest_key(const HashSeed& seed, std::span<const std::uint8_t> tuple);

// 16 bytes from getrandom(2); falls back to clock/address entropy only if the kernel refuses.
HashSeed random_seed();

// One random seed per process, drawn on first use (thread-safe).
const HashSeed& process_seed();

// The seed of the digests of key tuples (digest_key): the process seed, or the fleet's when
// set_key_seed was called, so that every node names a tuple's key alike (shared limits). The
// tables still place keys with their own process seed, so placement stays unpredictable.
const HashSeed& key_seed();
// Once, before any worker builds a key.
void set_key_seed(const HashSeed& seed);

}  // namespace gh::ratelimit
