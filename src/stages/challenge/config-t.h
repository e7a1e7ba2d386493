// The challenge section (`challenge:`): plain types, filled by config.cc in this folder and read
// by the gate (gate.h). In gh::policy, the configuration's namespace, like every section's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model-t.h"

namespace gh::policy {

struct ChallengeLevel {
  std::uint32_t rate = 0;  // route requests per second from which this level applies
  std::uint8_t bits = 16;  // leading zero bits of SHA-256(challenge || nonce)
};

struct ChallengeConfig {
  std::vector<ChallengeLevel> levels{{0, 16}, {50, 18}, {500, 20}};  // by route pressure
  std::uint8_t max_bits = 26;
  Millis refresh_wait = 5'000;  // level 0 (no JavaScript): come back after this
  Millis challenge_lifetime = 5 * 60'000;
  std::string cookie = "gh_clearance";
  Millis clearance_lifetime = 60 * 60'000;         // browsing
  Millis signup_clearance_lifetime = 10 * 60'000;  // routes of class signup
  std::uint32_t spent_max = 100'000;  // single-use set; when full new solves are refused (503)
  // Unexpired entries of the single-use set one client network may hold (429 beyond), so that
  // no one network fills the set for everyone; see docs/CONFIG.md for the choice of 64.
  std::uint32_t spent_per_prefix = 64;
  std::string theme_css_file;  // operator's CSS added to the pages
  // Risk pricing: a client's reputation score adds one bit (twice the work) per this many
  // points, at most risk_max_extra_bits; 0 turns it off.
  std::uint32_t risk_score_per_bit = 10;
  std::uint8_t risk_max_extra_bits = 8;
  // A sign-up clearance opens one sign-up submission (then the next one solves again), so an
  // account costs a proof of work, not a clearance's lifetime of accounts.
  bool signup_single_use = true;
};

}  // namespace gh::policy
