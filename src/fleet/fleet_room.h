// One waiting line for the fleet, as a pure function: the other live nodes' places (the heads of
// their lines, from their heartbeats, at most a heartbeat or two old) merged into one list by
// ticket id, and the part of the fleet's cap they leave this node. The room (stages/waitroom)
// ranks its own places among them: a place is due when the fleet's bucket holds a unit for it
// and for every place ahead of it, on any node (docs/ARCHITECTURE.md, "One line for the fleet").
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "fleet/nodes-t.h"

namespace gh::fleet {

using PlaceId = std::array<std::uint8_t, 16>;  // a ticket's id (waitroom::TicketId)

struct OtherPlace {
  std::int64_t first_seen_ms = 0;
  PlaceId id{};
  std::uint64_t rival = 0;          // the best holder_score among the nodes holding it
  std::uint16_t first_seen_us = 0;  // the microseconds of first_seen_ms's millisecond

  friend bool operator==(const OtherPlace&, const OtherPlace&) = default;
};

struct RoomShare {
  std::uint64_t max_active = 0;    // the fleet's cap minus the sessions the other nodes hold
  std::vector<OtherPlace> others;  // sorted by (first-seen µs, id), one per id
};

// A node's name as the number holder_score mixes with a place's id.
std::uint64_t node_hash(std::string_view node);

// Which holder of a place admits it while its holder is away: the highest score (rendezvous
// hashing: every node picks the same one from the same view). Never 0.
std::uint64_t holder_score(const PlaceId& id, std::uint64_t node);

// `others`: the route in the other live nodes' heartbeats, with node_hash of each node. A
// heartbeat without ids (a node of an older version) adds its sessions but not its places.
RoomShare share_room(const std::vector<std::pair<std::uint64_t, RouteFigures>>& others,
                     std::uint64_t fleet_max_active);

// A place id as the heartbeat spells it (32 lowercase hex digits), and back.
std::string id_hex(const PlaceId& id);
bool parse_id_hex(std::string_view text, PlaceId& out);

}  // namespace gh::fleet
