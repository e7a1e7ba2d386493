// The fleet's shared store (Redis, `cluster:`) as the pipeline sees it: a question a request
// waits for where a decision must be the fleet's rather than this node's alone — a solved
// challenge's single-use claim, a sign-up clearance's one sign-up, an exact limit, a place in the
// waiting room's line. The request
// waits at most timeout_ms(); past it, or with the store away, the node decides alone
// (fail-static), as it would without a fleet.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "stages/challenge/token-t.h"

namespace gh::gate {

struct StoreQuery {
  enum class Kind : std::uint8_t { None, Claim, Limits, Line, Signup };
  Kind kind = Kind::None;
  // A Claim or Signup query: `id` claimed across the fleet until `expiry_ms`.
  static StoreQuery claim(Kind k, const challenge::TokenId& id, std::int64_t expiry_ms) {
    StoreQuery q;
    q.kind = k;
    q.id = id;
    q.expiry_ms = expiry_ms;
    return q;
  }
  // Claim: a challenge id, spent across the fleet until expiry_ms (wall clock). Signup: a sign-up
  // clearance's id, its one sign-up claimed across the fleet until expiry_ms (keys of their own:
  // a claim of one kind never answers the other's).
  challenge::TokenId id{};
  std::int64_t expiry_ms = 0;
  // Limits: the exact limits a request passed locally, checked and charged together (GCRA, all
  // or none). The key is the limit's fleet id and the request's key hash.
  struct Limit {
    std::uint64_t limit = 0, lo = 0, hi = 0;
    std::int64_t interval_us = 0;  // one request's cost
    std::int64_t burst_us = 0;     // what may be owed at most (burst × interval)
  };
  static constexpr std::size_t kMaxLimits = 4;
  std::array<Limit, kMaxLimits> limits{};
  std::uint8_t limit_count = 0;
  // Line: a visit to a route's waiting room, decided on the fleet's one line (fleet/line.h). `id`
  // is the ticket's (a first visit's: the fresh ticket it is given).
  struct Line {
    std::uint32_t scope = 0;  // the route's scope: the hash tag of its keys
    bool ticket = false;      // a returning ticket (joins the line); false: a first visit
    bool open = true;         // room for a session here (max_active); false: never due
    std::int64_t first_us = 0;
    std::int64_t interval_us = 1;  // the fleet's new_users_per_minute, as one admission's cost
    std::uint32_t burst = 1;       // what the bucket holds while nobody waits (a calm room's burst)
    std::uint32_t hold = 1;        // what the bucket holds for people in line (a refresh's worth)
    std::uint32_t max_queue = 1;
    std::int64_t gone_ms = 1;
    std::int64_t back_ms = 1;  // how long a first visit told to wait is expected back
  };
  Line line{};
};

enum class StoreAnswer : std::uint8_t {
  Yes,       // claimed here first / every limit conforms (and was charged) / due
  No,        // claimed by another node first / limit `which` refuses / not due (or full)
  TimedOut,  // no answer within the timeout
  Failed,    // no answer (connection lost, refused, malformed): decided locally
};

struct StoreReply {
  StoreAnswer answer = StoreAnswer::Failed;
  std::uint8_t which = 0;      // Limits, No: the index of the refusing limit
  std::int64_t retry_ms = 0;   // Limits, No: when that limit next admits one
  std::uint32_t position = 0;  // Line, No: the place in the fleet's line (1 = next); 0: full
  std::int64_t waited_us = 0;  // from the question to this reply (filled by the transport's host)
};

class SharedStore {
 public:
  using Done = std::function<void(const StoreReply&)>;
  virtual ~SharedStore() = default;
  // Worth asking now: Redis reached, breaker closed, awaits enabled.
  virtual bool ready() const = 0;
  // The longest a question waits (cluster.request_timeout).
  virtual std::int64_t timeout_ms() const = 0;
  // Asks; `done` is called exactly once, on any thread, by timeout_ms() after the call (TimedOut).
  // False when it cannot be asked (then `done` is never called).
  virtual bool ask(const StoreQuery& q, Done done) = 0;
};

}  // namespace gh::gate
