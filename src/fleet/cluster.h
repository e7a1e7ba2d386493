// A Redis client that speaks to a standalone Redis or to a Redis Cluster through one interface,
// on a net::EventLoop (the loop's thread only).
//
// start() asks one node (the seeds in turn, then the nodes the last map named) for CLUSTER
// SLOTS. A standalone Redis ("cluster support disabled") is then used alone, as one connection,
// exactly as before the cluster layer. A cluster's map routes each command by the slot of its
// key to that slot's master, over one connection per master, opened when first needed. MOVED
// updates the slot and refreshes the whole map soon; ASK sends ASKING and the command to the
// named node without touching the map; CLUSTERDOWN, TRYAGAIN and a lost connection refresh the
// map (backing off from 50 ms to 1 s) and retry. Every command has a deadline: redirections and
// retries happen within it, never beyond, and a command still unanswered then gets nullptr.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "fleet/redis.h"
#include "fleet/reply-t.h"
#include "fleet/slots-t.h"

namespace gh::net {
class EventLoop;
}

namespace gh::fleet {

class ClusterClient {
 public:
  // reply nullptr: the command failed (deadline, connection lost in standalone mode, too many
  // redirections, the client closed).
  using Callback = RedisConnection::Callback;
  using OnReady = std::function<void(bool ok, const std::string& why)>;
  using OnDown = std::function<void(const std::string& why)>;

  enum class Mode : std::uint8_t { Auto, Standalone, Cluster };

  struct Options {
    std::vector<NodeAddress> seeds;
    Mode mode = Mode::Auto;
    std::int64_t connect_timeout_ms = 250;
    std::int64_t command_timeout_ms = 20;  // per connection: no reply by then drops it
    std::int64_t deadline_ms = 100;        // per command, redirections and retries included
    std::uint32_t max_redirects = 5;       // per command
    std::size_t max_commands = 65536;      // waiting or in flight; beyond, command() refuses
    std::string user, password;            // AUTH on every connection when a password is set
  };

  struct Stats {
    std::uint64_t moved = 0, asked = 0, retries = 0, refreshes = 0, gave_up = 0, malformed = 0;
  };

  // on_down: the standalone connection was lost (in Cluster mode commands fail one by one).
  ClusterClient(net::EventLoop& loop, Options options, OnDown on_down);
  ~ClusterClient();
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  // Drops what there was and discovers afresh on the current candidate node (seeds first, then
  // the nodes the last map named); ready(true) once commands can be routed, ready(false, why)
  // when that node could not tell.
  void start(OnReady ready);
  // Fails every command (nullptr) and closes every connection. Not from within a callback of
  // this client: defer it.
  void close();
  // The next start() asks the next candidate node (the owner calls it after each failure).
  void rotate() { ++next_candidate_; }
  // Timeouts of every connection, commands past their deadline, retries and map refreshes due.
  // Call on every timer tick.
  void check(std::int64_t now_ms);

  // Routed by the slot of `key` (ignored standalone). deadline_ms 0: Options::deadline_ms.
  // False when not started or max_commands are waiting.
  bool command(std::string_view key, std::vector<std::string> argv, Callback cb,
               std::int64_t deadline_ms = 0);
  // Routed to the master of `slot` (< 16384), for callers that group keys by hash tag.
  bool command_to_slot(std::uint16_t slot, std::vector<std::string> argv, Callback cb,
                       std::int64_t deadline_ms = 0);

  bool ready() const { return ready_; }
  bool is_cluster() const { return ready_ && !standalone_; }
  // The node start() last succeeded on: where a subscriber may connect.
  const NodeAddress& node() const { return node_; }
  const SlotMap& map() const { return map_; }
  const Stats& stats() const { return stats_; }
  std::size_t connections() const { return conns_.size(); }
  std::size_t waiting() const { return ops_.size(); }
  // Tests: route with this map from now on (e.g. a stale one, to provoke MOVED).
  // A refresh already asked for or in flight does not overwrite it.
  void set_map_for_test(const SlotMap& map) {
    map_ = map;
    refresh_wanted_ = false;
    ++map_epoch_;
  }

 private:
  struct Op;
  using OpPtr = std::shared_ptr<Op>;

  RedisConnection* conn_for(const NodeAddress& a);
  void drop_conn(const std::string& key);
  void on_conn_down(const std::string& key, const std::string& why);
  bool enqueue(int slot, std::vector<std::string> argv, Callback cb, std::int64_t deadline_ms);
  bool dispatch(const OpPtr& op);
  void on_reply(const OpPtr& op, const NodeAddress& from, const Reply* reply);
  void retry_later(const OpPtr& op);
  void finish(const OpPtr& op, const Reply* reply);
  void pump();
  void schedule_pump();
  void refresh_soon() { refresh_wanted_ = true; }
  void maybe_refresh(std::int64_t now_ms);
  void on_map(const NodeAddress& from, std::uint64_t epoch, const Reply* reply);
  void learn(const SlotMap& map);
  void discovered(const NodeAddress& from, const Reply* reply);
  void start_failed(const std::string& why);

  net::EventLoop& loop_;
  Options options_;
  OnDown on_down_;
  OnReady on_ready_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // deferred work checks it

  std::vector<NodeAddress> candidates_;  // seeds, then nodes the maps named (bounded)
  std::size_t next_candidate_ = 0;
  NodeAddress node_;
  bool discovering_ = false, ready_ = false, standalone_ = false, closing_ = false;
  SlotMap map_;
  std::unordered_map<std::string, std::unique_ptr<RedisConnection>> conns_;  // by host:port
  std::vector<std::unique_ptr<RedisConnection>> graveyard_;  // destroyed off their callbacks
  std::list<OpPtr> ops_;                                     // waiting or in flight, oldest first
  bool pump_scheduled_ = false;
  bool refresh_wanted_ = false, refresh_inflight_ = false;
  std::int64_t next_refresh_ms_ = 0;
  std::int64_t backoff_ms_ = kMinBackoffMs;
  std::size_t refresh_rr_ = 0;
  std::uint64_t map_epoch_ = 0;  // a refresh answered after a test set the map is dropped
  Stats stats_;

  static constexpr std::int64_t kMinBackoffMs = 50;
  static constexpr std::int64_t kMaxBackoffMs = 1000;
};

}  // namespace gh::fleet
