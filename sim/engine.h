// The load generator: one epoll loop drives every simulated user as a small state machine over
// non-blocking sockets; a second thread solves proofs of work so hashing never stalls the loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
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
  std::uint64_t logged_in = 0;                  // logins answered 200/303
  std::int64_t accounts_created = -1;           // counted by the app (GET /api/stats); -1 = unknown
  Histogram latency;                            // per request, from its intended start
  Histogram to_goal;  // arrival to registration (newcomer/flood), to end (resident)
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
// "challenge" JSON of a 403: token, bits, submit path. false when the body is not one.
struct Challenge {
  std::string token;
  unsigned bits = 0;
  std::string submit;
};
bool parse_challenge(const Response& r, Challenge* out);
// "queued" JSON of a 202: retry_after seconds. false when the body is not one.
bool parse_queued(const Response& r, double* retry_after_s);

}  // namespace gh::sim
