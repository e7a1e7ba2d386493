#include "cli/commands.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "cli/demo_config.h"
#include "client/address.h"
#include "control/admin_server.h"  // admin API
#include "core/build_info.h"
#include "demo/app.h"
#include "policy/config.h"
#include "policy/quick.h"
#include "policy/snapshot.h"
#include "proxy/server.h"

namespace gh::cli {

namespace {

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

void print_errors(const std::vector<policy::ConfigError>& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
}

policy::SnapshotPtr with_workers(const policy::SnapshotPtr& snapshot, int workers) {
  if (workers < 0) return snapshot;
  policy::Config config = snapshot->config;
  config.server.workers = static_cast<std::uint32_t>(workers);
  return policy::make_snapshot(std::move(config));
}

void log_listeners(const proxy::Server& server, const policy::Config& config) {
  auto ports = server.ports();
  for (std::size_t i = 0; i < config.listen.size(); ++i) {
    client::SocketAddress a = config.listen[i].address;
    a.port = ports[i];
    spdlog::info("listening on {}{} ({} workers)", client::format_socket_address(a),
                 config.listen[i].proxy_protocol ? " with PROXY protocol" : "",
                 server.worker_count());
  }
}

// ---- admin API (control/admin_server.h) ----
// Starts the admin API when admin.enabled. False only when it must run and cannot; with
// `optional` (quick modes, whose default address may be taken) a failure is a warning.
bool start_admin(proxy::Server& server, const policy::AdminConfig& config, bool optional,
                 std::unique_ptr<control::AdminServer>& out,
                 std::function<bool(const std::string&, std::string*)> reload = nullptr) {
  if (!config.enabled) return true;
  auto admin = std::make_unique<control::AdminServer>(server, config, std::string(core::version()));
  admin->set_reload(std::move(reload));
  std::string error;
  if (!admin->start(&error)) {
    if (optional) {
      spdlog::warn("admin API not started, continuing without it: {}", error);
      return true;
    }
    spdlog::error("cannot start the admin API: {}", error);
    return false;
  }
  spdlog::info("admin API on http://{}/v1/ ({})", client::format_socket_address(admin->address()),
               config.token_file.empty() ? "read-only: set admin.token_file to allow changes"
                                         : "changes need the token");
  out = std::move(admin);
  return true;
}
// ---- end admin API ----

// The one way the config is reloaded, from SIGHUP (the serve loop) and POST /v1/reload (an admin
// thread): serialised, so two reloads never build at once.
class Reloader {
 public:
  Reloader(proxy::Server& server, std::function<policy::SnapshotPtr()> load)
      : server_(server), load_(std::move(load)) {}
  bool available() const { return static_cast<bool>(load_); }
  bool operator()(const std::string& by, std::string* error) {
    std::lock_guard lock(mu_);
    policy::SnapshotPtr snapshot = load_();
    if (snapshot == nullptr) {
      if (error != nullptr) *error = "the config file has errors (see the log)";
      server_.observer().event("reload_refused", "", "reload refused: the config file has errors",
                               {{"by", by}});
      return false;
    }
    std::string why;
    if (!server_.reload_logged(snapshot, by, &why)) {
      spdlog::error("reload refused, keeping the running config:\n{}", why);
      if (error != nullptr) *error = why;
      return false;
    }
    spdlog::info("{}: config reloaded (generation {})", by, server_.generation());
    return true;
  }

 private:
  proxy::Server& server_;
  std::function<policy::SnapshotPtr()> load_;
  std::mutex mu_;
};

// Waits for signals: SIGHUP reloads through `reload` (when given); SIGINT/SIGTERM stop
// gracefully, and a second one forces the exit. The admin API (if any) stops before the proxy.
int serve(proxy::Server& server, Reloader* reload, control::AdminServer* admin = nullptr) {
  sigset_t set = handled_signals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      if (reload == nullptr || !reload->available()) {
        spdlog::info("SIGHUP: no config file to reload in this mode");
        continue;
      }
      (*reload)("signal", nullptr);
      continue;
    }
    auto grace = server.snapshot()->config.limits.shutdown_grace;
    spdlog::info(
        "{}: stopping; requests in flight may finish for up to {} ms (send it again to force)",
        strsignal(sig), grace);
    std::thread([set] {
      int again = 0;
      sigset_t s = set;
      sigwait(&s, &again);
      std::fprintf(stderr, "second signal: exiting now\n");
      _exit(1);
    }).detach();
    if (admin != nullptr) admin->stop();  // admin API first: it reads the server's state
    server.stop();
    server.wait();
    spdlog::info("stopped");
    return 0;
  }
}

// `admin_optional`: quick mode, where the admin API is a convenience (see start_admin).
int start_and_serve(policy::SnapshotPtr snapshot,
                    const std::function<policy::SnapshotPtr()>& reload, bool admin_optional,
                    proxy::ObserveOptions observe) {
  proxy::Server server(snapshot, observe);
  std::string error;
  if (!server.start(&error)) {
    spdlog::error("cannot start: {}", error);
    return 1;
  }
  log_listeners(server, snapshot->config);
  Reloader reloader(server, reload);
  std::unique_ptr<control::AdminServer> admin;  // admin API
  // Required when configured (a token file or an address of its own). Left at its defaults it is
  // a read-only convenience, and 9090 is a popular port (Prometheus): a clash must not stop the
  // shield, e.g. after an upgrade of a config without an admin section.
  const policy::AdminConfig& ac = snapshot->config.admin;
  const bool admin_default = ac.token_file.empty() && ac.address == policy::AdminConfig{}.address;
  std::function<bool(const std::string&, std::string*)> admin_reload;
  if (reloader.available()) {
    admin_reload = [&reloader](const std::string& by, std::string* why) {
      return reloader(by, why);
    };
  }
  if (!start_admin(server, ac, admin_optional || admin_default, admin, admin_reload)) {
    server.stop();
    server.wait();
    return 1;
  }
  return serve(server, &reloader, admin.get());
}

// Creates `path` (0600, 32 random bytes as hex) unless it exists.
bool ensure_token_file(const std::string& path, std::string* error) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return true;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    *error = "no randomness available";
    return false;
  }
  std::string hex;
  static const char* kHex = "0123456789abcdef";
  for (unsigned char c : raw) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  hex += '\n';
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = std::string("cannot create: ") + std::strerror(errno);
    return false;
  }
  const bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size());
  ::close(fd);
  if (!ok) *error = "cannot write";
  return ok;
}

std::optional<client::SocketAddress> parse_address_arg(const std::string& text, const char* what) {
  auto a = client::parse_socket_address(text);
  if (!a)
    std::fprintf(stderr,
                 "gatehouse: %s: '%s' is not an address like 127.0.0.1:8080 or [::1]:8080\n", what,
                 text.c_str());
  return a;
}

}  // namespace

void block_signals() {
  sigset_t set = handled_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a peer that vanished is an errno, not a death
}

int validate_command(const std::string& path) {
  policy::LoadResult r = policy::load_config_file(path);
  if (!r.errors.empty()) {
    print_errors(r.errors);
    return 1;
  }
  std::vector<std::string> runtime_errors;
  if (!gate::check_runtime(*r.snapshot, &runtime_errors)) {
    for (const auto& e : runtime_errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  const auto& c = r.snapshot->config;
  std::printf("ok: %s: %zu listeners, %zu upstreams, %zu routes\n", path.c_str(), c.listen.size(),
              c.upstreams.size(), c.routes.size());
  return 0;
}

int run_command(const RunOptions& options) {
  policy::LoadResult r = policy::load_config_file(options.config_path);
  if (!r.errors.empty()) {
    print_errors(r.errors);
    return 1;
  }
  auto reload = [options]() -> policy::SnapshotPtr {
    policy::LoadResult next = policy::load_config_file(options.config_path);
    if (!next.errors.empty()) {
      spdlog::error("reload refused, keeping the running config:");
      for (const auto& e : next.errors) spdlog::error("  {}", e.to_string());
      return nullptr;
    }
    return with_workers(next.snapshot, options.workers);
  };
  spdlog::info("gatehouse: config {}", options.config_path);
  proxy::ObserveOptions observe;
  observe.access_log = true;  // <state_dir>/access.log
  return start_and_serve(with_workers(r.snapshot, options.workers), reload, false, observe);
}

int proxy_command(const ProxyOptions& options) {
  auto from = parse_address_arg(options.from, "--from");
  auto to = parse_address_arg(options.to, "--to");
  if (!from || !to) return 2;
  spdlog::info("gatehouse proxy: {} -> {}", client::format_socket_address(*from),
               client::format_socket_address(*to));
  proxy::ObserveOptions observe;  // quick mode: no access log
  return start_and_serve(policy::make_proxy_snapshot(*from, *to, options.workers), nullptr,
                         /*admin_optional=*/true, observe);
}

int demo_command(const DemoOptions& options) {
  auto listen = parse_address_arg(options.listen, "--listen");
  auto app_addr = parse_address_arg(options.app, "--app");
  if (!listen || !app_addr) return 2;

  demo::Options app_options;
  app_options.host = client::format_ip(app_addr->ip);
  app_options.port = app_addr->port;
  app_options.db_path = options.db_path;
  app_options.workers = options.app_workers;
  app_options.jwt_key_path = options.jwt_key;
  demo::App app(app_options);
  std::string error;
  if (!app.start(&error)) {
    std::fprintf(stderr,
                 "gatehouse demo: cannot start the demo app on %s: %s\n(choose another with --app "
                 "127.0.0.1:PORT, or port 0 for any)\n",
                 options.app.c_str(), error.c_str());
    return 1;
  }
  client::SocketAddress upstream = *app_addr;
  upstream.port = app.port();
  spdlog::info("demo app: API tokens (ES256) signed with {}; public key {}", options.jwt_key,
               app.jwt_public_path());

  policy::LoadResult demo_policy = policy::load_config_string(
      demo_config_yaml(client::format_socket_address(*listen),
                       client::format_socket_address(upstream), options.workers),
      "demo");
  if (!demo_policy.errors.empty()) {
    print_errors(demo_policy.errors);  // a bug in the built-in policy, not the user's doing
    return 1;
  }
  // The dashboard needs the admin token to change anything: the demo makes one it keeps.
  policy::SnapshotPtr snapshot = demo_policy.snapshot;
  std::string token_path;
  {
    const std::string dir = snapshot->config.state_dir.empty() ? "var" : snapshot->config.state_dir;
    token_path = dir + "/admin.token";
    std::string why;
    if (ensure_token_file(token_path, &why)) {
      policy::Config config = snapshot->config;
      config.admin.token_file = token_path;
      snapshot = policy::make_snapshot(std::move(config));
    } else {
      spdlog::warn("admin token {}: {} (the admin API stays read-only)", token_path, why);
      token_path.clear();
    }
  }
  proxy::ObserveOptions observe;
  observe.access_log = true;
  proxy::Server server(snapshot, observe);
  if (!server.start(&error)) {
    std::fprintf(
        stderr,
        "gatehouse demo: cannot listen on %s: %s\n(choose another with --listen 127.0.0.1:PORT)\n",
        options.listen.c_str(), error.c_str());
    return 1;
  }
  client::SocketAddress shield = *listen;
  shield.port = server.ports().at(0);
  const std::string base = "http://" + client::format_socket_address(shield);
  std::unique_ptr<control::AdminServer> admin;  // admin API, optional as in quick mode
  start_admin(server, server.snapshot()->config.admin, /*optional=*/true, admin);
  std::string dashboard =
      "  Dashboard:                   (admin API not running: is 127.0.0.1:9090 taken?)\n";
  if (admin != nullptr) {
    dashboard = "  Dashboard:                   http://" +
                client::format_socket_address(admin->address()) + "/dashboard\n";
    dashboard += token_path.empty() ? std::string("    read-only: no admin token\n")
                                    : "    admin token (for changes)  " + token_path +
                                          "  (gatehouse ctl --token-file " + token_path + " ...)\n";
  }
  std::printf(
      "\nGatehouse demo is running.\n\n"
      "  Open the protected service:  %s/\n"
      "    sign up                    %s/signup\n"
      "    log in                     %s/login\n"
      "  The demo app directly:       http://%s/  (unprotected, for comparison)\n"
      "  Accounts database:           %s\n"
      "  API token public key:        %s  (POST /api/login issues ES256 tokens)\n"
      "%s\n"
      "Ctrl-C stops everything.\n\n",
      base.c_str(), base.c_str(), base.c_str(), client::format_socket_address(upstream).c_str(),
      options.db_path.c_str(), app.jwt_public_path().c_str(), dashboard.c_str());
  std::fflush(stdout);
  int rc = serve(server, nullptr, admin.get());
  app.stop();
  return rc;
}

}  // namespace gh::cli
