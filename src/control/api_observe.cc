// The admin API's operator view: routes, sign-up modes, events, top offenders, the series, reload,
// the dashboard, and the /metrics families that come from the Observer (proxy/observe.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "control/api.h"
#include "control/metrics.h"
#include "control/text.h"
#include "core/clock.h"
#include "core/duration.h"
#include "observe/dashboard.h"
#include "observe/events.h"
#include "observe/minutes.h"
#include "proxy/server.h"
#include "stages/admission/mode_controller.h"

namespace gh::control {

namespace {

using nlohmann::json;

constexpr std::string_view kRouteClassNames[] = {"login", "signup", "api", "static", "other"};

std::string_view route_class_name(policy::RouteClass c) {
  const auto i = static_cast<std::size_t>(c);
  return i < std::size(kRouteClassNames) ? kRouteClassNames[i] : "other";
}

// A bounded integer query parameter: `fallback` when absent; nullopt (and a 400 in `error`) when
// not an integer in [lo, hi].
std::optional<std::int64_t> int_param(const ApiRequest& r, const std::string& name, std::int64_t lo,
                                      std::int64_t hi, std::int64_t fallback, ApiResponse* error) {
  auto it = r.query.find(name);
  if (it == r.query.end()) return fallback;
  std::int64_t v = 0;
  const std::string& t = it->second;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || v < lo || v > hi) {
    *error = error_response(400,
                            name + " must be a whole number from " + std::to_string(lo) + " to " +
                                std::to_string(hi) + ", got " + quote(t),
                            name);
    return std::nullopt;
  }
  return v;
}

std::string configured_mode(const policy::Snapshot& snapshot, const std::string& route) {
  for (const policy::RouteConfig& r : snapshot.routes.routes()) {
    if (r.name == route) return std::string(admission::mode_name(r.signup.mode));
  }
  return "open";
}

json route_status_json(const gate::DefenceState::RouteStatus& s, const policy::Snapshot& snapshot) {
  return json{
      {"route", s.route},
      {"mode", std::string(admission::mode_name(s.mode))},
      {"manual", s.manual},
      {"configured", configured_mode(snapshot, s.route)},
      {"since", observe::format_time(s.since_ms)},
      {"since_ms", s.since_ms},
      {"waiting_room",
       {{"queued", s.room.queued},
        {"active", s.room.active},
        {"admitted_total", s.room.admitted_total},
        {"admission_rate_per_min", s.room.admission_rate_per_min},
        {"oldest_wait_ms", s.room.oldest_wait_ms},
        {"refused_full", s.room.refused_full + s.room.refused_prefix}}},
      {"signals",
       {{"request_rate", s.signals.request_rate},
        {"upstream_latency_ms", s.signals.upstream_latency_ms},
        {"error_rate_pct", s.signals.error_rate_pct},
        {"shed_rate_pct", s.signals.shed_rate_pct}}},
  };
}

std::string_view action_name(policy::ActionKind k) {
  switch (k) {
    case policy::ActionKind::Challenge:
      return "challenge";
    case policy::ActionKind::Reject:
      return "reject";
    case policy::ActionKind::Delay:
      return "delay";
    case policy::ActionKind::Tarpit:
      return "tarpit";
    case policy::ActionKind::Drop:
      return "drop";
    case policy::ActionKind::Ban:
      return "ban";
  }
  return "reject";
}

std::string key_text(const std::vector<policy::KeyPart>& key) {
  static constexpr std::string_view kNames[] = {
      "client.ip", "client.prefix", "header.", "cookie.", "query.",
      "body.",     "email_domain.", "route",   "method",  "clearance.id"};
  std::string out;
  for (const policy::KeyPart& p : key) {
    if (!out.empty()) out += ", ";
    const auto i = static_cast<std::size_t>(p.kind);
    out += i < std::size(kNames) ? std::string(kNames[i]) : "?";
    out += p.name;
  }
  return out.empty() ? "(global)" : out;
}

}  // namespace

json AdminApi::signup_json() const {
  json list = json::array();
  const auto snapshot = server_.snapshot();
  for (const auto& s : server_.defence().routes_status()) {
    list.push_back(route_status_json(s, *snapshot));
  }
  return list;
}

// Route, upstream and limit names come from the config: Exposition escapes them as label values.
void AdminApi::observe_metrics(Exposition& x) const {
  const proxy::Observer& obs = server_.observer();
  const proxy::ObserveTotals t = obs.totals();
  x.family("gatehouse_requests_total");
  for (std::size_t slot = 0; slot < t.routes.size(); ++slot) {
    for (std::size_t c = 0; c < observe::kClasses; ++c) {
      for (std::size_t v = 0; v < observe::kVerdicts; ++v) {
        x.sample({{"route", t.routes[slot]},
                  {"class", observe::kClassNames[c]},
                  {"verdict", observe::kVerdictNames[v]}},
                 t.cell(slot, c, v));
      }
    }
  }
  // Bounds and sums in seconds (base units), from the millisecond buckets.
  static const std::array<double, proxy::kLatencyBoundsMs.size()> kBounds = [] {
    std::array<double, proxy::kLatencyBoundsMs.size()> b{};
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = proxy::kLatencyBoundsMs[i] / 1000.0;
    return b;
  }();
  x.family("gatehouse_request_duration_seconds");
  x.histogram({}, kBounds, t.client, static_cast<double>(t.client_sum_ms) / 1000.0);
  x.family("gatehouse_upstream_latency_seconds");
  x.histogram({}, kBounds, t.upstream, static_cast<double>(t.upstream_sum_ms) / 1000.0);

  const auto routes = server_.defence().routes_status();
  x.family("gatehouse_queue_length");
  x.sample(obs.queue_length());
  x.family("gatehouse_waitroom_queued");
  for (const auto& r : routes) x.sample({{"route", r.route}}, r.room.queued);
  x.family("gatehouse_waitroom_active");
  for (const auto& r : routes) x.sample({{"route", r.route}}, r.room.active);
  x.family("gatehouse_newcomers_admitted_total");
  for (const auto& r : routes) x.sample({{"route", r.route}}, r.room.admitted_total);
  const auto upstreams = server_.defence().upstreams_status();
  x.family("gatehouse_upstream_concurrency_limit");
  for (const auto& u : upstreams) x.sample({{"upstream", u.upstream}}, u.limit);
  x.family("gatehouse_upstream_in_flight");
  for (const auto& u : upstreams) x.sample({{"upstream", u.upstream}}, u.in_flight);
  x.family("gatehouse_signup_mode");
  for (const auto& r : routes) {
    for (std::size_t m = 0; m < observe::kModeNames.size(); ++m) {
      x.sample({{"route", r.route}, {"mode", observe::kModeNames[m]}},
               static_cast<std::size_t>(r.mode) == m ? 1 : 0);
    }
  }
  x.family("gatehouse_signup_mode_manual");
  for (const auto& r : routes) x.sample({{"route", r.route}}, r.manual ? 1 : 0);
  // Both series of every sign-up route, from 0: an alert on increase() sees the first change.
  const auto changes = obs.mode_changes();
  x.family("gatehouse_signup_mode_changes_total");
  for (const auto& r : routes) {
    for (const bool manual : {false, true}) {
      std::uint64_t n = 0;
      for (const auto& c : changes) {
        if (c.route == r.route && c.manual == manual) n = c.count;
      }
      x.sample({{"route", r.route}, {"by", manual ? "manual" : "trigger"}}, n);
    }
  }
  x.family("gatehouse_events_total");
  x.sample(obs.events_recorded());
  x.family("gatehouse_incident_reports_total");
  x.sample(obs.reports_written());
  observe::AccessLogStats a;
  if (const observe::AccessLog* log = obs.access_log_const()) a = log->stats();
  x.family("gatehouse_access_log_records_total");
  x.sample({{"outcome", "written"}}, a.written);
  x.sample({{"outcome", "dropped"}}, a.dropped);
  x.sample({{"outcome", "sampled_out"}}, a.sampled_out);
  x.family("gatehouse_access_log_write_errors_total");
  x.sample(a.write_errors);
}

ApiResponse AdminApi::routes() const {
  const gate::RuntimePtr rt = server_.runtime();
  const auto snapshot = server_.snapshot();
  std::map<std::string, json> signup;
  for (const auto& s : server_.defence().routes_status()) {
    signup[s.route] = route_status_json(s, *snapshot);
  }
  std::map<std::string, json> upstream_limits;
  for (const auto& u : server_.defence().upstreams_status()) {
    upstream_limits[u.upstream] = {{"limit", u.limit}, {"in_flight", u.in_flight}};
  }
  const proxy::ObserveTotals t = server_.observer().totals();
  json list = json::array();
  for (const policy::RouteConfig& route : snapshot->routes.routes()) {
    json limits = json::array();
    std::map<std::string, ratelimit::TableStats> tables;
    if (rt != nullptr) {
      if (const ratelimit::RouteLimits* rl = rt->limits_for(&route)) {
        rl->each([&](const policy::LimitConfig& limit, const ratelimit::Table& table) {
          tables[limit.name] = table.stats();
        });
      }
    }
    for (const policy::LimitConfig& l : route.limits) {
      json j = {{"name", l.name},
                {"key", key_text(l.key)},
                {"rate", std::to_string(l.rate) + "/" +
                             core::format_duration(l.period, core::DurationStyle::Config)},
                {"burst", l.burst},
                {"action", std::string(action_name(l.action.kind))},
                {"dry_run", l.dry_run},
                {"max_keys", l.max_keys}};
      auto it = tables.find(l.name);
      if (it != tables.end()) {
        j["table"] = {{"tracked", it->second.tracked},
                      {"capacity", it->second.capacity},
                      {"evictions_expired", it->second.evictions_expired},
                      {"evictions_least_limited", it->second.evictions_least_limited},
                      {"table_full", it->second.table_full}};
      }
      limits.push_back(std::move(j));
    }
    json verdicts = json::object();
    for (std::size_t slot = 0; slot < t.routes.size(); ++slot) {
      if (t.routes[slot] != route.name) continue;
      for (std::size_t v = 0; v < observe::kVerdicts; ++v) {
        std::uint64_t n = 0;
        for (std::size_t c = 0; c < observe::kClasses; ++c) n += t.cell(slot, c, v);
        verdicts[std::string(observe::kVerdictNames[v])] = n;
      }
    }
    const std::string& upstream = snapshot->config.upstreams[route.upstream_index].name;
    json j = {
        {"name", route.name},          {"class", std::string(route_class_name(route.route_class))},
        {"upstream", upstream},        {"require_clearance", route.require_clearance},
        {"limits", std::move(limits)}, {"requests", std::move(verdicts)}};
    if (auto it = upstream_limits.find(upstream); it != upstream_limits.end()) {
      j["concurrency"] = it->second;
    }
    if (auto it = signup.find(route.name); it != signup.end()) j["signup"] = it->second;
    list.push_back(std::move(j));
  }
  ApiResponse res;
  res.body = json{{"routes", std::move(list)}};
  return res;
}

ApiResponse AdminApi::signup_modes(const ApiRequest& r) const {
  json list = signup_json();
  auto it = r.query.find("route");
  if (it != r.query.end()) {
    for (const json& j : list) {
      if (j["route"] == it->second) {
        ApiResponse res;
        res.body = j;
        return res;
      }
    }
    return error_response(404, "no sign-up route " + quote(it->second), "route");
  }
  ApiResponse res;
  res.body = json{{"routes", std::move(list)},
                  {"modes", {"open", "challenge", "queue", "closed", "auto"}}};
  return res;
}

ApiResponse AdminApi::set_signup_mode(const ApiRequest& r) {
  if (r.body.size() > kMaxBodyBytes) return error_response(413, "body larger than 16 KiB");
  const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return error_response(
        400, "the body must be a JSON object like {\"route\": \"signup\", \"mode\": \"queue\"}");
  }
  for (const auto& [name, value] : body.items()) {
    if (name != "route" && name != "mode" && name != "reason") {
      return error_response(400, "unknown field " + quote(name) + " (expected route, mode, reason)",
                            name);
    }
  }
  for (const char* name : {"route", "mode"}) {
    if (!body.contains(name)) return error_response(400, std::string(name) + " is required", name);
    if (!body[name].is_string())
      return error_response(400, std::string(name) + " must be a string", name);
  }
  if (body.contains("reason") && !body["reason"].is_string()) {
    return error_response(400, "reason must be a string", "reason");
  }
  const std::string route = body["route"].get<std::string>();
  const std::string mode_text = body["mode"].get<std::string>();
  std::string reason = body.value("reason", std::string());
  if (reason.size() > 200) return error_response(400, "reason: at most 200 bytes", "reason");
  std::optional<policy::SignupMode> mode;
  if (mode_text != "auto") {
    mode = admission::parse_mode(mode_text);
    if (!mode) {
      return error_response(
          400, "mode " + quote(mode_text) + " is not one of open, challenge, queue, closed, auto",
          "mode");
    }
  }
  bool known = false;
  for (const auto& s : server_.defence().routes_status()) known = known || s.route == route;
  if (!known) {
    std::string names;
    for (const auto& s : server_.defence().routes_status())
      names += (names.empty() ? "" : ", ") + s.route;
    return error_response(404,
                          "no sign-up route " + quote(route) +
                              " (sign-up routes: " + (names.empty() ? "none" : names) + ")",
                          "route");
  }
  const std::string by = changed_by(r.user_agent);
  if (reason.empty()) reason = mode ? "set by " + by : "back to automatic, by " + by;
  server_.observer().note_manual(route, by);
  const bool ok = server_.defence().set_mode(route, mode, reason, core::wall_ms());
  server_.observer().note_manual(route, "");
  if (!ok) return error_response(404, "no sign-up route " + quote(route), "route");
  spdlog::info("admin: sign-up mode of {} set to {} ({})", route, mode_text, by);
  server_.share_mode(route, mode_text, reason, core::wall_ms());  // the fleet's other nodes
  const auto snapshot = server_.snapshot();
  for (const auto& s : server_.defence().routes_status()) {
    if (s.route == route) {
      ApiResponse res;
      res.body = route_status_json(s, *snapshot);
      return res;
    }
  }
  return error_response(404, "no sign-up route " + quote(route), "route");
}

ApiResponse AdminApi::events(const ApiRequest& r) const {
  ApiResponse error;
  auto limit = int_param(r, "limit", 1, 1000, 100, &error);
  if (!limit) return error;
  json list = json::array();
  for (const observe::Event& e :
       server_.observer().recent_events(static_cast<std::size_t>(*limit))) {
    list.push_back(observe::event_json(e));
  }
  ApiResponse res;
  res.body = json{{"events", std::move(list)}};
  return res;
}

ApiResponse AdminApi::top(const ApiRequest& r) const {
  ApiResponse error;
  auto n = int_param(r, "n", 1, static_cast<std::int64_t>(proxy::kTopCapacity), 10, &error);
  if (!n) return error;
  ApiResponse res;
  res.body = observe::offenders_json(server_.observer().top(static_cast<std::size_t>(*n)));
  return res;
}

ApiResponse AdminApi::series(const ApiRequest& r) const {
  ApiResponse error;
  auto seconds =
      int_param(r, "seconds", 1, static_cast<std::int64_t>(observe::kSeriesSeconds), 300, &error);
  if (!seconds) return error;
  ApiResponse res;
  res.body = server_.observer().series(static_cast<std::size_t>(*seconds));
  return res;
}

ApiResponse AdminApi::reload(const ApiRequest& r) {
  if (!r.body.empty()) {
    const json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.empty()) {
      return error_response(400, "POST /v1/reload takes no body (or {})");
    }
  }
  if (!options_.reload) {
    return error_response(501, "this gatehouse has no config file to reload (quick or demo mode)");
  }
  std::string why;
  if (!options_.reload(changed_by(r.user_agent), &why)) {
    return error_response(422, "reload refused, the running config is kept: " + why);
  }
  ApiResponse res;
  res.body = json{{"reloaded", true},
                  {"generation", server_.generation()},
                  {"changes", server_.reload_changes()}};
  return res;
}

ApiResponse AdminApi::dashboard(const ApiRequest& r) const {
  auto asset = observe::dashboard_asset(r.path);
  if (!asset) return error_response(404, "no such dashboard file: " + quote(r.path));
  ApiResponse res;
  res.text = std::string(asset->body);
  res.content_type = std::string(asset->content_type);
  // The page runs only its own files; it talks to this origin alone.
  res.headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
      "frame-ancestors 'none'");
  return res;
}

}  // namespace gh::control
