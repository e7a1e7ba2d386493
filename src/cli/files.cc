#include "cli/files.h"

#include <algorithm>

#include "config/document.h"
#include "observe/events.h"
#include "observe/minutes.h"

namespace gh::cli {

std::vector<FileUse> files_of(const policy::Config& c, bool access_log) {
  std::vector<FileUse> out;
  for (std::size_t i = 0; i < c.source_files.size(); ++i) {
    out.push_back({i == 0 ? "config" : "include", policy::absolute_path(c.source_files[i]),
                   "read (and on reload)"});
  }
  for (const auto& f : c.lists.allow_files)
    out.push_back({"lists.allow_files", f, "read (and on reload)"});
  for (const auto& f : c.lists.deny_files)
    out.push_back({"lists.deny_files", f, "read (and on reload)"});
  if (c.admin.enabled && !c.admin.token_file.empty()) {
    out.push_back({"admin.token_file", c.admin.token_file, "read at start"});
  }
  if (!c.challenge.theme_css_file.empty()) {
    out.push_back({"challenge.theme_css_file", c.challenge.theme_css_file, "read (and on reload)"});
  }
  if (!c.reputation.asn_database.empty()) {
    out.push_back({"reputation.asn_database", c.reputation.asn_database, "read (and on reload)"});
  }
  if (!c.state_dir.empty()) out.push_back({"state_dir", c.state_dir, "created when missing"});
  if (!c.secrets.key_file.empty()) {
    out.push_back({"secrets.key_file", c.secrets.key_file, "read; created (0600) when missing"});
  }
  if (!c.bans.journal.empty()) {
    out.push_back({"bans.journal", c.bans.journal, "read at start, appended"});
  }
  if (c.state_dir.empty()) return out;
  const std::string dir = c.state_dir == "/" ? "" : c.state_dir;
  // The names below are those gate/defence.cc, observe/ and proxy/observe.cc write; a test runs
  // the shield and checks that every file it leaves is listed here.
  out.push_back({"revocations", dir + "/revocations", "read at start, appended"});
  out.push_back({"events", dir + "/" + observe::kEventsFile, "appended, rotated"});
  out.push_back({"minutes", dir + "/" + observe::kMinutesFile, "appended, rotated"});
  out.push_back({"reports", dir + "/reports/", "incident reports written"});
  if (access_log) {
    out.push_back({"access_log.path", c.access_log.path,
                   c.access_log.enabled ? "appended, rotated" : "off (access_log.enabled: false)"});
  }
  return out;
}

void print_files(const std::vector<FileUse>& files, std::FILE* out) {
  std::size_t key = 0;
  std::size_t path = 0;
  for (const FileUse& f : files) {
    key = std::max(key, f.key.size());
    path = std::max(path, f.path.size());
  }
  std::fprintf(out, "files:\n");
  for (const FileUse& f : files) {
    std::fprintf(out, "  %-*s  %-*s  %s\n", static_cast<int>(key), f.key.c_str(),
                 static_cast<int>(path), f.path.c_str(), f.use.c_str());
  }
}

}  // namespace gh::cli
