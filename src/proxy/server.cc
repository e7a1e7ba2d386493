// The server's lifecycle (start, stop, wait), what its workers adopt and answer (the runtime,
// the watchdog's questions, their figures) and its readiness. Its other parts:
// server_listeners.cc (binding, reload), server_housekeeping.cc (bans, ticks), server_fleet.cc.
#include "proxy/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <thread>
#include <utility>

#include "core/clock.h"
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

}  // namespace server_parts

using server_parts::close_added;
using server_parts::fleet_key_seed;
using server_parts::join;
using server_parts::wall_now;

namespace {

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

bool Server::upstreams_healthy() const {
  return upstream_problems().empty();
}

void Server::current(gate::RuntimePtr* runtime, UpstreamGroupsPtr* groups) const {
  std::lock_guard lock(mu_);
  *runtime = runtime_;
  *groups = groups_;
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
