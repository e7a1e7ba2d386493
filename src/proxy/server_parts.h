// The helpers shared by the files of Server: server.cc (lifecycle, workers, readiness),
// server_listeners.cc (binding and reload), server_housekeeping.cc (the housekeeping thread,
// bans) and server_fleet.cc (the fleet's hooks). Internal to proxy/ (gh_module INTERNAL): its
// users see proxy/server.h only.
#pragma once

#include <string>
#include <vector>

#include "policy/config-t.h"
#include "proxy/server.h"
#include "stages/lists/bans.h"
#include "stages/ratelimit/keyhash.h"

namespace gh::proxy::server_parts {

// The seed of tuple keys' digests, alike on every node of a fleet (shared limits name keys by
// them): from the prefix and the password, which only the fleet knows.
ratelimit::HashSeed fleet_key_seed(const policy::ClusterConfig& cc);
// Lines joined with newlines (build errors into one message).
std::string join(const std::vector<std::string>& lines);
// The ban table's clock: wall seconds.
lists::Seconds wall_now();
// Closes the sockets that Add operations hold and no worker has taken.
void close_added(std::vector<std::vector<ListenerOp>>& ops);

}  // namespace gh::proxy::server_parts
