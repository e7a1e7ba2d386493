#include "policy/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "client/address.h"
#include "config/document.h"
#include "fleet/config.h"
#include "net/event_loop.h"
#include "net/resolve.h"
#include "policy/paths.h"
#include "policy/route_table.h"
#include "stages/admission/config.h"
#include "stages/challenge/config.h"
#include "stages/lists/config.h"
#include "stages/ratelimit/config.h"
#include "stages/reputation/config.h"
#include "stages/residents/config.h"
#include "tls/config.h"

namespace gh::policy {
namespace {

constexpr std::size_t kMaxListeners = 64;
constexpr std::size_t kMaxTrustedProxies = 1024;
constexpr std::size_t kMaxUpstreams = 256;
constexpr std::size_t kMaxServers = 256;
constexpr std::size_t kMaxRoutes = 1024;

constexpr std::string_view kTopKeys[] = {
    "include",   "server",     "listen",  "admin",   "clients",   "limits",    "upstreams",
    "routes",    "lists",      "bans",    "secrets", "residents", "challenge", "reputation",
    "state_dir", "access_log", "routing", "log",     "cluster"};
// Sections that are one value (not lists to append to): at most one file may set each.
constexpr std::string_view kSingleSections[] = {
    "server",    "admin",      "clients",   "limits",     "bans",    "secrets", "residents",
    "challenge", "reputation", "state_dir", "access_log", "routing", "log",     "cluster"};
constexpr std::string_view kSecretsKeys[] = {"key_file"};
constexpr std::string_view kRoutingKeys[] = {"case_sensitive", "encoded_slashes"};
constexpr std::string_view kEncodedSlashes[] = {"refuse", "keep"};
constexpr std::string_view kAccessLogKeys[] = {
    "enabled",       "path",     "refusals_keep_per_s", "refusals_sample_one_in",
    "max_file_size", "max_files"};
constexpr std::string_view kLogKeys[] = {"format", "level"};
constexpr std::string_view kLogFormats[] = {"text", "json"};  // core::LogFormat order
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};
constexpr std::string_view kServerKeys[] = {"workers", "io"};
constexpr std::string_view kIoBackends[] = {"epoll", "io_uring"};  // net::IoBackend order
constexpr std::string_view kListenKeys[] = {"address", "proxy_protocol", "decide", "http2", "tls"};
constexpr std::string_view kDecideHosts[] = {"nginx", "envoy", "traefik", "caddy"};
constexpr std::string_view kAdminKeys[] = {"address", "token_file", "enabled"};
constexpr std::string_view kClientsKeys[] = {"trusted_proxies", "ipv4_prefix", "ipv6_prefix"};
constexpr std::string_view kLimitsKeys[] = {
    "max_head_size",   "max_header_fields",          "max_target_size",   "max_body_size",
    "head_timeout",    "body_idle_timeout",          "keepalive_timeout", "send_timeout",
    "max_connections", "max_connections_per_client", "shutdown_grace"};
constexpr std::string_view kUpstreamKeys[] = {"servers",
                                              "max_connections",
                                              "max_idle_connections",
                                              "connect_timeout",
                                              "first_byte_timeout",
                                              "idle_timeout",
                                              "keepalive_timeout",
                                              "admission",
                                              "resolve_interval",
                                              "health_check",
                                              "ejection"};
constexpr std::string_view kServerItemKeys[] = {"address", "weight"};
constexpr std::string_view kHealthCheckKeys[] = {
    "enabled", "path", "host", "interval", "timeout", "healthy_threshold", "unhealthy_threshold",
    "expect"};
constexpr std::string_view kEjectionKeys[] = {"consecutive_failures", "window", "duration",
                                              "max_duration", "statuses"};
constexpr std::string_view kRouteKeys[] = {"name",
                                           "match",
                                           "class",
                                           "upstream",
                                           "max_body_size",
                                           "body_key_bytes",
                                           "limits",
                                           "require_clearance",
                                           "signup",
                                           "upgrade",
                                           "upgrade_idle_timeout",
                                           "upgrade_max_size"};
// Protocols a route may let requests switch to. h2c is left out on purpose: an h2c upgrade
// through a proxy opens HTTP/2 to the upstream past every stage (h2c smuggling).
constexpr std::string_view kUpgradeProtocols[] = {"websocket"};
constexpr std::string_view kMatchKeys[] = {"host", "methods", "path", "path_prefix", "path_regex"};
constexpr std::string_view kClassNames[] = {"login", "signup", "api", "static", "other"};
constexpr RouteClass kClasses[] = {RouteClass::Login, RouteClass::Signup, RouteClass::Api,
                                   RouteClass::Static, RouteClass::Other};

// A Host to match: a DNS name (letters, digits, '-', '_', '.') or a bracketed IPv6 literal, no
// port.
bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 4) {
      return false;
    }
    std::string_view inner = host.substr(1, host.size() - 2);
    return inner.find(':') != std::string_view::npos && client::parse_ip(inner).has_value();
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return host.front() != '.' && host.find("..") == std::string_view::npos;
}

// Printable ASCII without spaces: what may go into a health check's request line or Host.
bool request_token(std::string_view text, std::size_t max) {
  return !text.empty() && text.size() <= max &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

class Loader {
 public:
  Loader(std::string file, std::string source_path, net::Resolver resolve)
      : doc_(std::move(file)), resolve_(std::move(resolve)) {
    config_.source_path = std::move(source_path);
    if (!resolve_) {
      resolve_ = [](const std::string& host, std::uint16_t port,
                    std::vector<client::SocketAddress>& out,
                    std::string* error) { return net::resolve(host, port, out, error); };
    }
  }

  // `id` is set when `yaml` was read from the file it names.
  LoadResult run(std::string_view yaml, std::optional<FileId> id);

 private:
  struct RouteRef {
    std::string path;  // "routes[2]", counted within its own file
    SourceMark upstream_mark;
  };

  // "<path>: A is already used by listen[j]" for each listener on `address`; one on port 0
  // counts only when `port0_clashes`.
  void check_not_listened(const client::SocketAddress& address, const SourceMark& at,
                          const std::string& path, bool port0_clashes);

  // One file's top level: its sections, then the files it includes.
  void load_document(const YAML::Node& root, bool main);
  void load_section(const Field& f);
  void load_server(const Field& f);
  void load_io(const Field& e, const std::string& path);
  void load_listen(const Field& f);
  void load_admin(const Field& f);
  void load_clients(const Field& f);
  void load_limits(const Field& f);
  void load_upstreams(const Field& f);
  void load_upstream(const std::string& name, const YAML::Node& node, const SourceMark& at);
  void load_server_item(const YAML::Node& item, const std::string& path, const SourceMark& at,
                        UpstreamConfig& u);
  void load_health_check(const Field& f, const std::string& path, net::HealthCheckConfig& h);
  void load_ejection(const Field& f, const std::string& path, net::EjectionConfig& e);
  void load_routes(const Field& f);
  void load_route(const YAML::Node& node, const std::string& path);
  void load_match(const Field& f, const std::string& path, RouteConfig& route);
  void load_upgrade(const Field& f, const std::string& path, RouteConfig& route);
  void load_secrets(const Field& f);
  void load_state_dir(const Field& f);
  void load_access_log(const Field& f);
  void load_log(const Field& f);
  void load_routing(const Field& f);
  void check_decide();
  void check_all();
  void finish();

  Document doc_;
  net::Resolver resolve_;
  Config config_;
  std::vector<RouteRef> route_refs_;       // parallel to config_.routes
  std::vector<std::string> listen_paths_;  // parallel to config_.listen: "listen[0]"
  SourceMark upstreams_mark_;
  bool root_ok_ = false;  // the main file is a map of sections
  bool has_listen_ = false;
  bool has_upstreams_ = false;
  bool routes_given_ = false;
  std::vector<std::string> route_paths_;  // parallel to config_.routes: "routes[2]"
};

void Loader::load_server(const Field& f) {
  doc_.each_section_field(f, kServerKeys, "server",
                          [&](const Field& e, const std::string& key_path) {
                            if (e.key == "workers") {
                              doc_.read_uint(e, key_path, 0, 256, config_.server.workers);
                            } else if (e.key == "io") {
                              load_io(e, key_path);
                            }
                          });
}

void Loader::load_io(const Field& e, const std::string& path) {
  auto i = doc_.read_choice(e, path, kIoBackends, "I/O backend");
  if (!i) return;
  config_.server.io = static_cast<net::IoBackend>(*i);
  std::string why;
  if (config_.server.io == net::IoBackend::IoUring && !net::uring_available(&why)) {
    doc_.error(doc_.value_mark(e),
               path + ": io_uring is not available here: " + why + "; use io: epoll");
  }
}

void Loader::load_listen(const Field& f) {
  has_listen_ = true;
  if (f.value.IsNull() || (f.value.IsSequence() && f.value.size() == 0)) {
    doc_.error(doc_.key_mark(f), "listen: at least one listener is required");
    return;
  }
  if (!doc_.check_list(f, "listen", "a list of listeners", config_.listen.size(), kMaxListeners,
                       "listeners")) {
    return;
  }
  doc_.for_each_item(
      f.value, "listen",
      [&](const YAML::Node& item, const std::string& path, const SourceMark& at) {
        if (!item.IsMap()) {
          doc_.error(at, path + ": expected a map with 'address', got " + type_name(item));
          return;
        }
        ListenConfig listen;
        listen.mark = at;
        bool has_address = false;
        bool address_ok = false;
        SourceMark address_mark = at;
        SourceMark tls_mark = at;
        doc_.each_field(item, kListenKeys, path, [&](const Field& e, const std::string& key_path) {
          if (e.key == "address") {
            has_address = true;
            address_mark = doc_.value_mark(e);
            address_ok = doc_.read_socket_address(e.value, address_mark, path + ".address", true,
                                                  listen.address);
          } else if (e.key == "proxy_protocol") {
            doc_.read_bool(e, path + ".proxy_protocol", listen.proxy_protocol);
          } else if (e.key == "decide") {
            if (auto i = doc_.read_choice(e, path + ".decide", kDecideHosts, "proxy")) {
              listen.decide = static_cast<DecideFor>(*i + 1);
            }
          } else if (e.key == "http2") {
            doc_.read_bool(e, path + ".http2", listen.http2);
          } else if (e.key == "tls") {
            tls_mark = doc_.key_mark(e);
            tls::load_tls(doc_, e, path + ".tls", listen.tls);
          }
        });
        if (listen.tls.enabled && listen.proxy_protocol) {
          // The PROXY header is read ahead of the handshake into the HTTP buffer, which the TLS
          // layer does not read from: refused rather than half working.
          doc_.error(tls_mark, path + ": tls with proxy_protocol is not supported yet");
        }
        if (!has_address) {
          doc_.error(at, path + ": missing required key 'address'");
        }
        if (listen.http2 && listen.decide != DecideFor::None) {
          doc_.error(at, path +
                             ": a decide listener answers its proxy over HTTP/1.1; remove "
                             "'http2' or 'decide'");
        }
        if (address_ok) {
          check_not_listened(listen.address, address_mark, path + ".address", false);
        }
        config_.listen.push_back(std::move(listen));
        listen_paths_.push_back(path);
      });
}

void Loader::load_admin(const Field& f) {
  doc_.each_section_field(f, kAdminKeys, "admin", [&](const Field& e, const std::string& key_path) {
    if (e.key == "address") {
      doc_.read_socket_address(e.value, doc_.value_mark(e), key_path, true, config_.admin.address);
    } else if (e.key == "token_file") {
      if (auto text = doc_.scalar(e, key_path)) {
        if (text->empty()) {
          doc_.error(
              doc_.value_mark(e),
              "admin.token_file: must not be empty (leave the key out to disable admin changes)");
        } else {
          config_.admin.token_file = *text;
        }
      }
    } else if (e.key == "enabled") {
      doc_.read_bool(e, key_path, config_.admin.enabled);
    }
  });
}

void Loader::load_clients(const Field& f) {
  doc_.each_section_field(
      f, kClientsKeys, "clients", [&](const Field& e, const std::string& key_path) {
        if (e.key == "ipv4_prefix") {
          doc_.read_uint(e, key_path, 8, 32, config_.clients.ipv4_prefix);
        } else if (e.key == "ipv6_prefix") {
          doc_.read_uint(e, key_path, 16, 128, config_.clients.ipv6_prefix);
        } else if (e.key == "trusted_proxies") {
          doc_.read_cidrs(e, key_path, kMaxTrustedProxies, config_.clients.trusted_proxies);
        }
      });
}

void Loader::check_not_listened(const client::SocketAddress& address, const SourceMark& at,
                                const std::string& path, bool port0_clashes) {
  for (std::size_t j = 0; j < config_.listen.size(); ++j) {
    const ListenConfig& other = config_.listen[j];
    if (other.address == address && (port0_clashes || other.address.port != 0)) {
      doc_.error(at, path + ": " + client::format_socket_address(address) + " is already used by " +
                         doc_.place(listen_paths_[j], other.mark, at));
    }
  }
}

void Loader::load_limits(const Field& f) {
  LimitsConfig& l = config_.limits;
  const Document::Timeout timeouts[] = {{"head_timeout", &l.head_timeout},
                                        {"body_idle_timeout", &l.body_idle_timeout},
                                        {"keepalive_timeout", &l.keepalive_timeout},
                                        {"send_timeout", &l.send_timeout}};
  if (!doc_.each_section_field(
          f, kLimitsKeys, "limits", [&](const Field& e, const std::string& path) {
            if (doc_.read_timeout(e, path, timeouts)) {
              return;
            }
            if (e.key == "max_head_size") {
              doc_.read_size(e, path, kKiB, kMiB, l.max_head_bytes);
            } else if (e.key == "max_header_fields") {
              doc_.read_uint(e, path, 1, http::kMaxHeaderFields, l.max_header_fields);
            } else if (e.key == "max_target_size") {
              doc_.read_size(e, path, 64, kMiB, l.max_target_bytes);
            } else if (e.key == "max_body_size") {
              doc_.read_size(e, path, 0, 16 * kGiB, l.max_body_bytes);
            } else if (e.key == "max_connections") {
              doc_.read_uint(e, path, 1, 10'000'000, l.max_connections);
            } else if (e.key == "max_connections_per_client") {
              doc_.read_uint(e, path, 1, 10'000'000, l.max_connections_per_client);
            } else if (e.key == "shutdown_grace") {
              doc_.read_duration(e, path, 0, kMaxTimeout, l.shutdown_grace);
            }
          })) {
    return;
  }
  const SourceMark section = doc_.key_mark(f);
  doc_.not_above("limits", "max_target_size", l.max_target_bytes, "max_head_size", l.max_head_bytes,
                 section, format_size);
  doc_.not_above("limits", "max_connections_per_client", l.max_connections_per_client,
                 "max_connections", l.max_connections, section, format_count);
}

void Loader::load_upstreams(const Field& f) {
  if (!has_upstreams_) {
    upstreams_mark_ = doc_.key_mark(f);
  }
  has_upstreams_ = true;
  if (f.value.IsNull() || (f.value.IsMap() && f.value.size() == 0)) {
    doc_.error(doc_.key_mark(f), "upstreams: at least one upstream is required");
    return;
  }
  if (!f.value.IsMap()) {
    doc_.error(
        doc_.value_mark(f),
        std::string("upstreams: expected a map of name to upstream, got ") + type_name(f.value));
    return;
  }
  if (config_.upstreams.size() + f.value.size() > kMaxUpstreams) {
    doc_.error(doc_.value_mark(f),
               "upstreams: at most " + std::to_string(kMaxUpstreams) + " upstreams");
    return;
  }
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    const SourceMark at = doc_.mark(key.Mark());
    if (!key.IsScalar()) {
      doc_.error(at, "upstreams: names must be plain strings");
      continue;
    }
    const std::string& name = key.Scalar();
    if (!doc_.check_name(name, at, "upstreams") ||
        !doc_.first_use(config_.upstreams, name, at, "upstreams", "upstream", "")) {
      continue;
    }
    load_upstream(name, value, at);
  }
}

void Loader::load_upstream(const std::string& name, const YAML::Node& node, const SourceMark& at) {
  const std::string path = "upstreams." + name;
  UpstreamConfig u;
  u.name = name;
  u.mark = at;
  if (!node.IsMap()) {
    doc_.error(node.IsNull() ? at : doc_.mark(node.Mark()),
               path + ": expected a map with 'servers', got " + type_name(node));
    config_.upstreams.push_back(std::move(u));
    return;
  }
  bool has_servers = false;
  const Document::Timeout timeouts[] = {{"connect_timeout", &u.connect_timeout},
                                        {"first_byte_timeout", &u.first_byte_timeout},
                                        {"idle_timeout", &u.idle_timeout},
                                        {"keepalive_timeout", &u.keepalive_timeout}};
  doc_.each_field(node, kUpstreamKeys, path, [&](const Field& e, const std::string& key_path) {
    if (doc_.read_timeout(e, key_path, timeouts)) {
      return;
    }
    if (e.key == "servers") {
      has_servers = true;
      if (e.value.IsNull() || (e.value.IsSequence() && e.value.size() == 0)) {
        doc_.error(doc_.value_mark(e), key_path + ": at least one server is required");
        return;
      }
      if (!doc_.check_list(e, key_path, "a list of servers", 0, kMaxServers, "servers")) {
        return;
      }
      doc_.for_each_item(e.value, key_path,
                         [&](const YAML::Node& item, const std::string& item_path,
                             const SourceMark& at) { load_server_item(item, item_path, at, u); });
    } else if (e.key == "max_connections") {
      doc_.read_uint(e, key_path, 1, 100'000, u.max_connections);
    } else if (e.key == "max_idle_connections") {
      doc_.read_uint(e, key_path, 0, 100'000, u.max_idle_connections);
    } else if (e.key == "admission") {
      admission::load_admission(doc_, e, key_path, u.admission);
    } else if (e.key == "resolve_interval") {
      doc_.read_duration(e, key_path, 1'000, 86'400'000, u.resolve_interval);
    } else if (e.key == "health_check") {
      load_health_check(e, key_path, u.health_check);
    } else if (e.key == "ejection") {
      load_ejection(e, key_path, u.ejection);
    }
  });
  if (!has_servers) {
    doc_.error(at, path + ": missing required key 'servers'");
  }
  doc_.not_above(path, "max_idle_connections", u.max_idle_connections, "max_connections",
                 u.max_connections, at, format_count);
  config_.upstreams.push_back(std::move(u));
}

// A server: "host:port" (a name or an IP address), or {address: "host:port", weight: N}. A name
// is resolved now, so one that does not resolve is an error at its position, at start as on
// reload; the monitor re-resolves it every resolve_interval after.
void Loader::load_server_item(const YAML::Node& item, const std::string& path, const SourceMark& at,
                              UpstreamConfig& u) {
  net::UpstreamServer s;
  YAML::Node address = item;
  SourceMark address_at = at;
  std::string address_path = path;
  if (item.IsMap()) {
    bool has_address = false;
    doc_.each_field(item, kServerItemKeys, path, [&](const Field& f, const std::string& key_path) {
      if (f.key == "address") {
        has_address = true;
        address = f.value;
        address_at = doc_.value_mark(f);
        address_path = key_path;
      } else if (f.key == "weight") {
        doc_.read_uint(f, key_path, 1, net::kMaxWeight, s.weight);
      }
    });
    if (!has_address) {
      doc_.error(at, path + ": missing required key 'address'");
      return;
    }
  }
  auto text = doc_.scalar_node(address, address_at, address_path);
  if (!text) {
    return;
  }
  std::string why;
  auto hp = net::parse_host_port(*text, &why);
  if (!hp) {
    doc_.error(address_at, address_path + ": " + why);
    return;
  }
  s.host = hp->host;
  s.port = hp->port;
  s.literal = hp->literal;
  for (const net::UpstreamServer& other : u.servers) {
    const bool same = s.literal && other.literal ? other.addresses.front() == hp->address
                                                 : !s.literal && !other.literal &&
                                                       other.host == s.host && other.port == s.port;
    if (same) {
      doc_.error(address_at, address_path + ": duplicate server " + net::server_text(s));
      return;
    }
  }
  if (s.literal) {
    s.addresses.push_back(hp->address);
  } else {
    std::string error;
    std::vector<client::SocketAddress> found;
    if (!resolve_(s.host, s.port, found, &error) || found.empty()) {
      doc_.error(address_at, address_path + ": cannot resolve " + quote(s.host) + ": " +
                                 (error.empty() ? "no address" : error) +
                                 " (names must resolve when the config is loaded)");
      return;
    }
    std::sort(found.begin(), found.end(), net::address_less);
    found.erase(std::unique(found.begin(), found.end()), found.end());
    if (found.size() > net::kMaxAddressesPerName) found.resize(net::kMaxAddressesPerName);
    s.addresses = std::move(found);
  }
  u.servers.push_back(std::move(s));
}

void Loader::load_health_check(const Field& f, const std::string& path, net::HealthCheckConfig& h) {
  h.enabled = true;  // the section asks for checks unless it says enabled: false
  if (!doc_.each_section_field(
          f, kHealthCheckKeys, path, [&](const Field& e, const std::string& key_path) {
            if (e.key == "enabled") {
              doc_.read_bool(e, key_path, h.enabled);
            } else if (e.key == "path") {
              if (auto text = doc_.scalar(e, key_path)) {
                if (text->front() != '/' || !request_token(*text, 1024)) {
                  doc_.error(doc_.value_mark(e),
                             key_path +
                                 ": expected a path starting with '/' (printable, no spaces, "
                                 "at most 1024 characters), got " +
                                 quote(*text));
                } else {
                  h.path = *text;
                }
              }
            } else if (e.key == "host") {
              if (auto text = doc_.scalar(e, key_path)) {
                if (!request_token(*text, 255)) {
                  doc_.error(doc_.value_mark(e),
                             key_path +
                                 ": expected a Host value (printable, no spaces, "
                                 "at most 255 characters), got " +
                                 quote(*text));
                } else {
                  h.host = *text;
                }
              }
            } else if (e.key == "interval") {
              doc_.read_duration(e, key_path, 100, 3'600'000, h.interval_ms);
            } else if (e.key == "timeout") {
              doc_.read_duration(e, key_path, 10, 600'000, h.timeout_ms);
            } else if (e.key == "healthy_threshold") {
              doc_.read_uint(e, key_path, 1, 100, h.healthy_threshold);
            } else if (e.key == "unhealthy_threshold") {
              doc_.read_uint(e, key_path, 1, 100, h.unhealthy_threshold);
            } else if (e.key == "expect") {
              doc_.read_statuses(e, key_path, h.expect);
            }
          })) {
    return;  // `health_check:` alone: checks with the defaults (or an error already reported)
  }
  doc_.not_above(path, "timeout", h.timeout_ms, "interval", h.interval_ms, doc_.key_mark(f),
                 format_duration);
}

void Loader::load_ejection(const Field& f, const std::string& path, net::EjectionConfig& j) {
  if (!doc_.each_section_field(
          f, kEjectionKeys, path, [&](const Field& e, const std::string& key_path) {
            if (e.key == "consecutive_failures") {
              doc_.read_uint(e, key_path, 0, 1000, j.consecutive_failures);
            } else if (e.key == "window") {
              doc_.read_duration(e, key_path, 1, 3'600'000, j.window_ms);
            } else if (e.key == "duration") {
              doc_.read_duration(e, key_path, 100, 3'600'000, j.duration_ms);
            } else if (e.key == "max_duration") {
              doc_.read_duration(e, key_path, 100, 86'400'000, j.max_duration_ms);
            } else if (e.key == "statuses") {
              doc_.read_statuses(e, key_path, j.statuses);
              if (std::any_of(j.statuses.begin(), j.statuses.end(),
                              [](std::uint16_t s) { return s < 500; })) {
                doc_.error(doc_.value_mark(e),
                           key_path + ": only 5xx statuses can count against a server");
              }
            }
          })) {
    return;
  }
  doc_.not_above(path, "duration", j.duration_ms, "max_duration", j.max_duration_ms,
                 doc_.key_mark(f), format_duration);
}

void Loader::load_routes(const Field& f) {
  if (f.value.IsNull()) {
    return;
  }
  if (f.value.IsSequence() && f.value.size() > 0) {
    routes_given_ = true;
  }
  if (!doc_.check_list(f, "routes", "a list of routes", config_.routes.size(), kMaxRoutes,
                       "routes")) {
    return;
  }
  doc_.for_each_item(f.value, "routes",
                     [&](const YAML::Node& item, const std::string& path, const SourceMark&) {
                       load_route(item, path);
                     });
}

void Loader::load_route(const YAML::Node& node, const std::string& path) {
  RouteConfig route;
  route.mark = doc_.mark(node.Mark());
  SourceMark upstream_mark = route.mark;
  if (!node.IsMap()) {
    doc_.error(route.mark, path + ": expected a map with 'name', got " + type_name(node));
    return;
  }
  bool has_name = false;
  const Field* signup = nullptr;  // read after `class`, whatever the order in the file
  const Field* upgrade_limit = nullptr;
  const std::vector<Field> route_fields = doc_.fields(node, kRouteKeys, path);
  for (const Field& e : route_fields) {
    const std::string key_path = path + "." + e.key;
    [&] {
      if (e.key == "name") {
        has_name = true;
        doc_.read_unique_name(e, key_path, config_.routes, "route name", "", route.name);
      } else if (e.key == "match") {
        load_match(e, key_path, route);
      } else if (e.key == "class") {
        auto text = doc_.scalar(e, key_path);
        if (!text) {
          return;
        }
        auto it = std::find(std::begin(kClassNames), std::end(kClassNames), *text);
        if (it == std::end(kClassNames)) {
          doc_.error(doc_.value_mark(e), key_path + ": unknown class " + quote(*text) +
                                             ": use login, signup, api, static or other" +
                                             suggest(*text, kClassNames));
          return;
        }
        route.route_class = kClasses[it - std::begin(kClassNames)];
      } else if (e.key == "upstream") {
        auto text = doc_.scalar(e, key_path);
        if (!text) {
          return;
        }
        route.upstream = *text;
        upstream_mark = doc_.value_mark(e);
        if (text->empty()) {
          doc_.error(upstream_mark, key_path + ": must not be empty");
        }
      } else if (e.key == "max_body_size") {
        doc_.read_size(e, key_path, 1, 16 * kGiB, route.max_body_bytes);
      } else if (e.key == "body_key_bytes") {
        doc_.read_size(e, key_path, 256, 64 * kKiB, route.body_key_bytes);
      } else if (e.key == "limits") {
        ratelimit::load_limits(doc_, e, key_path, route.limits);
      } else if (e.key == "require_clearance") {
        doc_.read_bool(e, key_path, route.require_clearance);
      } else if (e.key == "signup") {
        signup = &e;
      } else if (e.key == "upgrade") {
        load_upgrade(e, key_path, route);
      } else if (e.key == "upgrade_idle_timeout") {
        upgrade_limit = &e;
        doc_.read_duration(e, key_path, 1'000, 86'400'000, route.upgrade_idle_timeout);
      } else if (e.key == "upgrade_max_size") {
        upgrade_limit = &e;
        doc_.read_size(e, key_path, kKiB, 1024 * kGiB, route.upgrade_max_bytes);
      }
    }();
  }
  if (upgrade_limit != nullptr && route.upgrade.empty()) {
    doc_.error(doc_.key_mark(*upgrade_limit),
               path + "." + upgrade_limit->key +
                   ": applies to upgraded connections only; set `upgrade` on this route too");
  }
  if (signup != nullptr) {
    if (route.route_class != RouteClass::Signup) {
      doc_.error(doc_.key_mark(*signup),
                 path + ".signup: only a route of class signup has a sign-up mode");
    } else {
      admission::load_signup(doc_, *signup, path + ".signup", route.signup);
    }
  }
  if (!has_name) {
    doc_.error(route.mark, path + ": missing required key 'name'");
  }
  route_paths_.push_back(path);
  config_.routes.push_back(std::move(route));
  route_refs_.push_back(RouteRef{path, upstream_mark});
}

void Loader::load_upgrade(const Field& f, const std::string& path, RouteConfig& route) {
  if (!doc_.check_list(f, path, "a list of protocols (websocket)", 0, 8, "protocols",
                       "leave the key out to refuse upgrades (501)")) {
    return;
  }
  doc_.for_each_scalar(
      f.value, path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        std::string name = text;
        for (char& c : name) c = lower(c);
        if (std::find(std::begin(kUpgradeProtocols), std::end(kUpgradeProtocols), name) ==
            std::end(kUpgradeProtocols)) {
          const std::string why = name == "h2c"
                                      ? ": an h2c upgrade would open HTTP/2 to the upstream past "
                                        "every stage; serve HTTP/2 with `listen[].http2` instead"
                                      : ": the protocols a route may switch to are: websocket" +
                                            suggest(name, kUpgradeProtocols);
          doc_.error(at, item_path + ": unknown protocol " + quote(text) + why);
          return;
        }
        doc_.add_unique(route.upgrade, name, at, item_path, "protocol " + quote(text));
      });
}

void Loader::load_match(const Field& f, const std::string& path, RouteConfig& route) {
  if (!doc_.section_map(f, path)) {
    return;
  }
  RouteMatch& m = route.match;
  int path_kinds = 0;
  doc_.each_field(f.value, kMatchKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "methods") {
      doc_.read_methods(e, key_path, m.methods);
      return;
    }
    auto text = doc_.scalar(e, key_path);
    if (!text) {
      return;
    }
    const SourceMark at = doc_.value_mark(e);
    if (e.key == "host") {
      std::string host = *text;
      for (char& c : host) {
        c = lower(c);
      }
      if (!host.empty() && host.front() != '[' && host.back() == '.') {
        host.pop_back();
      }
      if (!valid_host(host)) {
        std::string why = host.find(':') != std::string::npos && host.front() != '['
                              ? ": leave out the port (the request's port is ignored)"
                              : ": expected a host name or [IPv6] literal";
        doc_.error(at, key_path + ": invalid host " + quote(*text) + why);
        return;
      }
      m.host = host;
    } else if (e.key == "path" || e.key == "path_prefix") {
      ++path_kinds;
      if (!valid_path(*text)) {
        doc_.error(
            at,
            key_path + ": must start with '/' and hold no spaces, control characters, '?' or '#'");
        return;
      }
      // Requests are matched on their canonical path: a spelling it never takes never matches.
      // Case is left alone here: the route table folds both sides when routing ignores case.
      std::string scratch(text->size(), '\0');
      http::PathOptions options;
      options.fold_case = false;
      options.keep_encoded_slashes = true;
      const http::PathResult canon =
          http::canonical_path(*text, options, scratch.data(), scratch.size());
      if (canon.error != http::PathError::None) {
        doc_.error(at, key_path + ": " + quote(*text) + " never matches: requests with " +
                           std::string(http::describe(canon.error)) + " are refused");
        return;
      }
      const std::string_view normal = canon.path;
      if (normal != *text) {
        doc_.error(at, key_path + ": " + quote(*text) +
                           " never matches: request paths are normalised before matching (write " +
                           quote(normal) + ")");
        return;
      }
      (e.key == "path" ? m.path : m.path_prefix) = *text;
    } else if (e.key == "path_regex") {
      ++path_kinds;
      if (text->empty() || text->size() > kMaxRegexBytes) {
        doc_.error(at,
                   key_path + ": must be 1 to " + std::to_string(kMaxRegexBytes) + " characters");
        return;
      }
      if (auto why = check_path_regex(*text)) {
        doc_.error(at, key_path + ": invalid regex: " + *why);
        return;
      }
      m.path_regex = *text;
    }
  });
  if (path_kinds > 1) {
    doc_.error(doc_.value_mark(f), path + ": set only one of path, path_prefix, path_regex");
  }
}

void Loader::load_secrets(const Field& f) {
  doc_.each_section_field(f, kSecretsKeys, "secrets", [&](const Field& e, const std::string& path) {
    if (auto name = doc_.file_name(e.value, doc_.value_mark(e), path)) {
      config_.secrets.key_file = *name;
    }
  });
}

void Loader::load_state_dir(const Field& f) {
  if (auto name = doc_.file_name(f.value, doc_.value_mark(f), "state_dir")) {
    config_.state_dir = *name;
  }
}

void Loader::load_routing(const Field& f) {
  RoutingConfig& r = config_.routing;
  doc_.each_section_field(f, kRoutingKeys, "routing", [&](const Field& e, const std::string& path) {
    if (e.key == "case_sensitive") {
      doc_.read_bool(e, path, r.case_sensitive);
    } else if (e.key == "encoded_slashes") {
      if (auto i = doc_.read_choice(e, path, kEncodedSlashes, "setting"))
        r.keep_encoded_slashes = *i == 1;
    }
  });
}

void Loader::load_access_log(const Field& f) {
  AccessLogConfig& a = config_.access_log;
  doc_.each_section_field(f, kAccessLogKeys, "access_log",
                          [&](const Field& e, const std::string& path) {
                            if (e.key == "enabled") {
                              doc_.read_bool(e, path, a.enabled);
                            } else if (e.key == "path") {
                              if (auto name = doc_.file_name(e.value, doc_.value_mark(e), path))
                                a.path = *name;
                            } else if (e.key == "refusals_keep_per_s") {
                              doc_.read_uint(e, path, 0, 1'000'000, a.refusals_keep_per_s);
                            } else if (e.key == "refusals_sample_one_in") {
                              doc_.read_uint(e, path, 1, 1'000'000, a.refusals_sample_one_in);
                            } else if (e.key == "max_file_size") {
                              doc_.read_size(e, path, kMiB, 16 * kGiB, a.max_file_bytes);
                            } else if (e.key == "max_files") {
                              doc_.read_uint(e, path, 1, 100, a.max_files);
                            }
                          });
}

void Loader::load_log(const Field& f) {
  LogConfig& l = config_.log;
  doc_.each_section_field(f, kLogKeys, "log", [&](const Field& e, const std::string& path) {
    if (e.key == "format") {
      if (auto i = doc_.read_choice(e, path, kLogFormats, "log format"))
        l.format = static_cast<core::LogFormat>(*i);
    } else if (e.key == "level") {
      if (auto i = doc_.read_choice(e, path, kLogLevels, "log level"))
        l.level = static_cast<core::LogLevel>(*i);
    }
  });
}

void Loader::finish() {
  if (!config_.routing.case_sensitive) {
    // Rules compare the canonical path, lowercased when routing ignores case.
    for (ReputationRule& rule : config_.reputation.rules) {
      for (char& c : rule.path_prefix) c = lower(c);
    }
  }
  const auto& ups = config_.upstreams;
  std::vector<std::string_view> names;
  for (const UpstreamConfig& u : ups) {
    names.push_back(u.name);
  }
  if (!routes_given_) {
    if (ups.size() == 1) {
      RouteConfig route;
      route.name = "default";
      route.upstream = ups[0].name;
      route.mark = ups[0].mark;
      config_.routes.push_back(std::move(route));
    } else if (ups.size() > 1) {
      doc_.error(upstreams_mark_, "routes: required when there is more than one upstream");
    }
    return;
  }
  for (std::size_t i = 0; i < config_.routes.size() && i < route_refs_.size(); ++i) {
    RouteConfig& r = config_.routes[i];
    const std::string& path = route_refs_[i].path;
    if (r.upstream.empty()) {
      if (ups.size() == 1) {
        r.upstream = ups[0].name;
        r.upstream_index = 0;
      } else if (ups.size() > 1) {
        doc_.error(r.mark,
                   path + ": missing 'upstream' (required when there is more than one upstream)");
      }
      continue;
    }
    auto it = std::find(names.begin(), names.end(), r.upstream);
    if (it == names.end()) {
      if (!ups.empty()) {
        doc_.error(
            route_refs_[i].upstream_mark,
            path + ".upstream: unknown upstream " + quote(r.upstream) + suggest(r.upstream, names));
      }
      continue;
    }
    r.upstream_index = static_cast<std::size_t>(it - names.begin());
  }
}

// Checks over the whole configuration, once every file is read.
void Loader::check_all() {
  if (!has_listen_) {
    doc_.error(doc_.root_mark(), "missing required key 'listen'");
  }
  if (!has_upstreams_) {
    doc_.error(doc_.root_mark(), "missing required key 'upstreams'");
  }
  if (config_.admin.enabled) {
    check_not_listened(config_.admin.address, doc_.mark_of("admin.address", doc_.root_mark()),
                       "admin.address", true);
  }
  check_decide();
  const ResidentsConfig& res = config_.residents;
  if (res.enabled && res.success_cookie.empty() && res.success_location.empty()) {
    for (const RouteConfig& r : config_.routes) {
      if (r.route_class != RouteClass::Login) continue;
      // A bare status is no proof of a login (a 200 may be the form again): without the
      // application's own signal, device tokens would be handed to whoever asks.
      doc_.error(doc_.mark_of("residents", r.mark),
                 "residents: route " + quote(r.name) +
                     " is a login route, but no login success signal is named: set "
                     "residents.success_cookie (the session cookie the application sets on login) "
                     "and/or residents.success_location (where a successful login redirects), or "
                     "residents.enabled: false");
      break;
    }
  }
  finish();
}

// What a decision service cannot do, refused with the way out: it sees no request body (nginx
// auth_request, forward_auth) and no answer of the application, so body-keyed limits, count_when
// and device tokens need an inline listener for the routes that use them.
void Loader::check_decide() {
  bool decide = false;
  bool inline_listener = false;
  SourceMark first;
  for (const ListenConfig& l : config_.listen) {
    if (l.decide != DecideFor::None && !decide) first = l.mark;
    (l.decide != DecideFor::None ? decide : inline_listener) = true;
  }
  if (!decide) return;
  if (config_.clients.trusted_proxies.empty()) {
    doc_.error(first,
               "listen: a decide listener believes the original request only from the proxy "
               "in front: name it in clients.trusted_proxies");
  }
  if (inline_listener) return;
  for (const RouteConfig& r : config_.routes) {
    const std::string route = "routes: route " + quote(r.name) + ": ";
    const std::string way_out =
        ": a decision service sees neither the request body nor the application's answer; add "
        "an inline listener and send this route's path through it (docs/DECIDE.md)";
    for (const LimitConfig& l : r.limits) {
      bool body = false;
      for (const KeyPart& p : l.key) {
        body = body || policy::body_part(p.kind);
      }
      if (body || !l.count_when_status.empty()) {
        doc_.error(l.mark,
                   route + "limit " + quote(l.name) +
                       (body ? " keys on the request body" : " counts on the answer (count_when)") +
                       way_out);
      }
    }
    if (r.route_class == RouteClass::Login && config_.residents.enabled) {
      doc_.error(r.mark, route + "device tokens are set on a successful login" + way_out);
    }
  }
}

// One top-level section (but `include`, and `upstreams`, read first): the proxy's own here, each
// stage's by its folder's loader piece.
void Loader::load_section(const Field& f) {
  if (f.key == "server") {
    load_server(f);
  } else if (f.key == "listen") {
    load_listen(f);
  } else if (f.key == "admin") {
    load_admin(f);
  } else if (f.key == "clients") {
    load_clients(f);
  } else if (f.key == "limits") {
    load_limits(f);
  } else if (f.key == "routes") {
    load_routes(f);
  } else if (f.key == "lists") {
    lists::load_lists(doc_, f, config_.lists);
  } else if (f.key == "bans") {
    lists::load_bans(doc_, f, config_.bans);
  } else if (f.key == "secrets") {
    load_secrets(f);
  } else if (f.key == "state_dir") {
    load_state_dir(f);
  } else if (f.key == "residents") {
    residents::load_residents(doc_, f, config_.residents);
  } else if (f.key == "challenge") {
    challenge::load_challenge(doc_, f, config_.challenge);
  } else if (f.key == "reputation") {
    reputation::load_reputation(doc_, f, config_.reputation);
  } else if (f.key == "access_log") {
    load_access_log(f);
  } else if (f.key == "routing") {
    load_routing(f);
  } else if (f.key == "log") {
    load_log(f);
  } else if (f.key == "cluster") {
    fleet::load_cluster(doc_, f, config_.cluster);
  }
}

void Loader::load_document(const YAML::Node& root, bool main) {
  const SourceMark root_mark = doc_.mark(root.Mark());
  if (root.IsNull()) {
    if (main) {
      doc_.error(root_mark, "empty configuration: 'listen' and 'upstreams' are required");
    }
    return;  // an empty included file adds nothing
  }
  if (!root.IsMap()) {
    doc_.error(root_mark,
               std::string("expected a map of sections at top level, got ") + type_name(root));
    doc_.set_incomplete();
    return;
  }
  if (main) {
    root_ok_ = true;
  }
  std::vector<Document::Include> includes;
  // Upstreams first, so routes can name them whatever the order in the file.
  const std::vector<Field> top = doc_.fields(root, kTopKeys, "");
  for (const Field& f : top) {
    if (f.key == "upstreams") {
      load_upstreams(f);
    }
  }
  for (const Field& f : top) {
    if (!doc_.claim_section(f, kSingleSections)) {
      continue;
    }
    if (f.key == "include") {
      doc_.collect_includes(f, includes);
    } else {
      load_section(f);
    }
  }
  // After this file's own entries, so included routes and listeners come after them.
  for (const Document::Include& inc : includes) {
    doc_.load_include(inc);
  }
}

LoadResult Loader::run(std::string_view yaml, std::optional<FileId> id) {
  LoadResult result;
  doc_.load_main(yaml, id,
                 [this](const YAML::Node& root, bool main) { load_document(root, main); });
  if (root_ok_ && !doc_.incomplete()) {
    check_all();
  }
  if (doc_.has_errors()) {
    result.errors = doc_.take_errors();
    return result;
  }
  config_.source_files = doc_.source_files();
  resolve_paths(config_, doc_.file(), !config_.source_path.empty(),
                [this](const std::string& key) { return doc_.mark_of(key, SourceMark{}).file; });
  result.snapshot = make_snapshot(std::move(config_));
  return result;
}

}  // namespace

LoadResult load_config_string(std::string_view yaml, std::string_view name,
                              const LoadOptions& options) {
  Loader loader{std::string(name), "", options.resolve};
  return loader.run(yaml, std::nullopt);
}

LoadResult load_config_file(const std::string& path, const LoadOptions& options) {
  FileText file;
  if (auto why = read_text(path, false, file)) {
    LoadResult r;
    r.errors.push_back(
        ConfigError{SourceMark{path, 0, 0}, "cannot read configuration file: " + *why});
    return r;
  }
  Loader loader{path, path, options.resolve};
  return loader.run(file.text, file.id);
}
}  // namespace gh::policy
