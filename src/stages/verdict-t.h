// What a decision stage answers about a request: a small value, never an exception.
#pragma once

#include <cstdint>
#include <string_view>

namespace gh::stages {

enum class Action : std::uint8_t {
  Continue,  // next stage, then the upstream
  Reject,    // answer `status` now
  Delay,     // hold the request `wait_ms`, then continue
  Tarpit,    // hold the connection `wait_ms`, then answer `status` and close
  Drop,      // close without an answer
  Challenge, // answer the challenge of `challenge_level` (clients without clearance)
};

// The outcome recorded for logs and metrics (nginx's PASSED / DELAYED / REJECTED / *_DRY_RUN).
enum class Outcome : std::uint8_t { Passed, Delayed, Rejected, DelayedDryRun, RejectedDryRun };

// The values of the IETF RateLimit / RateLimit-Policy fields (draft-ietf-httpapi-ratelimit-headers).
struct RateLimitInfo {
  std::string_view policy;       // limit name
  std::uint32_t quota = 0;       // q: requests in a full window (the burst)
  std::uint32_t window_s = 0;    // w: seconds for an empty bucket to refill
  std::uint32_t remaining = 0;   // r
  std::uint32_t reset_s = 0;     // t: seconds until the bucket is full again
};

struct Verdict {
  Action action = Action::Continue;
  Outcome outcome = Outcome::Passed;
  std::uint16_t status = 0;
  std::int64_t wait_ms = 0;         // Delay / Tarpit
  std::uint32_t retry_after_s = 0;  // Retry-After on refusals
  std::string_view rule;            // the deciding rule's name (points into the config)
  bool has_ratelimit = false;
  RateLimitInfo ratelimit;          // the policy with the least remaining
  // Ban the client as well (the caller owns the ban table).
  std::uint8_t challenge_level = 1;
  bool ban = false;
  std::int64_t ban_ms = 0;
  std::int64_t ban_max_ms = 0;
};

}  // namespace gh::stages
