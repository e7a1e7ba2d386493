#include "stages/ratelimit/stage.h"

#include <algorithm>

#include "stages/ratelimit/config.h"
#include "stages/ratelimit/gcra.h"
#include "stages/ratelimit/keyhash.h"

namespace gh::ratelimit {

namespace {

constexpr Nanos kNsPerMs = 1'000'000;
constexpr Nanos kNsPerS = 1'000'000'000;
constexpr std::uint32_t kMaxRetryAfterS = 86'400;

std::uint32_t ceil_seconds(Nanos ns) {
  if (ns <= 0) return 0;
  if (ns >= static_cast<Nanos>(kMaxRetryAfterS) * kNsPerS) return kMaxRetryAfterS;
  return static_cast<std::uint32_t>((ns + kNsPerS - 1) / kNsPerS);
}

// Parts known when the route is matched, and cheap to read (no header, cookie or query scan).
bool early_key(const std::vector<policy::KeyPart>& parts) {
  return std::all_of(parts.begin(), parts.end(), [](const policy::KeyPart& p) {
    return p.kind == policy::KeyPartKind::ClientIp || p.kind == policy::KeyPartKind::ClientPrefix ||
           p.kind == policy::KeyPartKind::Route || p.kind == policy::KeyPartKind::Method;
  });
}

std::string identity(std::string_view route, const policy::LimitConfig& limit) {
  return std::string(route) + '\n' + limit.name + '\n' + std::to_string(limit.rate) + '/' +
         std::to_string(limit.period) + '\n' + std::to_string(limit.burst) + '\n' +
         std::to_string(limit.max_keys);
}

// The same on every node loading the same limit: it names the limit's keys in Redis.
std::uint64_t fleet_id(const std::string& identity) {
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(identity.data()),
                                            identity.size());
  return siphash24(HashSeed{0x67617465686f7573ULL, 0x6c696d6974732121ULL}, bytes);
}

Sharing sharing_of(const policy::LimitConfig& limit) {
  if (!limit.shared) return Sharing::Local;
  return limit.exact ? Sharing::Exact : Sharing::Shared;
}

// A refusing limit's action in the verdict; Delay past its limit (or with no slot to wait for)
// refuses.
void refuse_with(const policy::LimitAction& a, stages::Verdict& v) {
  switch (a.kind) {
    case policy::ActionKind::Tarpit:
      v.action = stages::Action::Tarpit;
      v.wait_ms = a.hold;
      break;
    case policy::ActionKind::Drop:
      v.action = stages::Action::Drop;
      break;
    case policy::ActionKind::Ban:
      v.action = stages::Action::Reject;
      v.ban = true;
      v.ban_ms = a.ban_duration;
      v.ban_max_ms = a.ban_max != 0 ? a.ban_max : static_cast<std::int64_t>(a.ban_duration) * 64;
      break;
    case policy::ActionKind::Challenge:
      v.action = stages::Action::Challenge;
      break;
    case policy::ActionKind::Delay:
    case policy::ActionKind::Reject:
      v.action = stages::Action::Reject;
      break;
  }
}

}  // namespace

std::shared_ptr<Table> Registry::table_for(std::string_view route, const policy::LimitConfig& limit,
                                           const Limit& gcra) {
  std::lock_guard lock(mu_);
  std::string id = identity(route, limit);
  auto it = tables_.find(id);
  if (it != tables_.end()) {
    // A reload may turn sharing on or off; the table and its state stay.
    if (log_ != nullptr) it->second->set_sharing(sharing_of(limit));
    return it->second;
  }
  TableConfig tc;
  tc.capacity = limit.max_keys;
  // A table full of limited or banned keys lets an unknown key through untracked (and counts it)
  // rather than refusing every newcomer: limits stay per key, and the count is visible.
  tc.full_policy = FullPolicy::FailOpen;
  std::shared_ptr<Table> table = Table::create(gcra, tc);
  if (table == nullptr) return table;
  if (log_ != nullptr) {
    const std::uint64_t fid = fleet_id(id);
    table->share(log_.get(), fid, sharing_of(limit));
    shared_[fid] = table;
  }
  tables_.emplace(std::move(id), table);
  return table;
}

void Registry::share(std::function<void()> urgent) {
  std::lock_guard lock(mu_);
  if (log_ != nullptr) return;
  log_ = std::make_unique<DeltaLog>();
  log_->on_urgent(std::move(urgent));
}

void Registry::drain(std::vector<DeltaEntry>& out) {
  if (log_ != nullptr) log_->drain(out);
}

template <typename F>
void Registry::each_figure(const std::vector<Figure>& figures, F&& f) {
  std::lock_guard lock(mu_);
  Table* table = nullptr;
  std::uint64_t current = 0;
  for (const Figure& fig : figures) {
    if (table == nullptr || fig.limit != current) {
      current = fig.limit;
      auto it = shared_.find(fig.limit);
      table = it != shared_.end() ? it->second.get() : nullptr;
      if (table == nullptr) continue;
    }
    f(*table, fig);
  }
}

void Registry::set_debts(const std::vector<Figure>& figures, Nanos now) {
  each_figure(figures, [now](Table& t, const Figure& f) { t.set_debt(f.key, now, f.value); });
}

void Registry::add_debts(const std::vector<Figure>& figures, Nanos now) {
  each_figure(figures, [now](Table& t, const Figure& f) { t.add_debt(f.key, now, f.value); });
}

void Registry::raise_debts(const std::vector<Figure>& figures, Nanos now) {
  each_figure(figures, [now](Table& t, const Figure& f) { t.raise_debt(f.key, now, f.value); });
}

void Registry::retain_only(const std::vector<std::shared_ptr<Table>>& in_use) {
  std::lock_guard lock(mu_);
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (std::find(in_use.begin(), in_use.end(), it->second) == in_use.end()) {
      auto s = shared_.find(it->second->fleet_id());
      if (s != shared_.end() && s->second == it->second) shared_.erase(s);
      it = tables_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t Registry::memory_bytes() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, t] : tables_) n += t->memory_bytes();
  return n;
}

RouteLimits::RouteLimits(std::string_view route, const std::vector<policy::LimitConfig>& limits,
                         Registry& registry) {
  for (const policy::LimitConfig& limit : limits) {
    std::optional<Limit> gcra = gcra_of(limit);
    if (!gcra) continue;  // the loader refuses such limits; never reached with a loaded config
    std::shared_ptr<Table> table = registry.table_for(route, limit, *gcra);
    if (table == nullptr) continue;
    limits_.push_back({&limit, std::move(table), early_key(limit.key)});
    needs_body_ = needs_body_ || ratelimit::needs_body(limit.key);
  }
}

std::vector<std::shared_ptr<Table>> RouteLimits::tables() const {
  std::vector<std::shared_ptr<Table>> out;
  for (const auto& c : limits_) out.push_back(c.table);
  return out;
}

namespace {

// Queues one count_when limit. With no room left (more count_when limits on a route than kMax),
// a charge simply stays and a count owed on a matching status is paid now: both err towards
// counting, never towards letting a failure go uncounted.
void enqueue(PendingCounts& pending, Table& table, const Ticket& ticket,
             const std::vector<std::uint16_t>& statuses, bool charged, Nanos now) {
  if (pending.size < PendingCounts::kMax) {
    pending.entries[pending.size++] = {&table, ticket, &statuses, charged};
  } else if (!charged) {
    table.add(ticket, now);
  }
}

}  // namespace

stages::Verdict RouteLimits::check(const KeyInputs& in, Nanos now, PendingCounts& pending,
                                   const EarlyTickets* early, ExactPasses* exact) const {
  if (early != nullptr && early->owner != this) early = nullptr;
  if (exact != nullptr) exact->size = 0;
  std::uint8_t next_early = 0;  // tickets are in limit order
  stages::Verdict v;
  const std::uint8_t first_new = pending.size;
  // A refusal undoes what this call queued: refunds its charges, forgets its owed counts.
  const auto undo_queued = [&] {
    for (std::uint8_t i = first_new; i < pending.size; ++i) {
      const PendingCounts::Entry& e = pending.entries[i];
      if (e.charged) e.table->refund(e.ticket, now);
    }
    pending.size = first_new;
  };
  for (std::size_t index = 0; index < limits_.size(); ++index) {
    const Compiled& c = limits_[index];
    const policy::LimitConfig& cfg = *c.config;
    const Ticket* prefetched = nullptr;
    if (early != nullptr && next_early < early->size && early->limit[next_early] == index) {
      prefetched = &early->tickets[next_early++];
    }
    const bool count_when = !cfg.count_when_status.empty();
    const bool in_class = (cfg.classes & (1u << static_cast<unsigned>(in.client_class))) != 0;
    // A plain limit ignores the classes it leaves out; a count_when one still counts their
    // matching statuses (below).
    if (!in_class && !count_when) continue;
    // A challenge limit asks for a clearance; clients holding one are past it (a limit keyed on
    // clearance.id is what stops one solve being spread over a flood).
    if (cfg.action.kind == policy::ActionKind::Challenge && !in.clearance.empty()) continue;
    Ticket ticket;
    if (prefetched != nullptr) {
      ticket = *prefetched;
    } else {
      Key key;
      if (build_key(cfg.key, in, key_seed(), key) != KeyBuild::Ok) continue;
      ticket = c.table->locate(key);
    }
    if (!in_class) {
      // Not checked and not charged now, but a matching status is: a failed login proves nothing
      // about the class of its sender (a botnet can hold one resident's device token), and the
      // failure counts against the account like any other.
      enqueue(pending, *c.table, ticket, cfg.count_when_status, false, now);
      continue;
    }
    // count_when limits consume now too: checking now and counting at the response would let
    // every request sent before the first response pass (40 concurrent guesses against 5).
    Decision d = c.table->decide(ticket, now);

    const Limit& l = c.table->limit();
    stages::RateLimitInfo info{cfg.name, l.burst,
                               ceil_seconds(l.emission_interval * static_cast<Nanos>(l.burst)),
                               d.remaining, ceil_seconds(d.reset)};
    if (!v.has_ratelimit || info.remaining < v.ratelimit.remaining) {
      v.ratelimit = info;
      v.has_ratelimit = true;
    }
    if (d.allowed) {
      // An untracked pass (full table, fail-open) charged nothing: it is owed a count instead.
      if (count_when) {
        enqueue(pending, *c.table, ticket, cfg.count_when_status, d.status == Status::Tracked, now);
      } else if (exact != nullptr && exact->size < ExactPasses::kMax && !cfg.dry_run &&
                 d.status == Status::Tracked && c.table->sharing() == Sharing::Exact) {
        exact->entries[exact->size++] = {&cfg, c.table.get(), ticket};
      }
      continue;
    }
    if (cfg.dry_run) {
      if (v.outcome == stages::Outcome::Passed) {
        v.outcome = stages::Outcome::RejectedDryRun;
        v.rule = cfg.name;
      }
      continue;
    }
    const policy::LimitAction& a = cfg.action;
    v.rule = cfg.name;
    v.status = a.status;
    v.retry_after_s = ceil_seconds(d.retry_after);
    if (a.kind == policy::ActionKind::Delay && d.retry_after != kNever &&
        d.retry_after <= static_cast<Nanos>(a.delay_max) * kNsPerMs) {
      // Reserve the future slot now, so the delayed request is paced, not merely postponed.
      const Decision r = c.table->add(ticket, now);
      if (count_when) {
        enqueue(pending, *c.table, ticket, cfg.count_when_status, r.status == Status::Tracked, now);
      }
      v.action = stages::Action::Delay;
      v.outcome = stages::Outcome::Delayed;
      v.wait_ms = std::max<std::int64_t>(v.wait_ms, (d.retry_after + kNsPerMs - 1) / kNsPerMs);
      continue;  // a later limit may still refuse
    }
    refuse_with(a, v);
    v.outcome = stages::Outcome::Rejected;
    undo_queued();
    if (exact != nullptr) exact->size = 0;  // refused here: nothing for the fleet to check
    return v;  // the first refusal wins; later limits are not charged for it
  }
  return v;
}

stages::Verdict exact_refusal(const ExactPasses::Entry& e, Nanos retry_after) {
  const policy::LimitConfig& cfg = *e.config;
  const Limit& l = e.table->limit();
  stages::Verdict v;
  v.rule = cfg.name;
  v.status = cfg.action.status;
  v.retry_after_s = ceil_seconds(std::max<Nanos>(retry_after, 0));
  v.has_ratelimit = true;
  v.ratelimit = {cfg.name, l.burst, ceil_seconds(l.emission_interval * static_cast<Nanos>(l.burst)),
                 0, v.retry_after_s};
  v.outcome = stages::Outcome::Rejected;
  refuse_with(cfg.action, v);  // Delay too: Redis said no, there is no slot to wait for
  return v;
}

void refund_exact(ExactPasses& exact, Nanos now) {
  for (std::uint8_t i = 0; i < exact.size; ++i) {
    exact.entries[i].table->refund(exact.entries[i].ticket, now);
  }
  exact.size = 0;
}

void RouteLimits::prefetch(const KeyInputs& in, EarlyTickets& out) const {
  out.owner = this;
  out.size = 0;
  for (std::size_t i = 0; i < limits_.size() && i < 256; ++i) {
    const Compiled& c = limits_[i];
    if (!c.early) continue;
    Key key;
    // Early parts are never absent (an address, a route, a method): a Missing key is only
    // skipped, and check() then builds it itself.
    if (build_key(c.config->key, in, key_seed(), key) != KeyBuild::Ok) continue;
    out.tickets[out.size] = c.table->locate(key);
    out.limit[out.size] = static_cast<std::uint8_t>(i);
    if (++out.size == EarlyTickets::kMax) break;
  }
}

void RouteLimits::settle(PendingCounts& pending, std::uint16_t status, Nanos now) {
  for (std::uint8_t i = 0; i < pending.size; ++i) {
    const PendingCounts::Entry& e = pending.entries[i];
    const bool counts =
        std::find(e.statuses->begin(), e.statuses->end(), status) != e.statuses->end();
    if (e.charged && !counts) {
      e.table->refund(e.ticket, now);
    } else if (!e.charged && counts) {
      e.table->add(e.ticket, now);
    }
  }
  pending.clear();  // settled once: a later call (say, a local 502 after the head) is a no-op
}

}  // namespace gh::ratelimit
