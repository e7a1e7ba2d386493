// The configuration's top level: each file's sections in order (upstreams first, then includes),
// the stages' sections handed to their loaders, the checks over the whole, the snapshot. The
// proxy's own sections are read in config_listen.cc, config_upstreams.cc, config_routes.cc and
// config_sections.cc, steps of the one Loader (loader.h).
#include "policy/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "config/document.h"
#include "fleet/config.h"
#include "loader.h"
#include "policy/paths.h"
#include "stages/challenge/config.h"
#include "stages/lists/config.h"
#include "stages/reputation/config.h"
#include "stages/residents/config.h"

namespace gh::policy {
namespace {

constexpr std::string_view kTopKeys[] = {
    "include",   "server",     "listen",  "admin",   "clients",   "limits",    "upstreams",
    "routes",    "lists",      "bans",    "secrets", "residents", "challenge", "reputation",
    "state_dir", "access_log", "routing", "log",     "cluster"};
// Sections that are one value (not lists to append to): at most one file may set each.
constexpr std::string_view kSingleSections[] = {
    "server",    "admin",      "clients",   "limits",     "bans",    "secrets", "residents",
    "challenge", "reputation", "state_dir", "access_log", "routing", "log",     "cluster"};

}  // namespace

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
