// The rate-limit section of a route (`routes[].limits`): plain types, filled by config.cc in this
// folder and read by the stage (stage.h) and the key builder (keys.h). The types keep the
// configuration's namespace, gh::policy, like every section's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model-t.h"

namespace gh::policy {

// One element of a limit's key tuple. YAML spelling in parentheses.
enum class KeyPartKind : std::uint8_t {
  ClientIp,      // client.ip — the resolved client address
  ClientPrefix,  // client.prefix — its /ipv4_prefix or /ipv6_prefix (clients section)
  Header,        // header.NAME — a request field value (first occurrence)
  Cookie,        // cookie.NAME
  Query,         // query.NAME — a query parameter, percent- and '+'-decoded
  BodyField,     // body.NAME — a urlencoded or JSON (top-level string) field of the body prefix
  EmailDomain,   // email_domain.NAME — the lowercased domain part of body field NAME
  Route,         // route — the matched route's name
  Method,        // method
  Clearance,     // clearance.id — the id of the request's valid challenge clearance
  DeviceId,      // device.id — a resident's device (device token, or the app token's account)
  H2Fingerprint,  // h2.fingerprint — the HTTP/2 connection's fingerprint; absent over HTTP/1.1
  Email,         // email.NAME — body field NAME as one mailbox: lowercased, "+tag" dropped,
                 // dots dropped where the provider ignores them (gmail.com, googlemail.com)
  TlsJa4,        // tls.ja4 — the JA4 fingerprint of the client's TLS ClientHello
};

// Parts read from the request body (held back until they are read).
constexpr bool body_part(KeyPartKind k) {
  return k == KeyPartKind::BodyField || k == KeyPartKind::EmailDomain || k == KeyPartKind::Email;
}

struct KeyPart {
  KeyPartKind kind = KeyPartKind::ClientIp;
  std::string name;  // field / cookie / parameter name for the kinds that take one
};

enum class ActionKind : std::uint8_t {
  Challenge,  // clients without clearance for the route get the challenge; cleared ones pass
  Reject,     // answer `status` (default 429) with Retry-After and RateLimit fields
  Delay,      // hold the request until it conforms, if that is within `delay_max`; else reject
  Tarpit,     // hold the connection for `hold`, then answer `status` and close
  Drop,       // close the connection without an answer
  Ban,        // reject, and ban the client address for `ban_duration`, doubling on repeats
};

struct LimitAction {
  ActionKind kind = ActionKind::Reject;
  std::uint16_t status = 429;
  Millis delay_max = 0;     // Delay
  Millis hold = 0;          // Tarpit
  Millis ban_duration = 0;  // Ban: first ban
  // Ban: escalation cap (0 = 64 × ban_duration). Milliseconds, but 64-bit: it may reach 365 days,
  // beyond what Millis holds (49.7 days).
  std::uint64_t ban_max = 0;
  std::uint8_t level = 1;  // Challenge: ladder level (0 = wait page, 1.. = proof of work)
};

struct LimitConfig {
  std::string name;          // unique within its route
  std::vector<KeyPart> key;  // empty = one global bucket for the route
  std::uint32_t rate = 0;    // `rate` requests per `period`
  Millis period = 0;
  std::uint32_t burst = 0;  // back-to-back requests from an idle key; default = rate
  LimitAction action;
  bool dry_run = false;  // decide and record, never enforce
  // count_when: when non-empty, a request only counts if its response status is one of these
  // (failed logins per account): charged on arrival, refunded on any other status.
  std::vector<std::uint16_t> count_when_status;
  std::uint32_t max_keys = 100'000;  // hard cap of tracked keys; memory is fixed by it
  // Classes the limit applies to (bit i = ClientClass i); default all. A login-failure limit
  // that skips residents keeps the real owner of an account reachable during stuffing.
  std::uint8_t classes = 0x0f;
  // With `cluster:`: the limit counts across the fleet (local tables plus a periodic exchange of
  // deltas through Redis); false keeps it per node. Without `cluster:` both are inert.
  bool shared = true;
  // Shared, and pushed to the fleet as soon as a key changes rather than every sync interval:
  // the error shrinks from rate × sync_interval to rate × one Redis round trip (ARCHITECTURE.md).
  bool exact = false;
  SourceMark mark;
};

}  // namespace gh::policy
