// The proxy as a whole: N workers on their own threads, one runtime (config snapshot + compiled
// stages) swapped atomically on reload, the ban table, and a graceful stop. Embeddable: tests
// start it in-process on port 0.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/address-t.h"
#include "fleet/fleet.h"
#include "gate/runtime.h"
#include "gate/stats.h"
#include "gate/store.h"
#include "net/connection_counter.h"
#include "net/kernel_drop.h"
#include "net/upstream_monitor.h"
#include "policy/snapshot.h"
#include "proxy/answer_store.h"
#include "proxy/observe.h"
#include "stages/lists/bans.h"
#include "stages/ratelimit/stage.h"
#include "tls/context.h"

namespace gh::proxy {

class Worker;

// The upstream groups of one config generation, by upstream index (the config's order).
using UpstreamGroups = std::vector<std::shared_ptr<net::UpstreamGroup>>;
using UpstreamGroupsPtr = std::shared_ptr<const UpstreamGroups>;

// A change to one worker's listeners, carried out by the worker on its own thread.
struct ListenerOp {
  enum class Kind : std::uint8_t { Add, Remove, Update };
  Kind kind = Kind::Add;
  std::uint64_t id = 0;
  int fd = -1;  // Add: this worker's socket, bound and listening
  bool proxy_protocol = false;
  policy::DecideFor decide = policy::DecideFor::None;
  bool http2 = false;
  tls::ServerContextPtr tls =
      nullptr;  // Add, Update: the listener's TLS contexts (nullptr: clear text)
};

struct StatsTotals {
#define GH_DECLARE(name, help) std::uint64_t name = 0;
  GH_WORKER_STATS(GH_DECLARE)
#undef GH_DECLARE
};

class Server {
 public:
  explicit Server(policy::SnapshotPtr snapshot, ObserveOptions observe = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Builds the runtime (reads list files), opens the ban journal (replaying it), binds every
  // listener in every worker and starts the threads. False with a reason on any failure; an
  // address another process already serves is one ("already served by pid N (name)").
  bool start(std::string* error);
  // Swaps in a new config; requests in flight finish on the one they started with. False (and
  // the running config kept) when the new one cannot be used: an unreadable list file, or a new
  // listener address that cannot be bound. Listeners added are bound in every worker before
  // the swap; listeners removed stop accepting and their connections close after their current
  // exchange. Connection caps, the worker count and the ban journal are fixed at start (the log
  // says so when a reload changes them).
  bool reload(policy::SnapshotPtr snapshot, std::string* error = nullptr);
  // What the last successful reload changed, one line each ("listening on 127.0.0.1:8443",
  // "upstream app: server app.internal:3000 added", "server.workers takes effect at restart;
  // ..."); empty when it changed no listener or upstream server.
  std::vector<std::string> reload_changes() const;
  // Stops accepting, lets requests in flight finish up to limits.shutdown_grace, then returns
  // from wait(). Safe to call from any thread, more than once.
  void stop();
  void wait();

  // The bound port of each listener of the running config, in its order.
  std::vector<std::uint16_t> ports() const;
  gate::RuntimePtr runtime() const;  // null before start()
  policy::SnapshotPtr snapshot() const;
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
  net::ConnectionCounter& counter() { return counter_; }
  lists::BanTable* bans() { return bans_.get(); }
  // The nftables drops of banned clients (bans.kernel_drop): null when off.
  net::KernelDrop* kernel_drop() { return kernel_drop_.get(); }
  // Refusals of decide listeners for nginx, fetched by id right after (answer_store.h).
  AnswerStore& answers() { return answers_; }
  gate::DefenceState& defence() { return defence_; }
  Observer& observer() { return *observer_; }
  const Observer& observer() const { return *observer_; }
  // Calls f(Worker&) for each worker; valid between start() and the end of wait().
  template <typename F>
  void each_worker(F&& f) const {
    for (const auto& w : workers_) f(*w);
  }
  // Reload with an event on the timeline (`by`: "signal", "admin", ...); the event says whether
  // it was refused.
  bool reload_logged(policy::SnapshotPtr snapshot, const std::string& by, std::string* error);
  StatsTotals stats() const;
  // What keeps this server from serving, one line each (GET /readyz); empty when it is ready:
  // started with every listener bound, not stopping, a config loaded, and every upstream with a
  // server able to take requests.
  std::vector<std::string> readiness() const;
  // The service watchdog's probe of the event loops: ask_workers() puts a new question to every
  // worker, answered on its loop's next turn; silent_workers(q) lists those that have not
  // answered question q (or a later one). Between start() and stop().
  std::uint64_t ask_workers();
  std::vector<unsigned> silent_workers(std::uint64_t question) const;
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

  // Upstreams: the servers' health, as the monitor keeps it (net/upstream_monitor.h).
  std::vector<net::GroupStatus> upstreams_status() const;
  // False when no server of upstream `name` is admitted (all down or ejected), or no such
  // upstream.
  bool upstream_healthy(const std::string& name) const;
  // One line per upstream without an admitted server, for a readiness check ("upstream app has
  // no healthy server (2 addresses, all down or ejected)"); empty when all can serve.
  std::vector<std::string> upstream_problems() const;
  // For readiness (/readyz): every upstream has at least one admitted server.
  bool upstreams_healthy() const;

  // For workers: the runtime and upstream groups to adopt, and this worker's listener changes.
  void current(gate::RuntimePtr* runtime, UpstreamGroupsPtr* groups) const;
  std::vector<ListenerOp> take_listener_ops(unsigned worker);

  // From workers: asks the housekeeping thread to ban `client` (the journal write is disk I/O,
  // which no worker may wait for). Bounded: when the queue is full the request is dropped and
  // counted; the client is still refused by the limit that asked for the ban.
  void request_ban(const client::IpAddress& client, std::int64_t duration_ms, std::int64_t max_ms,
                   std::string_view rule);
  std::uint64_t bans_dropped() const { return bans_dropped_.load(std::memory_order_relaxed); }

  // The fleet (`cluster:`): null when this node is alone. What this node does that the others
  // must do too is handed to it here (thread-safe, never waits for Redis).
  const fleet::Fleet* fleet() const { return fleet_.get(); }
  // Changes of shared limit keys the workers could not hand over (buffers full).
  std::uint64_t limit_deltas_dropped() const { return registry_.dropped(); }
  void share_ban(const lists::BanInfo& ban);
  void share_unban(const client::Cidr& key);
  // `mode`: open, challenge, queue, closed, or auto.
  void share_mode(const std::string& route, const std::string& mode, const std::string& reason,
                  std::int64_t at_ms);

 private:
  struct BanRequest {
    client::IpAddress client;
    std::int64_t duration_ms = 0;
    std::int64_t max_ms = 0;
    std::array<char, 48> rule{};
  };
  void housekeeping();
  // What other nodes did, from the fleet's thread.
  bool start_fleet(std::string* error);
  void fleet_ban(const fleet::BanRecord& r);
  void fleet_unban(const fleet::BanRecord& r);
  void fleet_mode(const fleet::ModeRecord& m);
  void fleet_state(bool up, const std::string& why);
  void fleet_spent(const fleet::SpentRecord& r);
  void fleet_admit(const fleet::AdmitRecord& r);
  // Once a second on the housekeeping thread: this node's figures for its heartbeat.
  void fleet_tick(std::int64_t wall_ms);
  // The defence's fleet hooks: the fleet's summed signals, the waiting room's share of the line.
  admission::Signals fleet_signals(const std::string& route, const admission::Signals& local) const;
  waitroom::FleetShare fleet_room(const std::string& route, const waitroom::Room& room) const;
  struct Listener {
    std::uint64_t id = 0;
    policy::ListenConfig config;
    std::uint16_t port = 0;  // bound
  };
  // Binds `l` once per worker (fds, all or none) unless another process serves it.
  bool bind_listener(const policy::ListenConfig& l, std::vector<int>& fds, std::uint16_t& port,
                     std::string* error) const;
  // The listeners of `config` against those running: binds the new ones, queues the changes.
  bool start_kernel_drop(const std::vector<Listener>& listeners, std::string* error);
  bool plan_listeners(const policy::Config& config, std::vector<Listener>& next,
                      std::vector<std::vector<ListenerOp>>& ops, std::string* error);
  UpstreamGroupsPtr configure_upstreams(const policy::Config& config);
  // Whether /readyz counts `upstream` as able to serve: the monitor's health state.
  bool upstream_ready(const policy::UpstreamConfig& upstream) const;

  mutable std::mutex mu_;
  policy::SnapshotPtr initial_;
  gate::RuntimePtr runtime_;
  ratelimit::Registry registry_;
  gate::DefenceState defence_;
  std::unique_ptr<Observer> observer_;
  ObserveOptions observe_options_;
  bool waited_ = false;
  std::unique_ptr<net::KernelDrop> kernel_drop_;  // before bans_: its observer uses this
  std::unique_ptr<lists::BanTable> bans_;
  AnswerStore answers_{4096, 10'000};
  std::atomic<std::uint64_t> generation_{1};
  std::atomic<bool> stop_{false};
  std::atomic<bool> started_{false};  // every listener bound, the workers running
  std::atomic<std::uint64_t> question_{0};
  net::ConnectionCounter counter_;
  std::vector<std::unique_ptr<Worker>> workers_;
  unsigned worker_target_ = 0;
  std::vector<std::thread> threads_;
  std::mutex reload_mu_;             // one reload (or the start) at a time
  std::vector<Listener> listeners_;  // running config's order; under mu_
  std::uint64_t next_listener_id_ = 1;
  // Session ticket keys made in memory, by rotation period; kept across reloads so tickets
  // issued before one still resume after it. Under reload_mu_.
  std::map<std::int64_t, std::shared_ptr<tls::TicketKeys>> ticket_keys_;
  std::vector<std::vector<ListenerOp>> listener_ops_;  // per worker, under mu_
  std::unique_ptr<net::UpstreamMonitor> monitor_;
  UpstreamGroupsPtr groups_;                 // under mu_
  std::vector<std::string> reload_changes_;  // under mu_

  std::mutex ban_mu_;
  std::condition_variable ban_cv_;
  static constexpr std::size_t kBanQueue = 4096;
  std::vector<BanRequest> ban_queue_;  // reserved once; never grows past kBanQueue
  std::atomic<std::uint64_t> bans_dropped_{0};
  bool housekeeping_stop_ = false;
  std::thread housekeeper_;
  std::unique_ptr<fleet::Fleet> fleet_;
  std::unique_ptr<gate::SharedStore> store_;  // fleet_ as the pipeline's store (Await)
  // Per route, the latest at_ms of a hand-set mode known here (set here or by another node): a
  // change published here is stamped later than it, so two changes in one millisecond on two
  // nodes cannot tie (a tie is dropped by every node as "not newer"). Keys: configured routes.
  std::mutex mode_at_mu_;
  std::unordered_map<std::string, std::int64_t> mode_at_;
  // The heartbeat's per-second rates: totals at the last fleet_tick (housekeeping thread).
  std::uint64_t fleet_prev_requests_ = 0, fleet_prev_refusals_ = 0;
  std::int64_t fleet_prev_ms_ = 0, fleet_started_ms_ = 0;
};

}  // namespace gh::proxy
