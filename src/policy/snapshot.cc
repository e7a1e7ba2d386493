#include "policy/snapshot.h"

namespace gh::policy {

SnapshotPtr make_snapshot(Config config) {
  RouteTable table(config.routes, config.routing);
  return std::make_shared<const Snapshot>(Snapshot{std::move(config), std::move(table)});
}

}  // namespace gh::policy
