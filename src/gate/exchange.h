// One request's passage through the pipeline, from its head to its end: what was decided (read
// by the transport and the operator's view) and what must be settled or released at the end.
// The state is one value, reset as a whole; the storage for answers keeps its capacity.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/address-t.h"
#include "gate/store.h"
#include "http/fields.h"
#include "http/message-t.h"
#include "policy/config-t.h"
#include "stages/admission/priority-t.h"
#include "stages/answer-t.h"
#include "stages/challenge/token-t.h"
#include "stages/ratelimit/stage.h"
#include "stages/verdict-t.h"

namespace gh::admission {
class Limiter;
}
namespace gh::residents {
class DeviceGuard;
}

namespace gh::gate {

struct Runtime;
struct RouteDefence;

struct ExchangeState {
  // Who and where.
  const Runtime* rt = nullptr;
  const policy::RouteConfig* route = nullptr;
  const policy::UpstreamConfig* upstream = nullptr;
  const RouteDefence* rdef = nullptr;
  const ratelimit::RouteLimits* limits = nullptr;
  client::IpAddress client;  // resolved (X-Forwarded-For from trusted peers)
  client::IpAddress peer;    // the socket peer (or PROXY source)
  client::Cidr prefix;
  bool peer_trusted = false;  // the peer is a trusted proxy (its forwarding fields are kept)
  // The client came over TLS: ours, or as that proxy says (X-Forwarded-Proto: https): cookies
  // get Secure.
  // Read at begin(): the head is gone when the answer is settled.
  bool over_tls = false;
  // The request head: valid until the transport carries out Forward (gates and holds read it).
  const http::RequestHead* head = nullptr;
  http::Method method = http::Method::Other;
  bool json = false;         // the client asked for JSON (API clients get JSON answers)
  bool decide = false;       // Via::Decide
  bool body_unseen = false;  // a body exists that the decision service is not shown
  bool has_body = false;
  std::uint64_t body_limit = 0;  // the route's max_body_size (the transport enforces it)
  // An Upgrade the route opted into (the head's Upgrade value): forwarded with it, and a 101
  // naming it makes the transport splice the connection to the upstream.
  std::string_view upgrade;

  // Who is asking.
  policy::ClientClass cls = policy::ClientClass::Anonymous;
  bool allow_listed = false;
  bool signup_route = false;
  bool gatehouse = false;  // /.gatehouse/...: answered by the pipeline, never forwarded
  bool want_challenge = false;
  std::uint8_t challenge_level = 1;
  bool has_binding = false;
  std::uint64_t binding = 0;  // prefix + user agent, computed on first use
  std::uint64_t device_subject = 0;
  residents::DeviceGuard* device_guard = nullptr;  // holds an in-flight place of device_id
  challenge::TokenId device_id{};
  bool has_account = false;  // a login names an account, read unambiguously
  std::uint64_t account_hash = 0;
  std::uint8_t clearance_len = 0;
  std::array<char, 32> clearance_id;
  challenge::Token clearance;   // valid when clearance_len != 0
  std::int32_t score = 0;       // the reputation score (0 when not scored)
  bool score_deferred = false;  // a rule reads the body: scored when the body is read
  bool secure = false;          // TLS, per a trusted proxy, or a loopback host (see Request)
  std::uint8_t risk_bits = 0;   // the challenge's surcharge for this client's score

  // What was decided.
  stages::Verdict limit_verdict;  // the rate limits' decision (logs, metrics)
  bool hold_forwards = false;     // Hold: forward at its end (delay) or answer (tarpit)
  bool gates_done = false;
  ratelimit::PendingCounts pending;  // count_when limits, settled on the answer's status
  ratelimit::EarlyTickets early;     // keys of the route's limits, built when it was matched
  ratelimit::ExactPasses exact;      // exact limits passed here, for the fleet to confirm
  bool settled = false;
  admission::Limiter* slot = nullptr;  // holds a slot of this limiter
  admission::Priority priority = admission::Priority::AnonymousOther;
  std::int64_t rtt_us = -1;  // request sent -> response head
  bool upstream_ok = false;

  // Await: what the fleet's store is asked, and the answer given once it agrees (a solved
  // challenge's clearance), or the local decision when it does not answer in time.
  StoreQuery query;
  stages::Answer held;
  // A first visit to a waiting room the fleet's line was asked about: the ticket it gets.
  challenge::Token ticket;

  std::string_view path;  // canonical (in path_buf), what routes and rules matched
  std::size_t response_fields_len = 0;
};

struct Exchange : ExchangeState {
  void reset() { static_cast<ExchangeState&>(*this) = ExchangeState{}; }

  // The JA4 of the connection's TLS ClientHello (tls/ja4.h), read by the `tls.ja4` key part and
  // the reputation rules' ja4 conditions; empty on clear text. A property of the connection, not
  // of one request: reset() keeps it, and the transport sets it (or clears it) whenever the
  // exchange starts serving another connection. It views storage the connection owns.
  std::string_view ja4;
  // Set by the transport before begin() and kept by reset(): the HTTP/2 connection's
  // fingerprint (proxy/h2_session.h), empty over HTTP/1.1. Limit key part `h2.fingerprint`.
  std::string_view h2_fingerprint;

  // Set-Cookie lines for the forwarded response (device token, a fresh queue ticket).
  std::string_view response_fields() const {
    return {response_fields_buf.data(), response_fields_len};
  }
  void add_response_fields(std::string_view lines) {
    if (lines.size() > response_fields_buf.size() - response_fields_len) return;
    lines.copy(response_fields_buf.data() + response_fields_len, lines.size());
    response_fields_len += lines.size();
  }

  // Storage the pipeline's answers point into; capacity kept across exchanges.
  std::string page;
  std::string path_buf;
  std::array<char, 1024> answer_fields_buf;
  std::array<char, 512> response_fields_buf;
};

}  // namespace gh::gate
