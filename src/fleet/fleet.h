// The fleet: what this node shares with the others through Redis (`cluster:`). Bans and manual
// sign-up modes are written to hashes and published on a channel; every node subscribes, reads
// the hashes when it (re)connects and every resync, and hands what others did to its sinks.
//
// Everything Redis runs on the fleet's own thread and event loop: the request path never waits
// for it. Redis slow or gone (a connect or a command past its timeout, a refused connection) is
// counted by a circuit breaker; meanwhile the node is fail-static — it keeps its bans and the
// last known modes, queues its own changes (bounded: the oldest go) and writes them, then reads
// the shared state again, when Redis is back.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fleet/announce.h"
#include "fleet/breaker.h"
#include "fleet/config-t.h"
#include "fleet/heartbeat.h"
#include "fleet/limits_sync.h"
#include "fleet/messages.h"
#include "fleet/reply-t.h"

namespace gh::net {
class EventLoop;
}

namespace gh::fleet {

class ClusterClient;
class RedisConnection;

struct FleetSinks {
  std::function<void(const BanRecord&)> ban;    // another node's ban (or one read from the store)
  std::function<void(const BanRecord&)> unban;  // cidr and node
  std::function<void(const ModeRecord&)> mode;
  std::function<void(const SpentRecord&)> spent;  // another node's claim of a challenge id
  std::function<void(const AdmitRecord&)> admit;  // another node admitted a waiting-room place
  std::function<void(bool up, const std::string& why)> state;  // Redis reached / lost
};

struct FleetStats {
  std::atomic<bool> up{false};
  std::atomic<std::uint64_t> connects{0}, failures{0}, breaker_opens{0}, published{0}, dropped{0},
      received{0}, malformed{0}, resyncs{0},
      // A challenge id claimed here that another node had claimed first (SET NX refused): a
      // replay that reached two nodes faster than the news of the first claim.
      spent_conflicts{0};
  std::atomic<std::uint64_t> pending{0};
  std::atomic<std::int64_t> down_since_ms{0};  // wall clock; 0 when up or never connected
  std::atomic<std::uint8_t> breaker{0};        // Breaker::State
  // Redis Cluster: whether the store is one (else standalone), redirections followed, maps read
  // again after a redirection or a lost node.
  std::atomic<bool> cluster{false};
  std::atomic<std::uint64_t> moved{0}, asked{0}, map_refreshes{0};
};

class Fleet {
 public:
  Fleet(policy::ClusterConfig config, FleetSinks sinks);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Reads the password file and starts the thread; Redis need not be up (the node then starts
  // fail-static and connects when it can). False with a reason when the file cannot be read.
  bool start(std::string* error);
  void stop();

  // Thread-safe, never blocks on Redis: queued for the fleet's thread.
  void publish_ban(BanRecord ban);
  void publish_unban(const std::string& cidr);
  void publish_mode(ModeRecord mode);
  // A challenge id (16 bytes, as hex) claimed here, until expiry_ms: SET NX PX on it, and the
  // other nodes told.
  void publish_spent(SpentRecord spent);
  // A waiting-room place admitted here (route, id): the other nodes let its holder through.
  void publish_admit(AdmitRecord admit);

  // Request-path questions (a solved challenge's claim, an exact limit; gate::Step::Await), any
  // thread: `argv` routed by `key`, sent at once from the fleet's thread. `done` is called there
  // exactly once: with the reply, or nullptr and timed_out at request_timeout after this call, or
  // nullptr when no reply will come (Redis lost, stopping). With `script`, argv is an EVALSHA of
  // it, sent again as EVAL on NOSCRIPT. False (done never called) when Redis is not up, awaits
  // are off (request_timeout 0) or kMaxAsks are waiting.
  using Answer = std::function<void(const Reply* reply, bool timed_out)>;
  bool ask(std::string key, std::vector<std::string> argv, Answer done,
           std::string_view script = {});
  bool can_ask() const { return config_.request_timeout > 0 && up(); }
  static constexpr std::size_t kMaxAsks = 16'384;

  // Shared rate limits (limits_sync.h): before start(). urgent: any thread, syncs at once.
  void share_limits(LimitsSync::Hooks hooks);
  void limits_urgent();
  const LimitsStats* limits_stats() const { return limits_ ? &limits_->stats() : nullptr; }

  const std::string& node() const { return config_.node; }
  const FleetStats& stats() const { return stats_; }
  bool up() const { return stats_.up.load(std::memory_order_relaxed); }
  const policy::ClusterConfig& config() const { return config_; }
  // The nodes' heartbeats: set this node's figures, read the fleet's (heartbeat.h).
  Heartbeat& heartbeat() { return heartbeat_; }
  const Heartbeat& heartbeat() const { return heartbeat_; }

 private:
  struct Write {
    std::vector<std::string> store;  // HSET/HDEL
    std::string message;             // published after it
    std::string route;               // a mode's: remembered as applied when written
    std::int64_t at_ms = 0;
    bool spent = false;  // the store command is a SET NX: a nil reply is a conflict
  };
  void run();
  void tick();
  void try_connect();
  void connect_subscriber(const std::string& host, std::uint16_t port);
  void on_down(const std::string& why);
  void became_up();
  void say_up(const Announcer::Say& say);
  void flush();
  void resync();
  // HGETALL of one of our hashes, each field and value to `each`; no reply takes the node down,
  // a malformed one is counted.
  void read_hash(const char* name, std::function<void(const Reply&, const Reply&)> each);
  void on_message(std::string_view payload);
  void deliver(const Message& m);
  void deliver_mode(const ModeRecord& m);
  void enqueue(Write w);
  struct Ask {
    std::uint64_t id = 0;
    std::string key;
    std::vector<std::string> argv;
    std::string_view script;
    Answer done;
    std::int64_t deadline_us = 0;  // monotonic
  };
  class AskTimer;
  void send_asks();
  void send_ask(std::uint64_t id, const std::string& key, std::vector<std::string> argv,
                std::string_view script);
  void finish_ask(std::uint64_t id, const Reply* r, bool timed_out);
  void expire_asks();
  void arm_ask_timer();
  std::string key(std::string_view name) const { return config_.prefix + std::string(name); }

 public:
  // The single-use claim of a challenge id (32 hex characters), in Redis: one key per id, so a
  // claim is one command on one slot in a Cluster.
  std::string spent_key(std::string_view id_hex) const {
    return config_.prefix + "spent:{" + std::string(id_hex) + "}";
  }
  // The one sign-up a sign-up clearance opens (challenge.signup_single_use), likewise; apart
  // from the challenges' keys, so a claim of one kind never answers the other's.
  std::string signup_key(std::string_view id_hex) const {
    return config_.prefix + "signup:{" + std::string(id_hex) + "}";
  }

 private:
  void auth(RedisConnection& c, std::function<void(bool)> then);

  policy::ClusterConfig config_;
  FleetSinks sinks_;
  std::string user_, password_;
  FleetStats stats_;
  Heartbeat heartbeat_;
  Breaker breaker_;
  std::unique_ptr<net::EventLoop> loop_;
  // Commands go through the cluster client (one connection standalone, one per master in a
  // Cluster); the subscriber connects to the node the client discovered from.
  std::unique_ptr<ClusterClient> client_;
  std::unique_ptr<RedisConnection> sub_;
  bool cmd_ready_ = false, sub_ready_ = false, up_ = false, connecting_ = false;
  std::int64_t next_resync_ms_ = 0;
  std::unordered_map<std::string, std::int64_t> mode_seen_;  // route -> at_ms applied (bounded)
  // A return to Redis is said (log, event) once it has held this long: announce.h.
  static constexpr std::int64_t kSettleMs = 1000;
  Announcer announce_{kSettleMs};

  std::mutex mu_;
  std::deque<Write> outbox_;    // under mu_, at most config_.max_pending
  std::deque<Write> inflight_;  // under mu_: sent, their PUBLISH not yet answered
  std::unique_ptr<LimitsSync> limits_;
  // Asks: new ones under ask_mu_; sent ones, and their deadlines in order (one timeout for all),
  // on the fleet's thread, which a timerfd wakes at the first deadline (the loop's timer wheel
  // ticks every 16 ms: too coarse for a wait of a few).
  std::mutex ask_mu_;
  std::vector<Ask> asks_;
  std::atomic<std::size_t> asking_{0};
  std::atomic<std::uint64_t> ask_ids_{0};
  std::unordered_map<std::uint64_t, Answer> asked_;
  std::deque<std::pair<std::int64_t, std::uint64_t>> ask_deadlines_;
  int ask_timer_fd_ = -1;
  std::unique_ptr<AskTimer> ask_timer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace gh::fleet
