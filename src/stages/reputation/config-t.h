// The reputation section (`reputation:`): plain types, filled by config.cc in this folder and
// compiled by the scorer (scorer.h). In gh::policy, the configuration's namespace, like every
// section's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/address-t.h"
#include "config/model-t.h"
#include "http/message-t.h"

namespace gh::policy {

enum class ReputationAction : std::uint8_t { Weigh, Allow, Deny, Challenge };

struct ReputationRule {
  std::string name;
  // All conditions present must hold.
  std::string user_agent;  // RE2, partial match
  std::string path_prefix;
  std::vector<http::Method> methods;
  std::vector<std::string> headers_present;
  std::vector<std::string> headers_missing;
  std::vector<client::Cidr> cidrs;
  std::vector<std::uint32_t> asns;
  std::uint32_t recent_refusals = 0;  // >= this many refusals of the prefix lately (0 = off)
  std::string asns_file;  // more AS numbers, one per line (an operator's list of hosting ASNs)
  // The user agent claims a browser the request does not look like (headers it always sends
  // missing, or in an order it never uses, or a headless build).
  bool browser_mismatch = false;
  // The request comes without having been shown the page: no valid page-view cookie, or one
  // younger than page_view.min_age (a form filled faster than a person can).
  bool page_view_skipped = false;
  // The sign-up body's address (email_field) is at a disposable-mail domain.
  bool disposable_email = false;
  // The connection's JA4 (TLS ClientHello fingerprint) matches one of these; `*` matches any run
  // of characters ("t13d*_8daaf6152771_*"). Never matches a request that came without TLS.
  std::vector<std::string> ja4;
  // The user agent claims a browser (Chrome, Firefox, Safari) but the connection's JA4 matches
  // none of reputation.browser_ja4. Never matches without TLS.
  bool ja4_mismatch = false;
  // The request came over HTTP/2 with one of these connection fingerprints (h2.fingerprint).
  std::vector<std::string> h2_fingerprints;
  ReputationAction action = ReputationAction::Weigh;
  std::int32_t weight = 0;
  std::uint8_t level = 1;  // Challenge: ladder level
  SourceMark mark;
};

struct ReputationThreshold {
  std::int32_t score = 0;  // total >= score
  ReputationAction action = ReputationAction::Challenge;
  std::uint8_t level = 1;  // 0 = meta refresh, 1.. = proof of work
};

// Page-view continuity: Gatehouse sets `cookie` (signed, bound to the client's network and user
// agent, with the time) on every page of a sign-up route it forwards to a GET; a rule with
// `page_view: skipped` matches a request without a valid one, or with one younger than min_age.
struct PageViewConfig {
  std::string cookie = "gh_view";
  Millis min_age = 2'000;
  Millis lifetime = 3'600'000;
};

struct ReputationConfig {
  std::vector<ReputationRule> rules;
  std::vector<ReputationThreshold> thresholds;  // highest score first after load
  std::int32_t suspect_score = 30;
  std::string asn_database;  // MaxMind-format .mmdb; empty = no ASN rules
  PageViewConfig page_view;
  std::string email_field = "email";    // body field of a sign-up holding the address
  std::string disposable_domains_file;  // more disposable domains, one per line
  // The JA4 fingerprints (patterns as in ReputationRule::ja4) of the browsers the site expects:
  // what `ja4_mismatch` compares a claimed browser's connection with.
  std::vector<std::string> browser_ja4;
};

}  // namespace gh::policy
