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
#include "loader.h"
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

constexpr std::size_t kMaxTrustedProxies = 1024;

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
constexpr std::string_view kServerKeys[] = {"workers"};
constexpr std::string_view kClientsKeys[] = {"trusted_proxies", "ipv4_prefix", "ipv6_prefix"};
constexpr std::string_view kLimitsKeys[] = {
    "max_head_size",   "max_header_fields",          "max_target_size",   "max_body_size",
    "head_timeout",    "body_idle_timeout",          "keepalive_timeout", "send_timeout",
    "max_connections", "max_connections_per_client", "shutdown_grace"};

}  // namespace

void Loader::load_server(const Field& f) {
  doc_.each_section_field(f, kServerKeys, "server",
                          [&](const Field& e, const std::string& key_path) {
                            if (e.key == "workers") {
                              doc_.read_uint(e, key_path, 0, 256, config_.server.workers);
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
