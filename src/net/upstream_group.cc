#include "net/upstream_group.h"

#include <algorithm>
#include <map>

#include "client/address.h"
#include "net/resolve.h"
#include "net/upstream_pool.h"

namespace gh::net {

namespace {
struct ByServer {
  bool operator()(const std::pair<std::string, client::SocketAddress>& a,
                  const std::pair<std::string, client::SocketAddress>& b) const {
    return a.first != b.first ? a.first < b.first : address_less(a.second, b.second);
  }
};

std::string joined(const std::vector<client::SocketAddress>& list) {
  std::string s;
  for (const auto& a : list) s += (s.empty() ? "" : ", ") + client::format_socket_address(a);
  return s.empty() ? "none" : s;
}
}  // namespace

namespace {
std::int64_t down_wait(const HealthCheckConfig& h) {
  return static_cast<std::int64_t>(h.interval_ms) * std::max<std::uint32_t>(1, h.healthy_threshold);
}
}  // namespace

UpstreamGroup::UpstreamGroup(const GroupConfig& config) : name_(config.name) {
  std::lock_guard lock(mu_);
  config_ = config;
  names_.assign(config_.servers.size(), NameState{});
  down_wait_ms_.store(down_wait(config_.health), std::memory_order_relaxed);
  rebuild_locked();
}

void UpstreamGroup::configure(const GroupConfig& config) {
  std::lock_guard lock(mu_);
  // A name that stays keeps what it last resolved to: the loader's answer is older or equal.
  std::vector<NameState> names(config.servers.size());
  GroupConfig next = config;
  for (std::size_t i = 0; i < next.servers.size(); ++i) {
    UpstreamServer& s = next.servers[i];
    for (std::size_t j = 0; j < config_.servers.size(); ++j) {
      const UpstreamServer& old = config_.servers[j];
      if (!s.literal && old.host == s.host && old.port == s.port) {
        if (names_[j].resolved_wall_ms != 0) s.addresses = old.addresses;
        names[i] = names_[j];
        break;
      }
    }
  }
  const bool health_was = config_.health.enabled;
  config_ = std::move(next);
  names_ = std::move(names);
  ++config_version_;
  down_wait_ms_.store(down_wait(config_.health), std::memory_order_relaxed);
  if (health_was && !config_.health.enabled) {
    // Without checks, nothing would ever bring a server marked down back.
    for (const auto& e : set_->entries) {
      e.endpoint->down.store(false, std::memory_order_relaxed);
      e.endpoint->health = HealthStreak{};
    }
  }
  for (const auto& e : set_->entries) e.endpoint->ejection.configure(config_.ejection);
  rebuild_locked();
}

HealthCheckConfig UpstreamGroup::health() const {
  std::lock_guard lock(mu_);
  return config_.health;
}

std::uint32_t UpstreamGroup::resolve_interval_ms() const {
  std::lock_guard lock(mu_);
  return config_.resolve_interval_ms;
}

void UpstreamGroup::rebuild_locked() {
  std::map<std::pair<std::string, client::SocketAddress>, std::shared_ptr<Endpoint>, ByServer> old;
  if (set_ != nullptr) {
    for (const auto& e : set_->entries) old[{e.server, e.endpoint->address}] = e.endpoint;
  }
  auto next = std::make_shared<EndpointSet>();
  next->version = version_.load(std::memory_order_relaxed) + 1;
  for (const UpstreamServer& s : config_.servers) {
    const std::string text = server_text(s);
    for (const client::SocketAddress& a : s.addresses) {
      std::shared_ptr<Endpoint> ep;
      auto it = old.find({text, a});
      if (it != old.end() && it->second != nullptr) {
        ep = std::move(it->second);  // one entry per endpoint object
      } else {
        ep = std::make_shared<Endpoint>(a, config_.ejection);
      }
      next->entries.push_back({std::move(ep), std::max<std::uint32_t>(1, s.weight), text});
    }
  }
  set_ = std::move(next);
  version_.store(set_->version, std::memory_order_release);
}

std::shared_ptr<const EndpointSet> UpstreamGroup::endpoints() const {
  std::lock_guard lock(mu_);
  return set_;
}

void UpstreamGroup::succeeded_slow(Endpoint& e, std::int64_t now) {
  std::lock_guard lock(mu_);
  e.ejection.success(now);
  e.watch.store(e.ejection.probation() || e.ejection.streak() != 0, std::memory_order_relaxed);
}

bool UpstreamGroup::failed(Endpoint& e, std::int64_t now, std::string_view why) {
  e.failures.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  e.last_failure.assign(why.substr(0, 200));
  const bool ejected = e.ejection.failure(now) == Ejection::Outcome::Ejected;
  if (ejected) e.ejected_until.store(e.ejection.until(), std::memory_order_relaxed);
  e.watch.store(e.ejection.probation() || e.ejection.streak() != 0, std::memory_order_relaxed);
  return ejected;
}

std::vector<UpstreamGroup::Name> UpstreamGroup::names() const {
  std::lock_guard lock(mu_);
  std::vector<Name> out;
  for (std::size_t i = 0; i < config_.servers.size(); ++i) {
    const UpstreamServer& s = config_.servers[i];
    if (!s.literal) out.push_back({config_version_, i, s.host, s.port});
  }
  return out;
}

bool UpstreamGroup::resolved(const Name& name, bool ok,
                             std::vector<client::SocketAddress> addresses, const std::string& error,
                             bool truncated, std::int64_t wall_ms, UpstreamEvent* event) {
  std::lock_guard lock(mu_);
  if (name.config_version != config_version_ || name.server >= config_.servers.size()) {
    return false;
  }
  UpstreamServer& s = config_.servers[name.server];
  NameState& state = names_[name.server];
  event->upstream = name_;
  event->server = server_text(s);
  if (!ok) {
    // The last known addresses stay: a resolver that hiccups must not empty the upstream.
    const bool first = state.error.empty();
    state.error = error.empty() ? "unknown error" : error;
    if (!first) return false;
    event->kind = "upstream_resolve_failed";
    event->message = "upstream " + name_ + ": cannot resolve " + event->server + ": " +
                     state.error + "; keeping its last known addresses (" + joined(s.addresses) +
                     ")";
    return true;
  }
  const bool recovered = !state.error.empty();
  state.error.clear();
  state.resolved_wall_ms = wall_ms;
  std::vector<client::SocketAddress> added, removed;
  for (const auto& a : addresses) {
    if (std::find(s.addresses.begin(), s.addresses.end(), a) == s.addresses.end()) {
      added.push_back(a);
    }
  }
  for (const auto& a : s.addresses) {
    if (std::find(addresses.begin(), addresses.end(), a) == addresses.end()) removed.push_back(a);
  }
  if (added.empty() && removed.empty()) {
    if (!recovered) return false;
    event->kind = "upstream_resolved";
    event->message = "upstream " + name_ + ": " + event->server + " resolves again (" +
                     joined(s.addresses) + ")";
    return true;
  }
  s.addresses = std::move(addresses);
  rebuild_locked();
  event->kind = "upstream_addresses";
  for (const auto& a : added) event->added.push_back(client::format_socket_address(a));
  for (const auto& a : removed) event->removed.push_back(client::format_socket_address(a));
  event->message = "upstream " + name_ + ": " + event->server + " now resolves to " +
                   joined(s.addresses) + " (added: " + joined(added) +
                   "; removed, drained: " + joined(removed) + ")" +
                   (truncated ? "; more addresses were left out" : "");
  return true;
}

std::string UpstreamGroup::endpoint_name_locked(const EndpointSet::Entry& entry) const {
  const std::string address = client::format_socket_address(entry.endpoint->address);
  return entry.server == address ? address : entry.server + " (" + address + ")";
}

HealthStreak::Change UpstreamGroup::checked(Endpoint& e, bool passed, std::uint16_t status,
                                            const std::string& why, std::int64_t now,
                                            std::int64_t wall_ms, UpstreamEvent* event) {
  std::lock_guard lock(mu_);
  ++e.checks;
  if (!passed) ++e.checks_failed;
  e.last_status = status;
  e.last_check_error = passed ? std::string() : why.substr(0, 200);
  e.last_check_wall_ms = wall_ms;
  if (!config_.health.enabled) return HealthStreak::Change::None;
  const HealthStreak::Change change = e.health.record(passed, config_.health);
  if (change == HealthStreak::Change::None) return change;
  const EndpointSet::Entry* entry = nullptr;
  for (const auto& x : set_->entries) {
    if (x.endpoint.get() == &e) entry = &x;
  }
  event->upstream = name_;
  event->address = client::format_socket_address(e.address);
  const std::string who = entry != nullptr ? endpoint_name_locked(*entry) : event->address;
  if (entry != nullptr) event->server = entry->server;
  if (change == HealthStreak::Change::Down) {
    e.down.store(true, std::memory_order_relaxed);
    event->kind = "upstream_down";
    event->message = "upstream " + name_ + ": server " + who +
                     " down: " + std::to_string(e.health.fails()) +
                     " health checks failed in a row (" + why + ")";
  } else {
    e.down.store(false, std::memory_order_relaxed);
    // The checker saw it fail and now pass: an ejection for the same trouble ends with it.
    if (e.ejection.ejected(now)) {
      e.ejection.readmit(now);
      e.ejected_until.store(e.ejection.until(), std::memory_order_relaxed);
    }
    event->kind = "upstream_up";
    event->message = "upstream " + name_ + ": server " + who +
                     " up: " + std::to_string(e.health.passes()) + " health checks passed in a row";
  }
  return change;
}

void UpstreamGroup::transitions(std::int64_t now, std::vector<UpstreamEvent>& out) {
  std::lock_guard lock(mu_);
  for (const auto& entry : set_->entries) {
    Endpoint& e = *entry.endpoint;
    const bool ejected = e.ejection.ejected(now);
    if (ejected == e.announced_ejected) continue;
    e.announced_ejected = ejected;
    UpstreamEvent ev;
    ev.upstream = name_;
    ev.address = client::format_socket_address(e.address);
    ev.server = entry.server;
    const std::string who = endpoint_name_locked(entry);
    if (ejected) {
      ev.kind = "upstream_ejected";
      ev.message =
          "upstream " + name_ + ": server " + who + " ejected for " +
          std::to_string((e.ejection.until() - now + 999) / 1000) + " s after " +
          (e.ejection.ejections() > 1 && e.ejection.level() > 0 ? "failing again on probation"
                                                                : "failures in a row") +
          " (last: " + e.last_failure + "; ejection " + std::to_string(e.ejection.ejections()) +
          ")";
    } else {
      ev.kind = "upstream_readmitted";
      ev.message = "upstream " + name_ + ": server " + who +
                   " re-admitted on probation (one more failure ejects it again)";
    }
    out.push_back(std::move(ev));
  }
}

std::size_t UpstreamGroup::admitted(std::int64_t now) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& e : set_->entries) n += e.endpoint->admitted(now) ? 1 : 0;
  return n;
}

GroupStatus UpstreamGroup::status(std::int64_t now) const {
  std::lock_guard lock(mu_);
  GroupStatus g;
  g.name = name_;
  g.health_checks = config_.health.enabled;
  for (const auto& entry : set_->entries) {
    const Endpoint& e = *entry.endpoint;
    EndpointStatus s;
    s.server = entry.server;
    s.address = e.address;
    s.weight = entry.weight;
    s.down = e.down.load(std::memory_order_relaxed);
    s.ejected = e.ejection.ejected(now);
    s.ejected_ms_left = s.ejected ? e.ejection.until() - now : 0;
    s.probation = e.ejection.probation() && !s.ejected;
    s.failure_streak = e.ejection.streak();
    s.requests = e.requests.load(std::memory_order_relaxed);
    s.failures = e.failures.load(std::memory_order_relaxed);
    s.ejections = e.ejection.ejections();
    s.last_failure = e.last_failure;
    s.checks = e.checks;
    s.checks_failed = e.checks_failed;
    s.last_status = e.last_status;
    s.last_check_error = e.last_check_error;
    s.last_check_wall_ms = e.last_check_wall_ms;
    if (e.admitted(now)) ++g.admitted;
    g.endpoints.push_back(std::move(s));
  }
  for (std::size_t i = 0; i < config_.servers.size(); ++i) {
    const UpstreamServer& s = config_.servers[i];
    g.names.push_back({server_text(s), s.literal, s.addresses.size(), names_[i].resolved_wall_ms,
                       names_[i].error});
  }
  return g;
}

// ---- Balancer -------------------------------------------------------------------------------

Balancer::Balancer(std::shared_ptr<UpstreamGroup> group, UpstreamPool& pool)
    : group_(std::move(group)), pool_(pool) {}

Balancer::~Balancer() {
  for (Peer* p : peers_) {
    pool_.unref(p->endpoint->address);
    delete p;
  }
  for (Peer* p : retired_) delete p;
}

void Balancer::refresh() {
  std::shared_ptr<const EndpointSet> set = group_->endpoints();
  version_ = set->version;
  std::vector<Peer*> next;
  std::vector<std::uint32_t> weights;
  std::vector<std::int64_t> scores;
  next.reserve(set->entries.size());
  for (const auto& entry : set->entries) {
    Peer* p = nullptr;
    std::int64_t score = 0;
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      if (peers_[i] != nullptr && peers_[i]->endpoint == entry.endpoint) {
        p = peers_[i];
        score = rr_.score(i);
        peers_[i] = nullptr;
        break;
      }
    }
    if (p == nullptr) {
      p = new Peer{entry.endpoint};
      pool_.ref(entry.endpoint->address);
    }
    next.push_back(p);
    weights.push_back(entry.weight);
    scores.push_back(score);
  }
  for (Peer* p : peers_) {
    if (p == nullptr) continue;
    pool_.unref(p->endpoint->address);  // drained: idle connections closed, busy ones after use
    if (p->users == 0) {
      delete p;
    } else {
      p->retired = true;
      retired_.push_back(p);
    }
  }
  peers_ = std::move(next);
  rr_.reset(weights);
  for (std::size_t i = 0; i < scores.size(); ++i) rr_.carry(i, scores[i]);
}

Balancer::Peer* Balancer::pick(std::int64_t now, const Peer* exclude) {
  if (group_->version() != version_) refresh();
  const int i = rr_.pick(
      [&](std::size_t k) { return peers_[k] != exclude && peers_[k]->endpoint->admitted(now); });
  return i < 0 ? nullptr : peers_[static_cast<std::size_t>(i)];
}

void Balancer::release(Peer* p) {
  if (--p->users != 0 || !p->retired) return;
  retired_.erase(std::remove(retired_.begin(), retired_.end(), p), retired_.end());
  delete p;
}

std::uint32_t Balancer::retry_after_s(std::int64_t now) const {
  std::int64_t best = -1;
  for (const Peer* p : peers_) {
    const Endpoint& e = *p->endpoint;
    std::int64_t wait = e.down.load(std::memory_order_relaxed) ? group_->down_wait_ms() : 0;
    const std::int64_t until = e.ejected_until.load(std::memory_order_relaxed);
    if (until > now) wait = std::max(wait, until - now);
    if (best < 0 || wait < best) best = wait;
  }
  if (best < 0) best = 5'000;
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>((best + 999) / 1000, 1, 60));
}

bool Balancer::in_use() const {
  if (!retired_.empty()) return true;
  return std::any_of(peers_.begin(), peers_.end(), [](const Peer* p) { return p->users != 0; });
}

}  // namespace gh::net
