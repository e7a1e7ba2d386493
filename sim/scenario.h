// Scenario files (YAML) and targets. Every error is one line naming the place: FILE:LINE:COL.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include "sim/sim-t.h"

namespace gh::sim {

std::optional<Scenario> load_scenario(const std::string& path, std::string* error);
// `file` only labels messages.
std::optional<Scenario> parse_scenario(std::string_view yaml, const std::string& file,
                                       std::string* error);
// Sources must lie in 127.0.0.0/8 to be bound, unless they travel in X-Forwarded-For.
bool check_sources(const Scenario& s, bool via_xff, std::string* error);

// "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080" (= 127.0.0.1). Anything
// that is not loopback is refused: this tool floods what it is pointed at.
std::optional<Target> parse_target(std::string_view url, std::string* error);

// "30s", "500ms", "2m", or a bare number of seconds. nullopt when unreadable or negative.
std::optional<Nanos> parse_duration(std::string_view text);
// "127.1.0.0/16", "::1/128", a bare address (= /32 or /128). Host bits must be zero.
std::optional<Cidr> parse_cidr(std::string_view text);
bool inside_loopback4(const Cidr& c);
// Addresses in the block: 2^(bits - prefix), capped at 2^32.
std::uint64_t cidr_size(const Cidr& c);
// The i-th usable address (i modulo the size; IPv4 blocks wider than /31 skip .0 and .255 host
// octets, which some stacks treat as network and broadcast).
void cidr_address(const Cidr& c, std::uint64_t i, sockaddr_storage* out, socklen_t* len);
// The address number a population's i-th source uses: i, or i strided over /24s with `spread`.
std::uint64_t source_index(const PopulationConfig& p, std::uint64_t i);
// Roaming residents (`roam`): the address number (for cidr_address) of host `host` (0..253) in
// network `slot` (0 = the device's home, up to roam_networks - 1) of account `account`. Each
// account has roam_networks /24s of `sources` (accounts share /24s once the block runs out, as
// carrier pools do); two slots of one account are always in different /24s.
std::uint64_t roam_index(const PopulationConfig& p, std::uint64_t account, std::uint32_t slot,
                         std::uint32_t host);
// Where account `account` of a resident population is at home: its source (source_index), or for
// a roaming population host account % 254 of its network 0. The run starts every device there,
// and prior logins (setup) come from there.
std::uint64_t home_index(const PopulationConfig& p, std::uint64_t account);
// The slot a device moves to from `from`: any other of its networks, by `draw`.
std::uint32_t roam_next_slot(const PopulationConfig& p, std::uint32_t from, std::uint64_t draw);
std::string address_text(const sockaddr_storage& a);

}  // namespace gh::sim
