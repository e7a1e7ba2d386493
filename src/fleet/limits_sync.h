// Shared rate limits, the fleet's side (ARCHITECTURE.md, "Shared limits"). The stages' tables
// decide locally and report every change of a shared key's debt; every sync interval this takes
// what they reported, sums it per key, and pushes the sums to Redis, grouped into virtual shards
// (a `{gs:NN}` hash tag in every key, so that one script call touches one Redis Cluster slot):
// one pipelined EVALSHA per shard, whose GCRA script adds the deltas to each key's shared TAT and
// answers each key's global debt. The node then sets each key's debt to the global one plus what
// it added itself since the push: decisions are made on `global at last sync + local delta`.
//
// Redis away: nothing is pushed; each local change is charged (live nodes − 1) more times, so
// the node admits about rate / live nodes, its share (live nodes as last seen, from a minimal
// heartbeat of its own: live_nodes()).
//
// The fleet's thread only, apart from urgent() and stats(). Knows nothing of the stages: keys
// are (limit id, 16 bytes) and the hooks carry them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fleet/config-t.h"
#include "fleet/reply-t.h"

namespace gh::fleet {

struct LimitKey {
  std::uint64_t limit = 0;  // the limit's fleet-wide id
  std::uint64_t lo = 0, hi = 0;

  friend bool operator==(const LimitKey&, const LimitKey&) = default;
};

// A change of a key's debt (from the stages), or a figure for it (to them): nanoseconds.
struct LimitDelta {
  LimitKey key;
  std::int64_t ns = 0;
  bool exact = false;  // an exact limit's key: its global figure is published to the others
};

// How the stages take figures: the key's debt set to it, grown by it (local share), or raised to
// at least it (another node's published figure, which may arrive after a newer one).
enum class Fold : std::uint8_t { Set, Add, AtLeast };

struct LimitKeyHash {
  std::size_t operator()(const LimitKey& k) const;
};

// The virtual shard of a key, in [0, shards): the same on every node.
std::uint32_t shard_of(const LimitKey& key, std::uint32_t shards);
// The key's name in Redis: prefix + "rl:{gs:NN}:" + limit (hex) + ":" + key bytes (hex).
std::string redis_key(std::string_view prefix, std::uint32_t shard, const LimitKey& key);

// The entries of one shard, as indices into the batch, in batch order.
struct ShardGroup {
  std::uint32_t shard = 0;
  std::vector<std::size_t> entries;
};
// Every shard with at least one entry, by shard number.
std::vector<ShardGroup> group_by_shard(const std::vector<LimitDelta>& batch, std::uint32_t shards);

// Redis answers a pipeline it read at once only after running all of it, so a round's calls go
// out a few at a time: each call at most kKeysPerCall keys (a shard's keys split, in order), and
// more calls sent only while the keys in flight stay within kKeysInFlight. Each answer then comes
// within a few ms of Redis's time, far inside command_timeout, whatever a round's size (a sync of
// 1,700 keys sent at once took a loaded Redis 22 ms: past the 20 ms default).
inline constexpr std::size_t kKeysPerCall = 256;
inline constexpr std::size_t kKeysInFlight = 512;
std::vector<ShardGroup> split_calls(std::vector<ShardGroup> groups, std::size_t max_keys);

// Sums per key. At most `max_keys` keys: a change of a key beyond them is dropped and counted.
class DeltaSums {
 public:
  explicit DeltaSums(std::size_t max_keys) : max_keys_(max_keys) {}
  void add(const LimitKey& key, std::int64_t ns, bool exact = false);
  // The sum of `key` since the last take(), 0 when none.
  std::int64_t get(const LimitKey& key) const;
  // Every non-zero sum, and empties the sums.
  std::vector<LimitDelta> take();
  std::size_t size() const { return sums_.size(); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::size_t max_keys_;
  struct Sum {
    std::int64_t ns = 0;
    bool exact = false;
  };
  std::unordered_map<LimitKey, Sum, LimitKeyHash> sums_;
  std::uint64_t dropped_ = 0;
};

// The script (KEYS: one shard's keys; ARGV[1]: the largest debt, µs; ARGV[i+1]: key i's delta,
// µs) and its SHA-1, for EVALSHA.
extern const std::string_view kLimitScript;
const std::string& limit_script_sha();

// Exact limits' figures, published by the node that pushed them: "gl1 <node>\n", then per key
// "<limit> <hi><lo> <debt µs>\n" (hex, hex, decimal). nullopt when malformed (from the network:
// every byte checked, at most kMaxPublished keys).
inline constexpr std::size_t kMaxPublished = 4096;
struct Published {
  std::string node;
  std::vector<LimitDelta> figures;  // ns
};
std::string encode_published(const std::string& node, const std::vector<LimitDelta>& figures);
std::optional<Published> decode_published(std::string_view payload);

// The debt a node holds after a sync: the global debt (as of the script) plus what the node
// added since it pushed, never below 0.
std::int64_t folded_debt(std::int64_t global_ns, std::int64_t since_push_ns);
// What a local change costs while Redis is away: the node's share of the rate is rate / live.
std::int64_t local_share_extra(std::int64_t delta_ns, std::uint32_t live_nodes);

struct LimitsStats {
  std::atomic<std::uint64_t> syncs{0};         // rounds pushed (every shard answered or not)
  std::atomic<std::uint64_t> keys_synced{0};   // keys pushed and answered
  std::atomic<std::uint64_t> keys_dropped{0};  // beyond max_sync_keys in one sync
  std::atomic<std::uint64_t> calls_failed{0};  // a shard's call without a usable answer
  std::atomic<std::uint64_t> noscript{0};      // EVALSHA answered NOSCRIPT: sent again as EVAL
  std::atomic<std::uint64_t> local_rounds{0};  // syncs made while Redis was away (local share)
  std::atomic<bool> local_share{false};        // the last sync could not reach Redis
  std::atomic<std::uint32_t> live_nodes{1};    // as last seen
  std::atomic<std::int64_t> last_sync_us{0};   // the last round's time, push to last answer
  std::atomic<std::uint64_t> published{0};     // exact figures published to the other nodes
  std::atomic<std::uint64_t> received{0};      // exact figures taken from the other nodes
  std::atomic<std::uint64_t> malformed{0};     // published messages refused
};

class LimitsSync {
 public:
  using Callback = std::function<void(const Reply*)>;
  // Sends argv for the Redis key `key` (routable by slot), callback with the reply or nullptr.
  // False when it cannot be sent now.
  using Send = std::function<bool(const std::string& key, const std::vector<std::string>& argv,
                                  Callback cb)>;
  struct Hooks {
    std::function<void(std::vector<LimitDelta>& out)> drain;  // appends the local changes
    std::function<void(const std::vector<LimitDelta>& figures, Fold how)> apply;
  };

  LimitsSync(const policy::ClusterConfig& config, Hooks hooks, Send send);

  // Every timer tick and wake-up of the fleet's loop.
  void tick(std::int64_t now_ms, bool up);
  // Any thread: an exact limit's key changed; the next tick syncs at once.
  void urgent() { urgent_.store(true, std::memory_order_release); }
  bool is_urgent() const { return urgent_.load(std::memory_order_acquire); }
  // The live nodes of the fleet as last seen (>= 1).
  std::uint32_t live_nodes() const { return stats_.live_nodes.load(std::memory_order_relaxed); }
  const LimitsStats& stats() const { return stats_; }
  // The channel exact figures are published on, and a message received on it.
  std::string channel() const { return config_.prefix + "limits"; }
  void on_published(std::string_view payload);

 private:
  void collect();
  void push();
  void call(const ShardGroup& group, std::shared_ptr<std::vector<LimitDelta>> batch, bool eval);
  void answered(const ShardGroup& group, const std::vector<LimitDelta>& batch, const Reply* r);
  void finish_one();
  void send_more();
  void local_share();
  // The minimal heartbeat the local share needs: a sorted set of node names by last beat.
  void heartbeat(std::int64_t now_ms);

  policy::ClusterConfig config_;
  Hooks hooks_;
  Send send_;
  DeltaSums sums_;
  std::vector<LimitDelta> drained_;  // reused
  std::atomic<bool> urgent_{false};
  std::int64_t next_sync_ms_ = 0, next_beat_ms_ = 0;
  std::int64_t round_started_us_ = 0;
  std::size_t inflight_ = 0;       // shard calls of the current round not yet answered
  std::vector<ShardGroup> round_;  // the current round's calls
  std::shared_ptr<std::vector<LimitDelta>> round_batch_;
  std::size_t next_call_ = 0;  // the next of round_ to send
  std::size_t keys_out_ = 0;   // keys of the calls sent and not yet answered
  bool sending_ = false;       // in send_more: an answer given at once does not re-enter it
  bool beat_inflight_ = false;
  LimitsStats stats_;
};

}  // namespace gh::fleet
