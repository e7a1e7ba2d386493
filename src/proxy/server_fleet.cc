// The fleet's side of the server (`cluster:`): starting the fleet, the sinks through which other
// nodes' bans, modes, spent tokens and admissions arrive, this node's heartbeat figures, the
// defence's fleet hooks (summed signals, the waiting room's share of the line), and what this
// node publishes (share_ban, share_unban, share_mode).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "client/address.h"
#include "core/build_info.h"
#include "core/clock.h"
#include "fleet/fleet_room.h"
#include "fleet/nodes.h"
#include "proxy/fleet_store.h"
#include "proxy/server.h"
#include "server_parts.h"
#include "stages/admission/mode_controller.h"
#include "stages/ratelimit/keyhash.h"

namespace gh::proxy {

namespace server_parts {

ratelimit::HashSeed fleet_key_seed(const policy::ClusterConfig& cc) {
  std::string secret = "gatehouse shared limits\n" + cc.prefix + "\n";
  if (!cc.password_file.empty()) {
    std::ifstream in(cc.password_file);
    std::stringstream ss;
    ss << in.rdbuf();
    secret += ss.str();
  }
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(secret.data()),
                                            secret.size());
  return {ratelimit::siphash24({0x6b65792d73656564ULL, 1}, bytes),
          ratelimit::siphash24({0x6b65792d73656564ULL, 2}, bytes)};
}

}  // namespace server_parts

using server_parts::wall_now;

bool Server::start_fleet(std::string* error) {
  const policy::ClusterConfig& cc = initial_->config.cluster;
  if (!cc.enabled) return true;
  fleet::FleetSinks sinks;
  sinks.ban = [this](const fleet::BanRecord& r) { fleet_ban(r); };
  sinks.unban = [this](const fleet::BanRecord& r) { fleet_unban(r); };
  sinks.mode = [this](const fleet::ModeRecord& m) { fleet_mode(m); };
  sinks.state = [this](bool up, const std::string& why) { fleet_state(up, why); };
  sinks.spent = [this](const fleet::SpentRecord& r) { fleet_spent(r); };
  sinks.admit = [this](const fleet::AdmitRecord& r) { fleet_admit(r); };
  fleet_ = std::make_unique<fleet::Fleet>(cc, std::move(sinks));
  if (registry_.sharing()) {
    fleet::LimitsSync::Hooks hooks;
    hooks.drain = [this, buf = std::vector<ratelimit::DeltaEntry>()](
                      std::vector<fleet::LimitDelta>& out) mutable {
      buf.clear();
      registry_.drain(buf);
      for (const ratelimit::DeltaEntry& e : buf)
        out.push_back({{e.limit, e.key.lo, e.key.hi}, e.delta, e.exact});
    };
    hooks.apply = [this](const std::vector<fleet::LimitDelta>& figures, fleet::Fold how) {
      std::vector<ratelimit::Registry::Figure> f;
      f.reserve(figures.size());
      for (const fleet::LimitDelta& d : figures)
        f.push_back({d.key.limit, {d.key.lo, d.key.hi}, d.ns});
      std::sort(f.begin(), f.end(), [](const auto& a, const auto& b) { return a.limit < b.limit; });
      // The workers' clock (pipeline.cc: the loop's milliseconds).
      const core::Nanos now = core::monotonic_ms() * 1'000'000;
      if (how == fleet::Fold::Set) {
        registry_.set_debts(f, now);
      } else if (how == fleet::Fold::Add) {
        registry_.add_debts(f, now);
      } else {
        registry_.raise_debts(f, now);
      }
    };
    fleet_->share_limits(std::move(hooks));
  }
  if (!fleet_->start(error)) {
    fleet_.reset();
    return false;
  }
  fleet_started_ms_ = core::wall_ms();
  // Where a decision must be the fleet's, requests wait for Redis (cluster.request_timeout).
  store_ = make_fleet_store(*fleet_);
  defence_.set_store(store_.get());
  // Triggers act on the fleet's figures and the waiting rooms form one line: every node runs
  // the same rules on the same heartbeats.
  gate::DefenceState::FleetHooks hooks;
  hooks.signals = [this](const std::string& route, const admission::Signals& local) {
    return fleet_signals(route, local);
  };
  hooks.room = [this](const std::string& route, const waitroom::Room& room) {
    return fleet_room(route, room);
  };
  // A place admitted here is let through on any node, and leaves the others' lines.
  hooks.admitted = [this](const std::string& route, const waitroom::TicketId& id) {
    fleet::AdmitRecord r;
    r.route = route;
    r.id = fleet::id_hex(id);
    fleet_->publish_admit(std::move(r));
  };
  defence_.set_fleet_hooks(std::move(hooks));
  // A challenge solved or a sign-up clearance used here is refused on the other nodes too.
  defence_.spent().on_claim([this](const challenge::TokenId& id, std::int64_t expiry_ms) {
    static constexpr char kHex[] = "0123456789abcdef";
    fleet::SpentRecord r;
    r.id.reserve(32);
    for (std::uint8_t b : id) {
      r.id.push_back(kHex[b >> 4]);
      r.id.push_back(kHex[b & 15]);
    }
    r.expiry_ms = expiry_ms;
    fleet_->publish_spent(std::move(r));
  });
  spdlog::info("fleet: node {} on Redis {}:{} (prefix {})", cc.node, cc.seeds.front().host,
               cc.seeds.front().port, cc.prefix);
  return true;
}

void Server::fleet_tick(std::int64_t wall_ms) {
  fleet::NodeFigures n;
  n.version = std::string(core::version());
  n.started_ms = fleet_started_ms_;
  const ObserveTotals t = observer_->totals();
  const std::vector<gate::DefenceState::RouteStatus> routes = defence_.routes_status();
  auto is_signup = [&](const std::string& name) {
    return std::any_of(routes.begin(), routes.end(),
                       [&](const auto& r) { return r.route == name; });
  };
  using observe::Verdict;
  for (std::size_t slot = 0; slot < kRouteSlots; ++slot) {
    const bool signup = slot < t.routes.size() && is_signup(t.routes[slot]);
    for (std::size_t c = 0; c < observe::kClasses; ++c) {
      for (std::size_t v = 0; v < observe::kVerdicts; ++v) {
        const std::uint64_t k = t.cell(slot, c, v);
        n.requests_total += k;
        const auto verdict = static_cast<Verdict>(v);
        if (verdict == Verdict::Passed) {
          if (signup) n.signups_total += k;
        } else if (verdict != Verdict::Challenged && verdict != Verdict::Queued) {
          n.refusals_total += k;
        }
      }
    }
  }
  if (fleet_prev_ms_ > 0 && wall_ms > fleet_prev_ms_) {
    const double s = static_cast<double>(wall_ms - fleet_prev_ms_) / 1000.0;
    n.requests_per_s = static_cast<double>(n.requests_total - fleet_prev_requests_) / s;
    n.refusals_per_s = static_cast<double>(n.refusals_total - fleet_prev_refusals_) / s;
  }
  fleet_prev_ms_ = wall_ms;
  fleet_prev_requests_ = n.requests_total;
  fleet_prev_refusals_ = n.refusals_total;
  for (const auto& u : defence_.upstreams_status()) n.in_flight += u.in_flight;
  n.queued = observer_->queue_length();
  for (const gate::DefenceState::RouteStatus& r : routes) {
    if (n.routes.size() >= fleet::kMaxNodeRoutes) break;
    fleet::RouteFigures f;
    f.route = r.route.substr(0, fleet::kMaxText);
    f.mode = std::string(admission::mode_name(r.mode));
    f.manual = r.manual;
    f.request_rate = r.signals.request_rate;
    f.error_rate_pct = r.signals.error_rate_pct;
    f.shed_rate_pct = r.signals.shed_rate_pct;
    f.upstream_latency_ms = r.signals.upstream_latency_ms;
    f.room = r.has_room;
    f.queued = r.room.queued;
    f.active = r.room.active;
    f.admitted_total = r.room.admitted_total;
    f.heads = r.heads;
    f.ids = r.ids;
    f.subs = r.subs;
    n.admitted_total += r.room.admitted_total;
    n.routes.push_back(std::move(f));
  }
  fleet_->heartbeat().set_self(std::move(n));
}

admission::Signals Server::fleet_signals(const std::string& route,
                                         const admission::Signals& local) const {
  // This node's signals as measured now, with the other live nodes' from their heartbeats.
  std::vector<fleet::NodeEntry> nodes = fleet_->heartbeat().live_nodes(core::wall_ms());
  fleet::RouteFigures mine;
  mine.route = route;
  mine.request_rate = local.request_rate;
  mine.error_rate_pct = local.error_rate_pct;
  mine.shed_rate_pct = local.shed_rate_pct;
  mine.upstream_latency_ms = local.upstream_latency_ms;
  for (fleet::NodeEntry& e : nodes) {
    if (e.self) e.figures.routes = {mine};
  }
  const fleet::FleetTotals t = fleet::sum_live(nodes);
  const fleet::RouteFigures* r = fleet::find_route(t.sum, route);
  if (r == nullptr) return local;
  admission::Signals s;
  s.request_rate = r->request_rate;
  s.error_rate_pct = r->error_rate_pct;
  s.shed_rate_pct = r->shed_rate_pct;
  s.upstream_latency_ms = r->upstream_latency_ms;
  return s;
}

waitroom::FleetShare Server::fleet_room(const std::string& route,
                                        const waitroom::Room& room) const {
  const std::vector<fleet::NodeEntry> nodes = fleet_->heartbeat().live_nodes(core::wall_ms());
  std::vector<std::pair<std::uint64_t, fleet::RouteFigures>> others;
  for (const fleet::NodeEntry& e : nodes) {
    if (e.self) continue;
    if (const fleet::RouteFigures* r = fleet::find_route(e.figures, route); r && r->room)
      others.emplace_back(fleet::node_hash(e.figures.node), *r);
  }
  fleet::RoomShare share = fleet::share_room(others, room.config().max_active);
  waitroom::FleetShare out;
  out.on = true;
  out.self = fleet::node_hash(fleet_->node());
  out.max_active = share.max_active;
  out.live = static_cast<std::uint32_t>(std::max<std::size_t>(1, nodes.size()));
  // A place reaches every node's view within a heartbeat, a read and a housekeeping tick.
  out.settle_ms = 3 * fleet::kHeartbeatMs;
  out.others.reserve(share.others.size());
  for (const fleet::OtherPlace& p : share.others)
    out.others.push_back({p.first_seen_ms, p.id, p.rival, p.first_seen_us});
  return out;
}

void Server::share_ban(const lists::BanInfo& ban) {
  if (fleet_ == nullptr) return;
  fleet::BanRecord r;
  r.cidr = client::format_cidr(ban.key);
  r.start = ban.start;
  r.expiry = ban.expiry == lists::kForever ? fleet::kNoExpiry : ban.expiry;
  r.level = ban.level;
  r.reason = std::string(ban.reason.view());
  r.source = std::string(ban.source.view());
  fleet_->publish_ban(std::move(r));
}

void Server::share_unban(const client::Cidr& key) {
  if (fleet_ != nullptr) fleet_->publish_unban(client::format_cidr(key));
}

void Server::share_mode(const std::string& route, const std::string& mode,
                        const std::string& reason, std::int64_t at_ms) {
  if (fleet_ == nullptr) return;
  fleet::ModeRecord m;
  m.route = route;
  m.mode = mode;
  m.reason = reason;
  {
    std::lock_guard lock(mode_at_mu_);
    std::int64_t& last = mode_at_[route];
    m.at_ms = last = std::max(at_ms, last + 1);
  }
  fleet_->publish_mode(std::move(m));
}

void Server::fleet_ban(const fleet::BanRecord& r) {
  auto key = client::parse_cidr(r.cidr);
  if (!key) return;
  lists::BanInfo info;
  info.key = *key;
  info.start = r.start;
  info.expiry = r.expiry == fleet::kNoExpiry ? lists::kForever : r.expiry;
  info.level = static_cast<std::uint8_t>(std::min<std::uint32_t>(r.level, 255));
  info.reason = lists::ShortText<lists::kReasonMax>::from(r.reason);
  info.source = lists::ShortText<lists::kSourceMax>::from(r.source);
  if (!bans_->import(info, wall_now())) return;  // held already, or over
  observer_->event("ban", "", r.cidr + " banned by node " + r.node + " (" + r.reason + ")",
                   {{"cidr", r.cidr}, {"node", r.node}, {"by", "fleet"}});
  spdlog::info("fleet: {} banned by node {} ({})", r.cidr, r.node, r.reason);
}

void Server::fleet_unban(const fleet::BanRecord& r) {
  auto key = client::parse_cidr(r.cidr);
  if (!key || !bans_->unban(*key)) return;
  observer_->event("unban", "", "ban on " + r.cidr + " removed by node " + r.node,
                   {{"cidr", r.cidr}, {"node", r.node}, {"by", "fleet"}});
  spdlog::info("fleet: ban on {} removed by node {}", r.cidr, r.node);
}

void Server::fleet_mode(const fleet::ModeRecord& m) {
  std::optional<policy::SignupMode> mode;
  if (m.mode != "auto") {
    mode = admission::parse_mode(m.mode);
    if (!mode) return;
  }
  const std::string reason = m.reason + " (node " + m.node + ")";
  if (!defence_.set_mode(m.route, mode, reason, core::wall_ms())) {
    spdlog::warn("fleet: node {} set the mode of {}, which this node does not have", m.node,
                 m.route);
    return;
  }
  std::lock_guard lock(mode_at_mu_);
  std::int64_t& last = mode_at_[m.route];
  last = std::max(last, m.at_ms);
}

void Server::fleet_spent(const fleet::SpentRecord& r) {
  challenge::TokenId id{};
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i < id.size() && 2 * i + 1 < r.id.size(); ++i) {
    id[i] = static_cast<std::uint8_t>(nibble(r.id[2 * i]) << 4 | nibble(r.id[2 * i + 1]));
  }
  defence_.spent().mark(id, r.expiry_ms, core::wall_ms());
}

void Server::fleet_admit(const fleet::AdmitRecord& r) {
  waitroom::TicketId id{};
  if (!fleet::parse_id_hex(r.id, id)) return;
  defence_.admitted_elsewhere(r.route, id, core::wall_ms());
}

void Server::fleet_state(bool up, const std::string& why) {
  const fleet::Fleet* f = fleet_.get();
  const std::string node = f != nullptr ? f->node() : std::string();
  if (up) {
    observer_->event("fleet", "", "fleet: Redis reached (" + why + "); shared state read again",
                     {{"up", true}, {"node", node}});
    spdlog::info("fleet: Redis reached ({})", why);
  } else {
    observer_->event(
        "fleet", "",
        "fleet: Redis unreachable (" + why + "); fail-static: bans and modes kept as last known",
        {{"up", false}, {"node", node}, {"why", why}});
    spdlog::warn("fleet: Redis unreachable ({}); fail-static", why);
  }
}

}  // namespace gh::proxy
