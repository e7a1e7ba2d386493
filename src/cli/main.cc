// gatehouse — one binary, subcommands in the style of caddy: run, validate, proxy, demo, ctl, version.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/ctl.h"  // admin API: `gatehouse ctl`
#include "cli/report.h"  // `gatehouse report`: the incident report
#include "sim/cli.h"  // the attack simulator: `gatehouse sim`

#ifndef GATEHOUSE_VERSION
#define GATEHOUSE_VERSION "dev"
#endif

int main(int argc, char** argv) {
  using namespace gh::cli;
  // Signals are taken synchronously by the main thread (sigwait); every thread started later
  // inherits this mask, so no worker is ever interrupted by one.
  block_signals();
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"Gatehouse: an L7 shield for sign-up and login surfaces.", "gatehouse"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  app.footer("Run 'gatehouse COMMAND --help' for the options of one command.");

  RunOptions run_opts;
  auto* run = app.add_subcommand("run", "Run the shield with a YAML config (SIGHUP reloads it)");
  run->add_option("-c,--config", run_opts.config_path, "Config file")->required()->check(CLI::ExistingFile);
  run->add_option("-w,--workers", run_opts.workers, "Override server.workers (0 = one per core)");

  std::string validate_path;
  auto* validate = app.add_subcommand("validate", "Check a config file; errors as file:line:col: message");
  validate->add_option("-c,--config", validate_path, "Config file")->required();

  ProxyOptions proxy_opts;
  auto* proxy = app.add_subcommand(
      "proxy", "Quick mode: protect one upstream with the default protection, no config file");
  proxy->add_option("--from", proxy_opts.from, "Address to listen on, e.g. 127.0.0.1:8080")->required();
  proxy->add_option("--to", proxy_opts.to, "Upstream address, e.g. 127.0.0.1:3000")->required();
  proxy->add_option("-w,--workers", proxy_opts.workers, "Worker threads (0 = one per core)");

  DemoOptions demo_opts;
  auto* demo = app.add_subcommand("demo", "Run the built-in demo sign-up/login app behind the shield");
  demo->add_option("--listen", demo_opts.listen, "Shield address")->capture_default_str();
  demo->add_option("--app", demo_opts.app, "Demo app address (port 0 = any free port)")->capture_default_str();
  demo->add_option("--db", demo_opts.db_path, "Demo app SQLite database")->capture_default_str();
  demo->add_option("--app-workers", demo_opts.app_workers, "Demo app worker threads: its capacity")
      ->capture_default_str();
  demo->add_option("-w,--workers", demo_opts.workers, "Shield worker threads (0 = one per core)");

  auto* ctl = add_ctl_subcommand(app);  // admin API: parses its own arguments
  gh::sim::add_sim_command(app);         // runs from its own callback
  add_report_command(app);               // runs from its own callback

  app.add_subcommand("version", "Print the version")->callback([] {
    std::printf("gatehouse %s\n", GATEHOUSE_VERSION);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*run) return run_command(run_opts);
  if (*validate) return validate_command(validate_path);
  if (*proxy) return proxy_command(proxy_opts);
  if (*demo) return demo_command(demo_opts);
  if (*ctl) return ctl_command(ctl->remaining());  // admin API
  return 0;
}
