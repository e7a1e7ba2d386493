// Plain types of an upstream group: its servers (names or addresses, weights), active health
// checks and passive ejection. The config loader (policy/config.cc) fills them; the balancer
// (net/upstream_group.h) and the monitor (net/upstream_monitor.h) read them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "client/address-t.h"

namespace gh::net {

inline constexpr std::uint32_t kMaxWeight = 1000;
// Addresses one name may bring (a DNS answer, a headless service): the rest are left out and
// the log says so. Bounds an upstream's endpoints to servers x this.
inline constexpr std::size_t kMaxAddressesPerName = 64;

struct UpstreamServer {
  std::string host;  // as written: a DNS name, or an IP address (IPv6 without brackets)
  std::uint16_t port = 0;
  std::uint32_t weight = 1;
  bool literal = false;  // an IP address: never resolved
  // Resolved when the config was loaded (start, reload); then kept up to date by the monitor.
  std::vector<client::SocketAddress> addresses;
};

// "app.internal:3000", "10.0.0.1:80", "[::1]:8080": how the server was written.
std::string server_text(const UpstreamServer& s);

struct HealthCheckConfig {
  bool enabled = false;
  std::string path = "/";
  std::string host;  // Host field; empty = the server as written (name:port)
  std::uint32_t interval_ms = 5'000;
  std::uint32_t timeout_ms = 2'000;
  std::uint32_t healthy_threshold = 2;    // checks passed in a row to come back up
  std::uint32_t unhealthy_threshold = 3;  // checks failed in a row to go down
  std::vector<std::uint16_t> expect;      // statuses that pass; empty = any 2xx or 3xx
};

// Passive ejection: transport failures seen by the requests themselves (connect refused or timed
// out, no answer, a malformed answer, a first-byte or idle timeout) take a server out of the
// rotation for a while. A 5xx the application sent counts only when listed in `statuses`: a
// client that can provoke a 500 at will must not be able to empty the rotation.
struct EjectionConfig {
  std::uint32_t consecutive_failures = 5;   // 0 = never eject
  std::vector<std::uint16_t> statuses;      // answers counted as failures (5xx only); none default
  std::uint32_t window_ms = 10'000;         // the failures must fall within this long
  std::uint32_t duration_ms = 10'000;       // first ejection; doubled for each one that follows
  std::uint32_t max_duration_ms = 300'000;  // the doubling stops here
};

// What the shared state of one upstream is built from (proxy/ fills it from the config).
struct GroupConfig {
  std::string name;
  std::vector<UpstreamServer> servers;
  HealthCheckConfig health;
  EjectionConfig ejection;
  std::uint32_t resolve_interval_ms = 30'000;
};

}  // namespace gh::net
