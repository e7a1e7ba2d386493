// Redis Cluster routing as pure functions: a key's slot (CRC16/XMODEM of the key or of its
// `{hash tag}`, modulo 16384), the slot map read from a CLUSTER SLOTS reply, and the MOVED/ASK
// redirections read from an error reply. Replies are untrusted input: every field is checked,
// and anything out of bounds refuses the whole reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fleet/reply-t.h"
#include "fleet/slots-t.h"

namespace gh::fleet {

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster hashes keys.
std::uint16_t crc16(std::string_view data);
// The slot of `key`: only what lies between the first '{' and the next '}' is hashed when it is
// not empty, so keys sharing a tag share a slot.
std::uint16_t key_slot(std::string_view key);

// The map from a CLUSTER SLOTS reply, asked of `asked` (an empty host in the reply means that
// node). A range whose master has no endpoint ("?", nil) is left without owner. Nullopt with
// the reason in `why` for anything malformed: a field of the wrong type, a slot out of range or
// overlapping another, a port out of range, a host that is not a host, too many nodes.
std::optional<SlotMap> parse_cluster_slots(const Reply& reply, const NodeAddress& asked,
                                           std::string* why);

// "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>"; nullopt for anything else.
std::optional<Redirect> parse_redirect(std::string_view error);

// What an error reply asks of a cluster client.
enum class ClusterError : std::uint8_t {
  None,      // not one of ours: the command's answer
  Redirect,  // MOVED or ASK (parse_redirect says where)
  TryLater,  // CLUSTERDOWN, TRYAGAIN, LOADING, MASTERDOWN: refresh the map and retry later
  Disabled,  // "cluster support disabled": a standalone Redis answered CLUSTER SLOTS
};
ClusterError classify_error(std::string_view error);

// A host as the map and redirections may name it: 1-255 letters, digits, '.', '-', '_', ':'
// (IPv6), no brackets.
bool valid_host(std::string_view host);

}  // namespace gh::fleet
