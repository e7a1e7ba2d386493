// Parsing, formatting and matching of IP addresses, prefixes and socket addresses.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "client/address-t.h"

namespace gh::client {

// Strict text forms only. IPv4: dotted quad, no leading zeros ("010" is refused: some stacks read
// it as octal). IPv6: RFC 4291 text incl. "::" and an embedded IPv4 tail; no zone id, no brackets.
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) comes back as IPv4 (is_v4), like dual-stack peers.
std::optional<IpAddress> parse_ip(std::string_view text);

// "10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128. Host bits below the prefix are
// accepted and cleared ("10.1.2.3/8" is 10.0.0.0/8). An IPv4-mapped IPv6 prefix of 96 bits or more
// becomes the IPv4 prefix it spells.
std::optional<Cidr> parse_cidr(std::string_view text);

// "127.0.0.1:8080", "[::1]:8080", "localhost:8080" (the only name accepted: 127.0.0.1).
// The port is required, decimal 0..65535 without leading zeros.
std::optional<SocketAddress> parse_socket_address(std::string_view text);

// Decimal port without sign or leading zeros ("0" itself is fine).
std::optional<std::uint16_t> parse_port(std::string_view text);

// IPv4 dotted quad; IPv6 in RFC 5952 form (lowercase, longest zero run as "::").
std::string format_ip(const IpAddress& ip);
// The same text into `buf` (INET6_ADDRSTRLEN bytes suffice), without allocating.
std::string_view format_ip(const IpAddress& ip, char* buf, std::size_t cap);
// "1.2.3.4:80", "[::1]:80".
std::string format_socket_address(const SocketAddress& address);
// "10.0.0.0/8", "2001:db8::/32".
std::string format_cidr(const Cidr& cidr);

IpAddress make_ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);

// The prefix of `ip` with the family's length (clamped to 32 / 128), host bits cleared.
Cidr prefix_of(const IpAddress& ip, unsigned v4_len, unsigned v6_len);

// True when `ip` lies in `cidr`. Matching is on the 16-byte form: an IPv4 prefix only holds IPv4
// addresses; an IPv6 prefix that covers ::ffff:0:0/96 (such as ::/0) holds IPv4 addresses too.
bool contains(const Cidr& cidr, const IpAddress& ip);

// For the event loop: IPv4 becomes sockaddr_in, IPv6 sockaddr_in6. Returns the length to pass.
socklen_t to_sockaddr(const SocketAddress& address, sockaddr_storage& out);
// AF_INET / AF_INET6 only (v4-mapped IPv6 becomes IPv4); nullopt for other families or short len.
std::optional<SocketAddress> from_sockaddr(const sockaddr_storage& in, socklen_t len);

inline IpKey key_of(const IpAddress& ip) {
  IpKey key;
  for (std::size_t i = 0; i < 8; ++i) {
    key.hi = (key.hi << 8) | ip.bytes[i];
    key.lo = (key.lo << 8) | ip.bytes[i + 8];
  }
  return key;
}

// Seeded per process: client addresses are attacker-chosen (a /64 gives 2^64 of them), so a fixed
// hash would let a client pile entries into one bucket.
std::size_t hash_key(const IpKey& key) noexcept;

struct IpKeyHash {
  std::size_t operator()(const IpKey& key) const noexcept { return hash_key(key); }
};

}  // namespace gh::client
