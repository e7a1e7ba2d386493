// The subcommands of the gatehouse binary; main.cc only parses arguments.
#pragma once

#include <string>

namespace gh::cli {

struct RunOptions {
  std::string config_path;
  int workers = -1;  // -1 = as in the config
};

struct ProxyOptions {
  std::string from;
  std::string to;
  unsigned workers = 0;
  std::string admin;      // "" = the default address (optional); "off"; or an address (required)
  std::string state_dir;  // "" = nothing written to the disk
  std::string io;         // "" = server.io's default; "epoll" or "io_uring"
};

struct DemoOptions {
  std::string listen = "127.0.0.1:8080";
  std::string app = "127.0.0.1:3000";
  // The demo over HTTPS too, with a local CA made at first start under var/tls; "off": none.
  std::string https = "127.0.0.1:8443";
  std::string db_path = "var/demo.db";
  std::string jwt_key = "var/demo-jwt.pem";  // the demo API's token key; public key at .pub.pem
  unsigned app_workers = 4;
  unsigned workers = 0;
  std::string admin;  // as ProxyOptions::admin
};

// --log-format and --log-level of run, proxy and demo: they win over the config's `log` section,
// at start and on every reload. Empty: as configured.
struct LogOverrides {
  std::string format;
  std::string level;
};
void set_log_overrides(const LogOverrides& overrides);

void block_signals();
int run_command(const RunOptions& options);
int validate_command(const std::string& path);
int proxy_command(const ProxyOptions& options);
int demo_command(const DemoOptions& options);

}  // namespace gh::cli
