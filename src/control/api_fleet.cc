// GET /v1/fleet and the fleet's /metrics families: every node this one knows from the heartbeats
// (fleet/heartbeat.h), its health (live, or gone: no heartbeat for 5 s), its figures, and the
// live nodes' figures summed. A node alone answers `configured: false` and zeros.
#include "control/api.h"
#include "control/metrics.h"
#include "core/clock.h"
#include "fleet/nodes.h"
#include "proxy/server.h"

namespace gh::control {

namespace {
using nlohmann::json;

json node_view_json(const fleet::NodeFigures& n) {
  json j = fleet::figures_json(n);
  for (std::size_t i = 0; i < n.routes.size(); ++i) {
    const fleet::RouteFigures& r = n.routes[i];
    if (r.room) {  // the API shows the line's oldest place, not the heads the nodes exchange
      json& room = j["routes"][i]["room"];
      room.erase("heads");
      room["oldest_first_seen_ms"] = r.heads.empty() ? json(nullptr) : json(r.heads[0]);
    }
  }
  return j;
}
}  // namespace

json AdminApi::fleet_json() const {
  const fleet::Fleet* f = server_.fleet();
  if (f == nullptr) return {{"configured", false}, {"nodes", json::array()}};
  const std::int64_t now = core::wall_ms();
  const std::vector<fleet::NodeEntry> nodes = f->heartbeat().nodes(now);
  json list = json::array();
  for (const fleet::NodeEntry& e : nodes) {
    list.push_back({{"node", e.figures.node},
                    {"self", e.self},
                    {"state", e.live ? "live" : "gone"},
                    {"age_ms", e.age_ms},
                    {"version", e.figures.version},
                    {"started_ms", e.figures.started_ms},
                    {"figures", node_view_json(e.figures)}});
  }
  const fleet::FleetTotals t = fleet::sum_live(nodes);
  return {{"configured", true},
          {"node", f->node()},
          {"redis_up", f->up()},
          {"live", t.live},
          {"gone", t.gone},
          {"nodes", std::move(list)},
          {"sum", node_view_json(t.sum)},
          {"heartbeats",
           {{"written", f->heartbeat().written()},
            {"reads", f->heartbeat().reads()},
            {"malformed", f->heartbeat().malformed()}}}};
}

ApiResponse AdminApi::fleet() const {
  ApiResponse res;
  res.status = 200;
  res.body = fleet_json();
  return res;
}

void AdminApi::fleet_metrics(Exposition& x) const {
  const fleet::Fleet* f = server_.fleet();
  fleet::FleetTotals t;
  if (f != nullptr) t = fleet::sum_live(f->heartbeat().nodes(core::wall_ms()));
  x.family("gatehouse_fleet_nodes");
  x.sample({{"state", "live"}}, std::uint64_t{t.live});
  x.sample({{"state", "gone"}}, std::uint64_t{t.gone});
  x.family("gatehouse_fleet_requests_per_second");
  x.sample(t.sum.requests_per_s);
  x.family("gatehouse_fleet_refusals_per_second");
  x.sample(t.sum.refusals_per_s);
  x.family("gatehouse_fleet_signups");
  x.sample(t.sum.signups_total);
  x.family("gatehouse_fleet_in_flight");
  x.sample(t.sum.in_flight);
  x.family("gatehouse_fleet_queue_length");
  x.sample(t.sum.queued);
  x.family("gatehouse_fleet_waitroom_queued");
  for (const fleet::RouteFigures& r : t.sum.routes) {
    if (r.room) x.sample({{"route", r.route}}, r.queued);
  }
  x.family("gatehouse_fleet_waitroom_active");
  for (const fleet::RouteFigures& r : t.sum.routes) {
    if (r.room) x.sample({{"route", r.route}}, r.active);
  }
  x.family("gatehouse_fleet_heartbeats_malformed_total");
  x.sample(f != nullptr ? f->heartbeat().malformed() : 0);
}

}  // namespace gh::control
