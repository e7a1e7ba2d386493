#include "proxy/server.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "core/clock.h"
#include "proxy/worker.h"

namespace gh::proxy {

namespace {
std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l;
  return s;
}
lists::Seconds wall_now() {
  return static_cast<lists::Seconds>(std::time(nullptr));
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
  std::vector<std::string> errors;
  if (!defence_.init(initial_->config, error,
                     observe_options_.persist ? initial_->config.state_dir : "")) {
    return false;
  }
  // Before the first build: the controllers built there announce their changes through it, and
  // the housekeeping and admin threads read it without a lock.
  defence_.on_mode_change([this](const gate::ModeChange& c) { observer_->on_mode_change(c); });
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

  unsigned n = initial_->config.server.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(*this, i, runtime_);
    if (!w->listen(ports_, error)) {
      workers_.clear();
      return false;
    }
    workers_.push_back(std::move(w));
  }
  for (const std::string& w : observer_->open(initial_->config, observe_options_, n)) {
    spdlog::warn("{}", w);
  }
  for (auto& w : workers_) threads_.emplace_back([worker = w.get()] { worker->run(); });
  housekeeper_ = std::thread([this] { housekeeping(); });
  started_.store(true, std::memory_order_release);
  observer_->event("start", "", "gatehouse started: " + std::to_string(n) + " workers",
                   {{"by", "operator"}, {"workers", n}});
  return true;
}

bool Server::reload(policy::SnapshotPtr snapshot, std::string* error) {
  std::vector<std::string> errors;
  gate::RuntimePtr next = gate::build_runtime(std::move(snapshot), registry_, defence_, &errors);
  if (next == nullptr) {
    if (error) *error = join(errors);
    return false;
  }
  {
    std::lock_guard lock(mu_);
    runtime_ = std::move(next);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  for (auto& w : workers_) w->request_reload();
  return true;
}

bool Server::reload_logged(policy::SnapshotPtr snapshot, const std::string& by,
                           std::string* error) {
  std::string why;
  const bool ok = reload(std::move(snapshot), &why);
  if (ok) {
    observer_->event("reload", "",
                     "config reloaded (generation " + std::to_string(generation()) + ")",
                     {{"by", by}, {"generation", generation()}});
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
    std::lock_guard lock(ban_mu_);
    housekeeping_stop_ = true;
  }
  ban_cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
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

void Server::request_ban(const client::IpAddress& client, std::int64_t duration_ms,
                         std::int64_t max_ms, std::string_view rule) {
  {
    std::lock_guard lock(ban_mu_);
    if (ban_queue_.size() >= kBanQueue) {
      bans_dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    BanRequest r;
    r.client = client;
    r.duration_ms = duration_ms;
    r.max_ms = max_ms;
    std::size_t n = std::min(rule.size(), r.rule.size() - 1);
    std::memcpy(r.rule.data(), rule.data(), n);
    ban_queue_.push_back(r);
  }
  ban_cv_.notify_one();
}

void Server::housekeeping() {
  std::vector<BanRequest> batch;
  batch.reserve(kBanQueue);
  auto last_maintain = std::chrono::steady_clock::now();
  std::unique_lock lock(ban_mu_);
  while (!housekeeping_stop_) {
    ban_cv_.wait_for(lock, std::chrono::milliseconds(500),
                     [this] { return housekeeping_stop_ || !ban_queue_.empty(); });
    batch.swap(ban_queue_);
    lock.unlock();
    const lists::Seconds now = wall_now();
    for (const BanRequest& r : batch) {
      client::Cidr key{r.client, static_cast<std::uint8_t>(r.client.is_v4 ? 32 : 128)};
      lists::BanDuration d{std::max<lists::Seconds>(1, r.duration_ms / 1000),
                           std::max<lists::Seconds>(1, r.max_ms / 1000)};
      bans_->ban(key, d, "rate limit exceeded", std::string_view(r.rule.data()), now);
    }
    batch.clear();
    if (std::chrono::steady_clock::now() - last_maintain >= std::chrono::seconds(1)) {
      bans_->maintain(now);            // expiry, journal sync and compaction, off the request path
      defence_.tick(core::wall_ms());  // sign-up triggers, waiting rooms, concurrency limits
      observer_->tick(core::wall_ms());  // the series, per-minute records, top offenders
      last_maintain = std::chrono::steady_clock::now();
    }
    lock.lock();
  }
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
  for (const policy::UpstreamConfig& u : rt->policy->config.upstreams) {
    if (!upstream_ready(u)) problems.push_back("upstream " + u.name + ": no healthy server");
  }
  return problems;
}

// An upstream is ready when one of its servers can take requests. Without health checks, every
// configured server is taken to be able to; health checks answer here with what they measured.
bool Server::upstream_ready(const policy::UpstreamConfig& upstream) const {
  return !upstream.servers.empty();
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
