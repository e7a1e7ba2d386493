#include "proxy/observe.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "fleet/nodes.h"
#include "gate/defence.h"
#include "gate/exchange.h"
#include "gate/runtime.h"
#include "http/parser.h"
#include "observe/jsonl.h"
#include "observe/report.h"
#include "proxy/server.h"
#include "proxy/worker.h"
#include "stages/admission/mode_controller.h"

namespace gh::proxy {

namespace {

using observe::Verdict;

constexpr std::int64_t kMinuteMs = 60'000;

std::size_t cell_index(std::size_t slot, std::size_t cls, Verdict v) {
  return (slot * 4 + cls) * 8 + static_cast<std::size_t>(v);
}

std::size_t latency_slot(std::uint32_t ms) {
  auto it = std::lower_bound(kLatencyBoundsMs.begin(), kLatencyBoundsMs.end(), ms);
  return static_cast<std::size_t>(it - kLatencyBoundsMs.begin());
}

// Counters that are incremented right before the answer Gatehouse writes itself, in the same
// call: a difference since the previous exchange ended on this worker names the refusal of this
// one (workers are single-threaded, and none of these is counted ahead of a later answer).
struct Terminal {
  gate::Counter gate::WorkerStats::*counter;
  Verdict verdict;
};
constexpr std::array<Terminal, 8> kTerminal = {{
    {&gate::WorkerStats::requests_denied_list, Verdict::Denied},
    {&gate::WorkerStats::reputation_denied, Verdict::Denied},
    {&gate::WorkerStats::requests_banned, Verdict::Banned},
    {&gate::WorkerStats::challenges_issued, Verdict::Challenged},
    {&gate::WorkerStats::signup_closed, Verdict::Closed},
    {&gate::WorkerStats::waitroom_queued, Verdict::Queued},
    {&gate::WorkerStats::waitroom_full, Verdict::Shed},
    {&gate::WorkerStats::admission_shed, Verdict::Shed},
}};

Verdict verdict_of(const ExchangeInfo& x, gate::WorkerStats& stats, WorkerObserve& o) {
  std::optional<Verdict> found;
  for (std::size_t i = 0; i < kTerminal.size(); ++i) {
    const std::uint64_t now = (stats.*kTerminal[i].counter).get();
    if (now != o.terminal_seen[i] && !found) found = kTerminal[i].verdict;
    o.terminal_seen[i] = now;
  }
  if (x.proxied) return Verdict::Passed;
  if (x.status == 429 || x.limit_action == stages::Action::Reject ||
      x.limit_action == stages::Action::Tarpit || x.limit_action == stages::Action::Drop) {
    return Verdict::RateLimited;
  }
  if (found) return *found;
  if (x.status == 503) return Verdict::Shed;  // e.g. the upstream pool was full
  if (x.status >= 400 && x.status < 500) return Verdict::Denied;
  // Below 400 here: Gatehouse's own endpoints served (the solver script, a solved challenge),
  // or the request went upstream, which failed (502, 504), or the client left. The challenge
  // itself was counted when it was issued; its successful answer is not a second one.
  return Verdict::Passed;
}

std::string_view user_agent_of(const http::RequestHead& h) {
  for (std::uint16_t i = 0; i < h.field_count; ++i) {
    if (http::iequals(h.fields[i].name, "user-agent")) return h.fields[i].value;
  }
  return {};
}

// "203.0.113.0/24" into `buf` without allocating.
std::string_view prefix_text(const client::Cidr& c, char (&buf)[64]) {
  char* end = buf;
  if (c.address.is_v4) {
    for (int i = 0; i < 4; ++i) {
      end = std::to_chars(end, buf + sizeof buf, c.address.bytes[12 + i]).ptr;
      *end++ = i < 3 ? '.' : '/';
    }
  } else {
    if (::inet_ntop(AF_INET6, c.address.bytes.data(), buf, INET6_ADDRSTRLEN) == nullptr) return {};
    end = buf + std::char_traits<char>::length(buf);
    *end++ = '/';
  }
  end = std::to_chars(end, buf + sizeof buf, c.prefix_len).ptr;
  return {buf, static_cast<std::size_t>(end - buf)};
}

std::uint64_t prefix_hash(const client::Cidr& c) {
  std::uint64_t a = 0, b = 0;
  std::memcpy(&a, c.address.bytes.data(), 8);
  std::memcpy(&b, c.address.bytes.data() + 8, 8);
  return core::mix64(a ^ core::mix64(b ^ c.prefix_len));
}

void note_distinct(WorkerObserve& o, const client::Cidr& prefix) {
  const std::int64_t minute = core::wall_seconds() / 60;
  WorkerObserve::Distinct& d = o.distinct[static_cast<std::size_t>(minute & 1)];
  if (d.minute.load(std::memory_order_relaxed) != minute) {
    for (auto& w : d.bits) w.store(0, std::memory_order_relaxed);
    d.minute.store(minute, std::memory_order_release);
  }
  const std::uint64_t h = prefix_hash(prefix) & 16383;
  auto& word = d.bits[h >> 6];
  const std::uint64_t bit = 1ULL << (h & 63);
  const std::uint64_t v = word.load(std::memory_order_relaxed);
  if ((v & bit) == 0) word.store(v | bit, std::memory_order_relaxed);
}

// Percentile from histogram counts: the bucket's upper bound, interpolated within it.
std::uint32_t percentile(const std::array<std::uint64_t, kLatencySlots>& counts, double q) {
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  if (total == 0) return 0;
  const double want = q * static_cast<double>(total);
  double seen = 0;
  for (std::size_t i = 0; i < kLatencySlots; ++i) {
    const double next = seen + static_cast<double>(counts[i]);
    if (next >= want && counts[i] != 0) {
      const double lo = i == 0 ? 0 : kLatencyBoundsMs[i - 1];
      const double hi = i < kLatencyBoundsMs.size() ? kLatencyBoundsMs[i] : lo * 2;
      const double f = (want - seen) / static_cast<double>(counts[i]);
      return static_cast<std::uint32_t>(std::lround(lo + (hi - lo) * f));
    }
    seen = next;
  }
  return kLatencyBoundsMs.back();
}

}  // namespace

void LatencyHistogram::add(std::uint32_t ms) {
  buckets[latency_slot(ms)].add();
  sum_ms.add(ms);
}

void RequestText::set(const http::RequestHead& head) {
  method.set(http::method_name(head.method));
  path.set(head.path);
  user_agent.set(user_agent_of(head));
}

namespace {

void log_access(Worker& worker, const ExchangeInfo& x, Verdict verdict, std::size_t cls,
                std::uint32_t duration_ms, std::uint32_t upstream_ms) {
  observe::AccessLog* log = worker.server().observer().access_log();
  if (log == nullptr) return;
  observe::AccessRecord r;
  r.at_ms = core::wall_ms();
  if (x.client.is_v4) {
    r.family = 4;
    std::memcpy(r.address, x.client.bytes.data() + 12, 4);
  } else {
    r.family = 6;
    std::memcpy(r.address, x.client.bytes.data(), 16);
  }
  r.status = static_cast<std::uint16_t>(x.status);
  r.verdict = verdict;
  r.client_class = static_cast<std::uint8_t>(cls);
  r.duration_ms = duration_ms;
  r.upstream_ms = upstream_ms;
  r.bytes_in = x.bytes_in;
  r.bytes_out = x.bytes_out;
  if (x.route != nullptr) r.route.set(x.route->name);
  if (x.text != nullptr) {
    r.method = x.text->method;
    r.path = x.text->path;
    r.user_agent = x.text->user_agent;
  }
  if (x.device != nullptr) {
    r.has_device = true;
    std::memcpy(r.device, x.device->data(), sizeof r.device);
  }
  log->log(worker.index(), r);
}

std::uint32_t since_ms(Worker& worker, std::int64_t start_ms) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(worker.loop().now_ms() - start_ms, 0, 1 << 30));
}

}  // namespace

ExchangeInfo exchange_info(const gate::Exchange& x, const gate::Runtime* runtime, bool proxied,
                           int status, const RequestText* text, std::int64_t start_ms) {
  return {.runtime = runtime,
          .route = x.route,
          .client_class = x.cls,
          .proxied = proxied,
          .status = status,
          .limit_action = x.limit_verdict.action,
          .client = x.client,
          .prefix = x.prefix,
          .text = text,
          .start_ms = start_ms,
          .upstream_us = x.rtt_us,
          .has_account = x.has_account,
          .account_hash = x.account_hash,
          .device = x.cls == policy::ClientClass::Resident ? &x.device_id : nullptr};
}

void record_exchange(Worker& worker, const ExchangeInfo& x) {
  WorkerObserve& o = worker.observe();
  gate::WorkerStats& stats = worker.stats();
  if (x.runtime == nullptr) {
    // An answer outside any exchange: a malformed head (400, 414, 431, 501, 505) or a head not
    // sent in time (408). Not counted by route, but the access log says it happened.
    if (x.status == 408) o.head_timeouts.add();
    o.local_status = 0;
    if (x.status != 0) {
      log_access(worker, x, Verdict::Denied,
                 static_cast<std::size_t>(policy::ClientClass::Anonymous),
                 since_ms(worker, x.start_ms), 0);
    }
    return;
  }
  const Verdict verdict = verdict_of(x, stats, o);
  o.local_status = 0;
  const std::size_t cls = std::min<std::size_t>(static_cast<std::size_t>(x.client_class), 3);

  // Route slots: looked up by name once per config generation seen by this worker.
  std::size_t slot = kRouteSlots - 1;
  std::size_t route_index = SIZE_MAX;
  if (x.route != nullptr) {
    const auto& routes = x.runtime->policy->routes.routes();
    route_index = static_cast<std::size_t>(x.route - routes.data());
    if (o.slots_for != x.runtime) {
      o.route_slot.clear();
      for (const auto& r : routes)
        o.route_slot.push_back(worker.server().observer().route_slot(r.name));
      o.slots_for = x.runtime;
    }
    if (route_index < o.route_slot.size()) slot = o.route_slot[route_index];
  } else {
    slot = worker.server().observer().route_slot("(none)");
  }
  o.cells[cell_index(slot, cls, verdict)].add();

  const std::uint32_t duration = since_ms(worker, x.start_ms);
  if (!x.spliced) o.client.add(duration);
  std::uint32_t upstream_ms = 0;
  if (x.upstream_us >= 0) {
    upstream_ms = static_cast<std::uint32_t>(std::min<std::int64_t>(x.upstream_us / 1000, 1 << 30));
    o.upstream.add(upstream_ms);
  }
  if (x.route != nullptr && x.route->route_class == policy::RouteClass::Login) {
    o.login_requests.add();
    if (x.proxied && (x.status == 401 || x.status == 403)) o.login_failed.add();
    if (verdict == Verdict::RateLimited) o.login_limited.add();
  }
  note_distinct(o, x.prefix);

  const std::string_view ua = x.text != nullptr ? x.text->user_agent.view() : std::string_view{};
  // Heavy hitters: every refusal, and one in 16 of the rest (weighted 16, so counts stay
  // comparable): the lock is the worker's own, contended once a second at most.
  const bool refused = verdict != Verdict::Passed;
  if (refused || (++o.sample & 15) == 0) {
    const std::uint32_t weight = refused ? 1 : 16;
    char buf[64];
    std::lock_guard lock(o.top_mu);
    o.prefixes.add(prefix_text(x.prefix, buf), weight);
    if (!ua.empty()) o.user_agents.add(ua.substr(0, observe::kTopKeyMax), weight);
    if (x.has_account) {
      // Account names are not kept by the session; its hash names the account consistently.
      char acct[24] = "account#";
      auto* end = std::to_chars(acct + 8, acct + sizeof acct, x.account_hash >> 32, 16).ptr;
      o.accounts.add({acct, static_cast<std::size_t>(end - acct)}, weight);
    }
  }

  log_access(worker, x, verdict, cls, duration, upstream_ms);
}

// ---- Observer --------------------------------------------------------------------------------

Observer::Observer(Server& server) : server_(server) {
  slot_names_.reserve(kRouteSlots);
}
Observer::~Observer() = default;

std::vector<std::string> Observer::open(const policy::Config& config, const ObserveOptions& options,
                                        unsigned workers) {
  std::vector<std::string> warnings;
  options_ = options;
  state_dir_ = config.state_dir;
  if (options.persist && !state_dir_.empty()) {
    std::string error;
    events_ = observe::EventLog::open(state_dir_, observe::EventLogOptions{}, &error);
    if (events_ == nullptr)
      warnings.push_back("event log: " + error + " (events kept in memory only)");
    minutes_ = observe::MinuteStore::open(state_dir_, observe::RotateOptions{8 << 20, 4}, &error);
    if (minutes_ == nullptr) warnings.push_back("per-minute store: " + error);
  }
  if (events_ == nullptr) events_ = std::make_unique<observe::EventLog>();
  const policy::AccessLogConfig& al = config.access_log;
  if (options.access_log && al.enabled && !state_dir_.empty()) {
    observe::AccessLogOptions ao;
    ao.path = al.path.empty() ? state_dir_ + "/access.log" : al.path;
    ao.refusals_keep_per_s = al.refusals_keep_per_s;
    ao.refusals_sample_one_in = al.refusals_sample_one_in;
    ao.files = observe::RotateOptions{al.max_file_bytes, al.max_files};
    std::string error;
    if (observe::make_dirs(state_dir_, &error)) {
      access_ = observe::AccessLog::open(ao, std::max(1u, workers), &error);
    }
    if (access_ == nullptr) warnings.push_back("access log: " + error + " (not written)");
  }
  minute_start_ms_ = core::wall_ms() / kMinuteMs * kMinuteMs;
  return warnings;
}

std::uint16_t Observer::route_slot(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(name);
  if (it != slots_.end()) return it->second;
  if (slot_names_.size() >= kRouteSlots - 1) {
    if (slot_names_.size() == kRouteSlots - 1) slot_names_.push_back("(other)");
    return kRouteSlots - 1;
  }
  const auto slot = static_cast<std::uint16_t>(slot_names_.size());
  slot_names_.push_back(name);
  slots_[name] = slot;
  return slot;
}

void Observer::event(std::string kind, std::string route, std::string message,
                     nlohmann::json data) {
  observe::Event e;
  e.at_ms = core::wall_ms();
  e.kind = std::move(kind);
  e.route = std::move(route);
  e.message = std::move(message);
  e.data = std::move(data);
  events_n_.fetch_add(1, std::memory_order_relaxed);
  {
    core::LogFields fields = {{"event", e.kind}};
    if (!e.route.empty()) fields["route"] = e.route;
    if (e.data.is_object()) {
      for (const auto& [k, v] : e.data.items()) fields[k] = v;
    }
    core::log(spdlog::level::info, fields, "event {}{}{}: {}", e.kind, e.route.empty() ? "" : " ",
              e.route, e.message);
  }
  if (events_ != nullptr && !events_->append(std::move(e))) {
    spdlog::warn("event log: cannot write: {}", events_->last_error());
  }
}

std::vector<Observer::ModeChanges> Observer::mode_changes() const {
  std::lock_guard lock(mu_);
  std::vector<ModeChanges> out;
  for (const auto& [key, n] : mode_changes_) out.push_back({key.first, key.second, n});
  return out;
}

std::vector<observe::Event> Observer::recent_events(std::size_t n) const {
  if (events_ == nullptr) return {};
  return events_->recent(n);
}

void Observer::note_manual(const std::string& route, const std::string& by) {
  std::lock_guard lock(mu_);
  manual_by_[route] = by;
}

void Observer::on_mode_change(const gate::ModeChange& c) {
  std::string by;
  std::optional<std::int64_t> report_since;
  std::string configured = "open";
  for (const policy::RouteConfig& r : server_.snapshot()->routes.routes()) {
    if (r.name == c.route) configured = std::string(admission::mode_name(r.signup.mode));
  }
  {
    std::lock_guard lock(mu_);
    if (c.manual) {
      auto it = manual_by_.find(c.route);
      by = it != manual_by_.end() ? it->second : "admin";
      if (it != manual_by_.end()) manual_by_.erase(it);
    } else {
      by = "trigger";
    }
    ++mode_changes_[{c.route, c.manual}];
    // The incident: from when a trigger took the route away from its configured mode until a
    // trigger brings it back. A manual change in between does not end it.
    if (!c.manual && c.from == configured && c.to != configured) {
      auto_since_.emplace(c.route, c.at_ms);
    } else if (!c.manual && c.to == configured) {
      auto it = auto_since_.find(c.route);
      if (it != auto_since_.end()) {
        report_since = it->second;
        auto_since_.erase(it);
      }
    }
  }
  std::string message = c.from + " -> " + c.to;
  if (!c.reason.empty()) message += ": " + c.reason;
  event("mode_change", c.route, message,
        {{"from", c.from},
         {"to", c.to},
         {"by", by},
         {"reason", c.reason},
         {"configured", configured}});
  if (report_since && options_.auto_reports && options_.persist) {
    // A little before and after, so the report's first and last minutes hold the edges.
    const std::string path = write_incident_report(*report_since - kMinuteMs, core::wall_ms() + 1);
    if (!path.empty()) {
      event("report", c.route, "incident report written: " + path,
            {{"path", path}, {"by", "auto"}});
    }
  }
}

std::string Observer::write_incident_report(std::int64_t since_ms, std::int64_t until_ms) {
  if (state_dir_.empty()) return {};
  since_ms = since_ms / kMinuteMs * kMinuteMs;
  observe::ReportInput in = observe::load_report_input(state_dir_, since_ms, until_ms);
  // The minute in progress is not on disk yet: add it from the live series.
  const std::int64_t partial_from =
      in.minutes.empty() ? since_ms : in.minutes.back().at_ms + kMinuteMs;
  if (partial_from < until_ms) {
    observe::Minute m = series_.fold(std::max(partial_from, since_ms), until_ms);
    if (m.figures.requests() != 0) {
      m.at_ms = std::max(partial_from, since_ms) / kMinuteMs * kMinuteMs;
      m.top = top(observe::kMinuteTopMax);
      in.minutes.push_back(std::move(m));
    }
  }
  // Events of the last moments may not be on disk when the log could not be opened: memory has
  // them.
  if (in.events.empty()) {
    for (auto& e : recent_events(1000)) {
      if (e.at_ms >= since_ms && e.at_ms < until_ms) in.events.push_back(std::move(e));
    }
  }
  in.top = top(observe::kMinuteTopMax);
  in.generated_at_ms = core::wall_ms();
  const std::string dir = state_dir_ + "/reports";
  std::string error;
  if (!observe::make_dirs(dir, &error)) {
    spdlog::warn("incident report: {}", error);
    return {};
  }
  std::string stamp = observe::format_time(until_ms);
  stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
  const std::string path = dir + "/incident-" + stamp + ".md";
  std::ofstream out(path, std::ios::trunc);
  out << observe::write_report(in);
  if (!out) {
    spdlog::warn("incident report: cannot write {}", path);
    return {};
  }
  reports_.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("incident report written: {}", path);
  return path;
}

ObserveTotals Observer::totals() const {
  ObserveTotals t;
  {
    std::lock_guard lock(mu_);
    t.routes = slot_names_;
  }
  server_.each_worker([&](Worker& w) {
    WorkerObserve& o = w.observe();
    for (std::size_t i = 0; i < kCells; ++i) t.cells[i] += o.cells[i].get();
    for (std::size_t i = 0; i < kLatencySlots; ++i) {
      t.client[i] += o.client.buckets[i].get();
      t.upstream[i] += o.upstream.buckets[i].get();
    }
    t.client_sum_ms += o.client.sum_ms.get();
    t.upstream_sum_ms += o.upstream.sum_ms.get();
  });
  for (auto c : t.client) t.client_count += c;
  for (auto c : t.upstream) t.upstream_count += c;
  return t;
}

observe::Offenders Observer::top(std::size_t n) const {
  std::lock_guard lock(mu_);
  observe::Offenders o;
  o.prefixes = top_prefixes_.top(n);
  o.user_agents = top_uas_.top(n);
  o.accounts = top_accounts_.top(n);
  return o;
}

nlohmann::json Observer::series(std::size_t seconds) const {
  return series_.json(seconds);
}

double Observer::admission_rate_per_s() const {
  return static_cast<double>(admitted_last_minute_.load(std::memory_order_relaxed)) / 60.0;
}

void Observer::tick(std::int64_t wall_ms) {
  const ObserveTotals t = totals();
  std::uint64_t login_requests = 0, login_failed = 0, login_limited = 0, head_timeouts = 0;
  observe::HeavyHitters prefixes(kTopCapacity), uas(kTopCapacity), accounts(kTopCapacity);
  const bool new_minute = wall_ms / kMinuteMs * kMinuteMs != minute_start_ms_;
  std::uint64_t distinct_bits = 0;
  const std::int64_t finished_minute = minute_start_ms_ / kMinuteMs;
  server_.each_worker([&](Worker& w) {
    WorkerObserve& o = w.observe();
    login_requests += o.login_requests.get();
    login_failed += o.login_failed.get();
    login_limited += o.login_limited.get();
    head_timeouts += o.head_timeouts.get();
    {
      std::lock_guard lock(o.top_mu);
      prefixes.merge(o.prefixes);
      uas.merge(o.user_agents);
      accounts.merge(o.accounts);
      if (new_minute) {  // what is heavy now, not since start
        o.prefixes.decay();
        o.user_agents.decay();
        o.accounts.decay();
      }
    }
    if (new_minute) {
      const auto& d = o.distinct[static_cast<std::size_t>(finished_minute & 1)];
      if (d.minute.load(std::memory_order_acquire) == finished_minute) {
        for (const auto& word : d.bits)
          distinct_bits += static_cast<std::uint64_t>(
              __builtin_popcountll(word.load(std::memory_order_relaxed)));
      }
    }
  });

  // Queue length: waiting rooms' lines and requests waiting for an upstream slot.
  std::uint64_t queue = 0, admitted = 0, admitted_per_min = 0;
  observe::Second s;
  s.at_ms = wall_ms / 1000 * 1000;
  for (const gate::DefenceState::RouteStatus& r : server_.defence().routes_status()) {
    queue += r.room.queued;
    admitted += r.room.admitted_total;
    admitted_per_min += r.room.admission_rate_per_min;
    if (s.modes.size() < observe::kSeriesRoutesMax) {
      s.modes.push_back({r.route, static_cast<std::uint8_t>(r.mode)});
    }
  }
  admitted_last_minute_.store(admitted_per_min, std::memory_order_relaxed);
  server_.each_worker([&](Worker& w) { queue += w.admission_waiting(); });
  queue_length_.store(queue, std::memory_order_relaxed);

  std::map<std::string, std::uint64_t> route_delta;
  {  // counters start at zero with the workers: the first second counts from there
    observe::Figures& f = s.figures;
    for (std::size_t slot = 0; slot < kRouteSlots; ++slot) {
      std::uint64_t route_n = 0;
      for (std::size_t c = 0; c < 4; ++c) {
        for (std::size_t v = 0; v < 8; ++v) {
          const std::size_t i = (slot * 4 + c) * 8 + v;
          const std::uint64_t d = t.cells[i] - prev_.cells[i];
          if (d == 0) continue;
          f.verdicts[v] += d;
          f.class_requests[c] += d;
          if (v == static_cast<std::size_t>(Verdict::Passed)) f.class_served[c] += d;
          route_n += d;
        }
      }
      if (route_n != 0 && slot < t.routes.size()) route_delta[t.routes[slot]] += route_n;
    }
    std::array<std::uint64_t, kLatencySlots> up{};
    for (std::size_t i = 0; i < kLatencySlots; ++i) up[i] = t.upstream[i] - prev_.upstream[i];
    f.latency_p50_ms = percentile(up, 0.50);
    f.latency_p99_ms = percentile(up, 0.99);
    f.newcomers_admitted = admitted >= prev_.admitted ? admitted - prev_.admitted : 0;
    f.queue_length = queue;
    f.login_requests = login_requests - prev_.login_requests;
    f.login_failed = login_failed - prev_.login_failed;
    f.login_limited = login_limited - prev_.login_limited;
    f.head_timeouts = head_timeouts - prev_.head_timeouts;
    // What accepted sign-ups paid, from the pipeline's counters.
    const StatsTotals st = server_.stats();
    observe::Figures& was = prev_.signup;
    const std::array<std::uint64_t, 3> accounts = {
        st.signup_accounts_unpaid, st.signup_accounts_base, st.signup_accounts_surcharged};
    const std::array<std::uint64_t, 2> hashes = {st.signup_pow_hashes_clean,
                                                 st.signup_pow_hashes_risky};
    for (std::size_t i = 0; i < accounts.size(); ++i) {
      f.signup_accounts[i] = accounts[i] - was.signup_accounts[i];
      was.signup_accounts[i] = accounts[i];
    }
    for (std::size_t i = 0; i < hashes.size(); ++i) {
      f.signup_hashes[i] = hashes[i] - was.signup_hashes[i];
      was.signup_hashes[i] = hashes[i];
    }
    f.signup_solve_ms = st.signup_solve_ms - was.signup_solve_ms;
    was.signup_solve_ms = st.signup_solve_ms;
  }
  prev_.cells = t.cells;
  prev_.upstream = t.upstream;
  prev_.login_requests = login_requests;
  prev_.login_failed = login_failed;
  prev_.login_limited = login_limited;
  prev_.head_timeouts = head_timeouts;
  prev_.admitted = admitted;

  {
    std::lock_guard lock(mu_);
    top_prefixes_ = prefixes;
    top_uas_ = uas;
    top_accounts_ = accounts;
    for (auto& [name, n] : route_delta) {
      if (minute_routes_.size() < observe::kMinuteRoutesMax || minute_routes_.count(name)) {
        minute_routes_[name] += n;
      }
    }
    if (new_minute) {
      // Linear counting: n = -m ln(empty share).
      const double m = 16384;
      const double empty =
          std::max(1.0, m - static_cast<double>(std::min<std::uint64_t>(distinct_bits, 16383)));
      minute_distinct_ = distinct_bits == 0
                             ? 0
                             : static_cast<std::uint64_t>(std::lround(-m * std::log(empty / m)));
    }
  }
  if (const fleet::Fleet* fl = server_.fleet()) {
    // The fleet this second, as the heartbeats tell it: the minute keeps its extremes.
    const fleet::FleetTotals ft = fleet::sum_live(fl->heartbeat().nodes(wall_ms));
    const auto rps = static_cast<std::uint64_t>(std::llround(ft.sum.requests_per_s));
    const auto refused = static_cast<std::uint64_t>(std::llround(ft.sum.refusals_per_s));
    std::lock_guard lock(mu_);
    if (!minute_fleet_) {
      minute_fleet_ = observe::Minute::Fleet{ft.live, ft.live, ft.gone, rps, refused};
    } else {
      observe::Minute::Fleet& f = *minute_fleet_;
      f.live_max = std::max<std::uint64_t>(f.live_max, ft.live);
      f.live_min = std::min<std::uint64_t>(f.live_min, ft.live);
      f.gone_max = std::max<std::uint64_t>(f.gone_max, ft.gone);
      f.peak_rps = std::max(f.peak_rps, rps);
      f.peak_refused = std::max(f.peak_refused, refused);
    }
  }
  if (new_minute) fold_minute(minute_start_ms_, wall_ms);
  series_.push(std::move(s));
  if (new_minute) minute_start_ms_ = wall_ms / kMinuteMs * kMinuteMs;
}

void Observer::finish(std::int64_t wall_ms) {
  tick(wall_ms);
  if (wall_ms / kMinuteMs * kMinuteMs == minute_start_ms_) fold_minute(minute_start_ms_, wall_ms);
  minute_start_ms_ = wall_ms / kMinuteMs * kMinuteMs + kMinuteMs;  // not written twice
  if (access_ != nullptr) access_->flush();
}

void Observer::fold_minute(std::int64_t minute_start_ms, std::int64_t wall_ms) {
  observe::Minute m = series_.fold(minute_start_ms, minute_start_ms + kMinuteMs);
  m.at_ms = minute_start_ms;
  {
    std::lock_guard lock(mu_);
    m.routes = std::move(minute_routes_);
    minute_routes_.clear();
    m.distinct_prefixes = minute_distinct_;
    m.fleet = minute_fleet_;
    minute_fleet_.reset();
  }
  m.top = top(observe::kMinuteTopMax);
  (void)wall_ms;
  if (m.figures.requests() == 0) return;  // an idle shield writes nothing
  if (minutes_ != nullptr && !minutes_->append(m)) {
    spdlog::warn("per-minute store: cannot write: {}", minutes_->last_error());
  }
}

}  // namespace gh::proxy
