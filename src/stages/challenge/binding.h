// What a token is bound to. Both hashes are the first 8 bytes of a domain-separated SHA-256: the
// MAC protects the value inside a token, but the hash itself must resist a client that looks for
// another prefix or user agent with the same binding (a weak 64-bit hash would let one solved
// clearance be replayed from any prefix), and it cannot be keyed per process because tokens move
// between restarts and cluster nodes.
#pragma once

#include <cstdint>
#include <string_view>

#include "client/address-t.h"

namespace gh::challenge {

// The client's prefix (client::prefix_of with the configured /ipv4_prefix and /ipv6_prefix, not
// the exact address: dual-stack and mobile users roam within it) and its User-Agent value as
// sent. Host bits below prefix_len are ignored. An empty user agent binds to the prefix alone
// (the one to use for long-lived device tokens, which must survive browser updates).
std::uint64_t binding_of(const client::Cidr& prefix, std::string_view user_agent);

// The subject of a Device token. ASCII letters are folded to lowercase (sign-in forms treat
// "Alice@Example.com" and "alice@example.com" as one account); other bytes are taken as they are,
// so the caller passes the value already percent-decoded. Leading/trailing spaces are kept: the
// application decides whether " alice" is "alice".
std::uint64_t account_hash(std::string_view account);

}  // namespace gh::challenge
