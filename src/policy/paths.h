// Where the files a configuration names are read and written (docs/CONFIG.md, "Files and
// paths"), made final once every file of the configuration is read:
//   - `state_dir`, and the files Gatehouse reads (admin.token_file, challenge.theme_css_file,
//     reputation.asn_database), are relative to the directory of the configuration file that
//     names them; list files and includes are resolved the same way as they are read;
//   - the state files Gatehouse writes (secrets.key_file, bans.journal, access_log.path) are
//     relative to state_dir, and those left unset get their default name there.
// Absolute names are kept as written. A configuration loaded from a string (the demo, tests) has
// no directory: its names stay relative to the current directory.
#pragma once

#include <functional>
#include <string>

#include "policy/config-t.h"

namespace gh::policy {

inline constexpr const char* kKeyFileName = "secret.key";
inline constexpr const char* kJournalName = "bans.journal";
inline constexpr const char* kAccessLogName = "access.log";

// `file_of(key)` names the configuration file that set `key` ("state_dir", "bans.journal", ...),
// or "" when no file set it. `from_file`: the configuration came from a file (names become
// absolute) rather than a string.
void resolve_paths(Config& config, const std::string& main_file, bool from_file,
                   const std::function<std::string(const std::string& key)>& file_of);

// `name` inside `dir` unless absolute; "./" prefixes and trailing slashes of `dir` dropped.
std::string path_under(const std::string& dir, const std::string& name);

}  // namespace gh::policy
