// The one 64-bit mixer: for spreading keys over the buckets of a hash table or the bits of a
// bitmap, and for stretching a little entropy into a seed.
#pragma once

#include <cstdint>

namespace gh::core {

// SplitMix64's finaliser (Stafford's variant 13): a bijection of 64-bit values in which each
// input bit flips each output bit with probability close to 1/2, so that keys which differ in a
// few bits land far apart. It is NOT a keyed hash: anyone can compute it, and XOR-ing a secret
// seed into the input only hides where a key lands as long as nobody learns the seed. Where a
// client chooses the keys and a collision costs the server (a table with chains or probes that
// an attacker could aim at), hash with SipHash under a random key (stages/ratelimit/keyhash.h).
constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace gh::core
