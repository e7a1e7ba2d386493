// The `upstreams` section: each upstream's servers (names resolved at load), pool sizes and
// timeouts, admission, health checks and ejection.
#include <algorithm>
#include <string>
#include <vector>

#include "client/address.h"
#include "config/document.h"
#include "loader.h"
#include "net/resolve.h"
#include "stages/admission/config.h"

namespace gh::policy {
namespace {

constexpr std::size_t kMaxUpstreams = 256;
constexpr std::size_t kMaxServers = 256;

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

// Printable ASCII without spaces: what may go into a health check's request line or Host.
bool request_token(std::string_view text, std::size_t max) {
  return !text.empty() && text.size() <= max &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

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

}  // namespace gh::policy
