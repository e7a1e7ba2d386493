// The reputation section's loader piece.
#pragma once

#include "stages/reputation/config-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::reputation {

// `reputation:`, errors reported to `doc`; thresholds highest score first.
void load_reputation(policy::Document& doc, const policy::Field& f, policy::ReputationConfig& out);

// Whether `rule` says what it matches (a rule without a condition would match everything).
bool has_condition(const policy::ReputationRule& rule);

}  // namespace gh::reputation
