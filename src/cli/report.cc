#include "cli/report.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/build_info.h"
#include "observe/jsonl.h"
#include "observe/report.h"
#include "policy/config.h"

namespace gh::cli {

int report_command(const ReportOptions& o) {
  auto since = observe::parse_time(o.since);
  if (!since) {
    std::fprintf(stderr,
                 "gatehouse report: --since '%s' is not a time: use e.g. 2026-11-24T10:00:00Z, "
                 "'2026-11-24 10:00', -2h, '30m ago'\n",
                 o.since.c_str());
    return 2;
  }
  auto until = observe::parse_time(o.until.empty() ? "now" : o.until);
  if (!until) {
    std::fprintf(stderr, "gatehouse report: --until '%s' is not a time\n", o.until.c_str());
    return 2;
  }
  if (*until <= *since) {
    std::fprintf(stderr, "gatehouse report: --until must be after --since\n");
    return 2;
  }
  std::string dir = o.state_dir;
  if (dir.empty() && !o.config_path.empty()) {
    policy::LoadResult r = policy::load_config_file(o.config_path);
    if (!r.errors.empty()) {
      for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
      return 2;
    }
    dir = r.snapshot->config.state_dir;
  }
  if (dir.empty()) dir = "var";  // the config's default
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    std::fprintf(stderr,
                 "gatehouse report: state directory '%s' not found (give --state-dir DIR or "
                 "--config FILE)\n",
                 dir.c_str());
    return 1;
  }
  observe::ReportInput in = observe::load_report_input(dir, *since, *until);
  in.generator = std::string("gatehouse ") + std::string(core::version());
  const std::string text = observe::write_report(in);
  if (o.output.empty() || o.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  std::ofstream out(o.output, std::ios::trunc | std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "gatehouse report: cannot write %s\n", o.output.c_str());
    return 1;
  }
  std::fprintf(stderr, "incident report written to %s (%zu minutes, %zu events)\n",
               o.output.c_str(), in.minutes.size(), in.events.size());
  return 0;
}

void add_report_command(CLI::App& app) {
  auto opts = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand(
      "report", "Write the Markdown incident report for a time range from the state directory");
  cmd->add_option("--since", opts->since,
                  "Start: 2026-11-24T10:00:00Z, '2026-11-24 10:00' (UTC), -2h, '30m ago'")
      ->required();
  cmd->add_option("--until", opts->until, "End (default: now)");
  auto* dir = cmd->add_option("--state-dir", opts->state_dir, "The shield's state_dir");
  cmd->add_option("-c,--config", opts->config_path, "Read state_dir from this config")
      ->excludes(dir);
  cmd->add_option("-o,--output", opts->output, "Write to FILE (default: standard output)");
  cmd->callback([opts] {
    const int rc = report_command(*opts);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace gh::cli
