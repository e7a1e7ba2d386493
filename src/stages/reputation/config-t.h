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

struct ReputationConfig {
  std::vector<ReputationRule> rules;
  std::vector<ReputationThreshold> thresholds;  // highest score first after load
  std::int32_t suspect_score = 30;
  std::string asn_database;  // MaxMind-format .mmdb; empty = no ASN rules
};

}  // namespace gh::policy
