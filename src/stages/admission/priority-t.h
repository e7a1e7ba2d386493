// Admission priorities, lowest first. Shedding walks up this order: a priority is shed only when
// every lower one already is (Google SRE criticality), and residents come last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stages/client_class-t.h"

namespace gh::admission {

enum class Priority : std::uint8_t { Suspect, AnonymousSignup, AnonymousOther, Verified, Resident };
inline constexpr std::size_t kPriorities = 5;

constexpr std::size_t index_of(Priority p) {
  return static_cast<std::size_t>(p);
}

// Anonymous sign-ups go before other anonymous traffic: a flood of new accounts is the attack
// this proxy exists for, while anonymous browsing of other routes is mostly harmless.
constexpr Priority priority_of(policy::ClientClass c, bool signup_route) {
  switch (c) {
    case policy::ClientClass::Suspect:
      return Priority::Suspect;
    case policy::ClientClass::Anonymous:
      return signup_route ? Priority::AnonymousSignup : Priority::AnonymousOther;
    case policy::ClientClass::Verified:
      return Priority::Verified;
    case policy::ClientClass::Resident:
      return Priority::Resident;
  }
  return Priority::Suspect;  // out-of-range value: treat as the least trusted
}

constexpr std::string_view priority_name(Priority p) {
  switch (p) {
    case Priority::Suspect:
      return "suspect";
    case Priority::AnonymousSignup:
      return "anonymous_signup";
    case Priority::AnonymousOther:
      return "anonymous_other";
    case Priority::Verified:
      return "verified";
    case Priority::Resident:
      return "resident";
  }
  return "unknown";
}

}  // namespace gh::admission
