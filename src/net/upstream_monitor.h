// Keeps every upstream group's view of its servers true, off the workers' request path:
//  - a checker thread (its own event loop, non-blocking sockets, at most `max_probes` checks at
//    once) runs the active health checks and announces ejections, re-admissions, and an
//    upstream left without any admitted server;
//  - a resolver thread re-resolves server names (getaddrinfo blocks, so it has a thread of its
//    own): addresses that appear are added, those that disappear drained, a failure keeps the
//    last known addresses and is announced once.
// Announcements go to the sink (the server's event log) from these threads, never a worker's.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "net/resolve.h"
#include "net/upstream_group.h"

namespace gh::net {

class UpstreamMonitor {
 public:
  using Sink = std::function<void(const UpstreamEvent&)>;
  struct Options {
    Resolver resolver;            // empty: resolve()
    std::int64_t tick_ms = 50;    // the checker's scan
    std::size_t max_probes = 64;  // health checks in flight at once
    std::int64_t resolver_poll_ms = 250;
  };

  explicit UpstreamMonitor(Sink sink);
  UpstreamMonitor(Sink sink, Options options);
  ~UpstreamMonitor();
  UpstreamMonitor(const UpstreamMonitor&) = delete;
  UpstreamMonitor& operator=(const UpstreamMonitor&) = delete;

  // Start and reload: the group of each upstream, in the order given. An upstream that stays
  // (by name) keeps its group and its servers' state; one that goes is forgotten here (workers
  // with requests in flight still hold it).
  std::vector<std::shared_ptr<UpstreamGroup>> configure(const std::vector<GroupConfig>& configs);
  void start();
  void stop();  // idempotent; waits for the checker, and for the resolver up to 3 s
  std::vector<std::shared_ptr<UpstreamGroup>> groups() const;
  std::shared_ptr<UpstreamGroup> find(const std::string& name) const;
  std::uint64_t checks_run() const { return checks_.load(std::memory_order_relaxed); }

 private:
  class Probe;
  struct Shared;  // what the resolver thread holds: it may outlive this object (stop())
  struct ProbeState {
    std::shared_ptr<Endpoint> keep;
    std::int64_t next_ms = 0;
    Probe* probe = nullptr;
    std::uint64_t seen = 0;
  };

  static void resolve_loop(const std::shared_ptr<Shared>& shared);
  void run_checker();
  void scan();
  void start_probe(const std::shared_ptr<UpstreamGroup>& group, const EndpointSet::Entry& entry,
                   const HealthCheckConfig& health, ProbeState& state, std::int64_t now);
  void finish(Probe* probe, bool passed, std::uint16_t status, const std::string& why);
  static void on_tick(void* self);

  Sink sink_;
  Options options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<UpstreamGroup>> groups_;
  std::shared_ptr<Shared> shared_;

  // The checker thread's.
  EventLoop loop_;
  Timer tick_;
  std::atomic<bool> stop_{false};
  std::map<const Endpoint*, ProbeState> probes_;
  std::map<std::string, bool> unavailable_;  // by upstream: announced as having no server
  std::vector<UpstreamEvent> pending_;
  std::size_t in_flight_ = 0;
  std::uint64_t scan_ = 0;
  std::atomic<std::uint64_t> checks_{0};
  std::thread checker_;
  std::thread resolver_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace gh::net
