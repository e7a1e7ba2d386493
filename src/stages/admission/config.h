// The admission sections' loader pieces, and the rules about an admission config that the
// loader, the limiter and the wait queue share, so each is written once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "stages/admission/config-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::admission {

// Of the current limit, reserved for residents: never all of it, so other classes keep a share.
inline constexpr std::uint32_t kMaxResidentPercent = 90;
// Far below the 32-bit halves of the limiter's packed words.
inline constexpr std::uint32_t kMaxLimit = 1u << 30;

// What the limiter and the wait queue rely on, whoever built the config (the loader refuses
// what is out of range with a message first): min_limit >= 1, max_limit >= min_limit, the
// initial limit within them, resident_percent <= kMaxResidentPercent, and CoDel's target no
// longer than the longest wait.
constexpr policy::AdmissionConfig normalized(policy::AdmissionConfig c) {
  c.min_limit = std::clamp<std::uint32_t>(c.min_limit, 1, kMaxLimit);
  c.max_limit = std::clamp<std::uint32_t>(c.max_limit, c.min_limit, kMaxLimit);
  c.initial_limit = std::clamp(c.initial_limit, c.min_limit, c.max_limit);
  c.resident_percent = std::min(c.resident_percent, kMaxResidentPercent);
  c.codel_target = std::min(c.codel_target, c.queue_timeout);
  return c;
}

// An upstream's `admission` (at `path`), normalized; errors reported to `doc`.
void load_admission(policy::Document& doc, const policy::Field& f, const std::string& path,
                    policy::AdmissionConfig& out);
// A sign-up route's `signup` (at `path`): its mode, triggers and waiting room.
void load_signup(policy::Document& doc, const policy::Field& f, const std::string& path,
                 policy::SignupConfig& out);

}  // namespace gh::admission
