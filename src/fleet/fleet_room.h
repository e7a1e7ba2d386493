// One waiting line for the fleet, as a pure function: from this node's line (fresh) and the
// other live nodes' heartbeats (at most a heartbeat or two old), what this node may admit from
// its own line now. The fleet's line is every node's places ordered by their signed first-seen
// time; the next M places of it (M = what the fleet admits in kShareWindowMs, at least one, at
// most kMaxHeads) are the ones due. A node admits only its places first seen at or before the
// cut-off (the M-th place's time), at its share of the fleet's rate (its places among those M),
// and only while the fleet's admitted sessions are under the fleet's cap. Heads are exact for
// the first kMaxHeads places: every one of them is among its own node's first kMaxHeads.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "fleet/nodes-t.h"

namespace gh::fleet {

inline constexpr std::int64_t kShareWindowMs = 2 * kHeartbeatMs;
inline constexpr std::int64_t kNoCutoff = std::numeric_limits<std::int64_t>::max();

struct RoomShare {
  std::int64_t cutoff_ms = kNoCutoff;  // admit from the line only places first seen at or before
  std::uint32_t per_minute = 0;        // this node's part of the fleet's rate
  std::uint64_t max_active = 0;        // this node's part of the fleet's cap (sessions it may hold)
};

// `own`: this node's route as measured now (queued, active, heads); `others`: the same route in
// the other live nodes' heartbeats; `live`: live nodes, this one included (at least 1).
RoomShare share_room(const RouteFigures& own, const std::vector<RouteFigures>& others,
                     std::uint32_t fleet_per_minute, std::uint64_t fleet_max_active,
                     std::uint32_t live);

}  // namespace gh::fleet
