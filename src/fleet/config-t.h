// Plain types of the `cluster:` section: the Redis a fleet of Gatehouse nodes shares. Absent, the
// node is alone (enabled false) and nothing of the fleet runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model-t.h"

namespace gh::policy {

struct ClusterSeed {
  std::string host;  // a name or an IP address (no brackets)
  std::uint16_t port = 6379;
};

// How the seeds are spoken to: Auto asks CLUSTER SLOTS and uses a Redis that answers "cluster
// support disabled" (or any other refusal of it) as a standalone one.
enum class ClusterMode : std::uint8_t { Auto, Standalone, Cluster };

struct ClusterConfig {
  bool enabled = false;            // the section is present
  std::vector<ClusterSeed> seeds;  // standalone: one; Cluster: any of its nodes
  ClusterMode mode = ClusterMode::Auto;
  std::string user;           // ACL user; empty: AUTH with the password alone
  std::string password_file;  // absolute once loaded; empty: no AUTH
  Millis connect_timeout = 250;
  // No command may wait longer: then the connection is dropped and counted as a failure.
  Millis command_timeout = 20;
  // The longest a request waits for Redis where a decision must be the fleet's (a solved
  // challenge's single-use claim, an exact limit): past it the node decides alone. 0: never wait.
  Millis request_timeout = 5;
  std::string node;  // this node's name in the fleet; the host name when not given
  Millis sync_interval = 200;
  std::string prefix = "gh:";  // before every key and channel: fleets may share one Redis
  // The circuit breaker: open after this many failures in a row, probe again after open_for.
  std::uint32_t breaker_failures = 3;
  Millis breaker_open_for = 1000;
  // Changes made while Redis is away, kept to be written when it returns; the oldest go first.
  std::uint32_t max_pending = 4096;
  // Shared limits: keys spread over this many virtual shards ({gs:NN} hash tags; a script call
  // per shard and up to 256 of its keys, a few in flight), and at most this many keys pushed per
  // sync (the rest stay local).
  std::uint32_t limit_shards = 16;
  std::uint32_t max_sync_keys = 20'000;
};

}  // namespace gh::policy
