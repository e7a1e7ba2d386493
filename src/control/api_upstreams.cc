// GET /v1/upstreams: each upstream's servers as written, the addresses they resolve to, and the
// health of each address (active checks, passive ejection), from the monitor's view.
#include "client/address.h"
#include "control/api.h"
#include "control/metrics.h"
#include "observe/jsonl.h"
#include "proxy/server.h"

namespace gh::control {

namespace {
using nlohmann::json;

const char* state_of(const net::EndpointStatus& e) {
  if (e.ejected) return "ejected";
  if (e.down) return "down";
  return "up";
}
}  // namespace

ApiResponse AdminApi::upstreams() const {
  json list = json::array();
  for (const net::GroupStatus& g : server_.upstreams_status()) {
    json servers = json::array();
    for (const net::NameStatus& n : g.names) {
      json addresses = json::array();
      for (const net::EndpointStatus& e : g.endpoints) {
        if (e.server != n.server) continue;
        json a = {{"address", client::format_socket_address(e.address)},
                  {"weight", e.weight},
                  {"state", state_of(e)},
                  {"probation", e.probation},
                  {"failure_streak", e.failure_streak},
                  {"failures", e.failures},
                  {"ejections", e.ejections}};
        if (e.ejected) a["ejected_ms_left"] = e.ejected_ms_left;
        if (!e.last_failure.empty()) a["last_failure"] = e.last_failure;
        if (g.health_checks) {
          json c = {{"run", e.checks}, {"failed", e.checks_failed}};
          if (e.last_check_wall_ms != 0) c["last_at"] = observe::format_time(e.last_check_wall_ms);
          if (e.last_status != 0) c["last_status"] = e.last_status;
          if (!e.last_check_error.empty()) c["last_error"] = e.last_check_error;
          a["checks"] = std::move(c);
        }
        addresses.push_back(std::move(a));
      }
      json s = {{"server", n.server}, {"name", !n.literal}, {"addresses", std::move(addresses)}};
      if (!n.literal) {
        s["resolved_at"] =
            n.resolved_wall_ms != 0 ? json(observe::format_time(n.resolved_wall_ms)) : json("load");
        if (!n.error.empty()) s["resolve_error"] = n.error;
      }
      servers.push_back(std::move(s));
    }
    list.push_back({{"name", g.name},
                    {"healthy", g.admitted > 0},
                    {"admitted", g.admitted},
                    {"addresses", g.endpoints.size()},
                    {"health_checks", g.health_checks},
                    {"servers", std::move(servers)}});
  }
  ApiResponse res;
  res.body = json{{"upstreams", std::move(list)}};
  return res;
}

// One sample per address of each upstream, labelled upstream, server (as written) and address.
void AdminApi::upstream_metrics(Exposition& x) const {
  const std::vector<net::GroupStatus> groups = server_.upstreams_status();
  struct Series {
    const char* family;
    std::uint64_t (*value)(const net::EndpointStatus&);
  };
  static constexpr Series kSeries[] = {
      {"gatehouse_upstream_server_up",
       [](const net::EndpointStatus& e) -> std::uint64_t { return e.down || e.ejected ? 0 : 1; }},
      {"gatehouse_upstream_server_requests_total",
       [](const net::EndpointStatus& e) -> std::uint64_t { return e.requests; }},
      {"gatehouse_upstream_server_failures_total",
       [](const net::EndpointStatus& e) -> std::uint64_t { return e.failures; }},
      {"gatehouse_upstream_server_ejections_total",
       [](const net::EndpointStatus& e) -> std::uint64_t { return e.ejections; }},
  };
  for (const Series& series : kSeries) {
    x.family(series.family);
    for (const net::GroupStatus& g : groups) {
      for (const net::EndpointStatus& e : g.endpoints) {
        const std::string address = client::format_socket_address(e.address);
        x.sample({{"upstream", g.name}, {"server", e.server}, {"address", address}},
                 series.value(e));
      }
    }
  }
}

}  // namespace gh::control
