// The fleet's shared store (Redis, `cluster:`) as the pipeline sees it: a question a request
// waits for where a decision must be the fleet's rather than this node's alone — a solved
// challenge's single-use claim, an exact limit. The request waits at most timeout_ms(); past it,
// or with the store away, the node decides alone (fail-static), as it would without a fleet.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "stages/challenge/token-t.h"

namespace gh::gate {

struct StoreQuery {
  enum class Kind : std::uint8_t { None, Claim, Limits };
  Kind kind = Kind::None;
  // Claim: a challenge id, spent across the fleet until expiry_ms (wall clock).
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
};

enum class StoreAnswer : std::uint8_t {
  Yes,       // claimed here first / every limit conforms (and was charged)
  No,        // claimed by another node first / limit `which` refuses
  TimedOut,  // no answer within the timeout
  Failed,    // no answer (connection lost, refused, malformed): decided locally
};

struct StoreReply {
  StoreAnswer answer = StoreAnswer::Failed;
  std::uint8_t which = 0;      // Limits, No: the index of the refusing limit
  std::int64_t retry_ms = 0;   // Limits, No: when that limit next admits one
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
