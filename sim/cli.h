// `gatehouse sim`: the attack simulator's command line.
#pragma once

#include <CLI/CLI.hpp>

#include "sim/sim-t.h"

namespace gh::sim {

// Registers the `sim` subcommand; when parsed, it runs and a non-zero exit status is raised as
// CLI::RuntimeError (which app.exit() turns into the return code without a message).
void add_sim_command(CLI::App& app);

// Runs a scenario; returns the process exit status (0 ok, 1 failed to run, 2 bad input).
int run_sim(const SimOptions& options);

// `gatehouse sim asn-db SCENARIO OUT`: the scenario's `networks` as a MaxMind DB (GeoLite2-ASN
// field names) at `out`. Exit status as run_sim's.
int run_asn_db(const std::string& scenario_path, const std::string& out);

// Keeps the populations named in `only` (in scenario order). false, with *error naming the
// unknown one, when a name is not in the scenario.
bool select_populations(Scenario& s, const std::vector<std::string>& only, std::string* error);

}  // namespace gh::sim
