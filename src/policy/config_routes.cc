// The `routes` section: each route's match (host, methods, path, prefix or regex), class,
// upstream, body limits, rate limits, sign-up mode and upgrades.
#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "client/address.h"
#include "config/document.h"
#include "http/path.h"
#include "loader.h"
#include "policy/route_table.h"
#include "stages/admission/config.h"
#include "stages/ratelimit/config.h"

namespace gh::policy {
namespace {

constexpr std::size_t kMaxRoutes = 1024;

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

}  // namespace

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

}  // namespace gh::policy
