// The rate-limit stage of one route: every limit of the route, in order, against its table.
// Tables outlive config reloads (Registry), so a reload neither forgets nor refills buckets.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "policy/config-t.h"
#include "stages/ratelimit/keys.h"
#include "stages/ratelimit/table.h"
#include "stages/verdict-t.h"

namespace gh::ratelimit {

// Owns every limit table across reloads, keyed by the limit's identity (route, name, rate,
// burst, size): a reload that keeps a limit keeps its state; one that changes it starts afresh.
class Registry {
 public:
  std::shared_ptr<Table> table_for(const policy::RouteConfig& route, const policy::LimitConfig& limit,
                                   const Limit& gcra);
  // Drops tables that no loaded config uses any more.
  void retain_only(const std::vector<std::shared_ptr<Table>>& in_use);
  std::size_t memory_bytes() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Table>> tables_;
};

// Counts still owed for count_when limits, settled when the response status is known.
struct PendingCounts {
  struct Entry {
    Table* table = nullptr;
    Key key;
    const std::vector<std::uint16_t>* statuses = nullptr;
  };
  static constexpr std::size_t kMax = 8;
  std::array<Entry, kMax> entries{};
  std::uint8_t size = 0;
  void clear() { size = 0; }
};

class RouteLimits {
 public:
  RouteLimits(const policy::RouteConfig& route, Registry& registry);

  bool empty() const { return limits_.empty(); }
  bool needs_body() const { return needs_body_; }
  // Decides at request time. Limits whose key has a missing part do not apply. Plain limits
  // consume now; count_when limits only check now and are queued in `pending`.
  stages::Verdict check(const KeyInputs& in, Nanos now, PendingCounts& pending) const;
  // At response time: counts the queued count_when limits whose statuses include `status`.
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
  };
  std::vector<Compiled> limits_;
  bool needs_body_ = false;
};

}  // namespace gh::ratelimit
