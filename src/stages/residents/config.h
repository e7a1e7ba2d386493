// The residents section's loader piece.
#pragma once

#include "stages/residents/config-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::residents {

// `residents:`, errors reported to `doc`. Whether login routes name a success signal is checked
// with the routes, by policy/.
void load_residents(policy::Document& doc, const policy::Field& f, policy::ResidentsConfig& out);

}  // namespace gh::residents
