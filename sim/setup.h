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
#include "sim/scenario.h"
#include "sim/sim-t.h"

namespace gh::sim {

// One request on a fresh connection, bounded by `timeout`. `raw` is the full request.
std::optional<Response> blocking_request(const Target& t, const std::string& raw, Nanos timeout,
                                         std::string* error);
// The same from a bound source address (nullptr = any).
std::optional<Response> blocking_request_from(const Target& t, const sockaddr_storage* source,
                                              const std::string& raw, Nanos timeout,
                                              std::string* error);

// The accounts of a resident population: sim-<pop>-<i>, created at `app` by POST /signup
// (X-Sim-Population: sim-setup, so they are not counted as the population's sign-ups). An
// existing account (409, an earlier run) is fine: names and passwords are deterministic.
std::optional<std::vector<Account>> create_accounts(const Target& app, const std::string& pop,
                                                    std::uint32_t count, unsigned concurrency,
                                                    std::string* error);
// Returning users (`prior_login`): POST /login for every account through `target`, from the
// address the account uses in the run (source_index of `pop`), `concurrency` at a time; each
// jar gets the cookies the answer set (a shield's device cookie, the app's session). 429 and
// 503 are retried (Retry-After, at most 5 s, 10 attempts); a login the target does not accept
// in the end (not 2xx/3xx) is an error: the run would not measure returning users.
std::optional<std::vector<CookieJar>> prior_logins(const Target& target, bool via_xff,
                                                   const PopulationConfig& pop,
                                                   const std::vector<Account>& accounts,
                                                   unsigned concurrency, std::string* error);
// API residents with `prior_login`: POST /api/login (JSON) for every account through `target`,
// from its home address, retried like prior_logins; the bearer token of each (its 200 answer's
// "token") in account order.
std::optional<std::vector<std::string>> prior_api_logins(const Target& target, bool via_xff,
                                                         const PopulationConfig& pop,
                                                         const std::vector<Account>& accounts,
                                                         unsigned concurrency, std::string* error);
// "username:password" lines; '#' comments and blank lines skipped.
std::optional<std::vector<Account>> read_accounts(const std::string& path, std::string* error);

struct AppStats {
  std::map<std::string, std::int64_t> accounts_by_population;
  // Logins (form and API) the app handled, by X-Sim-Population; empty when the app does not say.
  std::map<std::string, std::int64_t> logins_by_population;
  bool has_logins = false;
  std::int64_t queued_connections = 0;  // accepted, waiting for a worker
};

// GET /api/stats of the demo app.
std::optional<AppStats> fetch_app_stats(const Target& app, std::string* error);
// After a run the app may still be working through a backlog of requests the simulator sent
// (they can still create accounts): polls until no connection waits, at most `max_wait`.
std::optional<AppStats> fetch_app_stats_settled(const Target& app, Nanos max_wait,
                                                std::string* error);

}  // namespace gh::sim
