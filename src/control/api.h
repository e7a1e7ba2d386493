// The admin API's logic, apart from the HTTP library: requests in, JSON responses out.
// AdminServer (admin_server.h) adapts cpp-httplib to it. Paths are versioned (/v1/...).
//
//   GET    /healthz            "ok": the process answers (no token, for probes)
//   GET    /readyz             200 {"ready": true}, or 503 with the problems (no token)
//   GET    /v1/status          version, uptime, generation, workers, listeners, stats, bans
//   GET    /metrics            the same figures in the Prometheus text format (control/metrics.h)
//   GET    /v1/bans            live bans, soonest expiry first
//   POST   /v1/bans            {"key", "duration", "reason"?, "max"?} -> 201 {"ban": {...}}
//   GET    /v1/bans/<cidr>     one ban, or 404
//   DELETE /v1/bans/<cidr>     200 {"removed": true}, or 404
//   GET    /v1/routes          routes, their limits with live table counts, sign-up state
//   GET    /v1/signup-mode     every sign-up route's mode (?route=NAME for one)
//   POST   /v1/signup-mode     {"route", "mode": open|challenge|queue|closed|auto, "reason"?}
//   GET    /v1/events          ?limit=N (1..1000, default 100), oldest first
//   GET    /v1/top             ?n=N (1..64, default 10): heaviest prefixes, user agents, accounts
//   GET    /v1/series          ?seconds=N (1..600, default 300): the per-second columns
//   POST   /v1/reload          reloads the config file, as SIGHUP does
//   GET    /v1/upstreams       every upstream's servers, addresses and their health
//   GET    /, /dashboard/...   the dashboard (static files; no token needed to load them)
//
// Errors are {"error": "...", "field": "..."} (field when one field of the request is at fault).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/address-t.h"
#include "control/token.h"
#include "stages/lists/lists-t.h"

namespace gh::proxy {
class Server;
}

namespace gh::control {

class Exposition;

inline constexpr std::size_t kMaxBodyBytes = 16 * 1024;

struct ApiRequest {
  std::string method;  // "GET", "HEAD", "POST", "DELETE", ...
  std::string path;    // percent-decoded, without the query
  std::string authorization;
  std::size_t authorization_count = 0;  // Authorization fields sent
  std::string content_type;
  std::string host;
  std::optional<std::uint64_t> content_length;
  std::string body;
  std::map<std::string, std::string> query;  // decoded query parameters (last one wins)
  std::string user_agent;                    // who made a change: ctl, a browser, other
};

struct ApiResponse {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
  std::string text;          // when set, sent as is instead of `body` (Prometheus text exposition)
  std::string content_type;  // of `text`; empty: the Prometheus text format
  std::vector<std::pair<std::string, std::string>> headers;
};

ApiResponse error_response(int status, const std::string& message, const std::string& field = "");

// A parsed POST /v1/bans body.
struct BanRequest {
  client::Cidr key;
  std::int64_t seconds = 0;
  std::int64_t max_seconds = 0;  // == seconds unless "max" was given
  std::string reason;
};

// Validates a POST /v1/bans body; on error, `error` holds the 400 response.
std::optional<BanRequest> parse_ban_request(const nlohmann::json& body, ApiResponse* error);

nlohmann::json ban_json(const lists::BanInfo& ban, lists::Seconds now);

// Who made a change, for the event log: "ctl" (gatehouse ctl), "dashboard" (a browser), "admin".
std::string changed_by(const std::string& user_agent);

class AdminApi {
 public:
  struct Options {
    bool loopback = true;              // the admin address is a loopback address
    std::optional<BearerToken> token;  // none: changes disabled
    std::string version = "dev";
    client::SocketAddress address;  // the bound admin address (for status)
    // POST /v1/reload: reloads the config as SIGHUP does; false with a reason. None: 501.
    std::function<bool(const std::string& by, std::string* error)> reload;
  };

  AdminApi(proxy::Server& server, Options options);

  // Decides what can be decided from the head alone: route (404), method (405), authorization
  // (401, 403), content type (415) and declared length (413). A response means "refuse now,
  // without reading the body"; nullopt means read the body and call handle().
  std::optional<ApiResponse> check_head(const ApiRequest& request) const;

  // The full request (check_head is applied again).
  ApiResponse handle(const ApiRequest& request);

 private:
  ApiResponse healthz() const;
  ApiResponse readyz() const;
  ApiResponse status() const;
  ApiResponse metrics() const;
  ApiResponse list_bans() const;
  ApiResponse get_ban(const std::string& key_text) const;
  ApiResponse add_ban(const ApiRequest& request);
  ApiResponse remove_ban(const std::string& key_text);
  ApiResponse routes() const;
  ApiResponse signup_modes(const ApiRequest& request) const;
  ApiResponse set_signup_mode(const ApiRequest& request);
  ApiResponse events(const ApiRequest& request) const;
  ApiResponse top(const ApiRequest& request) const;
  ApiResponse series(const ApiRequest& request) const;
  ApiResponse reload(const ApiRequest& request);
  ApiResponse revoke(const ApiRequest& request);
  ApiResponse upstreams() const;               // api_upstreams.cc
  ApiResponse fleet() const;                   // api_fleet.cc
  nlohmann::json fleet_json() const;           // api_fleet.cc
  void fleet_metrics(Exposition& x) const;     // api_fleet.cc
  void upstream_metrics(Exposition& x) const;  // api_upstreams.cc
  ApiResponse dashboard(const ApiRequest& request) const;
  void observe_metrics(Exposition& x) const;
  nlohmann::json signup_json() const;

  proxy::Server& server_;
  Options options_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace gh::control
