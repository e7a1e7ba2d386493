#include "policy/paths.h"

#include <string_view>

#include "config/document.h"

namespace gh::policy {

namespace {

std::string trim_dir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

std::string path_under(const std::string& dir, const std::string& name) {
  if (!name.empty() && name.front() == '/') return name;
  std::string_view rest = name;
  while (rest.starts_with("./")) rest.remove_prefix(2);
  if (dir.empty()) return std::string(rest);
  const std::string d = trim_dir(dir);
  return (d == "/" ? d : d + "/") + std::string(rest);
}

void resolve_paths(Config& config, const std::string& main_file, bool from_file,
                   const std::function<std::string(const std::string& key)>& file_of) {
  // Relative to the file that set `key` (the main file for defaults).
  auto read_side = [&](const std::string& key, std::string& name) {
    if (name.empty()) return;
    std::string file = file_of(key);
    if (file.empty()) file = main_file;
    const std::string p = relative_to(file, name);
    name = from_file ? absolute_path(p) : p;
  };
  read_side("state_dir", config.state_dir);
  config.state_dir = trim_dir(config.state_dir);
  read_side("admin.token_file", config.admin.token_file);
  read_side("challenge.theme_css_file", config.challenge.theme_css_file);
  read_side("reputation.asn_database", config.reputation.asn_database);

  // Relative to state_dir; when unset, the default name there.
  auto state_side = [&](const std::string& key, std::string& name, const char* default_name) {
    if (file_of(key).empty()) name = default_name;
    name = path_under(config.state_dir, name);
  };
  state_side("secrets.key_file", config.secrets.key_file, kKeyFileName);
  state_side("bans.journal", config.bans.journal, kJournalName);
  state_side("access_log.path", config.access_log.path, kAccessLogName);
}

}  // namespace gh::policy
