// A worker: one thread, one event loop, its own SO_REUSEPORT listeners, buffer and upstream
// pools. Workers share nothing on the request path but the config snapshot (read-only) and the
// per-client connection counter (touched at accept and close only).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/buffer.h"
#include "gate/pipeline.h"
#include "gate/runtime.h"
#include "gate/stats.h"
#include "gate/store.h"
#include "net/connection_counter.h"
#include "net/event_loop.h"
#include "net/upstream_group.h"
#include "net/upstream_pool.h"
#include "policy/snapshot.h"
#include "proxy/observe.h"
#include "stages/admission/wait_queue.h"

namespace gh::proxy {

class Server;
class Session;
class Worker;

// Who waits for an admission slot: an HTTP/1.1 session, or one HTTP/2 stream.
class SlotWaiter {
 public:
  // A slot was granted to this waiting request, or it is shed (queue timeout, evicted).
  virtual void admission_granted(admission::Limiter* limiter, admission::Priority p) = 0;
  virtual void admission_shed() = 0;

 protected:
  ~SlotWaiter() = default;
};
// Who waits for the fleet's shared store (gate::Step::Await): an HTTP/1.1 session (or decision
// service exchange), or one HTTP/2 stream.
class StoreWaiter {
 public:
  // On the worker's thread, once, unless the waiter left first (Worker::leave_store).
  virtual void store_replied(const gate::StoreReply& reply) = 0;

 protected:
  ~StoreWaiter() = default;
};

// A request the pipeline parked (gate::Step::AwaitSlot, gate::Step::Await) until an admission
// slot, the fleet's reply or its deadline, whichever comes first. The one place both transports
// (an HTTP/1.1 session, an HTTP/2 stream) queue, ask, leave and resume, so that a wait ends once,
// and a slot granted to a request no longer waiting goes straight back.
class Await final : public SlotWaiter, public StoreWaiter {
 public:
  // Where the transport goes on from once the wait is over.
  enum class Resume : std::uint8_t {
    Inline,  // on the transport's own stack (not parked after all, or its deadline): it drives on
    Now,     // from the worker's loop (the fleet's reply): drive at once
    Soon,    // perhaps from inside another request's step (shed): drive from the loop
  };
  // The transport of the parked request.
  class Owner {
   public:
    // Still parked on this exchange (open, not answered, not closed).
    virtual bool await_parked() const = 0;
    // The wait is over: leave the parked state and carry the pipeline's next decision.
    virtual void await_over(const gate::Decision& next, Resume how) = 0;
    // The exchange holds the granted slot now: forward, from the loop (a grant comes from inside
    // another request's step).
    virtual void await_granted() = 0;

   protected:
    ~Owner() = default;
  };

  Await(Worker& worker, gate::Exchange& x, Owner& owner) : worker_(worker), x_(x), owner_(owner) {}
  Await(const Await&) = delete;
  Await& operator=(const Await&) = delete;

  // `d` is AwaitSlot or Await. True: parked until d.until_ms, a deadline the transport keeps and
  // reports to expire(). False: not parked (queue full, too many waiting, store away), and the
  // pipeline's next decision went to await_over(Inline) already.
  bool park(const gate::Decision& d);
  // The transport's deadline passed while parked: true when it ended a wait here (the store's
  // answer timed out, a queued request is shed), false for a plain hold (not ours).
  bool expire();
  // The exchange ends (answered, closed): a grant or reply that comes later finds no one.
  void leave();

  void admission_granted(admission::Limiter* limiter, admission::Priority p) override;
  void admission_shed() override;
  void store_replied(const gate::StoreReply& reply) override;

 private:
  Worker& worker_;
  gate::Exchange& x_;
  Owner& owner_;
  admission::Limiter* queued_for_ = nullptr;  // waiting for a slot of this limiter
  std::uint64_t store_ticket_ = 0;            // waiting for the fleet's store
};
struct ListenerOp;
using UpstreamGroupsPtr = std::shared_ptr<const std::vector<std::shared_ptr<net::UpstreamGroup>>>;

// A config generation as one worker sees it. Sessions count themselves in `users` (worker-local,
// no atomics) so an old snapshot lives exactly as long as the requests that started on it.
struct SnapshotHold {
  gate::RuntimePtr runtime;
  const policy::Snapshot* snapshot = nullptr;  // runtime->policy, for brevity
  std::vector<net::Balancer*> balancers{};     // by upstream index; the worker's
  std::uint32_t users = 0;
  bool retired = false;
};

class Worker {
 public:
  Worker(Server& server, unsigned index, gate::RuntimePtr runtime, UpstreamGroupsPtr groups);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Adds, removes or updates this worker's listeners (the server binds them; see Server::reload).
  // A removed listener stops accepting at once; its connections close after their exchange.
  // On the worker's thread, or before it starts.
  void apply_listener_ops(std::vector<ListenerOp> ops);
  void run();  // thread body; returns when stopped and drained

  // Thread-safe requests from the server.
  void request_reload() { loop_.wake(); }
  void request_stop() { loop_.wake(); }
  // The service watchdog's question (any thread): answered on the loop's next turn, so an answer
  // proves the loop is turning, not merely that the thread exists.
  void ask(std::uint64_t question) {
    asked_.store(question);
    loop_.wake();
  }
  std::uint64_t answered() const { return answered_.load(); }

  // For sessions.
  net::EventLoop& loop() { return loop_; }
  core::BufferPool& buffers() { return buffers_; }
  net::UpstreamPool& upstreams() { return upstreams_; }
  net::ConnectionCounter& counter();
  gate::WorkerStats& stats() { return stats_; }
  // The decisions, shared by every session of this worker.
  gate::Pipeline& pipeline() { return pipeline_; }
  gate::Clock clock() const;
  WorkerObserve& observe() { return observe_; }
  unsigned index() const { return index_; }
  // Requests waiting for an upstream slot on this worker (read by the housekeeping thread).
  std::uint64_t admission_waiting() const { return waiting_.load(std::memory_order_relaxed); }
  Server& server() { return server_; }
  SnapshotHold& current() { return *current_; }
  SnapshotHold* hold() {
    ++current_->users;
    return current_;
  }
  void unhold(SnapshotHold* hold);
  bool stopping() const { return stopping_; }
  std::uint32_t next_round_robin() { return round_robin_++; }
  void session_closed(Session* s);
  // TLS handshakes in progress on this worker (a listener's tls.max_handshakes caps them).
  void handshake_begun() {
    ++handshakes_;
    stats_.tls_handshakes_started.add();
  }
  void handshake_ended() { --handshakes_; }
  std::uint32_t handshakes() const { return handshakes_; }

  // Admission control: requests waiting for a slot of an upstream's concurrency limit, per worker
  // (no lock). push() answers as WaitQueue does; a session it evicts is shed by the worker.
  using AdmissionQueue = admission::WaitQueue<SlotWaiter*>;
  AdmissionQueue::Push queue_for_slot(admission::Limiter* limiter, SlotWaiter* s,
                                      admission::Priority p, const policy::AdmissionConfig& cfg);
  void leave_slot_queue(admission::Limiter* limiter, SlotWaiter* s);
  // An HTTP/2 connection was cut with GOAWAY for a flood (counted by the caller): an event,
  // at most one a second.
  void h2_cut_event(std::string_view reason, const client::IpAddress& client);
  // A slot was freed (here, or anywhere: polled while requests wait): grants slots to waiters.
  void admit_waiting(admission::Limiter* limiter);

  // Await: asks `store` for `w`; its reply comes back to w->store_replied() on this thread. A
  // ticket (never 0) that w gives to leave_store() when it stops waiting (answered otherwise,
  // closed): a reply that comes later finds no one. 0: not asked (too many waiting, store away).
  std::uint64_t await_store(gate::SharedStore& store, const gate::StoreQuery& q, StoreWaiter* w);
  void leave_store(std::uint64_t ticket) { store_waiters_.erase(ticket); }

 private:
  class Acceptor;
  void on_wake();
  void accept_from(const Acceptor& acceptor);
  // One accepted connection: refused at once (stopping, banned, over a cap) or given a session.
  void admit(const Acceptor& acceptor, int fd, const sockaddr_storage& peer, socklen_t len);
  void adopt(gate::RuntimePtr runtime, UpstreamGroupsPtr groups);
  void begin_stop();

  Server& server_;
  unsigned index_;
  net::EventLoop loop_;
  core::BufferPool buffers_;
  net::UpstreamPool upstreams_;
  gate::WorkerStats stats_;
  gate::Pipeline pipeline_;
  WorkerObserve observe_;
  std::atomic<std::uint64_t> waiting_{0};
  // Sequentially consistent: a question stored while the loop is between reading its wake-up and
  // running on_wake() is still seen there (EventLoop::wake coalesces wake-ups).
  std::atomic<std::uint64_t> asked_{0};
  std::atomic<std::uint64_t> answered_{0};
  void count_waiting();
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  // One balancer per upstream group, shared by the generations that name it.
  std::map<const net::UpstreamGroup*, std::unique_ptr<net::Balancer>> balancers_;
  SnapshotHold* current_ = nullptr;
  std::vector<SnapshotHold*> retired_;
  std::uint64_t generation_ = 0;
  Session* sessions_ = nullptr;  // intrusive list of live sessions
  std::size_t session_count_ = 0;
  std::vector<Session*> spare_sessions_;
  bool stopping_ = false;
  net::Timer stop_timer_;
  std::uint32_t round_robin_ = 0;
  std::int64_t h2_last_event_ms_ = -1'000'000;
  std::uint64_t h2_cuts_since_event_ = 0;
  std::uint32_t handshakes_ = 0;
  std::map<admission::Limiter*, std::unique_ptr<AdmissionQueue>> slot_queues_;
  // Await: who waits, by ticket (this thread only); replies posted from the fleet's thread.
  std::unordered_map<std::uint64_t, StoreWaiter*> store_waiters_;
  std::uint64_t store_tickets_ = 0;
  std::mutex replies_mu_;
  std::vector<std::pair<std::uint64_t, gate::StoreReply>> replies_;  // under replies_mu_
  void deliver_replies();
  net::Timer admit_timer_;
  void arm_admit_timer();
};

}  // namespace gh::proxy
