#include "control/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "client/address.h"
#include "control/metrics.h"
#include "control/process_stats.h"
#include "control/text.h"
#include "core/build_info.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "proxy/server.h"
#include "stages/lists/bans.h"

namespace gh::control {

namespace {

using nlohmann::json;

enum class Endpoint {
  None,
  Status,
  Metrics,
  Bans,
  Ban,
  Routes,
  SignupMode,
  Events,
  Top,
  Series,
  Reload,
  Revoke,
  Dashboard,
  Upstreams,
  Fleet,
  Healthz,
  Readyz
};

struct Route {
  Endpoint endpoint = Endpoint::None;
  std::string key;  // Ban: the rest of the path
};

Route route_of(const std::string& path) {
  if (path == "/v1/status") return {Endpoint::Status, {}};
  if (path == "/healthz") return {Endpoint::Healthz, {}};
  if (path == "/readyz") return {Endpoint::Readyz, {}};
  if (path == "/metrics") return {Endpoint::Metrics, {}};
  if (path == "/v1/bans") return {Endpoint::Bans, {}};
  if (path == "/v1/routes") return {Endpoint::Routes, {}};
  if (path == "/v1/signup-mode") return {Endpoint::SignupMode, {}};
  if (path == "/v1/events") return {Endpoint::Events, {}};
  if (path == "/v1/top") return {Endpoint::Top, {}};
  if (path == "/v1/series") return {Endpoint::Series, {}};
  if (path == "/v1/reload") return {Endpoint::Reload, {}};
  if (path == "/v1/residents/revoke") return {Endpoint::Revoke, {}};
  if (path == "/v1/upstreams") return {Endpoint::Upstreams, {}};
  if (path == "/v1/fleet") return {Endpoint::Fleet, {}};
  if (path == "/" || path == "/dashboard" || path.starts_with("/dashboard/")) {
    return {Endpoint::Dashboard, {}};
  }
  constexpr std::string_view kBanPrefix = "/v1/bans/";
  if (path.size() > kBanPrefix.size() && path.compare(0, kBanPrefix.size(), kBanPrefix) == 0) {
    return {Endpoint::Ban, path.substr(kBanPrefix.size())};
  }
  return {};
}

const char* allowed_methods(Endpoint e) {
  switch (e) {
    case Endpoint::Status:
    case Endpoint::Metrics:
    case Endpoint::Routes:
    case Endpoint::Events:
    case Endpoint::Top:
    case Endpoint::Series:
    case Endpoint::Dashboard:
    case Endpoint::Upstreams:
    case Endpoint::Fleet:
    case Endpoint::Healthz:
    case Endpoint::Readyz:
      return "GET, HEAD";
    case Endpoint::Bans:
    case Endpoint::SignupMode:
      return "GET, HEAD, POST";
    case Endpoint::Reload:
    case Endpoint::Revoke:
      return "POST";
    case Endpoint::Ban:
      return "GET, HEAD, DELETE";
    case Endpoint::None:
      break;
  }
  return "";
}

bool method_allowed(Endpoint e, const std::string& m) {
  if (m == "GET" || m == "HEAD") {
    return e != Endpoint::None && e != Endpoint::Reload && e != Endpoint::Revoke;
  }
  if (m == "POST") {
    return e == Endpoint::Bans || e == Endpoint::SignupMode || e == Endpoint::Reload ||
           e == Endpoint::Revoke;
  }
  if (m == "DELETE") return e == Endpoint::Ban;
  return false;
}

bool is_read(const std::string& method) {
  return method == "GET" || method == "HEAD";
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// "application/json; charset=utf-8" -> "application/json"
std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  std::size_t i = 0;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
  return lower(t.substr(i));
}

ApiResponse unauthorized(const std::string& message, bool invalid) {
  ApiResponse r = error_response(401, message);
  r.headers.emplace_back("WWW-Authenticate",
                         invalid ? "Bearer realm=\"gatehouse\", error=\"invalid_token\""
                                 : "Bearer realm=\"gatehouse\"");
  return r;
}

}  // namespace

std::string changed_by(const std::string& user_agent) {
  if (user_agent.starts_with("gatehouse-ctl")) return "ctl";
  if (user_agent.find("Mozilla/") != std::string::npos) return "dashboard";
  return "admin";
}

ApiResponse error_response(int status, const std::string& message, const std::string& field) {
  ApiResponse r;
  r.status = status;
  r.body = json{{"error", message}};
  if (!field.empty()) r.body["field"] = field;
  return r;
}

AdminApi::AdminApi(proxy::Server& server, Options options)
    : server_(server), options_(std::move(options)), started_(std::chrono::steady_clock::now()) {}

std::optional<ApiResponse> AdminApi::check_head(const ApiRequest& r) const {
  const Route route = route_of(r.path);
  if (route.endpoint == Endpoint::None) {
    return error_response(404,
                          "no such endpoint: " + quote(r.path) +
                              " (endpoints: /v1/status, /v1/routes, /v1/signup-mode, "
                              "/v1/events, /v1/top, /v1/series, /v1/reload, /v1/bans, "
                              "/v1/bans/<cidr>, /v1/residents/revoke, /v1/upstreams, /v1/fleet, "
                              "/metrics, "
                              "/healthz, /readyz, /dashboard)");
  }
  if (!method_allowed(route.endpoint, r.method)) {
    ApiResponse res =
        error_response(405, "method " + r.method + " not allowed on " + r.path +
                                " (allowed: " + allowed_methods(route.endpoint) + ")");
    res.headers.emplace_back("Allow", allowed_methods(route.endpoint));
    return res;
  }

  const bool read = is_read(r.method);
  // The page itself holds no data: it loads without a token (a browser cannot send one for a
  // page); what it reads and changes goes through the endpoints below, token and all.
  if (route.endpoint == Endpoint::Dashboard) return std::nullopt;
  // Probes (a load balancer, Kubernetes, systemd units) carry no token, wherever they come from:
  // the answers say only whether the process lives and what keeps it from serving.
  if (route.endpoint == Endpoint::Healthz || route.endpoint == Endpoint::Readyz) {
    return std::nullopt;
  }
  if (!read && !options_.token) {
    return error_response(403, "admin changes disabled: set admin.token_file");
  }
  if (r.authorization_count > 0 && options_.token) {
    // A token sent is always checked, for reads as well: a wrong one is an error worth seeing.
    auto presented = r.authorization_count == 1 ? bearer_token(r.authorization) : std::nullopt;
    if (!presented) {
      return unauthorized("malformed Authorization: expected 'Bearer <token>'", true);
    }
    if (!options_.token->matches(*presented)) {
      return unauthorized("invalid bearer token", true);
    }
  } else if (!read) {
    return unauthorized("this change needs a bearer token: send Authorization: Bearer <token>",
                        false);
  } else if (!options_.loopback) {
    return unauthorized("reads need a bearer token when admin.address is not a loopback address",
                        false);
  } else if (!host_is_literal(r.host)) {
    // A browser tricked by DNS rebinding sends the attacker's name here; tools send an address.
    return error_response(
        403,
        "reads without a token need Host to be an IP address or localhost, got " + quote(r.host));
  }

  const bool empty_body = !r.content_length || *r.content_length == 0;
  if (r.method == "POST" && !(route.endpoint == Endpoint::Reload && empty_body)) {
    if (media_type(r.content_type) != "application/json") {
      return error_response(
          415, "Content-Type must be application/json, got " +
                   (r.content_type.empty() ? std::string("none") : quote(r.content_type)));
    }
    if (r.content_length && *r.content_length > kMaxBodyBytes) {
      return error_response(413, "body larger than 16 KiB");
    }
  }
  return std::nullopt;
}

ApiResponse AdminApi::handle(const ApiRequest& r) {
  if (auto refused = check_head(r)) return *refused;
  const Route route = route_of(r.path);
  if (route.endpoint == Endpoint::Dashboard) return dashboard(r);
  if (route.endpoint == Endpoint::Healthz) return healthz();
  if (route.endpoint == Endpoint::Readyz) return readyz();
  if (server_.bans() == nullptr) return error_response(503, "the proxy is not running");
  switch (route.endpoint) {
    case Endpoint::Routes:
      return routes();
    case Endpoint::SignupMode:
      return r.method == "POST" ? set_signup_mode(r) : signup_modes(r);
    case Endpoint::Events:
      return events(r);
    case Endpoint::Top:
      return top(r);
    case Endpoint::Series:
      return series(r);
    case Endpoint::Reload:
      return reload(r);
    case Endpoint::Revoke:
      return revoke(r);
    case Endpoint::Upstreams:
      return upstreams();
    case Endpoint::Fleet:
      return fleet();
    case Endpoint::Dashboard:
    case Endpoint::Healthz:
    case Endpoint::Readyz:
      break;
    case Endpoint::Status:
      return status();
    case Endpoint::Metrics:
      return metrics();
    case Endpoint::Bans:
      return r.method == "POST" ? add_ban(r) : list_bans();
    case Endpoint::Ban:
      return r.method == "DELETE" ? remove_ban(route.key) : get_ban(route.key);
    case Endpoint::None:
      break;
  }
  return error_response(404, "no such endpoint");
}

// Generated from the same declarations as /v1/status (GH_WORKER_STATS, BanStats, TableStats), so
// the two cannot drift; the names and labels come from the one table (control/metrics.h).
ApiResponse AdminApi::metrics() const {
  Exposition x;
  x.family("gatehouse_build_info");
  x.sample({{"version", core::version()},
            {"commit", core::commit()},
            {"build_type", core::build_type()}},
           std::uint64_t{1});
  x.family("gatehouse_config_generation");
  x.sample(static_cast<std::uint64_t>(server_.generation()));

  // Per-worker counters, family by family (several counters may share one, under a label).
  const proxy::StatsTotals totals = server_.stats();
  for (const MetricFamily& f : metric_families()) {
    bool started = false;
    for (const WorkerSeries& s : worker_series()) {
      if (s.family != f.name) continue;
      if (!started) started = x.family(f.name);
      if (s.scale != 1) {
        x.sample(static_cast<double>(totals.*s.field) * s.scale);
      } else if (s.label_value.empty()) {
        x.sample(totals.*s.field);
      } else {
        x.sample({{f.labels, s.label_value}}, totals.*s.field);
      }
    }
  }

  x.family("gatehouse_tls_handshakes_in_progress");
  {
    // Read unsynchronised across workers: a handshake may end between two reads, never below 0.
    const std::uint64_t ended =
        totals.tls_handshakes_ok + totals.tls_handshakes_failed + totals.tls_handshakes_timed_out;
    x.sample(totals.tls_handshakes_started > ended ? totals.tls_handshakes_started - ended : 0);
  }

  const lists::BanStats b = server_.bans()->stats();
  x.family("gatehouse_bans_live");
  x.sample(b.live);
  x.family("gatehouse_bans_capacity");
  x.sample(b.capacity);
  x.family("gatehouse_bans_total");
  x.sample(b.bans);
  x.family("gatehouse_bans_evicted_full_total");
  x.sample(b.evicted_full);
  x.family("gatehouse_ban_requests_dropped_total");
  x.sample(server_.bans_dropped());

  // Kernel drops: zeros when off. The packet count is a netlink round trip, fine for a scrape.
  net::KernelDrop* kd = server_.kernel_drop();
  const net::KernelDropStats kds = kd != nullptr ? kd->stats() : net::KernelDropStats{};
  x.family("gatehouse_kernel_drop_enabled");
  x.sample(kd != nullptr ? 1 : 0);
  x.family("gatehouse_kernel_drop_elements_total");
  x.sample({{"op", "added"}}, kds.added);
  x.sample({{"op", "removed"}}, kds.removed);
  x.sample({{"op", "failed"}}, kds.failed);
  x.family("gatehouse_kernel_drop_packets_total");
  x.sample(kd != nullptr ? kd->dropped_packets() : 0);

  // The fleet: zeros when this node is alone (every family is always exposed).
  const fleet::Fleet* fleet = server_.fleet();
  const fleet::FleetStats* fs = fleet != nullptr ? &fleet->stats() : nullptr;
  auto fleet_value = [&](const std::atomic<std::uint64_t> fleet::FleetStats::*field) {
    return fs != nullptr ? (fs->*field).load(std::memory_order_relaxed) : 0;
  };
  x.family("gatehouse_fleet_configured");
  x.sample(fleet != nullptr ? 1 : 0);
  x.family("gatehouse_fleet_up");
  x.sample(fs != nullptr && fs->up.load() ? 1 : 0);
  x.family("gatehouse_fleet_down_seconds");
  const std::int64_t down_since = fs != nullptr ? fs->down_since_ms.load() : 0;
  x.sample(down_since > 0 ? std::max<std::int64_t>(0, core::wall_ms() - down_since) / 1000 : 0);
  x.family("gatehouse_fleet_breaker");
  const std::uint8_t breaker = fs != nullptr ? fs->breaker.load() : 0;
  constexpr std::string_view kBreakerStates[] = {"closed", "open", "half_open"};
  for (std::size_t i = 0; i < std::size(kBreakerStates); ++i) {
    x.sample({{"state", kBreakerStates[i]}}, fleet != nullptr && breaker == i ? 1 : 0);
  }
  x.family("gatehouse_fleet_connects_total");
  x.sample(fleet_value(&fleet::FleetStats::connects));
  x.family("gatehouse_fleet_failures_total");
  x.sample(fleet_value(&fleet::FleetStats::failures));
  x.family("gatehouse_fleet_breaker_opens_total");
  x.sample(fleet_value(&fleet::FleetStats::breaker_opens));
  x.family("gatehouse_fleet_published_total");
  x.sample(fleet_value(&fleet::FleetStats::published));
  x.family("gatehouse_fleet_pending");
  x.sample(fleet_value(&fleet::FleetStats::pending));
  x.family("gatehouse_fleet_dropped_total");
  x.sample(fleet_value(&fleet::FleetStats::dropped));
  x.family("gatehouse_fleet_received_total");
  x.sample(fleet_value(&fleet::FleetStats::received));
  x.family("gatehouse_fleet_malformed_total");
  // Shared limits' published figures count here too: both come from whoever can write to Redis.
  const fleet::LimitsStats* ls = fleet != nullptr ? fleet->limits_stats() : nullptr;
  x.sample(fleet_value(&fleet::FleetStats::malformed) + (ls != nullptr ? ls->malformed.load() : 0));
  x.family("gatehouse_fleet_resyncs_total");
  x.sample(fleet_value(&fleet::FleetStats::resyncs));
  x.family("gatehouse_fleet_spent_conflicts_total");
  x.sample(fleet_value(&fleet::FleetStats::spent_conflicts));
  x.family("gatehouse_fleet_cluster");
  x.sample(fs != nullptr && fs->cluster.load() ? 1 : 0);
  x.family("gatehouse_fleet_redirects_total");
  x.sample({{"kind", "moved"}}, fleet_value(&fleet::FleetStats::moved));
  x.sample({{"kind", "ask"}}, fleet_value(&fleet::FleetStats::asked));
  x.family("gatehouse_fleet_map_refreshes_total");
  x.sample(fleet_value(&fleet::FleetStats::map_refreshes));

  // Shared limits (fleet/limits_sync.h): zeros when this node is alone.
  auto limits_value = [&](const std::atomic<std::uint64_t> fleet::LimitsStats::*field) {
    return ls != nullptr ? (ls->*field).load(std::memory_order_relaxed) : 0;
  };
  x.family("gatehouse_fleet_limit_syncs_total");
  x.sample(limits_value(&fleet::LimitsStats::syncs));
  x.family("gatehouse_fleet_limit_keys_synced_total");
  x.sample(limits_value(&fleet::LimitsStats::keys_synced));
  x.family("gatehouse_fleet_limit_keys_dropped_total");
  x.sample(limits_value(&fleet::LimitsStats::keys_dropped));
  x.family("gatehouse_fleet_limit_deltas_dropped_total");
  x.sample(server_.limit_deltas_dropped());
  x.family("gatehouse_fleet_limit_calls_failed_total");
  x.sample(limits_value(&fleet::LimitsStats::calls_failed));
  x.family("gatehouse_fleet_limit_noscript_total");
  x.sample(limits_value(&fleet::LimitsStats::noscript));
  x.family("gatehouse_fleet_limit_local_share");
  x.sample(ls != nullptr && ls->local_share.load() ? 1 : 0);
  x.family("gatehouse_fleet_limit_local_rounds_total");
  x.sample(limits_value(&fleet::LimitsStats::local_rounds));
  x.family("gatehouse_fleet_limit_live_nodes");
  x.sample(ls != nullptr ? ls->live_nodes.load() : 0);
  x.family("gatehouse_fleet_limit_sync_seconds");
  x.sample(ls != nullptr ? static_cast<double>(ls->last_sync_us.load()) / 1e6 : 0.0);

  fleet_metrics(x);

  // Every limit table of the running generation, one pass per family.
  const gate::RuntimePtr rt = server_.runtime();
  auto each_table = [&](auto&& fn) {
    if (rt == nullptr) return;
    for (const auto& route : rt->policy->routes.routes()) {
      const ratelimit::RouteLimits* limits = rt->limits_for(&route);
      if (limits == nullptr) continue;
      limits->each([&](const policy::LimitConfig& limit, const ratelimit::Table& table) {
        fn(route.name, limit.name, table.stats());
      });
    }
  };
  x.family("gatehouse_limit_keys_tracked");
  each_table(
      [&](const std::string& route, const std::string& limit, const ratelimit::TableStats& st) {
        x.sample({{"route", route}, {"limit", limit}}, st.tracked);
      });
  x.family("gatehouse_limit_keys_capacity");
  each_table(
      [&](const std::string& route, const std::string& limit, const ratelimit::TableStats& st) {
        x.sample({{"route", route}, {"limit", limit}}, st.capacity);
      });
  x.family("gatehouse_limit_evictions_total");
  each_table(
      [&](const std::string& route, const std::string& limit, const ratelimit::TableStats& st) {
        x.sample({{"route", route}, {"limit", limit}, {"reason", "expired"}}, st.evictions_expired);
        x.sample({{"route", route}, {"limit", limit}, {"reason", "least_limited"}},
                 st.evictions_least_limited);
      });
  x.family("gatehouse_limit_table_full_total");
  each_table(
      [&](const std::string& route, const std::string& limit, const ratelimit::TableStats& st) {
        x.sample({{"route", route}, {"limit", limit}}, st.table_full);
      });

  x.family("gatehouse_challenge_spent_ids");
  x.sample(static_cast<std::uint64_t>(server_.defence().spent().size()));
  x.family("gatehouse_challenge_spent_capacity");
  x.sample(static_cast<std::uint64_t>(server_.defence().spent().capacity()));

  upstream_metrics(x);
  observe_metrics(x);
  write_process_metrics(x);
  ApiResponse res;
  res.text = x.take();
  return res;
}

// Alive: whoever can read this answer got it from a process that answers.
ApiResponse AdminApi::healthz() const {
  ApiResponse res;
  res.text = "ok\n";
  res.content_type = "text/plain; charset=utf-8";
  return res;
}

// Ready: 200, or 503 with what is missing (listeners, a config, a healthy upstream server).
ApiResponse AdminApi::readyz() const {
  const std::vector<std::string> problems = server_.readiness();
  ApiResponse res;
  res.status = problems.empty() ? 200 : 503;
  res.body = json{{"ready", problems.empty()}, {"problems", problems}};
  return res;
}

ApiResponse AdminApi::status() const {
  const proxy::StatsTotals totals = server_.stats();
  json stats = json::object();
#define GH_FIELD(name, help) stats[#name] = totals.name;
  GH_WORKER_STATS(GH_FIELD)
#undef GH_FIELD

  const lists::BanStats b = server_.bans()->stats();
  json bans = {
      {"live", b.live},
      {"capacity", b.capacity},
      {"bans", b.bans},
      {"unbans", b.unbans},
      {"expired", b.expired},
      {"evicted_full", b.evicted_full},
      {"history", b.history},
      {"history_evicted", b.history_evicted},
      {"journal_records", b.journal_records},
      {"journal_errors", b.journal_errors},
      {"journal_bytes", b.journal_bytes},
      {"compactions", b.compactions},
      {"requests_dropped", server_.bans_dropped()},
  };

  json listeners = json::array();
  const auto snapshot = server_.snapshot();
  const auto ports = server_.ports();
  for (std::size_t i = 0; i < snapshot->config.listen.size(); ++i) {
    client::SocketAddress a = snapshot->config.listen[i].address;
    if (i < ports.size()) a.port = ports[i];
    listeners.push_back({{"address", client::format_socket_address(a)},
                         {"proxy_protocol", snapshot->config.listen[i].proxy_protocol}});
  }

  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  ApiResponse res;
  res.body = json{
      {"version", options_.version},
      {"uptime_s", uptime.count()},
      {"generation", server_.generation()},
      {"workers", server_.worker_count()},
      {"listeners", listeners},
      {"admin",
       {{"address", client::format_socket_address(options_.address)},
        {"changes_enabled", options_.token.has_value()}}},
      {"stats", stats},
      {"bans", bans},
  };
  json upstreams = json::array();
  for (const auto& u : server_.defence().upstreams_status()) {
    upstreams.push_back({{"upstream", u.upstream}, {"limit", u.limit}, {"in_flight", u.in_flight}});
  }
  res.body["signup"] = signup_json();
  res.body["upstreams"] = std::move(upstreams);
  const proxy::Observer& obs = server_.observer();
  res.body["queue"] = {{"length", obs.queue_length()},
                       {"admission_rate_per_s", obs.admission_rate_per_s()}};
  // The fleet: null when this node is alone.
  if (const fleet::Fleet* f = server_.fleet()) {
    const fleet::FleetStats& fs = f->stats();
    const std::int64_t down_since = fs.down_since_ms.load();
    const policy::ClusterSeed& seed = f->config().seeds.front();
    res.body["fleet"] = {
        {"node", f->node()},
        {"redis", seed.host + ":" + std::to_string(seed.port)},
        {"up", fs.up.load()},
        {"down_since_ms", down_since > 0 ? json(down_since) : json(nullptr)},
        {"pending", fs.pending.load()},
        {"published", fs.published.load()},
        {"received", fs.received.load()},
        {"failures", fs.failures.load()},
    };
    // The other nodes, as their heartbeats tell (ctl status shows them).
    const json view = fleet_json();
    res.body["fleet"]["live"] = view["live"];
    res.body["fleet"]["gone"] = view["gone"];
    res.body["fleet"]["nodes"] = view["nodes"];
    res.body["fleet"]["sum"] = view["sum"];
  } else {
    res.body["fleet"] = nullptr;
  }
  return res;
}

// POST /v1/residents/revoke {"account": "alice"} ("log out everywhere": every device token of
// the account issued until now) or {"device": "<32 hex>"}: the holders become anonymous at once.
ApiResponse AdminApi::revoke(const ApiRequest& r) {
  if (r.body.size() > kMaxBodyBytes) return error_response(413, "body larger than 16 KiB");
  const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object() || body.size() != 1 ||
      !(body.contains("account") || body.contains("device"))) {
    return error_response(400,
                          "the body must be a JSON object like {\"account\": \"alice\"} or "
                          "{\"device\": \"<32 hex characters>\"}");
  }
  const bool account = body.contains("account");
  const json& value = account ? body["account"] : body["device"];
  if (!value.is_string() || value.get<std::string>().empty() ||
      value.get<std::string>().size() > 256) {
    return error_response(
        400, std::string(account ? "account" : "device") + " must be a string of 1 to 256 bytes",
        account ? "account" : "device");
  }
  std::string error;
  const std::string text = value.get<std::string>();
  const bool ok = account ? server_.defence().revoke_account(text, &error)
                          : server_.defence().revoke_device(text, &error);
  if (!ok) return error_response(error.find("full") != std::string::npos ? 507 : 400, error);
  const std::string by = changed_by(r.user_agent);
  server_.observer().event("device_revoked", "",
                           std::string(account ? "device tokens of an account" : "a device token") +
                               " revoked by " + by);
  spdlog::info("admin: {} {} revoked ({})", account ? "account" : "device",
               account ? "(name not logged)" : text, by);
  ApiResponse res;
  res.body = json{{"revoked", account ? "account" : "device"}};
  return res;
}

}  // namespace gh::control
