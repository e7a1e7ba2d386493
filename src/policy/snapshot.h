// The immutable, shared view of one loaded configuration: requests read it without locks, a
// reload swaps in a new pointer.
#pragma once

#include <memory>

#include "policy/config-t.h"
#include "policy/route_table.h"

namespace gh::policy {

struct Snapshot {
  Config config;
  RouteTable routes;  // compiled from config.routes
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

// Compiles the routes of an already validated config and freezes both.
SnapshotPtr make_snapshot(Config config);

}  // namespace gh::policy
