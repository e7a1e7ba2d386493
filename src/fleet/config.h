// The `cluster:` section's loader piece.
#pragma once

#include "fleet/config-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::fleet {

// `cluster:`, errors reported to `doc`. The password file is resolved against the configuration
// file and checked readable here (its text is read when the node connects).
void load_cluster(policy::Document& doc, const policy::Field& f, policy::ClusterConfig& out);

// The host name, as the default node name (one of 1-64 letters, digits, '_', '-', '.'; longer
// names are cut, other characters become '-'); "gatehouse" when there is none.
std::string default_node_name();

}  // namespace gh::fleet
