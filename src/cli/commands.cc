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
#include <optional>
#include <thread>

#include "cli/demo_config.h"
#include "cli/files.h"
#include "client/address.h"
#include "config/document.h"       // absolute_path
#include "control/admin_server.h"  // admin API
#include "core/build_info.h"
#include "core/log.h"
#include "demo/app.h"
#include "net/event_loop.h"  // --io io_uring: net::uring_available
#include "policy/config.h"
#include "policy/paths.h"
#include "policy/quick.h"
#include "policy/snapshot.h"
#include "proxy/server.h"
#include "service/notify.h"  // systemd: readiness, reloads, stop
#include "service/watchdog.h"
#include "tls/local_ca.h"  // the demo's HTTPS certificates

namespace gh::cli {

namespace {

LogOverrides g_log_overrides;  // set once by main, before any thread

// The log's format and level: the command line's, else the config's (at start, and on reload).
void apply_logging(const policy::LogConfig& config, bool reload = false) {
  const auto format = core::parse_log_format(g_log_overrides.format);
  const auto level = core::parse_log_level(g_log_overrides.level);
  const core::LogFormat f = format.value_or(config.format);
  const core::LogLevel l = level.value_or(config.level);
  if (f == core::log_format() && l == core::log_level()) return;
  // A reload says so in the old format and level, so that the change itself is in the log; at
  // start the first line is already in the configured format.
  if (reload) {
    core::log(spdlog::level::info,
              {{"format", core::log_format_name(f)}, {"level", core::log_level_name(l)}},
              "log: {} lines from level {} on", core::log_format_name(f), core::log_level_name(l));
  }
  core::configure_logging(f, l);
}

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
    core::log(spdlog::level::info,
              {{"address", client::format_socket_address(a)},
               {"proxy_protocol", config.listen[i].proxy_protocol},
               {"workers", server.worker_count()}},
              "listening on {}{}{} ({} workers)", client::format_socket_address(a),
              config.listen[i].proxy_protocol ? " with PROXY protocol" : "",
              config.listen[i].tls.enabled ? " with TLS" : "", server.worker_count());
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
  core::log(spdlog::level::info,
            {{"address", client::format_socket_address(admin->address())},
             {"changes", !config.token_file.empty()}},
            "admin API on http://{}/v1/ ({})", client::format_socket_address(admin->address()),
            config.token_file.empty() ? "read-only: set admin.token_file to allow changes"
                                      : "changes need the token");
  out = std::move(admin);
  return true;
}
// ---- end admin API ----

// One line for the service manager (systemctl status): where it serves, and the generation.
std::string serving_status(const proxy::Server& server, const control::AdminServer* admin) {
  const policy::Config& config = server.snapshot()->config;
  const std::vector<std::uint16_t> ports = server.ports();
  std::string s = "serving on ";
  for (std::size_t i = 0; i < config.listen.size() && i < ports.size(); ++i) {
    client::SocketAddress a = config.listen[i].address;
    a.port = ports[i];
    s += (i == 0 ? "" : ", ") + client::format_socket_address(a);
  }
  s += " (" + std::to_string(server.worker_count()) + " workers); admin API ";
  s += admin != nullptr ? client::format_socket_address(admin->address()) : std::string("off");
  s += "; config generation " + std::to_string(server.generation());
  return s;
}

// What the service manager is told (service/notify.h); all of it does nothing outside systemd.
// READY=1 once every listener is bound and the admin API answers; then the watchdog, which pings
// only while every worker's event loop turns; STOPPING=1 when the stop begins.
class Supervision {
 public:
  explicit Supervision(proxy::Server& server) : server_(server) {}
  ~Supervision() { stop_watchdog(); }
  Supervision(const Supervision&) = delete;
  Supervision& operator=(const Supervision&) = delete;

  void ready(const std::string& status) {
    if (!service::supervised()) return;
    service::ready(status);
    spdlog::info("service manager told: ready ({})", status);
    const auto interval = service::watchdog_interval();
    if (!interval || watchdog_ != nullptr) return;
    watchdog_ = std::make_unique<service::Watchdog>(
        *interval,
        service::Watchdog::Probe{[this] { return server_.ask_workers(); },
                                 [this](std::uint64_t q) { return server_.silent_workers(q); }});
    watchdog_->start();
    spdlog::info("watchdog: a sign of life every {} ms while the event loops turn",
                 std::chrono::duration_cast<std::chrono::milliseconds>(*interval).count() / 4);
  }
  void stopping(const std::string& status) {
    stop_watchdog();
    service::stopping(status);
  }

 private:
  void stop_watchdog() {
    if (watchdog_ != nullptr) watchdog_->stop();
  }
  proxy::Server& server_;
  std::unique_ptr<service::Watchdog> watchdog_;
};

// The one way the config is reloaded, from SIGHUP (the serve loop) and POST /v1/reload (an admin
// thread): serialised, so two reloads never build at once.
class Reloader {
 public:
  Reloader(proxy::Server& server, std::function<policy::SnapshotPtr()> load)
      : server_(server), load_(std::move(load)) {}
  bool available() const { return static_cast<bool>(load_); }
  // The service manager's status line once serving (serving_status).
  void set_status(std::function<std::string()> status) {
    std::lock_guard lock(mu_);
    status_ = std::move(status);
  }
  bool operator()(const std::string& by, std::string* error) {
    std::lock_guard lock(mu_);
    // systemd: RELOADING=1 now, READY=1 after, whether the new config was taken or refused (the
    // running one keeps serving either way). Only once READY=1 was sent (status_ set).
    if (status_) service::reloading("reloading the configuration (" + by + ")");
    const bool ok = reload(by, error);
    if (status_) {
      service::ready(status_() + (ok ? "" : "; last reload refused, see the log"));
    }
    return ok;
  }

 private:
  bool reload(const std::string& by, std::string* error) {
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
    apply_logging(snapshot->config.log, /*reload=*/true);
    core::log(spdlog::level::info, {{"by", by}, {"generation", server_.generation()}},
              "{}: config reloaded (generation {})", by, server_.generation());
    return true;
  }

  proxy::Server& server_;
  std::function<policy::SnapshotPtr()> load_;
  std::function<std::string()> status_;
  std::mutex mu_;
};

// Waits for signals: SIGHUP reloads through `reload` (when given); SIGINT/SIGTERM stop
// gracefully, and a second one forces the exit. The admin API (if any) stops before the proxy.
int serve(proxy::Server& server, Reloader* reload, Supervision& supervision,
          control::AdminServer* admin = nullptr) {
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
    supervision.stopping("stopping: requests in flight may finish for up to " +
                         std::to_string(grace) + " ms");
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
  // a read-only convenience: a clash on its port must not stop the shield, e.g. after an upgrade
  // of a config without an admin section.
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
  Supervision supervision(server);
  reloader.set_status([&server, &admin] { return serving_status(server, admin.get()); });
  supervision.ready(serving_status(server, admin.get()));
  return serve(server, &reloader, supervision, admin.get());
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

// --admin of the quick modes: "" keeps the default address, skipped with a warning when taken;
// "off" turns the admin API off; an address is the operator's wish, so failing to bind it is
// fatal. Sets `required`; false (after a message) for a usage error.
bool apply_admin_arg(const std::string& arg, const client::SocketAddress& listener,
                     const char* command, policy::Config& config, bool& required) {
  required = false;
  if (arg.empty()) return true;
  if (arg == "off") {
    config.admin.enabled = false;
    return true;
  }
  auto address = parse_address_arg(arg, "--admin");
  if (!address) return false;
  if (address->port != 0 && *address == listener) {
    std::fprintf(stderr, "gatehouse %s: --admin %s is the shield's own address: choose another\n",
                 command, arg.c_str());
    return false;
  }
  config.admin.address = *address;
  required = true;
  return true;
}

}  // namespace

void set_log_overrides(const LogOverrides& overrides) {
  g_log_overrides = overrides;
}

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
  print_files(files_of(c), stdout);
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
  apply_logging(r.snapshot->config.log);
  spdlog::info("gatehouse: config {}", options.config_path);
  proxy::ObserveOptions observe;
  observe.access_log = true;  // <state_dir>/access.log
  return start_and_serve(with_workers(r.snapshot, options.workers), reload, false, observe);
}

int proxy_command(const ProxyOptions& options) {
  auto from = parse_address_arg(options.from, "--from");
  auto to = parse_address_arg(options.to, "--to");
  if (!from || !to) return 2;
  apply_logging(policy::LogConfig{});
  policy::Config config = policy::make_proxy_snapshot(*from, *to, options.workers)->config;
  if (options.io == "io_uring") {
    std::string why;
    if (!net::uring_available(&why)) {
      spdlog::error("proxy: --io io_uring: io_uring is not available here: {}", why);
      return 1;
    }
    config.server.io = net::IoBackend::IoUring;
  }
  bool admin_required = false;
  if (!apply_admin_arg(options.admin, *from, "proxy", config, admin_required)) return 2;
  proxy::ObserveOptions observe;  // quick mode: nothing on disk, no access log ...
  if (!options.state_dir.empty()) {
    // ... unless asked: then the key (cookies outlive a restart), events, figures, reports and
    // the access log go there.
    config.state_dir = policy::absolute_path(options.state_dir);
    while (config.state_dir.size() > 1 && config.state_dir.back() == '/')
      config.state_dir.pop_back();
    config.secrets.key_file = policy::path_under(config.state_dir, policy::kKeyFileName);
    config.access_log.path = policy::path_under(config.state_dir, policy::kAccessLogName);
    observe.access_log = true;
  }
  spdlog::info("gatehouse proxy: {} -> {}{}", client::format_socket_address(*from),
               client::format_socket_address(*to),
               config.state_dir.empty() ? " (nothing is written to the disk)"
                                        : "; state in " + config.state_dir);
  return start_and_serve(policy::make_snapshot(std::move(config)), nullptr,
                         /*admin_optional=*/!admin_required, observe);
}

int demo_command(const DemoOptions& options) {
  auto listen = parse_address_arg(options.listen, "--listen");
  auto app_addr = parse_address_arg(options.app, "--app");
  if (!listen || !app_addr) return 2;
  std::optional<client::SocketAddress> https;
  std::optional<tls::LocalCertificates> certs;
  if (options.https != "off") {
    https = parse_address_arg(options.https, "--https");
    if (!https) return 2;
    std::string why;
    certs = tls::ensure_local_certificates("var/tls", &why);
    if (!certs) {
      std::fprintf(stderr,
                   "gatehouse demo: cannot make the local certificates: %s\n(--https off serves "
                   "the demo over http only)\n",
                   why.c_str());
      return 1;
    }
  }

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
                       client::format_socket_address(upstream), options.workers,
                       https ? client::format_socket_address(*https) : "", certs ? certs->cert : "",
                       certs ? certs->key : ""),
      "demo");
  if (!demo_policy.errors.empty()) {
    print_errors(demo_policy.errors);  // a bug in the built-in policy, not the user's doing
    return 1;
  }
  apply_logging(demo_policy.snapshot->config.log);
  // The dashboard needs the admin token to change anything: the demo makes one it keeps.
  policy::SnapshotPtr snapshot = demo_policy.snapshot;
  bool admin_required = false;
  {
    policy::Config config = snapshot->config;
    if (!apply_admin_arg(options.admin, *listen, "demo", config, admin_required)) return 2;
    snapshot = policy::make_snapshot(std::move(config));
  }
  std::string token_path;
  if (snapshot->config.admin.enabled) {
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
  std::string over_https;
  if (https) {
    client::SocketAddress s = *https;
    s.port = server.ports().at(1);
    // The certificate names localhost, 127.0.0.1 and ::1.
    over_https = "  Over HTTPS:                  https://" + client::format_socket_address(s) +
                 "/\n    trust the local CA         " + certs->ca_cert +
                 (certs->made ? "  (made now)" : "") + "\n";
  }
  std::unique_ptr<control::AdminServer> admin;  // admin API, optional as in quick mode
  const policy::AdminConfig& ac = server.snapshot()->config.admin;
  if (!start_admin(server, ac, /*optional=*/!admin_required, admin)) {
    server.stop();
    server.wait();
    return 1;  // the app stops with it
  }
  std::string dashboard =
      ac.enabled ? "  Dashboard:                   (admin API not running: is " +
                       client::format_socket_address(ac.address) + " taken? see --admin)\n"
                 : std::string("  Dashboard:                   off (--admin off)\n");
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
      "%s"
      "  The demo app directly:       http://%s/  (unprotected, for comparison)\n"
      "  Accounts database:           %s\n"
      "  API token public key:        %s  (POST /api/login issues ES256 tokens)\n"
      "%s\n"
      "Ctrl-C stops everything.\n\n",
      base.c_str(), base.c_str(), base.c_str(), over_https.c_str(),
      client::format_socket_address(upstream).c_str(), options.db_path.c_str(),
      app.jwt_public_path().c_str(), dashboard.c_str());
  std::fflush(stdout);
  Supervision supervision(server);
  supervision.ready(serving_status(server, admin.get()));
  int rc = serve(server, nullptr, supervision, admin.get());
  app.stop();
  return rc;
}

}  // namespace gh::cli
