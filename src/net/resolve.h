// Upstream servers written as host:port, and their names resolved to addresses (getaddrinfo:
// /etc/hosts, DNS, container and service names, whatever the system's resolver knows).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/address-t.h"

namespace gh::net {

struct HostPort {
  std::string host;  // a DNS name, or an IP address without brackets
  std::uint16_t port = 0;
  bool literal = false;           // host is an IP address
  client::SocketAddress address;  // when literal
};

// "app.internal:3000", "10.0.0.1:80", "[::1]:80". A name is letters, digits, '-', '_' and '.'
// (at most 253 characters, no empty label); the port is 1..65535. Nullopt and a reason when not.
std::optional<HostPort> parse_host_port(std::string_view text, std::string* why);

// Every address `host` resolves to for TCP, IPv4 and IPv6, sorted, without duplicates, at most
// kMaxAddressesPerName (`truncated` says when some were left out). Blocks: call it off the
// request path. False and the resolver's reason when the name does not resolve.
bool resolve(const std::string& host, std::uint16_t port, std::vector<client::SocketAddress>& out,
             std::string* error, bool* truncated = nullptr);

// What the config loader and the monitor resolve names with: resolve() unless a test or the
// fuzzer gives its own (which must never touch the network).
using Resolver = std::function<bool(const std::string& host, std::uint16_t port,
                                    std::vector<client::SocketAddress>& out, std::string* error)>;

// Orders addresses (IPv4 first, then by bytes, then port) so two answers compare equal.
bool address_less(const client::SocketAddress& a, const client::SocketAddress& b);

}  // namespace gh::net
