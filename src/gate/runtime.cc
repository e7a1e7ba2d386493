#include "gate/runtime.h"

namespace gh::gate {

RuntimePtr build_runtime(policy::SnapshotPtr policy, ratelimit::Registry& registry,
                         DefenceState& defence, std::vector<std::string>* errors) {
  auto rt = std::make_shared<Runtime>();
  rt->policy = policy;
  rt->state = &defence;
  rt->trust = client::ProxyTrust(policy->config.clients.trusted_proxies);
  std::string why;
  if (!defence.build(*policy, rt->defence, &why)) {
    if (errors != nullptr) errors->push_back(why);
    return nullptr;
  }
  for (const policy::RouteConfig& route : policy->routes.routes()) {
    rt->limits.push_back(std::make_unique<ratelimit::RouteLimits>(route, registry));
  }
  const policy::ListsConfig& cfg = policy->config.lists;
  lists::PrefixSetBuilder builder;
  // Deny first, then allow: of two equal prefixes the later wins, so allow overrides deny.
  for (const auto& c : cfg.deny) builder.add(c, {lists::Action::Deny, 0});
  for (const auto& f : cfg.deny_files) builder.add_file(f, {lists::Action::Deny, 1});
  for (const auto& c : cfg.allow) builder.add(c, {lists::Action::Allow, 2});
  for (const auto& f : cfg.allow_files) builder.add_file(f, {lists::Action::Allow, 3});
  if (builder.error_count() != 0) {
    if (errors != nullptr) {
      for (const auto& e : builder.errors()) errors->push_back(e.to_string());
      if (builder.error_count() > builder.errors().size()) {
        errors->push_back("... " + std::to_string(builder.error_count() - builder.errors().size()) +
                          " more list errors");
      }
    }
    return nullptr;
  }
  rt->lists = builder.build();
  // Tables of limits no longer configured are freed (tables still used are kept by their state).
  std::vector<std::shared_ptr<ratelimit::Table>> in_use;
  for (const auto& l : rt->limits) {
    for (auto& t : l->tables()) in_use.push_back(t);
  }
  registry.retain_only(in_use);
  return rt;
}

bool check_runtime(const policy::Snapshot& policy, std::vector<std::string>* errors) {
  const policy::ListsConfig& cfg = policy.config.lists;
  lists::PrefixSetBuilder builder;
  for (const auto& f : cfg.deny_files) builder.add_file(f, {lists::Action::Deny, 1});
  for (const auto& f : cfg.allow_files) builder.add_file(f, {lists::Action::Allow, 3});
  bool ok = builder.error_count() == 0;
  if (!ok && errors != nullptr) {
    for (const auto& e : builder.errors()) errors->push_back(e.to_string());
  }
  Defence scratch;
  std::string why;
  if (!DefenceState::check(policy, scratch, &why)) {
    if (errors != nullptr) errors->push_back(why);
    ok = false;
  }
  return ok;
}

}  // namespace gh::gate
