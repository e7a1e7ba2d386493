// The load generator: one epoll loop drives every simulated user as a small state machine over
// non-blocking sockets; a second thread solves proofs of work so hashing never stalls the loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/histogram.h"
#include "sim/response.h"
#include "sim/sim-t.h"

namespace gh::sim {

struct PopulationStats {
  std::uint64_t arrivals = 0;          // users started (open loop: due by the schedule)
  std::uint64_t dropped = 0;           // arrivals beyond the waiting line (the sim was overloaded)
  std::uint64_t users_ok = 0;          // did what they came for
  std::uint64_t users_failed = 0;      // refused, errored or gave up
  std::uint64_t users_unfinished = 0;  // still in flight when the run ended
  std::uint64_t sent = 0;              // requests written (slow-client: connections opened)
  std::uint64_t succeeded = 0;         // responses that were the step's expected success
  std::map<int, std::uint64_t> refused;         // other responses, by status
  std::map<std::string, std::uint64_t> errors;  // connect, reset, timeout, bad response, ...
  std::uint64_t challenged = 0;                 // proof-of-work challenges received
  std::uint64_t solved = 0;                     // solutions the shield accepted
  std::uint64_t queued = 0;                     // waiting-room answers received
  std::uint64_t registered = 0;                 // sign-ups answered 201/303
  std::uint64_t registered_60s = 0;             // ... within 60 s (time to register, below)
  std::uint64_t logged_in = 0;                  // logins answered 200/303
  std::uint64_t api_calls = 0;                  // api-resident: bearer calls answered 200
  std::int64_t accounts_created = -1;           // counted by the app (GET /api/stats); -1 = unknown
  std::int64_t logins_at_app = -1;  // logins the app itself handled (its count); -1 = unknown
  // Proof of work: hashes the solver computed for this population (every try, found or not,
  // including work for users who gave up), and solutions found later than a client hashing at
  // hashes_per_second would have found them (the simulator's solver could not keep that speed).
  std::uint64_t pow_hashes = 0;
  std::uint64_t solutions = 0;  // solutions found (submitted or not)
  std::uint64_t solves_late = 0;
  std::uint64_t solves_unfinished = 0;  // users who gave up while their work was being done
  Histogram solve_lag;                  // how late, for late solutions
  Histogram latency;                    // per request, from its intended start
  // Arrival to registration (newcomer/flood; the person's own form-filling time not counted),
  // arrival to the last page (residents).
  Histogram to_goal;
};

struct Account {
  std::string username;
  std::string password;
};

class Engine {
 public:
  Engine(Scenario scenario, Target target, bool via_xff, bool quiet);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Accounts of resident population `index` (credential stuffing draws usernames from them),
  // with the cookies each account's browser starts with (`prior_login`; missing = none).
  void set_accounts(std::size_t index, std::vector<Account> accounts,
                    std::vector<CookieJar> jars = {});
  // api-resident: the bearer token each account starts with (`prior_login`; empty = log in at
  // the first visit).
  void set_tokens(std::size_t index, std::vector<std::string> tokens);
  // Runs to the end of duration + drain. false (with *error) only when it could not start.
  bool run(std::string* error);
  const std::vector<PopulationStats>& stats() const;
  double elapsed_s() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Standard-library-free helpers the engine uses, exposed for tests.
std::string url_encode(std::string_view s);
// A shield's challenge: a proof of work (token, bits, where to submit), or a wait (come back to
// `url` after `wait_ms`). Read from the JSON of a 403 (API clients) or from the HTML page a
// browser gets (the proof-of-work form with data-bits, or a meta refresh). false when the answer
// is not one.
struct Challenge {
  std::string token;
  unsigned bits = 0;
  std::string submit;
  bool wait = false;
  std::int64_t wait_ms = 0;
  std::string url;
};
bool parse_challenge(const Response& r, Challenge* out);
// A waiting room's place: the JSON of a 202 (retry_after seconds), or an HTML page (200 or 202)
// that refreshes itself (meta refresh without a url: reload after N s). false otherwise.
bool parse_queued(const Response& r, double* retry_after_s);
// The bearer token of a 200 answer to POST /api/login ({"token": "..."}); nullopt otherwise.
std::optional<std::string> parse_token(const Response& r);
// The value of attribute `name` in one HTML tag's text (`<form id="gh-form" data-bits="18">`), with
// &amp; &lt; &gt; &quot; &#39; decoded. nullopt when absent.
std::optional<std::string> html_attribute(std::string_view tag, std::string_view name);

}  // namespace gh::sim
