#include "fleet/nodes.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "fleet/json_fields.h"
#include "fleet/messages.h"

namespace gh::fleet {
namespace {

using json = nlohmann::json;

constexpr std::string_view kModes[] = {"open", "challenge", "queue", "closed"};
constexpr std::int64_t kMaxTimeMs = (std::int64_t{1} << 40) * 1000;
constexpr double kMaxFigure = 1e12;
constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 53;  // exact in a double (JSON readers)

int mode_rank(std::string_view m) {
  for (std::size_t i = 0; i < std::size(kModes); ++i) {
    if (kModes[i] == m) return static_cast<int>(i);
  }
  return -1;
}

bool get_count(const json& j, const char* key, std::uint64_t& out) {
  std::int64_t v = 0;
  if (!int_field(j, key, 0, static_cast<std::int64_t>(kMaxCount), v)) return false;
  out = static_cast<std::uint64_t>(v);
  return true;
}

bool get_figure(const json& j, const char* key, double& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return false;
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < 0 || v > kMaxFigure) return false;
  out = v;
  return true;
}

std::optional<RouteFigures> route_from(const json& j) {
  if (!j.is_object()) return std::nullopt;
  RouteFigures r;
  auto manual = j.find("manual");
  if (!text_field(j, "route", r.route) || r.route.empty() || !text_field(j, "mode", r.mode) ||
      mode_rank(r.mode) < 0 || manual == j.end() || !manual->is_boolean() ||
      !get_figure(j, "request_rate", r.request_rate) ||
      !get_figure(j, "error_rate_pct", r.error_rate_pct) ||
      !get_figure(j, "shed_rate_pct", r.shed_rate_pct) ||
      !get_figure(j, "upstream_latency_ms", r.upstream_latency_ms)) {
    return std::nullopt;
  }
  r.manual = manual->get<bool>();
  auto room = j.find("room");
  if (room != j.end()) {
    if (!room->is_object()) return std::nullopt;
    r.room = true;
    auto heads = room->find("heads");
    if (!get_count(*room, "queued", r.queued) || !get_count(*room, "active", r.active) ||
        !get_count(*room, "admitted_total", r.admitted_total) || heads == room->end() ||
        !heads->is_array() || heads->size() > kMaxHeads || heads->size() > r.queued) {
      return std::nullopt;
    }
    for (const json& h : *heads) {
      if (!h.is_number_integer()) return std::nullopt;
      if (h.is_number_unsigned() && h.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxTimeMs))
        return std::nullopt;
      const std::int64_t v = h.get<std::int64_t>();
      if (v < 0 || v > kMaxTimeMs || (!r.heads.empty() && v < r.heads.back())) return std::nullopt;
      r.heads.push_back(v);
    }
    // Optional (older nodes send none), but when present one per head, each 32 hex digits.
    if (auto ids = room->find("ids"); ids != room->end()) {
      if (!ids->is_array() || ids->size() != r.heads.size()) return std::nullopt;
      for (const json& id : *ids) {
        if (!id.is_string()) return std::nullopt;
        const std::string& t = id.get_ref<const std::string&>();
        if (t.size() != 32 || t.find_first_not_of("0123456789abcdef") != std::string::npos)
          return std::nullopt;
        r.ids.push_back(t);
      }
    }
    if (auto subs = room->find("subs"); subs != room->end()) {
      if (!subs->is_array() || subs->size() != r.ids.size()) return std::nullopt;
      for (const json& us : *subs) {
        if (!us.is_number_unsigned() || us.get<std::uint64_t>() > 999) return std::nullopt;
        r.subs.push_back(static_cast<std::uint16_t>(us.get<std::uint64_t>()));
      }
    }
  }
  return r;
}

}  // namespace

json route_json(const RouteFigures& r) {
  json j{{"route", r.route},
         {"mode", r.mode},
         {"manual", r.manual},
         {"request_rate", r.request_rate},
         {"error_rate_pct", r.error_rate_pct},
         {"shed_rate_pct", r.shed_rate_pct},
         {"upstream_latency_ms", r.upstream_latency_ms}};
  if (r.room) {
    j["room"] = {{"queued", r.queued},
                 {"active", r.active},
                 {"admitted_total", r.admitted_total},
                 {"heads", r.heads}};
    if (!r.ids.empty()) j["room"]["ids"] = r.ids;
    if (!r.subs.empty()) j["room"]["subs"] = r.subs;
  }
  return j;
}

json figures_json(const NodeFigures& n) {
  json routes = json::array();
  for (const RouteFigures& r : n.routes) routes.push_back(route_json(r));
  return {{"requests_per_s", n.requests_per_s},
          {"refusals_per_s", n.refusals_per_s},
          {"requests_total", n.requests_total},
          {"refusals_total", n.refusals_total},
          {"signups_total", n.signups_total},
          {"in_flight", n.in_flight},
          {"queued", n.queued},
          {"admitted_total", n.admitted_total},
          {"routes", std::move(routes)}};
}

std::string encode_node(const NodeFigures& n) {
  json j = figures_json(n);
  j["node"] = n.node;
  j["version"] = n.version;
  j["started_ms"] = n.started_ms;
  j["at_ms"] = n.at_ms;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<NodeFigures> decode_node(std::string_view text) {
  if (text.size() > kMaxHeartbeat) return std::nullopt;
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  NodeFigures n;
  auto routes = j.find("routes");
  if (!text_field(j, "node", n.node) || !valid_node(n.node) ||
      !text_field(j, "version", n.version, true, 64) ||
      !int_field(j, "started_ms", 0, kMaxTimeMs, n.started_ms) ||
      !int_field(j, "at_ms", 0, kMaxTimeMs, n.at_ms) ||
      !get_figure(j, "requests_per_s", n.requests_per_s) ||
      !get_figure(j, "refusals_per_s", n.refusals_per_s) ||
      !get_count(j, "requests_total", n.requests_total) ||
      !get_count(j, "refusals_total", n.refusals_total) ||
      !get_count(j, "signups_total", n.signups_total) || !get_count(j, "in_flight", n.in_flight) ||
      !get_count(j, "queued", n.queued) || !get_count(j, "admitted_total", n.admitted_total) ||
      routes == j.end() || !routes->is_array() || routes->size() > kMaxNodeRoutes) {
    return std::nullopt;
  }
  for (const json& rj : *routes) {
    auto r = route_from(rj);
    if (!r) return std::nullopt;
    if (find_route(n, r->route) != nullptr) return std::nullopt;  // one entry per route
    n.routes.push_back(std::move(*r));
  }
  return n;
}

const RouteFigures* find_route(const NodeFigures& n, std::string_view route) {
  for (const RouteFigures& r : n.routes) {
    if (r.route == route) return &r;
  }
  return nullptr;
}

std::vector<NodeEntry> age_nodes(const std::vector<NodeFigures>& read, const NodeFigures& self,
                                 std::int64_t now_ms, std::int64_t gone_after_ms) {
  std::vector<NodeEntry> out;
  out.push_back(NodeEntry{self, true, true, 0});
  for (const NodeFigures& n : read) {
    if (out.size() >= kMaxNodes) break;
    if (n.node == self.node) continue;
    const bool dup = std::any_of(out.begin(), out.end(),
                                 [&](const NodeEntry& e) { return e.figures.node == n.node; });
    if (dup) continue;
    NodeEntry e;
    e.figures = n;
    e.age_ms = std::max<std::int64_t>(0, now_ms - n.at_ms);
    e.live = e.age_ms <= gone_after_ms;
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(),
            [](const NodeEntry& a, const NodeEntry& b) { return a.figures.node < b.figures.node; });
  return out;
}

FleetTotals sum_live(const std::vector<NodeEntry>& nodes) {
  FleetTotals t;
  NodeFigures& s = t.sum;
  // Weighted sums of the averaged signals, divided once all nodes are in.
  struct Weights {
    double error = 0, shed = 0, latency = 0, weight = 0;
  };
  std::vector<Weights> w;
  for (const NodeEntry& e : nodes) {
    if (!e.live) {
      ++t.gone;
      continue;
    }
    ++t.live;
    const NodeFigures& n = e.figures;
    s.requests_per_s += n.requests_per_s;
    s.refusals_per_s += n.refusals_per_s;
    s.requests_total += n.requests_total;
    s.refusals_total += n.refusals_total;
    s.signups_total += n.signups_total;
    s.in_flight += n.in_flight;
    s.queued += n.queued;
    s.admitted_total += n.admitted_total;
    for (const RouteFigures& r : n.routes) {
      auto it = std::find_if(s.routes.begin(), s.routes.end(),
                             [&](const RouteFigures& x) { return x.route == r.route; });
      if (it == s.routes.end()) {
        if (s.routes.size() >= kMaxNodeRoutes) continue;
        RouteFigures fresh;
        fresh.route = r.route;
        s.routes.push_back(std::move(fresh));
        w.emplace_back();
        it = s.routes.end() - 1;
      }
      RouteFigures& a = *it;
      Weights& wt = w[static_cast<std::size_t>(it - s.routes.begin())];
      if (mode_rank(r.mode) > mode_rank(a.mode)) a.mode = r.mode;
      a.manual = a.manual || r.manual;
      a.request_rate += r.request_rate;
      // A node without traffic still counts a little, so a fleet at rest averages its nodes.
      const double weight = std::max(r.request_rate, 1e-3);
      wt.error += r.error_rate_pct * weight;
      wt.shed += r.shed_rate_pct * weight;
      wt.latency += r.upstream_latency_ms * weight;
      wt.weight += weight;
      if (r.room) {
        a.room = true;
        a.queued += r.queued;
        a.active += r.active;
        a.admitted_total += r.admitted_total;
        std::vector<std::int64_t> merged;
        merged.reserve(a.heads.size() + r.heads.size());
        std::merge(a.heads.begin(), a.heads.end(), r.heads.begin(), r.heads.end(),
                   std::back_inserter(merged));
        if (merged.size() > kMaxHeads) merged.resize(kMaxHeads);
        a.heads = std::move(merged);
      }
    }
  }
  for (std::size_t i = 0; i < s.routes.size(); ++i) {
    if (w[i].weight <= 0) continue;
    s.routes[i].error_rate_pct = w[i].error / w[i].weight;
    s.routes[i].shed_rate_pct = w[i].shed / w[i].weight;
    s.routes[i].upstream_latency_ms = w[i].latency / w[i].weight;
  }
  return t;
}

}  // namespace gh::fleet
