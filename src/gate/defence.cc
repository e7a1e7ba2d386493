#include "gate/defence.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "fleet/fleet_room.h"
#include "fleet/nodes-t.h"
#include "gate/store.h"
#include "stages/challenge/binding.h"
#include "stages/challenge/key.h"

namespace gh::gate {
namespace {

// Triggers read the last 5 s: long enough to ignore a blip, short enough to act within seconds.
constexpr std::int64_t kTriggerWindowMs = 5'000;

// A reload keeps a sign-up route's controller and room only when what they were built from is
// the same; any change starts the controller afresh (a manual mode is carried over).
std::string signup_key(const policy::SignupConfig& s) {
  std::ostringstream o;
  o << static_cast<int>(s.mode) << '|' << s.closed_retry_after_s;
  for (const auto& t : s.triggers) {
    o << '|' << static_cast<int>(t.metric) << ',' << t.above << ',' << t.below << ','
      << static_cast<int>(t.mode) << ',' << t.for_ms << ',' << t.hold_ms;
  }
  return o.str();
}

std::string limiter_key(const policy::AdmissionConfig& a) {
  std::ostringstream o;
  o << a.min_limit << '|' << a.max_limit << '|' << a.initial_limit << '|' << a.resident_percent;
  return o.str();
}

}  // namespace

bool DefenceState::init(const policy::Config& cfg, std::string* error,
                        const std::string& state_dir) {
  std::string why;
  std::optional<std::vector<std::uint8_t>> key;
  if (cfg.secrets.key_file.empty()) {
    key.emplace(32);  // quick mode: a key for this run only
    if (RAND_bytes(key->data(), static_cast<int>(key->size())) != 1) key.reset();
    why = "no randomness available";
  } else {
    key = challenge::load_or_create_key(cfg.secrets.key_file, why);
  }
  if (!key) {
    if (error != nullptr) *error = "secrets.key_file: " + why;
    return false;
  }
  auto codec = challenge::TokenCodec::create(*key);
  if (!codec) {
    if (error != nullptr) *error = "secrets.key_file: the key cannot be used";
    return false;
  }
  codec_ = std::make_unique<challenge::TokenCodec>(std::move(*codec));
  spent_ = std::make_unique<challenge::SpentSet>(cfg.challenge.spent_max);
  device_lifetime_ms_ = cfg.residents.lifetime;
  revocations_.set_lifetime(device_lifetime_ms_);
  if (!state_dir.empty()) {
    revocations_path_ = state_dir + "/revocations";
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    std::ifstream in(revocations_path_);
    const std::int64_t now = core::wall_ms();
    std::size_t lines = 0;
    std::size_t bad = 0;
    for (std::string line; std::getline(in, line); ++lines) {
      if (!line.empty() && !revocations_.apply(line, now)) ++bad;
    }
    if (bad != 0) {
      spdlog::warn("{}: {} unreadable line(s) skipped", revocations_path_, bad);
    }
    // Compaction: the file holds what is still in force, written whole, then renamed over.
    if (lines > 2 * (revocations_.accounts() + revocations_.devices()) + 16) {
      const std::string tmp = revocations_path_ + ".tmp";
      std::ofstream out(tmp, std::ios::trunc);
      for (const std::string& l : revocations_.lines(now)) out << l << '\n';
      out.flush();
      if (out) std::filesystem::rename(tmp, revocations_path_, ec);
    }
  }
  return true;
}

bool DefenceState::keep_revocation(const std::string& line, std::string* error) {
  if (revocations_path_.empty()) return true;
  std::lock_guard lock(revocations_mu_);
  std::ofstream out(revocations_path_, std::ios::app);
  out << line << '\n';
  out.flush();
  if (!out) {
    if (error != nullptr) *error = "cannot write " + revocations_path_;
    return false;
  }
  return true;
}

bool DefenceState::revoke_account(const std::string& account, std::string* error) {
  if (account.empty()) {
    if (error != nullptr) *error = "no account named";
    return false;
  }
  const std::int64_t now = core::wall_ms();
  // The account as limits and tokens canonicalise it: ASCII whitespace trimmed, lower case.
  std::string_view v = account;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string folded(v);
  for (char& c : folded) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  const std::uint64_t h = challenge::account_hash(folded);
  if (revocations_.revoke_account(h, now + 1, now) != residents::Revocations::Result::Ok) {
    if (error != nullptr) *error = "the revocation list is full";
    return false;
  }
  return keep_revocation(residents::Revocations::line_for_account(h, now + 1), error);
}

bool DefenceState::revoke_device(const std::string& id_hex, std::string* error) {
  const std::int64_t now = core::wall_ms();
  const std::string line = "device " + id_hex + " " + std::to_string(now + device_lifetime_ms_);
  if (id_hex.size() != 32 || !revocations_.apply(line, now)) {
    if (error != nullptr) *error = "a device id is 32 hex characters";
    return false;
  }
  return keep_revocation(line, error);
}

bool DefenceState::check(const policy::Snapshot& snapshot, Defence& out, std::string* error) {
  const policy::Config& cfg = snapshot.config;
  if (!cfg.reputation.rules.empty() || !cfg.reputation.thresholds.empty()) {
    std::string why;
    out.scorer = reputation::Scorer::build(cfg.reputation, why);
    if (out.scorer == nullptr) {
      if (error != nullptr) *error = why;
      return false;
    }
  }
  if (!cfg.challenge.theme_css_file.empty()) {
    std::ifstream in(cfg.challenge.theme_css_file, std::ios::binary);
    std::ostringstream css;
    css << in.rdbuf();
    if (!in || css.str().size() > 64 * 1024) {
      if (error != nullptr) {
        *error = "challenge.theme_css_file: cannot read " + cfg.challenge.theme_css_file +
                 " (or it is over 64 KiB)";
      }
      return false;
    }
    out.theme_css = css.str();
  }
  const policy::AppTokenConfig& app = cfg.residents.app_token;
  if (cfg.residents.enabled && app.from != policy::AppTokenConfig::From::None) {
    std::string why;
    auto keys = residents::load_jwt_keys(app.key_file, app.secret, why);
    if (!keys) {
      if (error != nullptr) {
        *error = std::string("residents.app_token.") + (app.secret ? "secret_file" : "key_file") +
                 ": " + why;
      }
      return false;
    }
    residents::JwtRules rules;
    rules.issuer = app.issuer;
    rules.audiences = app.audiences;
    rules.leeway_s = app.leeway / 1000;
    out.app_tokens = std::make_shared<const residents::JwtVerifier>(std::move(*keys), rules);
  }
  return true;
}

bool DefenceState::build(const policy::Snapshot& snapshot, Defence& out, std::string* error) {
  if (!check(snapshot, out, error)) return false;
  const policy::Config& cfg = snapshot.config;
  const std::int64_t now = core::wall_ms();
  std::vector<std::pair<std::shared_ptr<admission::ModeController>, std::string>> announce;
  std::lock_guard lock(mu_);
  std::vector<admission::Limiter*> by_upstream(cfg.upstreams.size(), nullptr);
  for (std::size_t i = 0; i < cfg.upstreams.size(); ++i) {
    const policy::UpstreamConfig& u = cfg.upstreams[i];
    if (!u.admission.enabled) {
      limiters_.erase(u.name);
      continue;
    }
    const std::string key = limiter_key(u.admission);
    auto& slot = limiters_[u.name];
    if (slot == nullptr || limiter_keys_[u.name] != key) {
      // Requests in flight hold the old limiter through their session; it is freed after them.
      slot = std::make_shared<admission::Limiter>(u.admission, admission::LimiterOptions{},
                                                  core::monotonic_ms());
      limiter_keys_[u.name] = key;
    }
    by_upstream[i] = slot.get();
  }
  out.limiters.clear();
  for (auto& [name, l] : limiters_) out.limiters.push_back(l);

  const policy::ResidentsConfig& res = cfg.residents;
  residents::DeviceGuardConfig dg;
  dg.rate = res.device_rate;
  dg.period_ms = res.device_period;
  dg.burst = res.device_burst;
  dg.concurrency = res.device_concurrency;
  dg.networks = res.device_networks;
  dg.demote_ms = res.device_demote;
  const std::string dkey = std::to_string(dg.rate) + '|' + std::to_string(dg.period_ms) + '|' +
                           std::to_string(dg.burst) + '|' + std::to_string(dg.concurrency) + '|' +
                           std::to_string(dg.networks) + '|' + std::to_string(dg.demote_ms);
  if (devices_ == nullptr || devices_key_ != dkey) {
    std::shared_ptr<residents::DeviceGuard> guard = residents::DeviceGuard::create(dg);
    if (guard == nullptr) {
      if (error != nullptr) *error = "residents: the device limits cannot be represented";
      return false;
    }
    devices_ = std::move(guard);
    devices_key_ = dkey;
  }
  out.devices = devices_;

  out.routes.clear();
  std::map<std::string, SignupRoute> keep;
  std::map<std::string, std::shared_ptr<RouteShared>> windows;
  out.keep.clear();
  for (const policy::RouteConfig& r : snapshot.routes.routes()) {
    RouteDefence d;
    d.scope = challenge::scope_of(r.name);
    d.upstream_index = static_cast<std::uint32_t>(r.upstream_index);
    d.limiter = r.upstream_index < by_upstream.size() ? by_upstream[r.upstream_index] : nullptr;
    auto w = windows_.find(r.name);
    auto window = w != windows_.end() ? w->second : std::make_shared<RouteShared>();
    windows[r.name] = window;
    out.keep.push_back(window);
    d.window = &window->window;
    d.rate = &window->rate;
    if (r.route_class == policy::RouteClass::Signup) {
      const std::string key = signup_key(r.signup);
      auto old = signup_.find(r.name);
      SignupRoute sr;
      if (old != signup_.end()) sr = old->second;
      if (sr.room == nullptr) {
        sr.room = std::make_shared<waitroom::Room>(r.signup.waiting_room);
      } else {
        sr.room->reconfigure(r.signup.waiting_room);  // the line survives a reload
      }
      if (sr.mode == nullptr || sr.config_key != key) {
        std::optional<policy::SignupMode> manual;
        if (sr.mode != nullptr && sr.mode->manual()) manual = sr.mode->mode();
        auto* self = this;
        sr.mode = std::make_shared<admission::ModeController>(
            r.name, r.signup,
            [self](const admission::ModeEvent& e) {
              if (!self->on_change_) return;
              ModeChange c{e.at_ms,
                           e.route,
                           std::string(admission::mode_name(e.from)),
                           std::string(admission::mode_name(e.to)),
                           e.reason,
                           e.manual};
              self->on_change_(c);
            },
            now);
        if (manual) announce.emplace_back(sr.mode, std::string(admission::mode_name(*manual)));
        sr.config_key = key;
      }
      sr.shared = window;
      d.mode = sr.mode.get();
      d.room = sr.room.get();
      d.line = line_query(r.signup.waiting_room, d.scope);
      keep[r.name] = sr;
    }
    out.routes.push_back(d);
  }
  signup_ = std::move(keep);
  windows_ = std::move(windows);
  for (auto& [mode, name] : announce) {
    mode->set_manual(admission::parse_mode(name), "kept across a reload", now);
  }
  return true;
}

StoreQuery::Line line_query(const policy::WaitingRoomConfig& room, std::uint32_t scope) {
  StoreQuery::Line q;
  q.scope = scope;
  const std::uint32_t per_min = std::max<std::uint32_t>(1, room.new_users_per_minute);
  q.interval_us = (std::int64_t{60'000'000} + per_min - 1) / per_min;
  q.burst = static_cast<std::uint32_t>(waitroom::Room::burst_for(room));
  // People in line come back once a refresh: the bucket holds that long's units for them, or the
  // line would move one burst a refresh (a calm room still holds one burst).
  q.hold = std::max<std::uint32_t>(
      q.burst,
      static_cast<std::uint32_t>(std::min<std::uint64_t>(
          1'000'000, (std::uint64_t{per_min} * (room.refresh + 1'000) + 59'999) / 60'000)));
  q.max_queue = room.max_queue;
  q.gone_ms = waitroom::Room::gone_ms_for(room);
  // A page refreshes each `refresh`: a first visit told to wait is back by then.
  q.back_ms = std::min<std::int64_t>(q.gone_ms, std::int64_t{room.refresh} + 2'000);
  return q;
}

void DefenceState::tick(std::int64_t now_ms) {
  std::vector<std::pair<std::string, SignupRoute>> routes;
  std::vector<std::shared_ptr<admission::Limiter>> limiters;
  std::vector<std::shared_ptr<RouteShared>> windows;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, sr] : signup_) routes.emplace_back(name, sr);
    for (auto& [name, l] : limiters_) limiters.push_back(l);
    for (auto& [name, w] : windows_) windows.push_back(w);
  }
  const std::int64_t mono = core::monotonic_ms();
  for (auto& w : windows) {
    const double rate = w->window.signals(mono, 5'000).request_rate;
    w->rate.store(static_cast<std::uint32_t>(std::min(rate, 4e9)), std::memory_order_relaxed);
  }
  for (auto& [name, sr] : routes) {
    admission::Signals signals = sr.shared->window.signals(mono, kTriggerWindowMs);
    if (fleet_.signals) signals = fleet_.signals(name, signals);
    sr.mode->tick(signals, now_ms);
    if (fleet_.room) {
      waitroom::FleetShare share = fleet_.room(name, *sr.room);
      // With Redis answering, the line there admits (on each holder's visit), not this room.
      share.line = store_ != nullptr && store_->ready();
      sr.room->set_fleet_share(share);
      if (fleet_.admitted)
        sr.room->on_admit(
            [f = fleet_.admitted, route = name](const waitroom::TicketId& id) { f(route, id); });
    }
    sr.room->tick(now_ms);
  }
  for (auto& l : limiters) l->update(mono);
}

bool DefenceState::admitted_elsewhere(const std::string& route, const waitroom::TicketId& id,
                                      std::int64_t now_ms) {
  std::shared_ptr<waitroom::Room> room;
  {
    std::lock_guard lock(mu_);
    auto it = signup_.find(route);
    if (it == signup_.end()) return false;
    room = it->second.room;
  }
  room->admitted_elsewhere(id, now_ms);
  return true;
}

bool DefenceState::set_mode(const std::string& route, std::optional<policy::SignupMode> mode,
                            const std::string& reason, std::int64_t now_ms) {
  std::shared_ptr<admission::ModeController> c;
  {
    std::lock_guard lock(mu_);
    auto it = signup_.find(route);
    if (it == signup_.end()) return false;
    c = it->second.mode;
  }
  c->set_manual(mode, reason, now_ms);
  return true;
}

std::vector<DefenceState::RouteStatus> DefenceState::routes_status() const {
  std::vector<RouteStatus> out;
  std::lock_guard lock(mu_);
  const std::int64_t mono = core::monotonic_ms();
  for (const auto& [name, sr] : signup_) {
    RouteStatus s;
    s.route = name;
    s.mode = sr.mode->mode();
    s.manual = sr.mode->manual();
    s.since_ms = sr.mode->since_ms();
    s.has_room = true;
    s.room = sr.room->stats();
    for (const waitroom::Head& h : sr.room->line_heads(fleet::kMaxHeads)) {
      s.heads.push_back(h.first_seen_ms);
      s.ids.push_back(fleet::id_hex(h.id));
      s.subs.push_back(h.first_seen_us);
    }
    s.signals = sr.shared->window.signals(mono, kTriggerWindowMs);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<DefenceState::UpstreamStatus> DefenceState::upstreams_status() const {
  std::vector<UpstreamStatus> out;
  std::lock_guard lock(mu_);
  for (const auto& [name, l] : limiters_) out.push_back({name, l->limit(), l->in_flight()});
  return out;
}

}  // namespace gh::gate
