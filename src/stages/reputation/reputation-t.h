// Plain types of the reputation stage: what score() reads and what it answers. Behaviour lives in
// scorer.h (rules), refusals.h (recent refusals per prefix) and asn.h (ASN database).
#pragma once

#include <cstdint>
#include <string_view>

#include "client/address-t.h"
#include "http/message-t.h"
#include "stages/reputation/config-t.h"

namespace gh::reputation {

// One request as the scorer sees it. Every view must outlive the score() call only.
struct Request {
  const http::RequestHead* head = nullptr;  // nullptr: no fields, method Other
  client::IpAddress client;                 // the resolved client address (after trusted XFF)
  // The normalised path (http::canonical_path) so that "/%73ignup" cannot dodge a path rule;
  // empty: head->path is used.
  std::string_view path;
  // The client reached us over TLS (directly, or per a trusted proxy) or on a loopback host:
  // where browsers send their Sec-Fetch-* and client-hint fields.
  bool secure = false;
  // Age of the client's valid page-view cookie; negative: none (see PageViewConfig).
  std::int64_t page_view_age_ms = -1;
  // The lowercase domain of the sign-up body's address (reputation.email_field); empty: none
  // read (no body yet, no such field, or not one value).
  std::string_view email_domain;
  // The JA4 of the client's TLS connection (tls/ja4.h); empty: not TLS, or not known.
  std::string_view ja4;
  // The HTTP/2 connection's fingerprint; empty over HTTP/1.1.
  std::string_view h2_fingerprint;
};

// The scorer's answer. action Weigh means "no decision": the request goes on, the score travels
// to logs and to later stages (the suspect flag).
struct Score {
  std::int32_t total = 0;  // sum of the weights of the rules that matched (saturated)
  policy::ReputationAction action = policy::ReputationAction::Weigh;
  std::uint8_t level = 0;  // Challenge: ladder level (0 = meta refresh, 1.. = proof of work)
  std::string_view rule;   // the deciding rule's name, owned by the Scorer; empty: none
  bool suspect = false;    // total >= suspect_score, or a recent_refusals rule matched
};

}  // namespace gh::reputation
