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
};

struct DemoOptions {
  std::string listen = "127.0.0.1:8080";
  std::string app = "127.0.0.1:3000";
  std::string db_path = "var/demo.db";
  std::string jwt_key = "var/demo-jwt.pem";  // the demo API's token key; public key at .pub.pem
  unsigned app_workers = 4;
  unsigned workers = 0;
};

void block_signals();
int run_command(const RunOptions& options);
int validate_command(const std::string& path);
int proxy_command(const ProxyOptions& options);
int demo_command(const DemoOptions& options);

}  // namespace gh::cli
