#include "net/upstream_monitor.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <set>

#include "client/address.h"
#include "core/clock.h"
#include "http/parser.h"
#include "net/socket.h"

namespace gh::net {

namespace {
constexpr std::size_t kProbeHeadMax = 8 * 1024;  // a health answer's head; more is a failure
}  // namespace

// ---- the resolver thread ----------------------------------------------------------------

struct UpstreamMonitor::Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool done = false;
  std::vector<std::shared_ptr<UpstreamGroup>> groups;
  Sink sink;
  Resolver resolver;
  std::int64_t poll_ms = 250;
};

// ---- a health check in flight -----------------------------------------------------------

class UpstreamMonitor::Probe final : public Handler {
 public:
  Probe(UpstreamMonitor& m, std::shared_ptr<UpstreamGroup> g, std::shared_ptr<Endpoint> e)
      : monitor(m), group(std::move(g)), endpoint(std::move(e)) {}
  ~Probe() override {
    if (fd >= 0) ::close(fd);
  }

  void on_events(std::uint32_t events) override {
    if (fd < 0) return;
    if (!connected) {
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      const int err = connect_error(fd);
      if (err != 0) {
        monitor.finish(this, false, 0, std::string("connect: ") + std::strerror(err));
        return;
      }
      connected = true;
    }
    if (sent < request.size()) {
      const ssize_t n =
          ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        monitor.finish(this, false, 0, std::string("send: ") + std::strerror(errno));
        return;
      }
      if (n > 0) sent += static_cast<std::size_t>(n);
      if (sent == request.size()) monitor.loop_.modify(fd, this, EPOLLIN | EPOLLRDHUP);
    }
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
    char buf[4096];
    for (int i = 0; i < 4; ++i) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        in.append(buf, static_cast<std::size_t>(std::min<ssize_t>(
                           n, static_cast<ssize_t>(kProbeHeadMax + 1 - in.size()))));
        if (answer() || in.size() > kProbeHeadMax) return;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      // EOF or reset before a whole head.
      monitor.finish(this, false, 0,
                     n == 0 ? "closed the connection before answering"
                            : std::string("recv: ") + std::strerror(errno));
      return;
    }
  }

  // True once the outcome is known (finish() was called).
  bool answer() {
    http::HeadLimits limits;
    limits.max_head_bytes = kProbeHeadMax;
    for (;;) {
      http::ResponseHead head;
      const http::ParseResult r = http::parse_response(in, limits, http::Method::Get, head);
      if (r.status == http::ParseStatus::NeedMore) {
        if (in.size() < kProbeHeadMax) return false;
        monitor.finish(this, false, 0, "response head larger than 8 KiB");
        return true;
      }
      if (r.status == http::ParseStatus::Error) {
        monitor.finish(this, false, 0,
                       "malformed response: " + std::string(http::describe(r.error)));
        return true;
      }
      if (head.status < 200 && head.status != 101) {
        in.erase(0, r.consumed);  // interim answers (100, 103): the real one follows
        continue;
      }
      const bool ok = status_passes(head.status, expect);
      monitor.finish(this, ok, head.status,
                     ok ? std::string() : "status " + std::to_string(head.status));
      return true;
    }
  }

  UpstreamMonitor& monitor;
  std::shared_ptr<UpstreamGroup> group;
  std::shared_ptr<Endpoint> endpoint;
  std::vector<std::uint16_t> expect;
  std::uint32_t interval_ms = 0;
  int fd = -1;
  bool connected = false;
  std::string request;
  std::size_t sent = 0;
  std::string in;
  std::int64_t deadline = 0;
};

// ---- the monitor ------------------------------------------------------------------------

UpstreamMonitor::UpstreamMonitor(Sink sink) : UpstreamMonitor(std::move(sink), Options{}) {}

UpstreamMonitor::UpstreamMonitor(Sink sink, Options options)
    : sink_(std::move(sink)), options_(std::move(options)), shared_(std::make_shared<Shared>()) {
  if (!options_.resolver) {
    options_.resolver = [](const std::string& host, std::uint16_t port,
                           std::vector<client::SocketAddress>& out,
                           std::string* error) { return resolve(host, port, out, error); };
  }
  shared_->sink = sink_;
  shared_->resolver = options_.resolver;
  shared_->poll_ms = options_.resolver_poll_ms;
  tick_.owner = this;
  tick_.callback = &UpstreamMonitor::on_tick;
}

UpstreamMonitor::~UpstreamMonitor() {
  stop();
}

std::vector<std::shared_ptr<UpstreamGroup>> UpstreamMonitor::configure(
    const std::vector<GroupConfig>& configs) {
  std::vector<std::shared_ptr<UpstreamGroup>> next;
  std::lock_guard lock(mu_);
  for (const GroupConfig& c : configs) {
    std::shared_ptr<UpstreamGroup> g;
    for (const auto& old : groups_) {
      if (old->name() == c.name) g = old;
    }
    if (g != nullptr) {
      g->configure(c);
    } else {
      g = std::make_shared<UpstreamGroup>(c);
    }
    next.push_back(std::move(g));
  }
  groups_ = next;
  {
    std::lock_guard shared_lock(shared_->mu);
    shared_->groups = next;
  }
  return next;
}

std::vector<std::shared_ptr<UpstreamGroup>> UpstreamMonitor::groups() const {
  std::lock_guard lock(mu_);
  return groups_;
}

std::shared_ptr<UpstreamGroup> UpstreamMonitor::find(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& g : groups_) {
    if (g->name() == name) return g;
  }
  return nullptr;
}

void UpstreamMonitor::start() {
  if (started_) return;
  started_ = true;
  checker_ = std::thread([this] { run_checker(); });
  resolver_ = std::thread([shared = shared_] { resolve_loop(shared); });
}

void UpstreamMonitor::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stop_.store(true, std::memory_order_release);
  loop_.wake();
  if (checker_.joinable()) checker_.join();
  bool done = false;
  {
    std::unique_lock lock(shared_->mu);
    shared_->stop = true;
    shared_->cv.notify_all();
    // A resolver stuck in getaddrinfo (a DNS server that does not answer) must not hold up a
    // stop: past the wait it is left to finish alone; it touches only what it shares.
    done = shared_->cv.wait_for(lock, std::chrono::seconds(3), [&] { return shared_->done; });
  }
  if (done) {
    resolver_.join();
  } else {
    resolver_.detach();
  }
}

void UpstreamMonitor::run_checker() {
  loop_.update_time();
  loop_.timers().arm(tick_, loop_.now_ms());
  loop_.run([this] { return !stop_.load(std::memory_order_acquire); });
  loop_.timers().cancel(tick_);
  for (auto& [ep, state] : probes_) {
    if (state.probe != nullptr) {
      loop_.remove(state.probe->fd);
      delete state.probe;
      state.probe = nullptr;
    }
  }
  loop_.run_deferred();
}

void UpstreamMonitor::on_tick(void* self) {
  auto* m = static_cast<UpstreamMonitor*>(self);
  m->scan();
  if (!m->stop_.load(std::memory_order_acquire)) {
    m->loop_.timers().arm(m->tick_, m->loop_.now_ms() + m->options_.tick_ms);
  }
}

void UpstreamMonitor::scan() {
  const std::int64_t now = loop_.now_ms();
  ++scan_;
  const std::vector<std::shared_ptr<UpstreamGroup>> groups = this->groups();
  // Checks past their deadline fail first, so their slots are free for this round.
  for (auto& [ep, state] : probes_) {
    if (state.probe != nullptr && now >= state.probe->deadline) {
      finish(state.probe, false, 0, "timed out");
    }
  }
  std::set<std::string> names;
  for (const auto& g : groups) {
    names.insert(g->name());
    g->transitions(now, pending_);
    const HealthCheckConfig health = g->health();
    const std::shared_ptr<const EndpointSet> set = g->endpoints();
    for (const auto& entry : set->entries) {
      if (!health.enabled) continue;
      ProbeState& state = probes_[entry.endpoint.get()];
      state.seen = scan_;
      if (state.keep == nullptr) {
        state.keep = entry.endpoint;
        state.next_ms = now;  // a new endpoint is checked at once
      }
      if (state.probe == nullptr && now >= state.next_ms && in_flight_ < options_.max_probes) {
        start_probe(g, entry, health, state, now);
      }
    }
    const bool none = g->admitted(now) == 0;
    bool& announced = unavailable_[g->name()];
    if (none != announced) {
      announced = none;
      UpstreamEvent ev;
      ev.upstream = g->name();
      ev.kind = none ? "upstream_unavailable" : "upstream_available";
      ev.message =
          none ? "upstream " + g->name() + " has no healthy server: its requests are answered 503"
               : "upstream " + g->name() + " has a healthy server again (" +
                     std::to_string(g->admitted(now)) + " admitted)";
      pending_.push_back(std::move(ev));
    }
  }
  for (auto it = unavailable_.begin(); it != unavailable_.end();) {
    it = names.count(it->first) != 0 ? std::next(it) : unavailable_.erase(it);
  }
  // Endpoints gone from every set (and not being checked) are forgotten.
  for (auto it = probes_.begin(); it != probes_.end();) {
    if (it->second.seen != scan_ && it->second.probe == nullptr) {
      it = probes_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<UpstreamEvent> events;
  events.swap(pending_);
  for (const UpstreamEvent& e : events) {
    if (sink_) sink_(e);
  }
}

void UpstreamMonitor::start_probe(const std::shared_ptr<UpstreamGroup>& group,
                                  const EndpointSet::Entry& entry, const HealthCheckConfig& health,
                                  ProbeState& state, std::int64_t now) {
  auto* p = new Probe(*this, group, entry.endpoint);
  p->expect = health.expect;
  p->interval_ms = health.interval_ms;
  p->deadline = now + health.timeout_ms;
  p->request = "GET " + health.path +
               " HTTP/1.1\r\nHost: " + (health.host.empty() ? entry.server : health.host) +
               "\r\nUser-Agent: gatehouse-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  state.probe = p;
  ++in_flight_;
  std::string error;
  p->fd = connect_tcp(entry.endpoint->address, &error);
  if (p->fd < 0) {
    finish(p, false, 0, error);
    return;
  }
  if (!loop_.add(p->fd, p, EPOLLIN | EPOLLOUT | EPOLLRDHUP)) {
    finish(p, false, 0, "epoll_ctl failed");
  }
}

void UpstreamMonitor::finish(Probe* p, bool passed, std::uint16_t status, const std::string& why) {
  if (p->fd < 0 && p->deadline == 0) return;  // finished already in this batch
  const std::int64_t now = loop_.now_ms();
  if (p->fd >= 0) {
    loop_.remove(p->fd);
    ::close(p->fd);
    p->fd = -1;
  }
  p->deadline = 0;
  checks_.fetch_add(1, std::memory_order_relaxed);
  UpstreamEvent ev;
  if (p->group->checked(*p->endpoint, passed, status, why, now, core::wall_ms(), &ev) !=
      HealthStreak::Change::None) {
    pending_.push_back(std::move(ev));
  }
  auto it = probes_.find(p->endpoint.get());
  if (it != probes_.end() && it->second.probe == p) {
    it->second.probe = nullptr;
    it->second.next_ms = now + p->interval_ms;
  }
  --in_flight_;
  // An event of this epoll batch may still name it.
  loop_.defer([p] { delete p; });
}

void UpstreamMonitor::resolve_loop(const std::shared_ptr<Shared>& shared) {
  std::map<std::pair<std::string, std::string>, std::int64_t> due;  // (upstream, host:port)
  std::unique_lock lock(shared->mu);
  while (!shared->stop) {
    shared->cv.wait_for(lock, std::chrono::milliseconds(shared->poll_ms),
                        [&] { return shared->stop; });
    if (shared->stop) break;
    const auto groups = shared->groups;
    const Resolver resolver = shared->resolver;
    lock.unlock();
    const std::int64_t now = core::monotonic_ms();
    std::set<std::pair<std::string, std::string>> seen;
    bool stopping = false;
    for (const auto& g : groups) {
      if (stopping) break;
      const std::int64_t interval = g->resolve_interval_ms();
      for (const UpstreamGroup::Name& n : g->names()) {
        const auto key = std::make_pair(g->name(), n.host + ":" + std::to_string(n.port));
        seen.insert(key);
        auto it = due.find(key);
        if (it == due.end()) {
          due[key] = now + interval;  // the loader resolved it a moment ago
          continue;
        }
        if (now < it->second) continue;
        std::vector<client::SocketAddress> addresses;
        std::string error;
        bool truncated = false;
        bool ok = resolver(n.host, n.port, addresses, &error);
        std::sort(addresses.begin(), addresses.end(), address_less);
        addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
        if (ok && addresses.empty()) {
          ok = false;
          error = "no address";
        }
        if (ok && addresses.size() > kMaxAddressesPerName) {
          addresses.resize(kMaxAddressesPerName);
          truncated = true;
        }
        it->second = core::monotonic_ms() + interval;
        std::lock_guard apply(shared->mu);
        if (shared->stop) {
          stopping = true;
          break;
        }
        UpstreamEvent ev;
        if (g->resolved(n, ok, std::move(addresses), error, truncated, core::wall_ms(), &ev) &&
            shared->sink) {
          shared->sink(ev);
        }
      }
    }
    for (auto it = due.begin(); it != due.end();) {
      it = seen.count(it->first) != 0 ? std::next(it) : due.erase(it);
    }
    lock.lock();
  }
  shared->done = true;
  shared->cv.notify_all();
}

}  // namespace gh::net
