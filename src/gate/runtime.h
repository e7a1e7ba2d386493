// Everything the data plane reads for one config generation besides the config itself:
// compiled rate limits (tables come from the server's registry and outlive reloads) and the
// allow/deny prefix set. Built off the request path (list files are read here), then frozen.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/snapshot.h"
#include "client/trust.h"
#include "gate/defence.h"
#include "stages/lists/prefix_set.h"
#include "stages/ratelimit/stage.h"

namespace gh::gate {

struct Runtime {
  policy::SnapshotPtr policy;
  std::vector<std::unique_ptr<ratelimit::RouteLimits>> limits;  // by route index
  lists::PrefixSetPtr lists;                                    // allow and deny, longest wins
  Defence defence;                                              // reputation, per-route state
  DefenceState* state = nullptr;                                // the server's, outlives this
  client::ProxyTrust trust;  // peers whose X-Forwarded-For is believed (clients.trusted_proxies)

  std::size_t route_index(const policy::RouteConfig* route) const {
    return static_cast<std::size_t>(route - policy->routes.routes().data());
  }

  const ratelimit::RouteLimits* limits_for(const policy::RouteConfig* route) const {
    const auto& routes = policy->routes.routes();
    auto index = static_cast<std::size_t>(route - routes.data());
    return index < limits.size() ? limits[index].get() : nullptr;
  }
};

using RuntimePtr = std::shared_ptr<const Runtime>;

// Returns nullptr and fills `errors` ("file:line: message") when a list file cannot be used.
RuntimePtr build_runtime(policy::SnapshotPtr policy, ratelimit::Registry& registry,
                         DefenceState& defence, std::vector<std::string>* errors);

// What build_runtime checks beyond the config file itself (list files, the reputation rules and
// ASN database, the theme file), without side effects: for `gatehouse validate`.
bool check_runtime(const policy::Snapshot& policy, std::vector<std::string>* errors);

}  // namespace gh::gate
