// The operator's view of a running Server: per-worker counters a session hook fills at the end
// of each exchange (route x class x verdict, latency histograms, heavy hitters, the access log),
// and the Observer the housekeeping thread drives once a second (the 600 s series, one Minute on
// disk per minute, the event log, incident reports when an automatic mode ends). The admin API
// reads it all through Server::observer().
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/address-t.h"
#include "gate/stats.h"
#include "http/message-t.h"
#include "observe/access_log.h"
#include "observe/events.h"
#include "observe/minutes.h"
#include "observe/series.h"
#include "observe/top.h"
#include "policy/config-t.h"
#include "stages/verdict-t.h"

namespace gh::gate {
struct Exchange;
struct Runtime;
struct ModeChange;
}  // namespace gh::gate

namespace gh::proxy {

class Server;
class Worker;

struct ObserveOptions {
  bool persist = true;       // events.jsonl, minutes.jsonl and reports/ in config.state_dir
  bool access_log = false;   // <state_dir>/access.log (run and demo turn it on)
  bool auto_reports = true;  // an incident report when an automatic mode returns to normal
};

// Latency histogram bounds in ms ("le" of the Prometheus buckets); one more slot is +Inf.
inline constexpr std::array<std::uint32_t, 20> kLatencyBoundsMs = {
    1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000};
inline constexpr std::size_t kLatencySlots = kLatencyBoundsMs.size() + 1;
// Route names counted separately; a config with more routes counts the rest under the last one.
inline constexpr std::size_t kRouteSlots = 64;
inline constexpr std::size_t kCells = kRouteSlots * 4 * 8;  // route x class x verdict
inline constexpr std::size_t kTopCapacity = 64;             // heavy-hitter slots per dimension

struct LatencyHistogram {
  std::array<gate::Counter, kLatencySlots> buckets;  // not cumulative; summed when exported
  gate::Counter sum_ms;
  void add(std::uint32_t ms);
};

// One worker's share. Counters have the worker as their only writer; the heavy hitters are
// behind `top_mu`, taken by the worker only for sampled requests and by the housekeeping thread
// once a second to copy them.
struct WorkerObserve {
  std::array<gate::Counter, kCells> cells;  // requests by route slot, class, verdict
  LatencyHistogram client;                  // head received -> answer written
  LatencyHistogram upstream;                // request sent -> upstream response head
  gate::Counter login_requests, login_failed, login_limited, head_timeouts;
  // Distinct client prefixes per wall-clock minute (linear counting over 16384 bits); two
  // minutes alternate so the finished one is read while the next one fills.
  struct Distinct {
    std::atomic<std::int64_t> minute{-1};
    std::array<std::atomic<std::uint64_t>, 256> bits{};
  };
  std::array<Distinct, 2> distinct;
  std::mutex top_mu;
  observe::HeavyHitters prefixes{kTopCapacity}, user_agents{kTopCapacity}, accounts{kTopCapacity};

  // Worker-only state of the hook.
  int local_status = 0;  // status of the answer Gatehouse wrote itself (set by the session)
  std::array<std::uint64_t, 8> terminal_seen{};  // see record_exchange()
  const gate::Runtime* slots_for = nullptr;
  std::vector<std::uint16_t> route_slot;  // route index -> slot, for `slots_for`
  std::uint32_t sample = 0;
};

// What the access log names of a request, copied when its exchange begins: a forwarded
// request's head is gone from the input buffer by the time the exchange ends. Cut to size.
struct RequestText {
  observe::FixedText<8> method;
  observe::FixedText<256> path;  // without the query string, which may carry secrets
  observe::FixedText<128> user_agent;
  void set(const http::RequestHead& head);
  void clear() { method.size = path.size = user_agent.size = 0; }
};

// What the session knows when an exchange ends.
struct ExchangeInfo {
  const gate::Runtime* runtime = nullptr;  // null: no exchange had begun (e.g. a head timeout)
  const policy::RouteConfig* route = nullptr;
  policy::ClientClass client_class = policy::ClientClass::Anonymous;
  bool proxied = false;  // the answer is the upstream's
  int status = 0;        // proxied: the upstream's; otherwise WorkerObserve::local_status
  stages::Action limit_action = stages::Action::Continue;
  client::IpAddress client;
  client::Cidr prefix;
  const RequestText* text = nullptr;  // null when no head was parsed (a malformed one)
  std::int64_t start_ms = 0;          // head started (loop clock)
  std::int64_t upstream_us = -1;      // request sent -> response head; -1 when not sent
  bool has_account = false;
  std::uint64_t account_hash = 0;
  std::uint64_t bytes_in = 0;   // request head and body bytes read from the client
  std::uint64_t bytes_out = 0;  // answer bytes (head and body) produced towards the client
  const std::array<std::uint8_t, 16>* device = nullptr;  // a resident's device id, when one
  bool spliced = false;  // an upgraded connection: its hours are no latency of the route
};

// The session hook: counts, samples the heavy hitters and writes the access record. No
// allocation except when the worker first sees a new config generation.
void record_exchange(Worker& worker, const ExchangeInfo& x);
// What an exchange that began tells of itself (route, class, verdict, client, account, device),
// the same for every transport; the transport adds the bytes it moved.
ExchangeInfo exchange_info(const gate::Exchange& x, const gate::Runtime* runtime, bool proxied,
                           int status, const RequestText* text, std::int64_t start_ms);

// The figures summed over workers, for /metrics.
struct ObserveTotals {
  std::vector<std::string> routes;  // slot -> route name
  std::array<std::uint64_t, kCells> cells{};
  std::array<std::uint64_t, kLatencySlots> client{}, upstream{};
  std::uint64_t client_sum_ms = 0, upstream_sum_ms = 0;
  std::uint64_t client_count = 0, upstream_count = 0;
  std::uint64_t cell(std::size_t slot, std::size_t cls, std::size_t verdict) const {
    return cells[(slot * 4 + cls) * 8 + verdict];
  }
};

class Observer {
 public:
  explicit Observer(Server& server);
  ~Observer();

  // Opens the files under config.state_dir (with options.persist) and the access log. Problems
  // are warnings (returned), never fatal: the shield must run without its history.
  std::vector<std::string> open(const policy::Config& config, const ObserveOptions& options,
                                unsigned workers);
  const ObserveOptions& options() const { return options_; }
  const std::string& state_dir() const { return state_dir_; }

  // Thread-safe. Stamps the time and logs the event.
  void event(std::string kind, std::string route, std::string message,
             nlohmann::json data = nullptr);
  std::vector<observe::Event> recent_events(std::size_t n) const;
  // Who set the next manual mode of `route` ("admin", "ctl", "dashboard").
  void note_manual(const std::string& route, const std::string& by);
  void on_mode_change(const gate::ModeChange& change);

  // Housekeeping, once a second: one point of the series; each minute a record on disk.
  void tick(std::int64_t wall_ms);
  // At stop (housekeeping ended): a last point, the minute in progress written, the access log
  // flushed.
  void finish(std::int64_t wall_ms);
  nlohmann::json series(std::size_t seconds) const;
  observe::Offenders top(std::size_t n) const;
  ObserveTotals totals() const;
  // Queue length (rooms + admission queues) and newcomers admitted per minute, as last sampled.
  std::uint64_t queue_length() const { return queue_length_.load(std::memory_order_relaxed); }
  double admission_rate_per_s() const;

  std::uint16_t route_slot(const std::string& name);
  observe::AccessLog* access_log() { return access_.get(); }
  const observe::AccessLog* access_log_const() const { return access_.get(); }
  // Sign-up mode changes since start, by route and by whom (a trigger, or by hand).
  struct ModeChanges {
    std::string route;
    bool manual = false;
    std::uint64_t count = 0;
  };
  std::vector<ModeChanges> mode_changes() const;
  std::uint64_t events_recorded() const { return events_n_.load(std::memory_order_relaxed); }
  // Writes <state_dir>/reports/incident-<time>.md for [since, until); the path, or empty.
  std::string write_incident_report(std::int64_t since_ms, std::int64_t until_ms);
  std::uint64_t reports_written() const { return reports_.load(std::memory_order_relaxed); }

 private:
  struct Prev {
    std::array<std::uint64_t, kCells> cells{};
    std::array<std::uint64_t, kLatencySlots> upstream{};
    std::uint64_t login_requests = 0, login_failed = 0, login_limited = 0, head_timeouts = 0;
    std::uint64_t admitted = 0;
    observe::Figures signup;  // the sign-up cost counters, as totals
  };
  void fold_minute(std::int64_t minute_start_ms, std::int64_t wall_ms);

  Server& server_;
  ObserveOptions options_;
  std::string state_dir_;
  std::unique_ptr<observe::EventLog> events_;
  std::unique_ptr<observe::MinuteStore> minutes_;
  std::unique_ptr<observe::AccessLog> access_;
  observe::SecondSeries series_;

  mutable std::mutex mu_;  // slots, manual_by_, top_, auto_since_, minute state
  std::map<std::string, std::uint16_t> slots_;
  std::vector<std::string> slot_names_;
  std::map<std::string, std::string> manual_by_;
  observe::HeavyHitters top_prefixes_{kTopCapacity}, top_uas_{kTopCapacity},
      top_accounts_{kTopCapacity};
  std::map<std::string, std::int64_t> auto_since_;  // route -> when an automatic mode began
  std::map<std::pair<std::string, bool>, std::uint64_t> mode_changes_;  // (route, manual)
  std::map<std::string, std::uint64_t> minute_routes_;
  std::uint64_t minute_distinct_ = 0;
  std::optional<observe::Minute::Fleet> minute_fleet_;  // with cluster:, this minute so far

  Prev prev_;  // housekeeping thread only
  std::int64_t minute_start_ms_ = 0;
  std::atomic<std::uint64_t> queue_length_{0};
  std::atomic<std::uint64_t> admitted_last_minute_{0};
  std::atomic<std::uint64_t> reports_{0};
  std::atomic<std::uint64_t> events_n_{0};
};

}  // namespace gh::proxy
