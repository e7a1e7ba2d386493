// The decision pipeline: every request-path decision, apart from any transport. A transport
// (the HTTP/1.1 session, an HTTP/2 stream, the decision service) hands it a request head and
// the time, carries out the Decision it returns, and reports how the exchange went.
//
// Stages, in their fixed order (docs/ARCHITECTURE.md, "Life of a request"):
//   tunnels -> client address -> lists, bans -> path -> Gatehouse's endpoints -> route ->
//   who is asking (device token, clearance, reputation) -> body size -> rate limits ->
//   gates (challenge, sign-up mode, waiting room) -> admission -> forward.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "gate/decision-t.h"
#include "gate/exchange.h"
#include "gate/stats.h"
#include "gate/store.h"
#include "http/message-t.h"

namespace gh::lists {
class BanTable;
}

namespace gh::gate {

struct Runtime;

// What the pipeline needs from its host besides the runtime: one per thread (a worker).
struct Host {
  WorkerStats* stats = nullptr;
  const lists::BanTable* bans = nullptr;  // read lock-free; may be null
  // Asks for a ban (the host writes its journal off the request path).
  std::function<void(const client::IpAddress& client, std::int64_t duration_ms, std::int64_t max_ms,
                     std::string_view rule)>
      ban;
  // Reports an event for the operator's timeline (rare transitions only, never per request).
  std::function<void(std::string_view kind, std::string message)> event;
};

class Pipeline {
 public:
  explicit Pipeline(Host host);

  // A request head has arrived from `peer` (the socket peer, or the PROXY protocol source).
  // `x` is reset here; `rt` and `head` must outlive the exchange. `tls`: it came over TLS that
  // Gatehouse terminated (a trusted proxy in front may say so too, by X-Forwarded-Proto).
  Decision begin(Exchange& x, const Runtime& rt, const http::RequestHead& head,
                 const client::IpAddress& peer, Clock now, Via via = Via::Inline, bool tls = false);
  // After NeedBody: the first bytes of the body (de-chunked), `complete` when that is all of it.
  Decision body(Exchange& x, std::string_view prefix, bool complete, Clock now);
  // After Hold: the hold is over.
  Decision hold_over(Exchange& x, Clock now);
  // After AwaitSlot: a slot of `limiter` (taken at priority `p`) was granted, or none will be
  // (timeout, evicted). The exchange holds the slot until end().
  Decision granted(Exchange& x, admission::Limiter* limiter, admission::Priority p, Clock now);
  Decision shed(Exchange& x, Clock now);
  // After Await: the shared store's reply, or TimedOut when none came by the decision's
  // until_ms (Failed when it could not be asked). Fail-static: without the fleet's answer the
  // node's own decision stands.
  Decision awaited(Exchange& x, const StoreReply& reply, Clock now);

  // The upstream's answer head: count_when limits, the device token of a successful login (in
  // x.response_fields()), the route's signals and the admission feedback.
  void settle(Exchange& x, const http::ResponseHead& resp, std::int64_t rtt_us, Clock now);
  // The exchange is over, however it ended; `status` is what the client got (0: nothing).
  // Releases what it held (admission slot, device place) and settles what settle() did not.
  void end(Exchange& x, int status, Clock now);

 private:
  Decision limits(Exchange& x, std::string_view body, bool complete, Clock now);
  Decision gates(Exchange& x, Clock now);
  Decision newcomer_gates(Exchange& x, Clock now);
  void reused_clearance(Exchange& x);
  // A queue-mode sign-up: the waiting room, asking the fleet's line first where there is one;
  // `line`: its answer (nullptr: not asked, or asked and answered by now).
  Decision queue(Exchange& x, const StoreReply* line, Clock now);
  Decision admission(Exchange& x, Clock now);
  Decision gatehouse(Exchange& x, std::string_view body, Clock now);
  Decision classify(Exchange& x, std::string_view path, Clock now);
  Decision score(Exchange& x, std::string_view email_domain, Clock now);
  void count_class(const Exchange& x);
  Decision challenge(Exchange& x, std::uint8_t level, Clock now);
  Decision respond(const stages::Answer& a);
  // The fleet's store when a request may wait for it now; nullptr without a fleet, or with the
  // store away (the decision is then this node's, counted as fail-static).
  SharedStore* fleet_store(const Exchange& x);
  Decision await(Exchange& x, SharedStore& store, Clock now);
  Decision refuse_limited(Exchange& x, bool close);
  Decision limit_verdict(Exchange& x, Clock now);
  void note_refusal(const Exchange& x, Clock now);
  void settle_signup(Exchange& x, const http::ResponseHead& resp, Clock now);
  std::uint64_t binding(Exchange& x);

  Host host_;
  WorkerStats& stats_;
};

}  // namespace gh::gate
