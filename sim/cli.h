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

}  // namespace gh::sim
