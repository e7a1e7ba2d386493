// The rate-limit stage of one route: every limit of the route, in order, against its table.
// Tables outlive config reloads (Registry), so a reload neither forgets nor refills buckets.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stages/ratelimit/config-t.h"
#include "stages/ratelimit/deltas.h"
#include "stages/ratelimit/keys.h"
#include "stages/ratelimit/table.h"
#include "stages/verdict-t.h"

namespace gh::ratelimit {

// Owns every limit table across reloads, keyed by the limit's identity (route, name, rate,
// burst, size): a reload that keeps a limit keeps its state; one that changes it starts afresh.
class Registry {
 public:
  std::shared_ptr<Table> table_for(std::string_view route, const policy::LimitConfig& limit,
                                   const Limit& gcra);
  // Drops tables that no loaded config uses any more.
  void retain_only(const std::vector<std::shared_ptr<Table>>& in_use);
  std::size_t memory_bytes() const;

  // Shared limits (`cluster:`): from now on, tables of `shared` limits report their changes to
  // the log (deltas.h). Before the first table_for.
  void share(std::function<void()> urgent);
  bool sharing() const { return log_ != nullptr; }
  // The fleet's thread: every change reported since the last call.
  void drain(std::vector<DeltaEntry>& out);
  std::uint64_t dropped() const { return log_ != nullptr ? log_->dropped() : 0; }
  // The fleet's figures for one limit's keys (see Table::set_debt / add_debt). A limit no longer
  // loaded is skipped.
  struct Figure {
    std::uint64_t limit = 0;
    Key key;
    Nanos value = 0;
  };
  void set_debts(const std::vector<Figure>& figures, Nanos now);
  void add_debts(const std::vector<Figure>& figures, Nanos now);
  void raise_debts(const std::vector<Figure>& figures, Nanos now);

 private:
  template <typename F>
  void each_figure(const std::vector<Figure>& figures, F&& f);

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Table>> tables_;
  std::unique_ptr<DeltaLog> log_;
  std::map<std::uint64_t, std::shared_ptr<Table>> shared_;  // by fleet id, under mu_
};

// What a request's count_when limits still owe, settled once its response status is known.
//
// A count_when limit is charged when the request arrives, like any limit, so that requests sent
// together cannot all pass the check before any of them counts; settle() refunds the charge when
// the status is not one the limit counts. A limit whose `classes` leave the client out is not
// checked or charged on arrival, but settle() counts a status that matches: a failed login counts
// against the account whoever sent it. Fixed size, no allocation: it lives in the session.
struct PendingCounts {
  struct Entry {
    Table* table = nullptr;  // kept alive by the config snapshot the exchange holds
    Ticket ticket;           // the key's place in `table`; the refund finds the key by its tag
    const std::vector<std::uint16_t>* statuses = nullptr;
    // true: charged on arrival, refunded unless the status matches. false: not charged (class
    // left out, or the table was full and the request passed untracked), counted if it matches.
    bool charged = false;
  };
  static constexpr std::size_t kMax = 8;
  std::array<Entry, kMax> entries{};
  std::uint8_t size = 0;
  // The exchange ended without a status (client gone, connection cut before any answer): charges
  // stay, counts owed on a matching status lapse. Charging a guess whose outcome is unknown is the
  // conservative side; an uncharged request proved nothing.
  void clear() { size = 0; }
};

class RouteLimits;

// The tickets RouteLimits::prefetch made, kept for check(): the early keys are built and hashed
// once per request, not twice. Fixed size, lives in the exchange.
struct EarlyTickets {
  static constexpr std::size_t kMax = 4;
  const RouteLimits* owner = nullptr;  // the RouteLimits that made them; others ignore them
  std::array<Ticket, kMax> tickets{};
  std::array<std::uint8_t, kMax> limit{};  // index of the limit each ticket is for
  std::uint8_t size = 0;
};

// The exact limits (`exact: true`, in a fleet) a request passed and was charged for here: in a
// fleet they are checked again, together, in Redis before it goes on (gate::Step::Await), and
// refunded here when Redis refuses. Fixed size, lives in the exchange; a route's exact limits
// past kMax are decided here alone.
struct ExactPasses {
  struct Entry {
    const policy::LimitConfig* config = nullptr;  // the config snapshot's
    Table* table = nullptr;  // kept alive by the config snapshot the exchange holds
    Ticket ticket;           // ticket.key is the key's hash, as the fleet names it
  };
  static constexpr std::size_t kMax = 4;
  std::array<Entry, kMax> entries{};
  std::uint8_t size = 0;
};

// The refusal of exact limit `e` decided in Redis (the fleet's figure), `retry_after` from now:
// its action as check() would take it (a delay cannot reserve a slot there: refused).
stages::Verdict exact_refusal(const ExactPasses::Entry& e, Nanos retry_after);
// Gives back what the request was charged for its exact limits here (Redis refused it).
void refund_exact(ExactPasses& exact, Nanos now);

class RouteLimits {
 public:
  // `limits` are the route's and must outlive this (they are the config snapshot's).
  RouteLimits(std::string_view route, const std::vector<policy::LimitConfig>& limits,
              Registry& registry);
  // A route of the loaded config (policy::RouteConfig): this stage needs only its name and limits,
  // and takes them without naming the type, since policy/ is above the stages.
  template <class Route>
  requires requires(const Route& r) {
    { r.name } -> std::convertible_to<std::string_view>;
    { r.limits } -> std::convertible_to<const std::vector<policy::LimitConfig>&>;
  }
  RouteLimits(const Route& route, Registry& registry)
      : RouteLimits(route.name, route.limits, registry) {}

  bool empty() const { return limits_.empty(); }
  bool needs_body() const { return needs_body_; }
  // Decides at request time. Limits whose key has a missing part do not apply. Every limit the
  // client's class is subject to consumes now; count_when limits are also queued in `pending`
  // (see PendingCounts). When a limit refuses, the count_when limits this call charged are
  // refunded and dequeued: the request never reaches the application, so it is no failure.
  // `early`, when made by prefetch() on this RouteLimits for the same request, stands for the
  // keys it holds (they are not built again).
  // `exact`, when given, gets the exact limits that passed (see ExactPasses).
  stages::Verdict check(const KeyInputs& in, Nanos now, PendingCounts& pending,
                        const EarlyTickets* early = nullptr, ExactPasses* exact = nullptr) const;
  // Builds the keys of the limits known as soon as the route is (client.ip, client.prefix,
  // route, method) and starts fetching their table buckets, so that the cache miss of a cold
  // key overlaps the work done before check() (classification, tokens); the tickets go to
  // `out` for check(). Changes nothing: no key is tracked or charged. At most
  // EarlyTickets::kMax limits, the route's first ones.
  void prefetch(const KeyInputs& in, EarlyTickets& out) const;
  // Once the exchange has a status, from the upstream or answered locally after the limits passed
  // (502, 503, ...): keeps or refunds each charge and counts what was owed on a matching status,
  // then empties `pending`, so a second call does nothing.
  static void settle(PendingCounts& pending, std::uint16_t status, Nanos now);

  std::vector<std::shared_ptr<Table>> tables() const;
  // Calls f(limit config, table) for each limit, in order (metrics, admin).
  template <typename F>
  void each(F&& f) const {
    for (const Compiled& c : limits_) f(*c.config, *c.table);
  }

 private:
  struct Compiled {
    const policy::LimitConfig* config;
    std::shared_ptr<Table> table;
    bool early;  // the key needs nothing but the address, route and method (prefetch)
  };
  std::vector<Compiled> limits_;
  bool needs_body_ = false;
};

}  // namespace gh::ratelimit
