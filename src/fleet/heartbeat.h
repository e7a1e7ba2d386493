// This node's heartbeat and its view of the other nodes. Every kHeartbeatMs, on the fleet's
// thread, it writes this node's latest figures to `<prefix>nodes` (HSET, field = node name) and
// reads the whole hash back (HGETALL): what it read, aged by its timestamps, is the fleet. A
// heartbeat kForgetAfterMs old is deleted by whichever node reads it. Redis is reached only
// through `Send` (argv in, one reply out), so the command path can route it (a Cluster layer).
// set_self() and the readers are thread-safe; tick() is the fleet thread's.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "fleet/nodes-t.h"
#include "fleet/reply-t.h"

namespace gh::fleet {

// Sends one command; `reply` gets its answer (never nullptr: a command that fails is the
// sender's to report). False when it could not be sent.
using Send =
    std::function<bool(std::vector<std::string> argv, std::function<void(const Reply&)> reply)>;

class Heartbeat {
 public:
  Heartbeat(std::string node, std::string key);

  // This node's latest figures (any thread); node and at_ms are filled in when written.
  void set_self(NodeFigures figures);
  // The fleet's thread, often (every loop tick) while Redis answers: at most once per
  // kHeartbeatMs writes ours and reads all.
  void tick(std::int64_t wall_ms, const Send& send);
  // Redis lost: the next tick after it returns writes at once.
  void reset() { next_ms_ = 0; }

  // Every node known (self first among equals, sorted by name), aged at `wall_ms`.
  std::vector<NodeEntry> nodes(std::int64_t wall_ms) const;
  // Only the live ones.
  std::vector<NodeEntry> live_nodes(std::int64_t wall_ms) const;
  // The live nodes summed (self included).
  FleetTotals totals(std::int64_t wall_ms) const;

  std::uint64_t malformed() const { return malformed_.load(std::memory_order_relaxed); }
  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  std::uint64_t reads() const { return reads_.load(std::memory_order_relaxed); }

  // Reads one HGETALL reply (field/value pairs) into heartbeats: what decodes and names itself
  // as its field, at most kMaxNodes; `stale` gets the fields kForgetAfterMs old. Pure; counts
  // what it refused in `malformed`.
  static std::vector<NodeFigures> read_reply(const Reply& r, std::int64_t wall_ms,
                                             std::vector<std::string>* stale,
                                             std::uint64_t* malformed);

 private:
  const std::string node_, key_;
  std::int64_t next_ms_ = 0;  // fleet thread
  mutable std::mutex mu_;
  NodeFigures self_;                 // under mu_
  std::vector<NodeFigures> others_;  // under mu_: the last read
  std::atomic<std::uint64_t> malformed_{0}, written_{0}, reads_{0};
};

}  // namespace gh::fleet
