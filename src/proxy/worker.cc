#include "proxy/worker.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "client/address.h"
#include "core/clock.h"
#include "net/socket.h"
#include "proxy/server.h"
#include "proxy/session.h"

namespace gh::proxy {

namespace {
constexpr int kAcceptBatch = 64;  // per wake-up, so one listener cannot starve the others

std::size_t buffer_size_for(const policy::Config& cfg) {
  // A head must fit whole, plus room for what we add when forwarding it.
  return std::max<std::size_t>(16 * 1024, cfg.limits.max_head_bytes + 4096);
}
}  // namespace

class Worker::Acceptor final : public net::Handler {
 public:
  Acceptor(Worker& w, std::uint64_t id, int fd, bool proxy_protocol, policy::DecideFor decide,
           bool http2, tls::ServerContextPtr tls)
      : worker(w),
        id(id),
        fd(fd),
        proxy_protocol(proxy_protocol),
        decide(decide),
        http2(http2),
        tls(std::move(tls)) {}
  ~Acceptor() override {
    if (fd >= 0) ::close(fd);
  }
  void on_events(std::uint32_t) override { worker.accept_from(*this); }
  // io_uring: the loop accepted it.
  void on_accepted(int fd, const sockaddr_storage& peer, socklen_t len) override {
    worker.admit(*this, fd, peer, len);
  }
  Worker& worker;
  std::uint64_t id;  // the server's listener id
  int fd;
  bool proxy_protocol;
  policy::DecideFor decide;
  bool http2;
  tls::ServerContextPtr tls;  // a TLS listener's contexts (replaced on reload)
};

Worker::Worker(Server& server, unsigned index, gate::RuntimePtr runtime, UpstreamGroupsPtr groups)
    : server_(server),
      index_(index),
      loop_(runtime->policy->config.server.io),
      buffers_(buffer_size_for(runtime->policy->config)),
      upstreams_(loop_),
      pipeline_(
          gate::Host{&stats_, server.bans(),
                     [&server](const client::IpAddress& ip, std::int64_t ms, std::int64_t max_ms,
                               std::string_view rule) { server.request_ban(ip, ms, max_ms, rule); },
                     [&server](std::string_view kind, std::string message) {
                       server.observer().event(std::string(kind), "", std::move(message));
                     }}) {
  generation_ = server.generation();
  adopt(std::move(runtime), std::move(groups));
  admit_timer_.owner = this;
  admit_timer_.callback = [](void* self) {
    // Slots freed on other workers are not announced here: poll while anyone waits.
    auto* w = static_cast<Worker*>(self);
    bool waiting = false;
    for (auto& [limiter, q] : w->slot_queues_) {
      if (!q->empty()) w->admit_waiting(limiter);
      waiting = waiting || !q->empty();
    }
    if (waiting) w->arm_admit_timer();
  };
  stop_timer_.owner = this;
  stop_timer_.callback = [](void* self) {
    auto* w = static_cast<Worker*>(self);
    // Grace period over: whatever is still open is cut.
    while (w->sessions_ != nullptr) w->sessions_->force_close();
  };
}

Worker::~Worker() {
  while (sessions_ != nullptr) sessions_->force_close();
  acceptors_.clear();
  loop_.timers().cancel(stop_timer_);
  balancers_.clear();  // before the pool they name, while the loop can still run what it defers
  upstreams_.close_idle();
  loop_.run_deferred();  // recycling lambdas name members that die before the loop does
  for (Session* s : spare_sessions_) delete s;
  spare_sessions_.clear();
  delete current_;
  for (SnapshotHold* h : retired_) delete h;
}

gate::Clock Worker::clock() const {
  return {loop_.now_ms(), core::wall_us()};
}

net::ConnectionCounter& Worker::counter() {
  return server_.counter();
}

void Worker::apply_listener_ops(std::vector<ListenerOp> ops) {
  for (ListenerOp& op : ops) {
    if (op.kind == ListenerOp::Kind::Add) {
      if (stopping_) {
        ::close(op.fd);  // a reload raced the stop: nobody will accept here
        continue;
      }
      auto acceptor = std::make_unique<Acceptor>(*this, op.id, op.fd, op.proxy_protocol, op.decide,
                                                 op.http2, op.tls);
      op.fd = -1;
      if (!loop_.add_listener(acceptor->fd, acceptor.get())) continue;  // closes it
      acceptors_.push_back(std::move(acceptor));
      continue;
    }
    auto it = std::find_if(acceptors_.begin(), acceptors_.end(),
                           [&](const auto& a) { return a->id == op.id; });
    if (it == acceptors_.end()) continue;
    if (op.kind == ListenerOp::Kind::Update) {
      (*it)->proxy_protocol = op.proxy_protocol;
      (*it)->decide = op.decide;
      (*it)->http2 = op.http2;
      (*it)->tls = op.tls;  // new connections see the new certificates; open ones keep theirs
      continue;
    }
    // Remove: no new connections from now on; those it accepted finish their exchange, then
    // close (an idle keep-alive one at once).
    loop_.remove((*it)->fd);
    acceptors_.erase(it);
    std::vector<Session*> live;
    for (Session* s = sessions_; s != nullptr; s = s->next) {
      if (s->listener == op.id) live.push_back(s);
    }
    for (Session* s : live) s->begin_shutdown();
  }
}

void Worker::run() {
  loop_.set_wake_hook([this] { on_wake(); });
  on_wake();  // a reload or stop may have been requested before the loop started
  loop_.run([this] { return !(stopping_ && session_count_ == 0); });
  while (sessions_ != nullptr) sessions_->force_close();
  upstreams_.close_idle();
}

void Worker::on_wake() {
  answered_.store(asked_.load());
  deliver_replies();
  const std::uint64_t generation = server_.generation();
  if (generation != generation_) {
    generation_ = generation;
    gate::RuntimePtr runtime;
    UpstreamGroupsPtr groups;
    server_.current(&runtime, &groups);
    adopt(std::move(runtime), std::move(groups));
    apply_listener_ops(server_.take_listener_ops(index_));
  }
  if (server_.stop_requested() && !stopping_) begin_stop();
}

std::uint64_t Worker::await_store(gate::SharedStore& store, const gate::StoreQuery& q,
                                  StoreWaiter* w) {
  // Bounded by the requests this worker holds open, and then some: attacker-driven.
  static constexpr std::size_t kMaxWaiting = 65'536;
  if (store_waiters_.size() >= kMaxWaiting) return 0;
  const std::uint64_t ticket = ++store_tickets_;
  const auto start = std::chrono::steady_clock::now();
  store_waiters_.emplace(ticket, w);
  // The reply comes on the fleet's thread: posted here, delivered by this loop's wake-up.
  const bool asked = store.ask(q, [this, ticket, start](const gate::StoreReply& r) {
    gate::StoreReply copy = r;
    copy.waited_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    {
      std::lock_guard lock(replies_mu_);
      replies_.emplace_back(ticket, copy);
    }
    loop_.wake();
  });
  if (!asked) {
    store_waiters_.erase(ticket);
    return 0;
  }
  return ticket;
}

// ---- a parked request -----------------------------------------------------------------------

bool Await::park(const gate::Decision& d) {
  if (d.step == gate::Step::AwaitSlot) {
    switch (worker_.queue_for_slot(d.limiter, this, d.priority, *d.admission)) {
      case Worker::AdmissionQueue::Push::Queued:
      case Worker::AdmissionQueue::Push::QueuedEvicting:
        worker_.stats().admission_queued.add();
        queued_for_ = d.limiter;
        return true;
      case Worker::AdmissionQueue::Push::Refused:
        break;
    }
    owner_.await_over(worker_.pipeline().shed(x_, worker_.clock()), Resume::Inline);
    return false;
  }
  // The reply (store_replied) or the deadline (expire) ends it, whichever comes first.
  store_ticket_ = worker_.await_store(*d.store, *d.query, this);
  if (store_ticket_ == 0) {
    owner_.await_over(worker_.pipeline().awaited(x_, {}, worker_.clock()), Resume::Inline);
    return false;
  }
  return true;
}

bool Await::expire() {
  if (store_ticket_ != 0) {
    worker_.leave_store(store_ticket_);
    store_ticket_ = 0;
    gate::StoreReply timed_out;
    timed_out.answer = gate::StoreAnswer::TimedOut;
    owner_.await_over(worker_.pipeline().awaited(x_, timed_out, worker_.clock()), Resume::Inline);
    return true;
  }
  if (queued_for_ != nullptr) {
    admission_shed();
    return true;
  }
  return false;
}

void Await::leave() {
  if (queued_for_ != nullptr) {
    worker_.leave_slot_queue(queued_for_, this);
    queued_for_ = nullptr;
  }
  if (store_ticket_ != 0) {
    worker_.leave_store(store_ticket_);
    store_ticket_ = 0;
  }
}

void Await::admission_granted(admission::Limiter* limiter, admission::Priority p) {
  queued_for_ = nullptr;
  if (!owner_.await_parked()) {
    limiter->release(p, -1, true, worker_.loop().now_ms());
    return;
  }
  // The slot is the exchange's from now on (released at its end, whatever happens next).
  worker_.pipeline().granted(x_, limiter, p, worker_.clock());
  owner_.await_granted();
}

void Await::admission_shed() {
  if (queued_for_ != nullptr) {
    worker_.leave_slot_queue(queued_for_, this);
    queued_for_ = nullptr;
  }
  if (!owner_.await_parked()) return;
  owner_.await_over(worker_.pipeline().shed(x_, worker_.clock()), Resume::Soon);
}

void Await::store_replied(const gate::StoreReply& reply) {
  store_ticket_ = 0;
  if (!owner_.await_parked()) return;
  owner_.await_over(worker_.pipeline().awaited(x_, reply, worker_.clock()), Resume::Now);
}

void Worker::deliver_replies() {
  std::vector<std::pair<std::uint64_t, gate::StoreReply>> batch;
  {
    std::lock_guard lock(replies_mu_);
    batch.swap(replies_);
  }
  for (const auto& [ticket, reply] : batch) {
    auto it = store_waiters_.find(ticket);
    if (it == store_waiters_.end()) continue;  // answered by its deadline, or gone
    StoreWaiter* w = it->second;
    store_waiters_.erase(it);
    w->store_replied(reply);
  }
}

void Worker::adopt(gate::RuntimePtr runtime, UpstreamGroupsPtr groups) {
  if (runtime == nullptr) return;
  const policy::Snapshot* snapshot = runtime->policy.get();
  auto* hold = new SnapshotHold{std::move(runtime), snapshot};
  if (groups != nullptr) {
    for (const auto& g : *groups) {
      auto& b = balancers_[g.get()];
      if (b == nullptr) b = std::make_unique<net::Balancer>(g, upstreams_);
      hold->balancers.push_back(b.get());
    }
  }
  buffers_.set_buffer_size(buffer_size_for(snapshot->config));
  if (current_ != nullptr) {
    current_->retired = true;
    if (current_->users == 0) {
      delete current_;
    } else {
      retired_.push_back(current_);
    }
  }
  current_ = hold;
  // Balancers of groups no generation here names any more (an upstream renamed or removed) go
  // once their last request has ended.
  for (auto it = balancers_.begin(); it != balancers_.end();) {
    bool named = false;
    for (const SnapshotHold* h : retired_) {
      named = named || std::count(h->balancers.begin(), h->balancers.end(), it->second.get()) != 0;
    }
    named = named || std::count(current_->balancers.begin(), current_->balancers.end(),
                                it->second.get()) != 0;
    it = named || it->second->in_use() ? std::next(it) : balancers_.erase(it);
  }
}

void Worker::unhold(SnapshotHold* hold) {
  if (--hold->users != 0 || !hold->retired) return;
  retired_.erase(std::remove(retired_.begin(), retired_.end(), hold), retired_.end());
  delete hold;
}

void Worker::begin_stop() {
  stopping_ = true;
  for (auto& a : acceptors_) loop_.remove(a->fd);
  acceptors_.clear();  // closes the listening sockets: new connections go to nobody
  upstreams_.close_idle();
  // Sessions may close themselves while we walk: collect first.
  std::vector<Session*> live;
  for (Session* s = sessions_; s != nullptr; s = s->next) live.push_back(s);
  for (Session* s : live) s->begin_shutdown();
  loop_.timers().arm(stop_timer_,
                     loop_.now_ms() + current_->snapshot->config.limits.shutdown_grace);
}

void Worker::accept_from(const Acceptor& acceptor) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(acceptor.fd, reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: drained. EMFILE/ENFILE: out of descriptors; the level-triggered listener
      // retries on the next wake-up instead of spinning here.
      return;
    }
    admit(acceptor, fd, ss, len);
  }
}

void Worker::admit(const Acceptor& acceptor, int fd, const sockaddr_storage& ss, socklen_t len) {
  const bool proxy_protocol = acceptor.proxy_protocol;
  const policy::DecideFor decide = acceptor.decide;
  const bool http2 = acceptor.http2;
  if (stopping_) {
    net::close_reset(fd);
    return;
  }
  auto peer = client::from_sockaddr(ss, len);
  if (!peer) {
    ::close(fd);
    return;
  }
  // Behind a load balancer (PROXY protocol or a trusted proxy) the socket peer is the balancer,
  // not a client: only the process-wide cap applies to it.
  const bool per_client = !proxy_protocol && !current_->runtime->trust.trusted(peer->ip);
  // A banned address is turned away before a byte is read: the cheapest refusal there is.
  if (per_client && server_.bans()->is_banned(peer->ip, core::wall_seconds())) {
    stats_.connections_refused_banned.add();
    net::close_reset(fd);
    return;
  }
  // A handshake is the costly part of a TLS connection: beyond the cap, new ones are shed
  // before OpenSSL sees a byte.
  if (acceptor.tls != nullptr && handshakes_ >= acceptor.tls->config().max_handshakes) {
    stats_.tls_handshakes_refused.add();
    net::close_reset(fd);
    return;
  }
  auto admit = per_client ? counter().acquire(peer->ip)
                          : (counter().total() >= current_->snapshot->config.limits.max_connections
                                 ? net::ConnectionCounter::Admit::TotalFull
                                 : net::ConnectionCounter::Admit::Ok);
  if (admit != net::ConnectionCounter::Admit::Ok) {
    (admit == net::ConnectionCounter::Admit::TotalFull ? stats_.connections_refused_total
                                                       : stats_.connections_refused_client)
        .add();
    net::close_reset(fd);  // shedding must cost less than serving
    return;
  }
  stats_.connections_accepted.add();  // TCP_NODELAY comes from the listening socket
  Session* s;
  if (!spare_sessions_.empty()) {
    s = spare_sessions_.back();
    spare_sessions_.pop_back();
  } else {
    s = new Session(*this);
  }
  s->prev = nullptr;
  s->next = sessions_;
  if (sessions_ != nullptr) sessions_->prev = s;
  sessions_ = s;
  ++session_count_;
  s->listener = acceptor.id;
  s->start(fd, *peer, proxy_protocol, per_client, decide, http2, acceptor.tls);
}

Worker::AdmissionQueue::Push Worker::queue_for_slot(admission::Limiter* limiter, SlotWaiter* s,
                                                    admission::Priority p,
                                                    const policy::AdmissionConfig& cfg) {
  auto& q = slot_queues_[limiter];
  if (q == nullptr) {
    const unsigned workers = std::max(1u, server_.worker_count());
    q = std::make_unique<AdmissionQueue>(std::max<std::size_t>(1, cfg.queue_max / workers), cfg);
  }
  const std::int64_t now = loop_.now_ms();
  SlotWaiter* evicted = nullptr;
  AdmissionQueue::Push r = q->push(s, p, now, &evicted);
  if (r == AdmissionQueue::Push::QueuedEvicting && evicted != nullptr) {
    evicted->admission_shed();  // a lower class gives way (it is shed before any higher one)
  }
  if (r != AdmissionQueue::Push::Refused) arm_admit_timer();
  count_waiting();
  return r;
}

void Worker::count_waiting() {
  std::uint64_t n = 0;
  for (auto& [limiter, q] : slot_queues_) {
    for (std::size_t i = 0; i < admission::kPriorities; ++i) {
      n += q->size(static_cast<admission::Priority>(i));
    }
  }
  waiting_.store(n, std::memory_order_relaxed);
}

void Worker::leave_slot_queue(admission::Limiter* limiter, SlotWaiter* s) {
  auto it = slot_queues_.find(limiter);
  if (it != slot_queues_.end()) it->second->remove(s);
  count_waiting();
}

void Worker::admit_waiting(admission::Limiter* limiter) {
  auto it = slot_queues_.find(limiter);
  if (it == slot_queues_.end()) return;
  AdmissionQueue& q = *it->second;
  const std::int64_t now = loop_.now_ms();
  q.expire(now, [](SlotWaiter* s) { s->admission_shed(); });
  // Highest priority first: the one pop() returns is the highest class present.
  while (!q.empty()) {
    admission::Priority top = admission::Priority::Suspect;
    for (std::size_t i = admission::kPriorities; i-- > 0;) {
      if (q.size(static_cast<admission::Priority>(i)) != 0) {
        top = static_cast<admission::Priority>(i);
        break;
      }
    }
    if (!limiter->try_acquire(top)) break;
    std::optional<SlotWaiter*> s = q.pop(now);
    if (!s) {
      limiter->release(top, -1, true, now);
      break;
    }
    (*s)->admission_granted(limiter, top);
  }
  count_waiting();
}

void Worker::arm_admit_timer() {
  if (!admit_timer_.armed) loop_.timers().arm(admit_timer_, loop_.now_ms() + 1);
}

void Worker::h2_cut_event(std::string_view reason, const client::IpAddress& client) {
  // One event per second per worker at most: a flood of flooding connections must not become a
  // flood of events. The counters (/metrics) count every one.
  ++h2_cuts_since_event_;
  const std::int64_t now = loop_.now_ms();
  if (now - h2_last_event_ms_ < 1000) return;
  h2_last_event_ms_ = now;
  server_.observer().event("h2_cut", "",
                           "HTTP/2 connection from " + client::format_ip(client) +
                               " closed with GOAWAY: " + std::string(reason) + " (" +
                               std::to_string(h2_cuts_since_event_) +
                               " connection(s) cut on this worker since the previous h2_cut event)",
                           {{"reason", std::string(reason)},
                            {"client", client::format_ip(client)},
                            {"cut", h2_cuts_since_event_}});
  h2_cuts_since_event_ = 0;
}

void Worker::session_closed(Session* s) {
  if (s->prev != nullptr)
    s->prev->next = s->next;
  else
    sessions_ = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  --session_count_;
  // Reuse the object only after this epoll batch: a later event in it may still name it.
  loop_.defer([this, s] { spare_sessions_.push_back(s); });
}

}  // namespace gh::proxy
