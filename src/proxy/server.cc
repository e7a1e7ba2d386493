#include "proxy/server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>
#include <utility>

#include "client/address.h"
#include "core/clock.h"
#include "net/listen_check.h"
#include "net/socket.h"
#include "proxy/worker.h"
#include "server_parts.h"
#include "stages/ratelimit/keyhash.h"

namespace gh::proxy {

namespace server_parts {

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l;
  return s;
}
lists::Seconds wall_now() {
  return static_cast<lists::Seconds>(std::time(nullptr));
}
void close_added(std::vector<std::vector<ListenerOp>>& ops) {
  for (auto& list : ops) {
    for (ListenerOp& op : list) {
      if (op.kind == ListenerOp::Kind::Add && op.fd >= 0) ::close(op.fd);
      op.fd = -1;
    }
  }
}

}  // namespace server_parts

using server_parts::close_added;
using server_parts::fleet_key_seed;
using server_parts::join;
using server_parts::wall_now;

namespace {

constexpr int kBacklog = 4096;

// "upstream app: server app.internal:3000 added", ... for what a reload changes in the upstreams.
void upstream_changes(const policy::Config& from, const policy::Config& to,
                      std::vector<std::string>& out) {
  auto find = [](const policy::Config& c, const std::string& name) {
    const auto it = std::find_if(c.upstreams.begin(), c.upstreams.end(),
                                 [&](const policy::UpstreamConfig& u) { return u.name == name; });
    return it == c.upstreams.end() ? nullptr : &*it;
  };
  auto server = [](const policy::UpstreamConfig& u, const std::string& text) {
    const auto it =
        std::find_if(u.servers.begin(), u.servers.end(),
                     [&](const net::UpstreamServer& s) { return net::server_text(s) == text; });
    return it == u.servers.end() ? nullptr : &*it;
  };
  for (const policy::UpstreamConfig& u : to.upstreams) {
    const policy::UpstreamConfig* old = find(from, u.name);
    if (old == nullptr) {
      out.push_back("upstream " + u.name + " added (" + std::to_string(u.servers.size()) +
                    (u.servers.size() == 1 ? " server)" : " servers)"));
      continue;
    }
    for (const net::UpstreamServer& s : u.servers) {
      const std::string text = net::server_text(s);
      const net::UpstreamServer* was = server(*old, text);
      if (was == nullptr) {
        out.push_back("upstream " + u.name + ": server " + text + " added");
      } else if (was->weight != s.weight) {
        out.push_back("upstream " + u.name + ": server " + text + " weight " +
                      std::to_string(was->weight) + " -> " + std::to_string(s.weight));
      }
    }
    for (const net::UpstreamServer& s : old->servers) {
      const std::string text = net::server_text(s);
      if (server(u, text) == nullptr) {
        out.push_back("upstream " + u.name + ": server " + text +
                      " removed (drained: requests in flight finish)");
      }
    }
  }
  for (const policy::UpstreamConfig& u : from.upstreams) {
    if (find(to, u.name) == nullptr) out.push_back("upstream " + u.name + " removed");
  }
}

nlohmann::json event_data(const net::UpstreamEvent& e) {
  nlohmann::json data = {{"upstream", e.upstream}};
  if (!e.server.empty()) data["server"] = e.server;
  if (!e.address.empty()) data["address"] = e.address;
  if (!e.added.empty()) data["added"] = e.added;
  if (!e.removed.empty()) data["removed"] = e.removed;
  return data;
}
}  // namespace

Server::Server(policy::SnapshotPtr snapshot, ObserveOptions observe)
    : initial_(std::move(snapshot)),
      observer_(std::make_unique<Observer>(*this)),
      observe_options_(observe),
      counter_(initial_->config.limits.max_connections,
               initial_->config.limits.max_connections_per_client) {
  ban_queue_.reserve(kBanQueue);
}

Server::~Server() {
  stop();
  wait();
}

bool Server::start(std::string* error) {
  std::lock_guard reload_lock(reload_mu_);
  unsigned n = initial_->config.server.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  worker_target_ = n;
  // Listeners first: a second instance on the same address stops here, before it touches the
  // first one's state (ban journal, key, event log).
  std::vector<Listener> listeners;
  std::vector<std::vector<ListenerOp>> ops(n);
  if (!plan_listeners(initial_->config, listeners, ops, error)) return false;
  struct CloseLeft {  // sockets not handed to a worker when start() fails past this point
    std::vector<std::vector<ListenerOp>>& ops;
    ~CloseLeft() { close_added(ops); }
  } close_left{ops};
  std::vector<std::string> errors;
  if (!defence_.init(initial_->config, error,
                     observe_options_.persist ? initial_->config.state_dir : "")) {
    return false;
  }
  // Before the first build: the controllers built there announce their changes through it, and
  // the housekeeping and admin threads read it without a lock.
  defence_.on_mode_change([this](const gate::ModeChange& c) { observer_->on_mode_change(c); });
  if (initial_->config.cluster.enabled) {
    // Before the first table: shared tables report to the registry's log from their start.
    ratelimit::set_key_seed(fleet_key_seed(initial_->config.cluster));
    registry_.share([this] {
      if (fleet_ != nullptr) fleet_->limits_urgent();  // set before the workers start
    });
  }
  runtime_ = gate::build_runtime(initial_, registry_, defence_, &errors);
  if (runtime_ == nullptr) {
    if (error) *error = join(errors);
    return false;
  }
  const policy::BansConfig& bc = initial_->config.bans;
  lists::BansConfig table_cfg;
  table_cfg.capacity = bc.max_entries;
  table_cfg.escalation_window = static_cast<lists::Seconds>(bc.escalation_window / 1000);
  bans_ = lists::BanTable::create(table_cfg);
  if (bans_ == nullptr) {
    if (error) *error = "bans.max_entries out of range";
    return false;
  }
  if (!bc.journal.empty()) {
    std::error_code ec;
    auto parent = std::filesystem::path(bc.journal).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      if (error)
        *error = "ban journal " + bc.journal + ": cannot create " + parent.string() + ": " +
                 ec.message();
      return false;
    }
    lists::ReplayReport r = bans_->open_journal(bc.journal, lists::JournalOptions{}, wall_now());
    if (!r.ok) {
      if (error) *error = "ban journal " + bc.journal + ": " + r.error;
      return false;
    }
    // What was skipped and where a damaged file was copied: the operator's only notice of it.
    for (const std::string& w : r.warnings) spdlog::warn("ban journal: {}", w);
    if (r.torn_tail || r.damaged) {
      spdlog::warn("ban journal {}: replayed {} records from {} of {} bytes", bc.journal, r.records,
                   r.valid_bytes, r.file_bytes);
    }
    spdlog::info("ban journal {}: {} bans live after replay", bc.journal, r.bans_live);
  }
  if (bc.kernel_drop.enabled && !start_kernel_drop(listeners, error)) return false;

  monitor_ = std::make_unique<net::UpstreamMonitor>([this](const net::UpstreamEvent& e) {
    observer_->event(e.kind, "", e.message, event_data(e));
  });
  groups_ = configure_upstreams(initial_->config);
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(*this, i, runtime_, groups_);
    w->apply_listener_ops(std::exchange(ops[i], {}));
    workers_.push_back(std::move(w));
  }
  {
    std::lock_guard lock(mu_);
    listeners_ = std::move(listeners);
    listener_ops_.assign(n, {});
  }
  for (const std::string& w : observer_->open(initial_->config, observe_options_, n)) {
    spdlog::warn("{}", w);
  }
  if (!start_fleet(error)) return false;
  for (auto& w : workers_) threads_.emplace_back([worker = w.get()] { worker->run(); });
  housekeeper_ = std::thread([this] { housekeeping(); });
  monitor_->start();
  started_.store(true, std::memory_order_release);
  observer_->event("start", "", "gatehouse started: " + std::to_string(n) + " workers",
                   {{"by", "operator"}, {"workers", n}});
  return true;
}

bool Server::reload(policy::SnapshotPtr snapshot, std::string* error) {
  std::lock_guard reload_lock(reload_mu_);
  if (workers_.empty()) {
    if (error) *error = "not running";
    return false;
  }
  const policy::Config& next_config = snapshot->config;
  // Listeners first: binding a new address is what most often fails, and undoing it is closing
  // the sockets, while a built runtime has already touched the long-lived state.
  std::vector<Listener> listeners;
  std::vector<std::vector<ListenerOp>> ops(workers_.size());
  if (!plan_listeners(next_config, listeners, ops, error)) return false;
  std::vector<std::string> errors;
  gate::RuntimePtr next = gate::build_runtime(snapshot, registry_, defence_, &errors);
  if (next == nullptr) {
    close_added(ops);
    if (error) *error = join(errors);
    return false;
  }
  // What the answer (ctl reload, the event, the log) says changed: listeners and upstream
  // servers, and the settings this reload cannot apply.
  std::vector<std::string> changes;
  const policy::Config& started = initial_->config;
  if (next_config.limits.max_connections != started.limits.max_connections ||
      next_config.limits.max_connections_per_client != started.limits.max_connections_per_client) {
    changes.push_back(
        "limits.max_connections and limits.max_connections_per_client take effect "
        "at restart; running with " +
        std::to_string(started.limits.max_connections) + " and " +
        std::to_string(started.limits.max_connections_per_client) + " per client");
  }
  if (next_config.server.io != started.server.io) {
    changes.push_back("server.io takes effect at restart");
  }
  if (next_config.server.workers != started.server.workers) {
    changes.push_back("server.workers takes effect at restart; running with " +
                      std::to_string(workers_.size()) + " workers");
  }
  const policy::ClusterConfig& cn = next_config.cluster;
  const policy::ClusterConfig& cs = started.cluster;
  auto same_seeds = [](const policy::ClusterConfig& a, const policy::ClusterConfig& b) {
    return std::equal(
        a.seeds.begin(), a.seeds.end(), b.seeds.begin(), b.seeds.end(),
        [](const auto& x, const auto& y) { return x.host == y.host && x.port == y.port; });
  };
  if (cn.enabled != cs.enabled || !same_seeds(cn, cs) || cn.node != cs.node ||
      cn.prefix != cs.prefix || cn.user != cs.user || cn.password_file != cs.password_file) {
    changes.push_back(std::string("cluster takes effect at restart; running ") +
                      (cs.enabled ? "as node " + cs.node + " of a fleet" : "alone"));
  }
  UpstreamGroupsPtr groups = configure_upstreams(next_config);
  {
    std::lock_guard lock(mu_);
    for (const Listener& l : listeners) {
      auto old = std::find_if(listeners_.begin(), listeners_.end(),
                              [&](const Listener& o) { return o.id == l.id; });
      client::SocketAddress a = l.config.address;
      a.port = l.port;
      if (old == listeners_.end()) {
        changes.push_back("listening on " + client::format_socket_address(a));
      } else if (old->config.proxy_protocol != l.config.proxy_protocol ||
                 old->config.decide != l.config.decide || old->config.http2 != l.config.http2 ||
                 old->config.tls.enabled != l.config.tls.enabled) {
        changes.push_back("listener " + client::format_socket_address(a) + " updated");
      } else if (l.config.tls.enabled) {
        changes.push_back("listener " + client::format_socket_address(a) +
                          ": TLS certificates and keys read again");
      }
    }
    for (const Listener& o : listeners_) {
      const bool stays = std::any_of(listeners.begin(), listeners.end(),
                                     [&](const Listener& l) { return o.id == l.id; });
      client::SocketAddress a = o.config.address;
      a.port = o.port;
      if (!stays) {
        changes.push_back("no longer listening on " + client::format_socket_address(a) +
                          " (its connections close after their current exchange)");
      }
    }
    if (runtime_ != nullptr) upstream_changes(runtime_->policy->config, next_config, changes);
    runtime_ = std::move(next);
    groups_ = std::move(groups);
    listeners_ = std::move(listeners);
    if (kernel_drop_ != nullptr) {
      std::vector<std::uint16_t> ports;
      for (const Listener& l : listeners_) ports.push_back(l.port);
      std::string why;
      if (!kernel_drop_->set_ports(ports, &why)) spdlog::warn("kernel drop: ports: {}", why);
    }
    for (std::size_t w = 0; w < ops.size() && w < listener_ops_.size(); ++w) {
      for (ListenerOp& op : ops[w]) listener_ops_[w].push_back(op);
    }
    generation_.fetch_add(1, std::memory_order_acq_rel);
    reload_changes_ = changes;
  }
  for (const std::string& c : changes) spdlog::info("reload: {}", c);
  for (auto& w : workers_) w->request_reload();
  return true;
}

bool Server::bind_listener(const policy::ListenConfig& l, std::vector<int>& fds,
                           std::uint16_t& port, std::string* error) const {
  client::SocketAddress addr = l.address;
  auto served = [&](const std::vector<net::ListenerOwner>& owners) {
    if (error) {
      *error = client::format_socket_address(addr) + ": already served by " +
               net::describe_owners(owners) + "; stop it or listen on another address";
    }
    return false;
  };
  if (addr.port != 0) {
    // SO_REUSEPORT would let us share the address with whoever holds it: refuse instead. Our
    // own listeners (a reload overlapping a wildcard) are no reason to.
    std::vector<net::ListenerOwner> owners;
    if (net::address_served(addr, &owners)) {
      const pid_t self = ::getpid();
      const bool ours =
          !owners.empty() &&
          std::all_of(owners.begin(), owners.end(), [&](const auto& o) { return o.pid == self; });
      if (!ours) return served(owners);
    }
  }
  for (unsigned i = 0; i < worker_target_; ++i) {
    std::string why;
    const int fd = net::listen_tcp(addr, true, kBacklog, &why);
    if (fd < 0) {
      for (int f : fds) ::close(f);
      fds.clear();
      if (i == 0 && why.find(std::strerror(EADDRINUSE)) != std::string::npos) {
        std::vector<net::ListenerOwner> owners;
        net::address_served(addr, &owners);
        return served(owners);
      }
      if (error) *error = client::format_socket_address(addr) + ": " + why;
      return false;
    }
    if (addr.port == 0) addr.port = net::local_address(fd).port;  // the others join that port
    fds.push_back(fd);
  }
  if (l.address.port != 0) {
    // Two instances started at the same moment both pass the probe above: each sees the other
    // now, and both refuse rather than split the traffic.
    std::vector<net::ListenerOwner> owners;
    if (net::shared_with_another(addr, &owners)) {
      for (int f : fds) ::close(f);
      fds.clear();
      return served(owners);
    }
  }
  port = addr.port;
  return true;
}

bool Server::plan_listeners(const policy::Config& config, std::vector<Listener>& next,
                            std::vector<std::vector<ListenerOp>>& ops, std::string* error) {
  std::vector<Listener> running;
  {
    std::lock_guard lock(mu_);
    running = listeners_;
  }
  std::vector<bool> kept(running.size(), false);
  for (std::size_t i = 0; i < config.listen.size(); ++i) {
    const policy::ListenConfig& l = config.listen[i];
    // Certificates and keys are read again on every reload: a renewed certificate is taken up
    // by new connections, while open ones keep the context their SSL object holds.
    tls::ServerContextPtr tls_ctx;
    if (l.tls.enabled) {
      auto& keys = ticket_keys_[l.tls.ticket_key_rotation];
      if (keys == nullptr) keys = std::make_shared<tls::TicketKeys>(l.tls.ticket_key_rotation);
      std::string why;
      tls_ctx = tls::ServerContext::build(l.tls, keys, &why, l.http2);
      if (tls_ctx == nullptr) {
        close_added(ops);
        if (error) {
          *error = "listen[" + std::to_string(i) + "].tls: " + why +
                   (running.empty() ? "" : "; the running config is kept");
        }
        return false;
      }
    }
    std::size_t match = running.size();
    for (std::size_t j = 0; j < running.size(); ++j) {
      if (!kept[j] && running[j].config.address == l.address) {
        match = j;
        break;
      }
    }
    if (match < running.size()) {
      kept[match] = true;
      Listener keep = running[match];
      if (keep.config.proxy_protocol != l.proxy_protocol || keep.config.decide != l.decide ||
          keep.config.http2 != l.http2 || keep.config.tls.enabled || l.tls.enabled) {
        for (auto& w : ops) {
          w.push_back({ListenerOp::Kind::Update, keep.id, -1, l.proxy_protocol, l.decide, l.http2,
                       tls_ctx});
        }
      }
      keep.config = l;
      next.push_back(std::move(keep));
      continue;
    }
    std::vector<int> fds;
    std::uint16_t port = 0;
    std::string why;
    if (!bind_listener(l, fds, port, &why)) {
      close_added(ops);
      if (error) {
        *error = "listen[" + std::to_string(i) + "] " + why +
                 (running.empty() ? "" : "; the running config is kept");
      }
      return false;
    }
    const std::uint64_t id = next_listener_id_++;
    for (std::size_t w = 0; w < ops.size(); ++w) {
      ops[w].push_back(
          {ListenerOp::Kind::Add, id, fds[w], l.proxy_protocol, l.decide, l.http2, tls_ctx});
    }
    next.push_back({id, l, port});
  }
  for (std::size_t j = 0; j < running.size(); ++j) {
    if (kept[j]) continue;
    for (auto& w : ops) w.push_back({ListenerOp::Kind::Remove, running[j].id});
  }
  return true;
}

UpstreamGroupsPtr Server::configure_upstreams(const policy::Config& config) {
  std::vector<net::GroupConfig> groups;
  for (const policy::UpstreamConfig& u : config.upstreams) {
    groups.push_back({u.name, u.servers, u.health_check, u.ejection, u.resolve_interval});
  }
  return std::make_shared<const UpstreamGroups>(monitor_->configure(groups));
}

std::vector<std::string> Server::reload_changes() const {
  std::lock_guard lock(mu_);
  return reload_changes_;
}

bool Server::upstreams_healthy() const {
  return upstream_problems().empty();
}

std::vector<std::uint16_t> Server::ports() const {
  std::lock_guard lock(mu_);
  std::vector<std::uint16_t> out;
  for (const Listener& l : listeners_) out.push_back(l.port);
  return out;
}

void Server::current(gate::RuntimePtr* runtime, UpstreamGroupsPtr* groups) const {
  std::lock_guard lock(mu_);
  *runtime = runtime_;
  *groups = groups_;
}

std::vector<ListenerOp> Server::take_listener_ops(unsigned worker) {
  std::lock_guard lock(mu_);
  std::vector<ListenerOp> out;
  if (worker < listener_ops_.size()) out.swap(listener_ops_[worker]);
  return out;
}

std::vector<net::GroupStatus> Server::upstreams_status() const {
  std::vector<net::GroupStatus> out;
  if (monitor_ == nullptr) return out;
  const std::int64_t now = core::monotonic_ms();
  for (const auto& g : monitor_->groups()) out.push_back(g->status(now));
  return out;
}

bool Server::upstream_healthy(const std::string& name) const {
  if (monitor_ == nullptr) return false;
  auto g = monitor_->find(name);
  return g != nullptr && g->admitted(core::monotonic_ms()) > 0;
}

std::vector<std::string> Server::upstream_problems() const {
  std::vector<std::string> out;
  if (monitor_ == nullptr) return out;
  const std::int64_t now = core::monotonic_ms();
  for (const auto& g : monitor_->groups()) {
    if (g->admitted(now) != 0) continue;
    const std::size_t n = g->endpoints()->entries.size();
    out.push_back("upstream " + g->name() + " has no healthy server (" + std::to_string(n) +
                  (n == 1 ? " address, down or ejected)" : " addresses, all down or ejected)"));
  }
  return out;
}

bool Server::reload_logged(policy::SnapshotPtr snapshot, const std::string& by,
                           std::string* error) {
  std::string why;
  const bool ok = reload(std::move(snapshot), &why);
  if (ok) {
    const std::vector<std::string> changes = reload_changes();
    std::string message = "config reloaded (generation " + std::to_string(generation()) + ")";
    for (std::size_t i = 0; i < changes.size(); ++i) message += (i == 0 ? ": " : "; ") + changes[i];
    observer_->event("reload", "", message.substr(0, 1024),
                     {{"by", by}, {"generation", generation()}, {"changes", changes}});
  } else {
    observer_->event("reload_refused", "", "reload refused: " + why.substr(0, 512), {{"by", by}});
  }
  if (error != nullptr) *error = why;
  return ok;
}

void Server::stop() {
  stop_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->request_stop();
}

void Server::wait() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  {
    std::lock_guard lock(mu_);
    close_added(listener_ops_);  // bound by a reload no worker lived to adopt
  }
  if (monitor_ != nullptr) monitor_->stop();
  {
    std::lock_guard lock(ban_mu_);
    housekeeping_stop_ = true;
  }
  ban_cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  if (fleet_ != nullptr) fleet_->stop();  // its sinks write the bans and modes
  // The housekeeping thread reads the workers' figures: they go after it.
  if (!waited_ && !workers_.empty()) {
    waited_ = true;
    observer_->event("stop", "", "gatehouse stopped", {{"by", "operator"}});
    observer_->finish(core::wall_ms());
  }
  workers_.clear();
}

gate::RuntimePtr Server::runtime() const {
  std::lock_guard lock(mu_);
  return runtime_;
}

policy::SnapshotPtr Server::snapshot() const {
  std::lock_guard lock(mu_);
  return runtime_ != nullptr ? runtime_->policy : initial_;
}

std::vector<std::string> Server::readiness() const {
  std::vector<std::string> problems;
  if (!started_.load(std::memory_order_acquire)) problems.push_back("listeners not bound");
  if (stop_requested()) problems.push_back("stopping: requests in flight are finishing");
  const gate::RuntimePtr rt = runtime();
  if (rt == nullptr) {
    problems.push_back("no configuration loaded");
    return problems;
  }
  // Each upstream of the running config, in the monitor's words where it has some ("upstream app
  // has no healthy server (2 addresses, all down or ejected)").
  const std::vector<std::string> detail = upstream_problems();
  for (const policy::UpstreamConfig& u : rt->policy->config.upstreams) {
    if (upstream_ready(u)) continue;
    const std::string prefix = "upstream " + u.name + " ";
    auto it = std::find_if(detail.begin(), detail.end(),
                           [&](const std::string& p) { return p.starts_with(prefix); });
    problems.push_back(it != detail.end() ? *it : prefix + "has no healthy server");
  }
  return problems;
}

// An upstream is ready when one of its addresses is admitted: resolved, not down by the health
// checks, not ejected. Without health checks, only passive ejection takes an address out.
bool Server::upstream_ready(const policy::UpstreamConfig& upstream) const {
  return upstream_healthy(upstream.name);
}

std::uint64_t Server::ask_workers() {
  const std::uint64_t q = question_.fetch_add(1) + 1;
  for (auto& w : workers_) w->ask(q);
  return q;
}

std::vector<unsigned> Server::silent_workers(std::uint64_t question) const {
  std::vector<unsigned> silent;
  for (const auto& w : workers_) {
    if (w->answered() < question) silent.push_back(w->index());
  }
  return silent;
}

StatsTotals Server::stats() const {
  StatsTotals t;
  for (const auto& w : workers_) {
    gate::WorkerStats& s = w->stats();
#define GH_SUM(name, help) t.name += s.name.get();
    GH_WORKER_STATS(GH_SUM)
#undef GH_SUM
  }
  return t;
}

}  // namespace gh::proxy
