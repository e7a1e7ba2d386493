// Blocking helpers around a run: creating resident accounts at the app before the attack and
// reading the app's own account counts (GET /api/stats) before and after.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/response.h"
#include "sim/sim-t.h"

namespace gh::sim {

// One request on a fresh connection, bounded by `timeout`. `raw` is the full request.
std::optional<Response> blocking_request(const Target& t, const std::string& raw, Nanos timeout,
                                         std::string* error);

// The accounts of a resident population: sim-<pop>-<i>, created at `app` by POST /signup
// (X-Sim-Population: sim-setup, so they are not counted as the population's sign-ups). An
// existing account (409, an earlier run) is fine: names and passwords are deterministic.
std::optional<std::vector<Account>> create_accounts(const Target& app, const std::string& pop,
                                                    std::uint32_t count, unsigned concurrency,
                                                    std::string* error);
// "username:password" lines; '#' comments and blank lines skipped.
std::optional<std::vector<Account>> read_accounts(const std::string& path, std::string* error);

struct AppStats {
  std::map<std::string, std::int64_t> accounts_by_population;
  std::int64_t queued_connections = 0;  // accepted, waiting for a worker
};

// GET /api/stats of the demo app.
std::optional<AppStats> fetch_app_stats(const Target& app, std::string* error);
// After a run the app may still be working through a backlog of requests the simulator sent
// (they can still create accounts): polls until no connection waits, at most `max_wait`.
std::optional<AppStats> fetch_app_stats_settled(const Target& app, Nanos max_wait,
                                                std::string* error);

}  // namespace gh::sim
