// Plain address types shared by the client, net and policy modules.
#pragma once

#include <array>
#include <cstdint>

namespace gh::client {

// An IPv4 or IPv6 address. IPv4 is stored v4-mapped (::ffff:a.b.c.d) so that one 16-byte key
// type serves both families in tables and tries.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  bool is_v4 = false;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// A prefix: `prefix_len` counts bits of the family's own width (0-32 for IPv4, 0-128 for IPv6).
struct Cidr {
  IpAddress address;  // host bits are zero
  std::uint8_t prefix_len = 0;

  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// A cheap hash/equality key for an address: the 16 bytes as two words. IPv4 keys are the v4-mapped
// bytes, so the two families never collide.
struct IpKey {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;

  friend bool operator==(const IpKey&, const IpKey&) = default;
};

struct SocketAddress {
  IpAddress ip;
  std::uint16_t port = 0;

  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};

}  // namespace gh::client
