// Addresses and prefixes as 128-bit integers (big-endian order of the 16-byte form), so that a
// prefix is a range [start, start | host_mask] and ordering is integer comparison. IPv4 lives at
// ::ffff:a.b.c.d, as in client::IpAddress; an IPv4 /n is a 128-bit /(96 + n).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>

#include "client/address-t.h"

namespace gh::lists {

__extension__ using u128 = unsigned __int128;

inline constexpr u128 kU128Max = ~u128{0};
inline constexpr u128 kMappedStart = u128{0xffff} << 32;  // ::ffff:0.0.0.0
inline constexpr u128 kMappedEnd = kMappedStart | 0xffffffffu;

inline u128 to_u128(const client::IpAddress& ip) noexcept {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::memcpy(&hi, ip.bytes.data(), 8);
  std::memcpy(&lo, ip.bytes.data() + 8, 8);
  return u128{__builtin_bswap64(hi)} << 64 | __builtin_bswap64(lo);
}

inline bool is_mapped(u128 x) noexcept {
  return (x >> 32) == 0xffff;
}

// Bits below a prefix of `len` (0..128) bits.
inline u128 host_mask(unsigned len) noexcept {
  return len >= 128 ? 0 : kU128Max >> len;
}

struct Prefix128 {
  u128 start = 0;
  std::uint8_t len = 0;  // 0..128

  u128 end() const noexcept { return start | host_mask(len); }
  friend bool operator==(const Prefix128&, const Prefix128&) = default;
};

// Same bits as client::contains compares; nullopt when prefix_len exceeds the family's width.
inline std::optional<Prefix128> to_prefix128(const client::Cidr& c) noexcept {
  const unsigned width = c.address.is_v4 ? 32 : 128;
  if (c.prefix_len > width) return std::nullopt;
  const unsigned len = c.address.is_v4 ? 96u + c.prefix_len : c.prefix_len;
  return Prefix128{to_u128(c.address) & ~host_mask(len), static_cast<std::uint8_t>(len)};
}

inline client::IpAddress from_u128(u128 x) noexcept {
  client::IpAddress ip;
  const std::uint64_t hi = __builtin_bswap64(static_cast<std::uint64_t>(x >> 64));
  const std::uint64_t lo = __builtin_bswap64(static_cast<std::uint64_t>(x));
  std::memcpy(ip.bytes.data(), &hi, 8);
  std::memcpy(ip.bytes.data() + 8, &lo, 8);
  ip.is_v4 = is_mapped(x);
  return ip;
}

// The canonical Cidr, as client::parse_cidr would give it: inside ::ffff:0:0/96 it is IPv4.
inline client::Cidr to_cidr(const Prefix128& p) noexcept {
  client::Cidr c;
  c.address = from_u128(p.start);
  if (p.len >= 96 && is_mapped(p.start)) {
    c.prefix_len = static_cast<std::uint8_t>(p.len - 96);
  } else {
    c.address.is_v4 = false;
    c.prefix_len = p.len;
  }
  return c;
}

}  // namespace gh::lists
