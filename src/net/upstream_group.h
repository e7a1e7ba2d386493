// The servers of one upstream as every worker sees them: each configured server's addresses
// (endpoints), their weights, and their health. One UpstreamGroup per upstream, shared by the
// workers and the monitor (upstream_monitor.h), outliving reloads so health and ejections are
// kept. The request path reads it without a lock (atomics, and an immutable endpoint set
// swapped when addresses or the config change); it locks only to report a failure, or the first
// success after failures.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "client/address-t.h"
#include "net/balance.h"
#include "net/upstream-t.h"

namespace gh::net {

class UpstreamPool;

// One address of one configured server.
struct Endpoint {
  explicit Endpoint(const client::SocketAddress& a, const EjectionConfig& e)
      : address(a), ejection(e) {}
  const client::SocketAddress address;

  // Read on every pick; written under the group's lock.
  std::atomic<std::int64_t> ejected_until{0};  // monotonic ms; in the past = admitted
  std::atomic<bool> down{false};               // the active health check says so
  // A failure streak or a probation is open: the next success must be reported (under the
  // lock). Otherwise a success costs one relaxed load.
  std::atomic<bool> watch{false};
  std::atomic<std::uint64_t> requests{0};  // requests sent to it (tries: a retry counts again)
  std::atomic<std::uint64_t> failures{0};  // failures seen by requests, ever

  // Under the group's lock.
  Ejection ejection;
  HealthStreak health;
  std::string last_failure;  // the last transport failure a request saw
  std::uint64_t checks = 0;
  std::uint64_t checks_failed = 0;
  std::uint16_t last_status = 0;  // of the last health check; 0 = no answer
  std::string last_check_error;   // empty when the last check passed
  std::int64_t last_check_wall_ms = 0;
  // What the monitor announced last (its thread, under the lock).
  bool announced_ejected = false;

  bool admitted(std::int64_t now) const {
    return !down.load(std::memory_order_relaxed) &&
           ejected_until.load(std::memory_order_relaxed) <= now;
  }
};

// An immutable list of endpoints with their weights: replaced, never changed.
struct EndpointSet {
  struct Entry {
    std::shared_ptr<Endpoint> endpoint;
    std::uint32_t weight = 1;
    std::string server;  // as written ("app.internal:3000")
  };
  std::uint64_t version = 0;
  std::vector<Entry> entries;
};

struct EndpointStatus {
  std::string server;  // as written ("app.internal:3000")
  client::SocketAddress address;
  std::uint32_t weight = 1;
  bool down = false;
  bool ejected = false;
  std::int64_t ejected_ms_left = 0;
  bool probation = false;
  std::uint32_t failure_streak = 0;
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  std::uint64_t ejections = 0;
  std::string last_failure;
  std::uint64_t checks = 0;
  std::uint64_t checks_failed = 0;
  std::uint16_t last_status = 0;
  std::string last_check_error;
  std::int64_t last_check_wall_ms = 0;
};

struct NameStatus {
  std::string server;  // as written
  bool literal = false;
  std::size_t addresses = 0;
  std::int64_t resolved_wall_ms = 0;  // last successful resolution; 0 = at load only
  std::string error;                  // the current resolution failure, if any
};

struct GroupStatus {
  std::string name;
  bool health_checks = false;
  std::size_t admitted = 0;  // endpoints neither down nor ejected
  std::vector<EndpointStatus> endpoints;
  std::vector<NameStatus> names;
};

// A change the monitor announces (events, log).
struct UpstreamEvent {
  std::string kind;  // upstream_down, _up, _ejected, _readmitted, _addresses, _resolve_failed,
                     // _resolved, _unavailable, _available
  std::string upstream;
  std::string server;   // as written; empty for the whole upstream
  std::string address;  // one endpoint; empty otherwise
  std::string message;
  std::vector<std::string> added;
  std::vector<std::string> removed;
};

class UpstreamGroup {
 public:
  explicit UpstreamGroup(const GroupConfig& config);
  UpstreamGroup(const UpstreamGroup&) = delete;
  UpstreamGroup& operator=(const UpstreamGroup&) = delete;

  const std::string& name() const { return name_; }

  // A reload: the new servers and settings. Endpoints of a (server, address) that stays keep
  // their state; the addresses of a name that stays are those last resolved.
  void configure(const GroupConfig& config);
  HealthCheckConfig health() const;
  std::uint32_t resolve_interval_ms() const;

  // ---- workers
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::shared_ptr<const EndpointSet> endpoints() const;
  void succeeded(Endpoint& e, std::int64_t now) {
    if (e.watch.load(std::memory_order_relaxed)) succeeded_slow(e, now);
  }
  // A transport failure of a request; true when it ejected the endpoint.
  bool failed(Endpoint& e, std::int64_t now, std::string_view why);
  // How long a server marked down by the health checks takes at least to come back.
  std::int64_t down_wait_ms() const { return down_wait_ms_.load(std::memory_order_relaxed); }

  // ---- the monitor
  struct Name {
    std::uint64_t config_version = 0;
    std::size_t server = 0;
    std::string host;
    std::uint16_t port = 0;
  };
  // Names to re-resolve (servers that are not IP addresses).
  std::vector<Name> names() const;
  // A resolution of names()[i]; ignored when the config changed meanwhile. A change of
  // addresses fills `event` and returns true; so does the first failure, and the first
  // success after failures.
  bool resolved(const Name& name, bool ok, std::vector<client::SocketAddress> addresses,
                const std::string& error, bool truncated, std::int64_t wall_ms,
                UpstreamEvent* event);
  // A health check's outcome. `status` 0 = no answer. Returns the change, if any.
  HealthStreak::Change checked(Endpoint& e, bool passed, std::uint16_t status,
                               const std::string& why, std::int64_t now, std::int64_t wall_ms,
                               UpstreamEvent* event);
  // Ejections and re-admissions since the last call, as events.
  void transitions(std::int64_t now, std::vector<UpstreamEvent>& out);
  std::size_t admitted(std::int64_t now) const;

  GroupStatus status(std::int64_t now) const;

 private:
  struct NameState {
    std::int64_t resolved_wall_ms = 0;
    std::string error;  // set while resolution fails (announced once)
  };
  void succeeded_slow(Endpoint& e, std::int64_t now);
  // A new set from config_.servers, reusing the endpoints of (server, address) pairs that stay.
  void rebuild_locked();
  std::string endpoint_name_locked(const EndpointSet::Entry& entry) const;

  const std::string name_;
  mutable std::mutex mu_;
  GroupConfig config_;            // servers with their current addresses
  std::vector<NameState> names_;  // by server
  std::uint64_t config_version_ = 1;
  std::shared_ptr<const EndpointSet> set_;
  std::atomic<std::uint64_t> version_{0};
  std::atomic<std::int64_t> down_wait_ms_{0};
};

// One worker's view of one group: its own round robin (no shared writes on the request path)
// and its peers, which outlive a change of the set for as long as requests use them. Draining:
// an address no peer of any balancer names any more is retired from the worker's connection pool.
class Balancer {
 public:
  struct Peer {
    std::shared_ptr<Endpoint> endpoint;
    std::uint32_t users = 0;
    bool retired = false;
  };

  Balancer(std::shared_ptr<UpstreamGroup> group, UpstreamPool& pool);
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  UpstreamGroup& group() const { return *group_; }
  // The next admitted peer by weight, other than `exclude`; null when none is admitted.
  Peer* pick(std::int64_t now, const Peer* exclude = nullptr);
  void use(Peer* p) { ++p->users; }
  void release(Peer* p);
  // Seconds after which a server is likely back (no lock: an outage's 503s must stay cheap):
  // the soonest end of an ejection, or one round of health checks; 1..60.
  std::uint32_t retry_after_s(std::int64_t now) const;
  // Peers in use or kept for requests in flight.
  bool in_use() const;
  std::size_t size() const { return peers_.size(); }

 private:
  void refresh();

  std::shared_ptr<UpstreamGroup> group_;
  UpstreamPool& pool_;
  std::uint64_t version_ = 0;
  std::vector<Peer*> peers_;
  WeightedRoundRobin rr_;
  std::vector<Peer*> retired_;
};

}  // namespace gh::net
