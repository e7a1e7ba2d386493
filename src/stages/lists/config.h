// The address lists' and bans' loader pieces.
#pragma once

#include "stages/lists/config-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::lists {

// `lists:`, errors reported to `doc`. List files are only resolved and checked readable here;
// their lines are parsed when the prefix set is built.
void load_lists(policy::Document& doc, const policy::Field& f, policy::ListsConfig& out);
// `bans:`.
void load_bans(policy::Document& doc, const policy::Field& f, policy::BansConfig& out);

}  // namespace gh::lists
