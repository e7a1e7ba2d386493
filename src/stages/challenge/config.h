// The challenge section's loader piece.
#pragma once

#include "stages/challenge/config-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::challenge {

// `challenge:`, errors reported to `doc`.
void load_challenge(policy::Document& doc, const policy::Field& f, policy::ChallengeConfig& out);

}  // namespace gh::challenge
