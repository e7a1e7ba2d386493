// `gatehouse report`: the Markdown incident report from the files a shield keeps in its
// state_dir (events.jsonl, minutes.jsonl); works with the shield stopped.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace gh::cli {

struct ReportOptions {
  std::string since;
  std::string until = "now";
  std::string state_dir;    // wins over config_path
  std::string config_path;  // its state_dir
  std::string output;       // empty or "-": stdout
};

// Registers `report`; when parsed it runs, and a non-zero exit status is raised as
// CLI::RuntimeError (app.exit() turns it into the return code without a message).
void add_report_command(CLI::App& app);

// 0 written, 1 cannot read or write, 2 bad input.
int report_command(const ReportOptions& options);

}  // namespace gh::cli
