#include "policy/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "client/address.h"
#include "net/resolve.h"
#include "test_util.h"

namespace gh::policy {
namespace {

using test::errors_of;
using test::kBase;

constexpr std::string_view kFull = R"(# every field set
server:
  workers: 4
listen:
  - address: 0.0.0.0:8080
    proxy_protocol: true
  - address: "[::]:8443"
    proxy_protocol: false
admin:
  address: 127.0.0.1:9191
  token_file: /etc/gatehouse/admin.token
  enabled: false
clients:
  trusted_proxies: [10.0.0.0/8, "2001:db8::/32", 192.168.1.77/24, 203.0.113.9]
  ipv4_prefix: 28
  ipv6_prefix: 56
limits:
  max_head_size: 32KiB
  max_header_fields: 64
  max_target_size: 4096
  max_body_size: 2MiB
  head_timeout: 5s
  body_idle_timeout: 20s
  keepalive_timeout: 2m
  send_timeout: 1500ms
  max_connections: 1000
  max_connections_per_client: 50
  shutdown_grace: 1h
upstreams:
  app:
    servers: [127.0.0.1:3000, "[::1]:3001", localhost:3002]
    max_connections: 100
    max_idle_connections: 10
    connect_timeout: 250ms
    first_byte_timeout: 15s
    idle_timeout: 45s
    keepalive_timeout: 20s
  auth:
    servers: [10.1.1.1:4000]
routes:
  - name: signup
    match: { host: Example.COM, methods: [GET, POST], path: /signup }
    class: signup
    upstream: auth
    max_body_size: 64KiB
  - name: login
    match:
      path_prefix: /login/
    class: login
    upstream: auth
  - name: users
    match: { path_regex: "^/u/[0-9]+$", methods: [DELETE, PATCH] }
    class: api
    upstream: app
  - name: assets
    match: { path_prefix: /assets/ }
    class: static
    upstream: app
  - name: rest
    upstream: app
residents: { success_cookie: session }
)";

TEST(LoadConfig, Http2IsPerListenerAndOffByDefault) {
  auto r = load_config_string(
      "listen:\n  - address: 127.0.0.1:8080\n  - address: 127.0.0.1:8081\n    http2: true\n"
      "upstreams:\n  app: { servers: [127.0.0.1:3000] }\n",
      "h2.yaml");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  ASSERT_EQ(r.snapshot->config.listen.size(), 2u);
  EXPECT_FALSE(r.snapshot->config.listen[0].http2);
  EXPECT_TRUE(r.snapshot->config.listen[1].http2);
}

TEST(LoadConfig, FullConfigSetsEveryField) {
  auto r = load_config_string(kFull, "full.yaml");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  EXPECT_TRUE(r.errors.empty());
  const Config& c = r.snapshot->config;
  EXPECT_EQ(c.generation, 0u);
  EXPECT_EQ(c.source_path, "");
  EXPECT_EQ(c.server.workers, 4u);
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(client::format_socket_address(c.listen[0].address), "0.0.0.0:8080");
  EXPECT_TRUE(c.listen[0].proxy_protocol);
  EXPECT_EQ(c.listen[0].mark.file, "full.yaml");
  EXPECT_EQ(c.listen[0].mark.line, 5);
  EXPECT_EQ(c.listen[0].mark.column, 5);
  EXPECT_EQ(client::format_socket_address(c.listen[1].address), "[::]:8443");
  EXPECT_FALSE(c.listen[1].proxy_protocol);
  EXPECT_EQ(client::format_socket_address(c.admin.address), "127.0.0.1:9191");
  EXPECT_EQ(c.admin.token_file, "/etc/gatehouse/admin.token");
  EXPECT_FALSE(c.admin.enabled);
  ASSERT_EQ(c.clients.trusted_proxies.size(), 4u);
  EXPECT_EQ(client::format_cidr(c.clients.trusted_proxies[0]), "10.0.0.0/8");
  EXPECT_EQ(client::format_cidr(c.clients.trusted_proxies[1]), "2001:db8::/32");
  EXPECT_EQ(client::format_cidr(c.clients.trusted_proxies[2]),
            "192.168.1.0/24");  // host bits cleared
  EXPECT_EQ(client::format_cidr(c.clients.trusted_proxies[3]), "203.0.113.9/32");
  EXPECT_EQ(c.clients.ipv4_prefix, 28);
  EXPECT_EQ(c.clients.ipv6_prefix, 56);
  const LimitsConfig& l = c.limits;
  EXPECT_EQ(l.max_head_bytes, 32u * 1024);
  EXPECT_EQ(l.max_header_fields, 64u);
  EXPECT_EQ(l.max_target_bytes, 4096u);
  EXPECT_EQ(l.max_body_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(l.head_timeout, 5000u);
  EXPECT_EQ(l.body_idle_timeout, 20000u);
  EXPECT_EQ(l.keepalive_timeout, 120000u);
  EXPECT_EQ(l.send_timeout, 1500u);
  EXPECT_EQ(l.max_connections, 1000u);
  EXPECT_EQ(l.max_connections_per_client, 50u);
  EXPECT_EQ(l.shutdown_grace, 3600000u);
  ASSERT_EQ(c.upstreams.size(), 2u);
  const UpstreamConfig& app = c.upstreams[0];
  EXPECT_EQ(app.name, "app");
  ASSERT_EQ(app.servers.size(), 3u);
  EXPECT_EQ(net::server_text(app.servers[1]), "[::1]:3001");
  ASSERT_EQ(app.servers[1].addresses.size(), 1u);
  EXPECT_EQ(client::format_socket_address(app.servers[1].addresses[0]), "[::1]:3001");
  // localhost is a name, resolved by the system (/etc/hosts): 127.0.0.1 and perhaps ::1.
  EXPECT_EQ(net::server_text(app.servers[2]), "localhost:3002");
  EXPECT_FALSE(app.servers[2].literal);
  EXPECT_THAT(app.servers[2].addresses,
              testing::Contains(client::SocketAddress{client::make_ipv4(127, 0, 0, 1), 3002}));
  EXPECT_EQ(app.max_connections, 100u);
  EXPECT_EQ(app.max_idle_connections, 10u);
  EXPECT_EQ(app.connect_timeout, 250u);
  EXPECT_EQ(app.first_byte_timeout, 15000u);
  EXPECT_EQ(app.idle_timeout, 45000u);
  EXPECT_EQ(app.keepalive_timeout, 20000u);
  EXPECT_EQ(app.mark.line, 30);
  const UpstreamConfig& auth = c.upstreams[1];
  EXPECT_EQ(auth.name, "auth");
  EXPECT_EQ(auth.max_connections, 256u);  // default
  ASSERT_EQ(c.routes.size(), 5u);
  const RouteConfig& signup = c.routes[0];
  EXPECT_EQ(signup.name, "signup");
  EXPECT_EQ(signup.match.host, "example.com");
  EXPECT_EQ(signup.match.methods,
            (std::vector<http::Method>{http::Method::Get, http::Method::Post}));
  EXPECT_EQ(signup.match.path, "/signup");
  EXPECT_EQ(signup.route_class, RouteClass::Signup);
  EXPECT_EQ(signup.upstream, "auth");
  EXPECT_EQ(signup.upstream_index, 1u);
  EXPECT_EQ(signup.max_body_bytes, 64u * 1024);
  EXPECT_EQ(signup.mark.line, 41);
  EXPECT_EQ(c.routes[1].match.path_prefix, "/login/");
  EXPECT_EQ(c.routes[1].route_class, RouteClass::Login);
  EXPECT_EQ(c.routes[2].match.path_regex, "^/u/[0-9]+$");
  EXPECT_EQ(c.routes[2].route_class, RouteClass::Api);
  EXPECT_EQ(c.routes[2].upstream_index, 0u);
  EXPECT_EQ(c.routes[3].route_class, RouteClass::Static);
  EXPECT_EQ(c.routes[4].route_class, RouteClass::Other);
  EXPECT_EQ(c.routes[4].max_body_bytes, 0u);
  EXPECT_EQ(r.snapshot->routes.size(), 5u);
  auto* hit = r.snapshot->routes.match("EXAMPLE.com:443", http::Method::Post, "/signup");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->name, "signup");
}

TEST(LoadConfig, MinimalUsesDefaults) {
  auto r = load_config_string(kBase, "min.yaml");
  ASSERT_TRUE(r.ok());
  const Config& c = r.snapshot->config;
  EXPECT_EQ(c.server.workers, 0u);
  EXPECT_EQ(client::format_socket_address(c.admin.address), "127.0.0.1:7462");
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_TRUE(c.admin.token_file.empty());
  EXPECT_TRUE(c.clients.trusted_proxies.empty());
  EXPECT_EQ(c.limits.max_head_bytes, LimitsConfig{}.max_head_bytes);
  EXPECT_EQ(c.limits.head_timeout, 10000u);
  // One upstream, no routes: an implicit catch-all "default".
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].name, "default");
  EXPECT_EQ(c.routes[0].upstream, "app");
  auto* hit = r.snapshot->routes.match("", http::Method::Other, "/anything");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->name, "default");
}

TEST(LoadConfig, RouteUpstreamDefaultsToTheOnlyOne) {
  auto r = load_config_string(
      std::string(kBase) + "routes:\n  - name: a\n    match: { path: /a }\n", "t.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.snapshot->config.routes.size(), 1u);
  EXPECT_EQ(r.snapshot->config.routes[0].upstream, "app");
  EXPECT_EQ(r.snapshot->routes.match("h", http::Method::Get, "/b"),
            nullptr);  // no implicit catch-all
}

TEST(LoadConfig, SizesAndDurations) {
  auto load = [](const std::string& limits) {
    return load_config_string(std::string(kBase) + "limits:\n" + limits, "t.yaml");
  };
  auto r = load(
      "  max_body_size: 0\n  max_head_size: 1MiB\n  shutdown_grace: 0s\n  head_timeout: 24h\n"
      "  send_timeout: 1ms\n  max_target_size: 1 KiB\n  body_idle_timeout: 3m\n");
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.limits.max_body_bytes, 0u);
  EXPECT_EQ(r.snapshot->config.limits.max_head_bytes, 1024u * 1024);
  EXPECT_EQ(r.snapshot->config.limits.max_target_bytes, 1024u);
  EXPECT_EQ(r.snapshot->config.limits.shutdown_grace, 0u);
  EXPECT_EQ(r.snapshot->config.limits.head_timeout, 86400000u);
  EXPECT_EQ(r.snapshot->config.limits.send_timeout, 1u);
  EXPECT_EQ(r.snapshot->config.limits.body_idle_timeout, 180000u);
}

TEST(LoadConfig, ServerIoIsEpollByDefaultAndIoUringWhereTheKernelHasIt) {
  EXPECT_EQ(load_config_string(kBase, "a.yaml").snapshot->config.server.io, net::IoBackend::Epoll);
  auto r = load_config_string(std::string(kBase) + "server: { io: io_uring }\n", "b.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.server.io, net::IoBackend::IoUring);
  r = load_config_string(std::string(kBase) + "server: { io: uring }\n", "c.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].to_string(),
              ::testing::StartsWith("c.yaml:6:15: server.io: unknown I/O backend 'uring'"));
}

// Where the kernel refuses io_uring (here: a seccomp filter in a child process makes
// io_uring_setup fail with EPERM, as a container's profile does), io_uring is refused at load
// with the reason, at the key's position.
TEST(LoadConfig, ServerIoUringIsRefusedAtLoadWhereTheKernelRefusesIt) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(10);
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) ::_exit(11);
    auto r = load_config_string(std::string(kBase) + "server: { io: io_uring }\n", "d.yaml");
    if (r.errors.size() != 1) ::_exit(12);
    const std::string e = r.errors[0].to_string();
    if (e.rfind("d.yaml:6:15: server.io: io_uring is not available here: io_uring_queue_init: "
                "Operation not permitted",
                0) != 0) {
      ::_exit(13);
    }
    if (e.find("use io: epoll") == std::string::npos) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(LoadConfig, FileAndMissingFile) {
  auto dir = std::filesystem::temp_directory_path() / ("gh_cfg_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "g.yaml").string();
  {
    std::ofstream out(path);
    out << kBase << "server: { workers: x }\n";
  }
  auto r = load_config_file(path);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            path + ":6:20: server.workers: expected a whole number, got 'x'");
  {
    std::ofstream out(path);
    out << kBase;
  }
  r = load_config_file(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.snapshot->config.source_path, path);

  r = load_config_file((dir / "missing.yaml").string());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            (dir / "missing.yaml").string() +
                ": cannot read configuration file: No such file or directory");
  r = load_config_file(dir.string());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message, "cannot read configuration file: it is a directory");
  std::filesystem::remove_all(dir);
}

TEST(LoadConfig, TooLarge) {
  std::string big(kMaxConfigBytes + 1, '#');
  auto errs = errors_of(big);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "test.yaml: configuration is larger than 1MiB");
}

TEST(LoadConfig, ErrorsAreCappedAndSorted) {
  std::string yaml(kBase);
  yaml += "clients:\n  trusted_proxies:\n";
  for (int i = 0; i < 80; ++i) yaml += "    - bad" + std::to_string(i) + "\n";
  auto errs = errors_of(yaml);
  ASSERT_EQ(errs.size(), kMaxConfigErrors + 1);
  EXPECT_EQ(errs[0], "test.yaml:8:7: clients.trusted_proxies[0]: invalid address or CIDR 'bad0'");
  EXPECT_EQ(errs.back(), "test.yaml:58:7: too many errors; stopping here");
}

TEST(ConfigError, ToString) {
  EXPECT_EQ((ConfigError{{"a.yaml", 3, 7}, "boom"}).to_string(), "a.yaml:3:7: boom");
  EXPECT_EQ((ConfigError{{"a.yaml", 0, 0}, "boom"}).to_string(), "a.yaml: boom");
  EXPECT_EQ((ConfigError{{"", 1, 1}, "boom"}).to_string(), "<config>:1:1: boom");
}

}  // namespace
}  // namespace gh::policy
