// The configuration model: plain types, filled by the YAML loader (policy/config.h) and frozen
// into an immutable snapshot that requests read without locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "client/address-t.h"
#include "config/model-t.h"
#include "core/log-t.h"
#include "fleet/config-t.h"
#include "http/message-t.h"
#include "net/io-t.h"
#include "net/upstream-t.h"
#include "stages/admission/config-t.h"
#include "stages/challenge/config-t.h"
#include "stages/client_class-t.h"
#include "stages/lists/config-t.h"
#include "stages/ratelimit/config-t.h"
#include "stages/reputation/config-t.h"
#include "stages/residents/config-t.h"
#include "tls/config-t.h"

namespace gh::policy {

// A listener either proxies (Gatehouse in the path) or answers "may this request pass?" for a
// proxy in front (the decision service), in the form that proxy understands.
enum class DecideFor : std::uint8_t {
  None,     // the inline proxy
  Nginx,    // auth_request: 2xx allows; a refusal is 403 + X-Gatehouse-Answer, fetched after
  Envoy,    // ext_authz HTTP service: 200 allows; any other answer goes to the client as is
  Traefik,  // forwardAuth: 2xx allows; any other answer goes to the client as is
  Caddy,    // forward_auth: as Traefik
};

struct ListenConfig {
  client::SocketAddress address;
  bool proxy_protocol = false;  // expect a PROXY v1/v2 header first on each connection
  DecideFor decide = DecideFor::None;
  bool http2 = false;  // HTTP/2 with prior knowledge (h2c): no HTTP/1.1 on this listener
  TlsConfig tls;       // tls.enabled: TLS is terminated here (tls/config-t.h)
  SourceMark mark;
};

// The admin API's default port: registered to no service (IANA) and used by no common tool
// (Prometheus and its exporters hold 9090-9999, dev servers 3000, 5000, 8000-8888), below the
// kernel's ephemeral range. docs/ADMIN.md says how it was chosen.
inline constexpr std::uint16_t kDefaultAdminPort = 7462;

struct AdminConfig {
  client::SocketAddress address{
      client::IpAddress{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}, true},
      kDefaultAdminPort};
  std::string token_file;  // bearer token for changes; empty = admin changes disabled
  bool enabled = true;
};

struct ClientsConfig {
  // Peers whose X-Forwarded-For / Forwarded we believe, read right to left.
  std::vector<client::Cidr> trusted_proxies;
  std::uint8_t ipv4_prefix = 24;  // grouping for "client prefix" keys
  std::uint8_t ipv6_prefix = 64;
};

struct UpstreamConfig {
  std::string name;
  // Names (resolved at load, then every resolve_interval) or IP addresses, with weights.
  std::vector<net::UpstreamServer> servers;
  Millis resolve_interval = 30'000;
  net::HealthCheckConfig health_check;      // active checks, off unless configured
  net::EjectionConfig ejection;             // passive: on by default
  std::uint32_t max_connections = 256;      // per worker and server, open to the upstream
  std::uint32_t max_idle_connections = 64;  // kept alive in the pool per worker and server
  Millis connect_timeout = 2'000;
  Millis first_byte_timeout = 30'000;  // request fully sent -> first response byte
  Millis idle_timeout = 60'000;        // no byte either way mid-response
  Millis keepalive_timeout = 30'000;   // pooled idle connection lifetime
  AdmissionConfig admission;
  SourceMark mark;
};

enum class RouteClass : std::uint8_t { Login, Signup, Api, Static, Other };

struct RouteMatch {
  std::string host;                   // exact, case-insensitive; empty = any
  std::vector<http::Method> methods;  // empty = any
  std::string path;                   // exact path
  std::string path_prefix;            // prefix of the path
  std::string path_regex;             // RE2 full match of the path
};

struct RouteConfig {
  std::string name;
  RouteMatch match;
  RouteClass route_class = RouteClass::Other;
  std::string upstream;  // name, resolved to upstream_index at load
  std::size_t upstream_index = 0;
  std::uint64_t max_body_bytes = 0;  // 0 = inherit limits.max_body_bytes
  std::vector<LimitConfig> limits;   // all apply; the first refusal wins
  // Body fields used by keys are read from at most this many leading body bytes, held back
  // before forwarding (only on routes whose limits use body.* or email_domain.* keys).
  std::uint32_t body_key_bytes = 4096;
  bool require_clearance = false;  // every non-resident needs a challenge clearance
  SignupConfig signup;             // routes of class signup
  // Protocols a request of this route may switch to (`upgrade: [websocket]`, lower case); empty:
  // an Upgrade request gets 501. A switched connection is spliced to the upstream (proxy/splice.h).
  std::vector<std::string> upgrade;
  Millis upgrade_idle_timeout = 120'000;           // no byte either way for this long: closed
  std::uint64_t upgrade_max_bytes = 256ull << 20;  // per direction, over the connection's life
  SourceMark mark;
};

// Keys for everything Gatehouse signs (device tokens, clearances, challenges, tickets).
struct SecretsConfig {
  // 32+ random bytes; created (mode 0600) when missing so restarts keep cookies valid. Nodes of
  // one cluster share the file. Empty (quick mode only) = a random key for this run. A loaded
  // configuration names it inside state_dir unless absolute (policy/paths.h).
  std::string key_file = "var/secret.key";
};

// The access log (JSON lines), written off the request path by its own thread. Under a flood,
// refusals are sampled so the log never becomes the bottleneck.
struct AccessLogConfig {
  bool enabled = true;                         // in `run` and `demo`; never in `gatehouse proxy`
  std::string path;                            // in state_dir: <state_dir>/access.log
  std::uint32_t refusals_keep_per_s = 200;     // per worker and second, all logged ...
  std::uint32_t refusals_sample_one_in = 100;  // ... then one in this many
  std::uint64_t max_file_bytes = 64ull << 20;  // rotated beyond this size
  std::uint32_t max_files = 4;                 // rotated files kept
};

// The process log (core/log.h). A reload applies a changed level and format.
struct LogConfig {
  core::LogFormat format = core::LogFormat::Text;
  core::LogLevel level = core::LogLevel::Info;
};

// Protocol limits and deadlines. Defaults are safe for a public listener.
struct LimitsConfig {
  std::uint32_t max_head_bytes = 16 * 1024;
  std::uint32_t max_header_fields = 100;
  std::uint32_t max_target_bytes = 8 * 1024;
  std::uint64_t max_body_bytes = 1024 * 1024;      // default per route (nginx: 1m)
  Millis head_timeout = 10'000;                    // the whole head, not per byte (slowloris)
  Millis body_idle_timeout = 30'000;               // no body byte for this long
  Millis keepalive_timeout = 60'000;               // idle between requests
  Millis send_timeout = 30'000;                    // client not reading what we send
  std::uint32_t max_connections = 20'000;          // per process, all listeners
  std::uint32_t max_connections_per_client = 256;  // per client address (socket peer)
  Millis shutdown_grace = 10'000;                  // SIGTERM: finish in-flight requests up to this
};

// How request paths are read for routing (http/path.h). Whatever the settings, a path with more
// than one reading (bad or double escapes, NUL, invalid UTF-8, backslashes) is refused with 400.
struct RoutingConfig {
  // Express and ASP.NET route `/LOGIN` to `/login`: matching without case keeps their login
  // limits on every spelling. Set true only when the application itself is case-sensitive.
  bool case_sensitive = false;
  // %2F / %5C in a path: refused (default), or kept as literal bytes of the segment when the
  // application is known not to decode them before routing (e.g. an API with encoded ids).
  bool keep_encoded_slashes = false;
};

struct ServerConfig {
  std::uint32_t workers = 0;                  // 0 = one per core
  net::IoBackend io = net::IoBackend::Epoll;  // checked available at load; takes effect at start
};

struct Config {
  std::string source_path;  // file it was loaded from; empty for `gatehouse proxy`
  // Every configuration file read: source_path first (when loaded from a file), then the
  // `include`d ones in load order, as they were opened (relative to the current directory or
  // absolute). A reload reads them all again.
  std::vector<std::string> source_files;
  std::uint64_t generation = 0;  // increases on every successful (re)load
  ServerConfig server;
  std::vector<ListenConfig> listen;
  AdminConfig admin;
  ClientsConfig clients;
  LimitsConfig limits;
  RoutingConfig routing;
  std::vector<UpstreamConfig> upstreams;
  std::vector<RouteConfig> routes;  // at least one; the last may be a catch-all
  ListsConfig lists;
  BansConfig bans;
  SecretsConfig secrets;
  ResidentsConfig residents;
  ChallengeConfig challenge;
  ReputationConfig reputation;
  ClusterConfig cluster;  // the fleet; absent: this node decides alone
  // Events, per-minute aggregates, reports, revocations, and by default the key, the ban journal
  // and the access log. Relative to the configuration file's directory once loaded
  // (policy/paths.h). Empty (quick mode): nothing is written to the disk.
  std::string state_dir = "var";
  AccessLogConfig access_log;
  LogConfig log;
};

// The immutable snapshot (Config + compiled routes) is policy/snapshot.h.

}  // namespace gh::policy
