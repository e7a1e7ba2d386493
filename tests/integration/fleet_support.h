// What the fleet's integration tests share: a node (a shield in this process with its admin API,
// called as `gatehouse ctl` calls it), a metric read from its /metrics, polling for a state
// that other nodes bring about through Redis, and the waiting room's visitors behind a balancer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "control/api.h"
#include "control/token.h"
#include "core/clock.h"
#include "fleet/fleet.h"
#include "support.h"

namespace gh::test {

struct FleetNode {
  std::unique_ptr<Shield> shield;
  std::unique_ptr<control::AdminApi> api;
  std::string token;

  static FleetNode start(const std::string& yaml, const std::string& token) {
    FleetNode n;
    n.token = token;
    n.shield = std::make_unique<Shield>(yaml);
    control::AdminApi::Options o;
    o.token = control::BearerToken::from_string(token);
    n.api = std::make_unique<control::AdminApi>(n.shield->server(), o);
    return n;
  }
  control::ApiResponse call(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    control::ApiRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.authorization = "Bearer " + token;
    r.authorization_count = 1;
    r.content_type = "application/json";
    r.content_length = body.size();
    r.host = "127.0.0.1";
    r.user_agent = "gatehouse-ctl/test";
    return api->handle(r);
  }
  std::string metrics() { return call("GET", "/metrics").text; }
  nlohmann::json fleet() { return call("GET", "/v1/fleet").body; }
  bool fleet_up() const {
    return shield->server().fleet() != nullptr && shield->server().fleet()->up();
  }
};

// The line of an unlabelled series ("name value"), or "".
inline std::string metric_line(const std::string& metrics, const std::string& name) {
  const std::size_t at = metrics.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  return metrics.substr(at + 1, metrics.find('\n', at + 1) - at - 1);
}

// The value of an unlabelled series, or -1.
inline double metric_value(const std::string& metrics, const std::string& name) {
  const std::string line = metric_line(metrics, name);
  return line.empty() ? -1 : std::stod(line.substr(name.size() + 1));
}

// Milliseconds until `pred` holds (polled every `poll`), or -1 after `limit_ms`.
inline std::int64_t within(const std::function<bool()>& pred, std::int64_t limit_ms = 3000,
                           std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const std::int64_t start = core::monotonic_ms();
  while (core::monotonic_ms() - start <= limit_ms) {
    if (pred()) return core::monotonic_ms() - start;
    std::this_thread::sleep_for(poll);
  }
  return -1;
}

// Milliseconds since it was made (when each visitor got in).
struct Since {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  std::int64_t operator()() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
        .count();
  }
};

// A balancer in front of nodes: each visit to the waiting room (GET /signup as JSON, from the
// visitor's address, with its ticket) goes to the next node in turn; the ticket a node gives is
// kept, as a browser keeps its cookie.
class RoundRobin {
 public:
  explicit RoundRobin(std::vector<std::uint16_t> ports) : ports_(std::move(ports)) {}
  // The answer's status.
  int visit(const std::string& source, std::string& ticket) {
    const std::uint16_t port = ports_[next_++ % ports_.size()];
    const ClientResponse r =
        roundtrip(port,
                  request("GET", "/signup",
                          std::string("Accept: application/json\r\n") +
                              (ticket.empty() ? std::string() : cookie_header(ticket))),
                  source.c_str());
    if (const std::string t = set_cookie(r, "gh_ticket"); !t.empty()) ticket = t;
    return r.status;
  }

 private:
  std::vector<std::uint16_t> ports_;
  std::size_t next_ = 0;
};

}  // namespace gh::test
