// The proxy as a whole: N workers on their own threads, one config snapshot swapped atomically on
// reload, a graceful stop. Embeddable: tests start it in-process on port 0.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/connection_counter.h"
#include "policy/snapshot.h"
#include "proxy/stats.h"

namespace gh::proxy {

class Worker;

struct StatsTotals {
#define GH_DECLARE(name, help) std::uint64_t name = 0;
  GH_WORKER_STATS(GH_DECLARE)
#undef GH_DECLARE
};

class Server {
 public:
  explicit Server(policy::SnapshotPtr snapshot);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener in every worker and starts the worker threads.
  bool start(std::string* error);
  // Swaps in a new snapshot; requests in flight finish on the one they started with. Listener
  // addresses and connection caps are fixed at start: changing them needs a restart.
  void reload(policy::SnapshotPtr snapshot);
  // Stops accepting, lets requests in flight finish up to limits.shutdown_grace, then returns
  // from wait(). Safe to call from any thread, more than once.
  void stop();
  void wait();

  std::vector<std::uint16_t> ports() const { return ports_; }  // bound port of each listener
  policy::SnapshotPtr snapshot() const;
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
  net::ConnectionCounter& counter() { return counter_; }
  StatsTotals stats() const;
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

 private:
  mutable std::mutex mu_;
  policy::SnapshotPtr snapshot_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  net::ConnectionCounter counter_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::vector<std::uint16_t> ports_;
};

}  // namespace gh::proxy
