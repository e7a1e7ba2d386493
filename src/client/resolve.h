// The real client address behind trusted proxies, from X-Forwarded-For or Forwarded (RFC 7239).
//
// Rules, shared by both headers: an untrusted peer is the client and its headers are ignored.
// Otherwise the hops are read right to left (several fields form one list, in field order);
// trusted proxies are skipped and the first untrusted hop is the client. When every hop is trusted
// the leftmost is the client. A malformed hop stops the walk: the last good address (the hop to
// its right, or the peer) is the client, so junk is never believed. Only the rightmost
// kMaxForwardedHops hops are considered. The caller picks one header; mixing them is not defined.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "client/address-t.h"
#include "client/trust.h"

namespace gh::client {

inline constexpr std::size_t kMaxForwardedHops = 64;

// One X-Forwarded-For element: IPv4, IPv6, [IPv6], [IPv6]:port or IPv4:port (no surrounding space).
std::optional<IpAddress> parse_xff_entry(std::string_view entry);

// One RFC 7239 node, already unquoted: IPv4, IPv4:port, [IPv6], [IPv6]:port; the port may be
// obfuscated ("_abc"). "unknown", obfuscated names and bare IPv6 give nullopt.
std::optional<IpAddress> parse_forwarded_node(std::string_view node);

IpAddress resolve_client(const IpAddress& peer, std::span<const std::string_view> xff_field_values,
                         const ProxyTrust& trust);

// Each element must carry exactly one for= parameter (token or quoted-string); an element
// without one, or with for=unknown / an obfuscated node, stops the walk.
IpAddress resolve_client_forwarded(const IpAddress& peer,
                                   std::span<const std::string_view> forwarded_field_values,
                                   const ProxyTrust& trust);

}  // namespace gh::client
