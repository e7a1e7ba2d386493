// What the pipeline tells a transport to do with a request: a small value. The HTTP/1.1
// session, an HTTP/2 stream and the decision service each carry it out on their own wire.
#pragma once

#include <cstdint>

#include "stages/admission/priority-t.h"
#include "stages/answer-t.h"

namespace gh::admission {
class Limiter;
}
namespace gh::policy {
struct AdmissionConfig;
}

namespace gh::gate {

class SharedStore;
struct StoreQuery;

enum class Step : std::uint8_t {
  Forward,    // on to the upstream; add Exchange::response_fields() to its answer
  Respond,    // write `answer`
  NeedBody,   // call Pipeline::body() with the first `body_bytes` of the body (or all of it)
  Hold,       // wait until `until_ms`, then call Pipeline::hold_over() (delay, tarpit)
  AwaitSlot,  // wait in the admission queue of `limiter`; then granted() or shed()
  Drop,       // close without an answer
  // Ask `store` the `query` (the fleet's Redis) and wait for its reply, then call
  // Pipeline::awaited() with it; at until_ms at the latest, awaited() with TimedOut. Only with
  // `cluster:` on: a solved challenge's claim, an exact limit.
  Await,
};

struct Decision {
  Step step = Step::Forward;
  stages::Answer answer;                  // Respond
  std::uint32_t body_bytes = 0;           // NeedBody
  std::int64_t until_ms = 0;              // Hold: monotonic ms
  admission::Limiter* limiter = nullptr;  // AwaitSlot
  admission::Priority priority = admission::Priority::AnonymousOther;
  const policy::AdmissionConfig* admission = nullptr;  // AwaitSlot: queue size, timeouts
  SharedStore* store = nullptr;                        // Await
  const StoreQuery* query = nullptr;                   // Await: in the exchange
};

// How the request reached us: through the inline proxy (Gatehouse forwards it), or described by
// a proxy in front that asks the decision service (it forwards, never shows us the body or the
// application's answer, and holds no admission slot of ours).
enum class Via : std::uint8_t { Inline, Decide };

// Times the pipeline reads: monotonic for limits and holds, wall-clock for signed tokens (which
// outlive restarts and travel between nodes). Tests pass their own. The wall clock is kept once,
// in µs, so that its ms and µs readings can never disagree.
struct Clock {
  std::int64_t mono_ms = 0;
  std::int64_t wall_us = 0;

  std::int64_t wall_ms() const { return wall_us / 1000; }
  // A clock known to the millisecond (tests).
  static constexpr Clock at_ms(std::int64_t mono_ms, std::int64_t wall_ms) {
    return {mono_ms, wall_ms * 1000};
  }
};

}  // namespace gh::gate
