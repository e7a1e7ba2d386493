// Where a configuration has the shield read and write (docs/CONFIG.md, "Files and paths"):
// `gatehouse validate` prints it, so an operator sees the paths before the service uses them.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "policy/config-t.h"

namespace gh::cli {

struct FileUse {
  std::string key;   // the config key, or what the file is ("revocations", "events")
  std::string path;  // absolute for a configuration read from a file
  std::string use;   // "read", "read; created when missing", "appended", ...
};

// In order: configuration files, files read, then state (state_dir and what `gatehouse run`
// keeps in it). `access_log`: whether the mode writes one (`run` and `demo` do).
std::vector<FileUse> files_of(const policy::Config& config, bool access_log = true);
void print_files(const std::vector<FileUse>& files, std::FILE* out);

}  // namespace gh::cli
