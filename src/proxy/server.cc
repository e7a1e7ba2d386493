#include "proxy/server.h"

#include <thread>

#include "proxy/worker.h"

namespace gh::proxy {

Server::Server(policy::SnapshotPtr snapshot)
    : snapshot_(std::move(snapshot)),
      generation_(1),
      counter_(snapshot_->config.limits.max_connections,
               snapshot_->config.limits.max_connections_per_client) {}

Server::~Server() {
  stop();
  wait();
}

bool Server::start(std::string* error) {
  unsigned n = snapshot_->config.server.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(*this, i, snapshot_);
    if (!w->listen(ports_, error)) {
      workers_.clear();
      return false;
    }
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) threads_.emplace_back([worker = w.get()] { worker->run(); });
  return true;
}

void Server::reload(policy::SnapshotPtr snapshot) {
  {
    std::lock_guard lock(mu_);
    snapshot_ = std::move(snapshot);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  for (auto& w : workers_) w->request_reload();
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
  workers_.clear();
}

policy::SnapshotPtr Server::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

StatsTotals Server::stats() const {
  StatsTotals t;
  for (const auto& w : workers_) {
    WorkerStats& s = w->stats();
#define GH_SUM(name, help) t.name += s.name.get();
    GH_WORKER_STATS(GH_SUM)
#undef GH_SUM
  }
  return t;
}

}  // namespace gh::proxy
