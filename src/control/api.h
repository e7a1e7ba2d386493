// The admin API's logic, apart from the HTTP library: requests in, JSON responses out.
// AdminServer (admin_server.h) adapts cpp-httplib to it. Paths are versioned (/v1/...).
//
//   GET    /v1/status          version, uptime, generation, workers, listeners, stats, bans
//   GET    /metrics            the same counters, limiter tables and bans as Prometheus text
//   GET    /v1/bans            live bans, soonest expiry first
//   POST   /v1/bans            {"key", "duration", "reason"?, "max"?} -> 201 {"ban": {...}}
//   GET    /v1/bans/<cidr>     one ban, or 404
//   DELETE /v1/bans/<cidr>     200 {"removed": true}, or 404
//
// Errors are {"error": "...", "field": "..."} (field when one field of the request is at fault).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
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
};

struct ApiResponse {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
  std::string text;  // when set, sent as is instead of `body` (Prometheus text exposition)
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

class AdminApi {
 public:
  struct Options {
    bool loopback = true;              // the admin address is a loopback address
    std::optional<BearerToken> token;  // none: changes disabled
    std::string version = "dev";
    client::SocketAddress address;     // the bound admin address (for status)
  };

  AdminApi(proxy::Server& server, Options options);

  // Decides what can be decided from the head alone: route (404), method (405), authorization
  // (401, 403), content type (415) and declared length (413). A response means "refuse now,
  // without reading the body"; nullopt means read the body and call handle().
  std::optional<ApiResponse> check_head(const ApiRequest& request) const;

  // The full request (check_head is applied again).
  ApiResponse handle(const ApiRequest& request);

 private:
  ApiResponse status() const;
  ApiResponse metrics() const;
  ApiResponse list_bans() const;
  ApiResponse get_ban(const std::string& key_text) const;
  ApiResponse add_ban(const ApiRequest& request);
  ApiResponse remove_ban(const std::string& key_text);

  proxy::Server& server_;
  Options options_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace gh::control
