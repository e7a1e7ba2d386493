// `gatehouse ctl`: the admin API from the shell (docs/ADMIN.md).
//
//   gatehouse ctl [--admin 127.0.0.1:7462] [--token-file FILE] [--json]
//                 status | bans list | bans add KEY --for 1h [--reason TEXT] [--max 24h]
//                 | bans remove KEY
//
// Exit codes: 0 success, 1 the API refused or could not be reached, 2 usage errors.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace gh::cli {

// Registers `ctl` on the main program for its help listing; every argument after `ctl` is left
// to ctl_command, which parses them itself (its own help and exit codes).
CLI::App* add_ctl_subcommand(CLI::App& app);

// `args`: the arguments after `ctl`, in order.
int ctl_command(const std::vector<std::string>& args);

}  // namespace gh::cli
