// The fleet's node heartbeats, as pure functions: encode one node's figures, decode another's
// (untrusted: every field checked, sizes bounded), age them (live or gone) and sum the live ones.
// Each node writes its own to the hash `<prefix>nodes` (field = node name) every kHeartbeatMs
// and reads the others' (heartbeat.h does the Redis side).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/nodes-t.h"

namespace gh::fleet {

std::string encode_node(const NodeFigures& n);
// One route's figures as the heartbeat carries them (the admin API shows them too).
nlohmann::json route_json(const RouteFigures& r);
// A node's figures and routes as the heartbeat carries them, without its name, version and
// times: encode_node adds those; the admin API shows a node's view with this.
nlohmann::json figures_json(const NodeFigures& n);
// Nullopt for anything but a well-formed heartbeat within the bounds of nodes-t.h.
std::optional<NodeFigures> decode_node(std::string_view text);

// Every node known, by name, with its age at `now_ms`; `self` replaces this node's own entry (a
// node's view of itself is never stale). At most kMaxNodes entries (self always kept).
std::vector<NodeEntry> age_nodes(const std::vector<NodeFigures>& read, const NodeFigures& self,
                                 std::int64_t now_ms, std::int64_t gone_after_ms = kGoneAfterMs);

// Live nodes' figures summed. Per route: counts and rates add up; the error and shed rates and
// the latency are averages weighted by each node's request rate (the fleet's own figure when
// every node sees the same upstream); the heads of the lines are merged, oldest first, at most
// kMaxHeads; the mode is the strictest, manual when any node's is.
FleetTotals sum_live(const std::vector<NodeEntry>& nodes);

// The route of that name in `n`, or null.
const RouteFigures* find_route(const NodeFigures& n, std::string_view route);

}  // namespace gh::fleet
