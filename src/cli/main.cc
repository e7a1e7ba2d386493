// gatehouse — one binary, subcommands in the style of caddy: run, validate, proxy, demo, ctl,
// version.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/ctl.h"     // admin API: `gatehouse ctl`
#include "cli/report.h"  // `gatehouse report`: the incident report
#include "core/build_info.h"
#include "core/log.h"
#include "sim/cli.h"  // the attack simulator: `gatehouse sim`

// Exit codes, the same for every command: 0 done, 1 a runtime or configuration error, 2 a usage
// error (what was typed is not a command line gatehouse understands).
constexpr int kUsage = 2;

int main(int argc, char** argv) {
  using namespace gh::cli;
  // Signals are taken synchronously by the main thread (sigwait); every thread started later
  // inherits this mask, so no worker is ever interrupted by one.
  block_signals();
  gh::core::configure_logging(gh::core::LogFormat::Text, gh::core::LogLevel::Info);

  CLI::App app{"Gatehouse: an L7 shield for sign-up and login surfaces.", "gatehouse"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  app.set_version_flag("-V,--version", gh::core::describe_build());
  app.footer(
      "Run 'gatehouse COMMAND --help' for the options of one command.\n"
      "Exit codes: 0 done, 1 runtime or configuration error, 2 usage error.");

  RunOptions run_opts;
  auto* run = app.add_subcommand("run", "Run the shield with a YAML config (SIGHUP reloads it)");
  run->add_option("-c,--config", run_opts.config_path, "Config file")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("-w,--workers", run_opts.workers, "Override server.workers (0 = one per core)");

  std::string validate_path;
  auto* validate =
      app.add_subcommand("validate", "Check a config file; errors as file:line:col: message");
  validate->add_option("-c,--config", validate_path, "Config file")->required();

  ProxyOptions proxy_opts;
  auto* proxy = app.add_subcommand(
      "proxy", "Quick mode: protect one upstream with the default protection, no config file");
  proxy->add_option("--from", proxy_opts.from, "Address to listen on, e.g. 127.0.0.1:8080")
      ->required();
  proxy->add_option("--to", proxy_opts.to, "Upstream address, e.g. 127.0.0.1:3000")->required();
  proxy->add_option("-w,--workers", proxy_opts.workers, "Worker threads (0 = one per core)");
  proxy->add_option("--admin", proxy_opts.admin,
                    "Admin API address, or 'off' (default 127.0.0.1:7462, skipped if taken)");
  proxy->add_option("--state-dir", proxy_opts.state_dir,
                    "Keep the signing key, events and the access log in this directory "
                    "(default: nothing is written to the disk)");
  proxy
      ->add_option("--io", proxy_opts.io,
                   "Event loop backend, as server.io: epoll (default) or io_uring")
      ->check(CLI::IsMember({"epoll", "io_uring"}));

  DemoOptions demo_opts;
  auto* demo =
      app.add_subcommand("demo", "Run the built-in demo sign-up/login app behind the shield");
  demo->add_option("--listen", demo_opts.listen, "Shield address")->capture_default_str();
  demo->add_option("--https", demo_opts.https,
                   "Shield address for HTTPS, with a local CA made under var/tls at first start "
                   "(off = none)")
      ->capture_default_str();
  demo->add_option("--app", demo_opts.app, "Demo app address (port 0 = any free port)")
      ->capture_default_str();
  demo->add_option("--db", demo_opts.db_path, "Demo app SQLite database")->capture_default_str();
  demo->add_option("--jwt-key", demo_opts.jwt_key,
                   "Demo API's ES256 token key (PEM; made when absent, mode 0600); its public key "
                   "goes to FILE.pub.pem, for residents.app_token")
      ->capture_default_str();
  demo->add_option("--app-workers", demo_opts.app_workers, "Demo app worker threads: its capacity")
      ->capture_default_str();
  demo->add_option("-w,--workers", demo_opts.workers, "Shield worker threads (0 = one per core)");
  demo->add_option("--admin", demo_opts.admin,
                   "Admin API and dashboard address, or 'off' (default 127.0.0.1:7462, skipped "
                   "if taken)");

  // The log's format and level on the commands that serve (they win over the config's `log`).
  LogOverrides log_opts;
  for (CLI::App* serving : {run, proxy, demo}) {
    serving
        ->add_option("--log-format", log_opts.format,
                     "Log lines as text or json (config: log.format)")
        ->check(CLI::IsMember({"text", "json"}));
    serving
        ->add_option("--log-level", log_opts.level,
                     "Least level logged: trace, debug, info, warn, error (config: log.level)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  }

  auto* ctl = add_ctl_subcommand(app);  // admin API: parses its own arguments
  gh::sim::add_sim_command(app);        // runs from its own callback
  add_report_command(app);              // runs from its own callback

  app.add_subcommand("version", "Print the version, commit, build type and libraries")
      ->callback([] { std::fputs(gh::core::describe_build().c_str(), stdout); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command that ran and failed (sim, report): its own code
  } catch (const CLI::Error& e) {
    // A usage error: say what was wrong and what would have been right.
    const std::vector<CLI::App*> given = app.get_subcommands();
    if (!given.empty()) {
      const std::string name = given.front()->get_name();
      std::fprintf(stderr, "gatehouse %s: %s\nRun 'gatehouse %s --help' for its options.\n",
                   name.c_str(), e.what(), name.c_str());
      return kUsage;
    }
    std::string commands;
    for (const CLI::App* sub : app.get_subcommands({})) {
      commands += (commands.empty() ? "" : ", ") + sub->get_name();
    }
    const bool unknown = argc > 1 && argv[1][0] != '-';
    std::fprintf(stderr, "gatehouse: %s\ncommands: %s\nRun 'gatehouse --help' for usage.\n",
                 unknown ? (std::string("unknown command '") + argv[1] + "'").c_str()
                         : "a command is required",
                 commands.c_str());
    return kUsage;
  }
  set_log_overrides(log_opts);
  if (*run) return run_command(run_opts);
  if (*validate) return validate_command(validate_path);
  if (*proxy) return proxy_command(proxy_opts);
  if (*demo) return demo_command(demo_opts);
  if (*ctl) return ctl_command(ctl->remaining());  // admin API
  return 0;
}
