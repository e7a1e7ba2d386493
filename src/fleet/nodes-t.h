// Plain types of the fleet's node heartbeats (nodes.h): what every node writes of itself each
// second, and what a node makes of all of them (live or gone, figures summed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gh::fleet {

inline constexpr std::size_t kMaxNodes = 64;       // heartbeats read; more are ignored (counted)
inline constexpr std::size_t kMaxNodeRoutes = 64;  // sign-up routes in one heartbeat
inline constexpr std::size_t kMaxHeads = 64;       // oldest first-seen times of one line
inline constexpr std::size_t kMaxHeartbeat = 1 << 18;  // bytes of one heartbeat (~3 KB per room)
inline constexpr std::int64_t kHeartbeatMs = 1000;     // each node writes its own every second
inline constexpr std::int64_t kGoneAfterMs = 5000;  // a heartbeat older than this: the node is gone
inline constexpr std::int64_t kForgetAfterMs = 600'000;  // gone this long: its field is deleted

// One sign-up route as a node sees it.
struct RouteFigures {
  std::string route;
  std::string mode = "open";  // open, challenge, queue, closed
  bool manual = false;
  // The trigger signals (admission::Signals) over the node's own traffic.
  double request_rate = 0;  // requests/s
  double error_rate_pct = 0;
  double shed_rate_pct = 0;
  double upstream_latency_ms = 0;
  // The waiting room.
  bool room = false;
  std::uint64_t queued = 0;
  std::uint64_t active = 0;
  std::uint64_t admitted_total = 0;
  std::vector<std::int64_t> heads;  // first-seen (wall ms) of its oldest places, ascending
  // Their ticket ids (32 hex digits each, as heads; empty from a node of an older version): one
  // person polling several nodes is one place of the fleet's line.
  std::vector<std::string> ids;
  // The microseconds of each head's millisecond, 0-999 (one per id; empty from an older node:
  // 0): the fleet's line keeps the order of people who arrived within a millisecond.
  std::vector<std::uint16_t> subs;

  friend bool operator==(const RouteFigures&, const RouteFigures&) = default;
};

struct NodeFigures {
  std::string node;
  std::string version;
  std::int64_t started_ms = 0;  // wall clock
  std::int64_t at_ms = 0;       // when written (wall clock): its age decides live or gone
  double requests_per_s = 0;
  double refusals_per_s = 0;
  std::uint64_t requests_total = 0;
  std::uint64_t refusals_total = 0;
  std::uint64_t signups_total = 0;   // requests passed to a sign-up route's application
  std::uint64_t in_flight = 0;       // admission slots held
  std::uint64_t queued = 0;          // waiting rooms' places plus requests waiting for a slot
  std::uint64_t admitted_total = 0;  // newcomers admitted by the waiting rooms
  std::vector<RouteFigures> routes;

  friend bool operator==(const NodeFigures&, const NodeFigures&) = default;
};

struct NodeEntry {
  NodeFigures figures;
  bool self = false;  // this node: its figures are the latest it measured, never gone
  bool live = false;
  std::int64_t age_ms = 0;
};

// Summed over the live nodes.
struct FleetTotals {
  std::uint32_t live = 0;
  std::uint32_t gone = 0;
  NodeFigures sum;  // node empty; routes summed by name (signals request-weighted, heads merged)
};

}  // namespace gh::fleet
