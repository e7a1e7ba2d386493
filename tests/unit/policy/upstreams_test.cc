// The upstreams section: servers by name or address with weights, health checks, ejection, and
// names resolved at load (a resolver of the test's own: no DNS query leaves the machine).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "client/address.h"
#include "net/resolve.h"
#include "policy/config.h"

namespace gh::policy {
namespace {

using testing::ElementsAre;

// app.test -> 10.0.0.1, 10.0.0.2; db.test -> 10.0.0.9; anything else does not resolve.
LoadOptions fake_dns(int* lookups = nullptr) {
  LoadOptions o;
  o.resolve = [lookups](const std::string& host, std::uint16_t port,
                        std::vector<client::SocketAddress>& out, std::string* error) {
    if (lookups != nullptr) ++*lookups;
    static const std::map<std::string, std::vector<std::uint8_t>> kZone = {{"app.test", {2, 1}},
                                                                           {"db.test", {9}}};
    auto it = kZone.find(host);
    if (it == kZone.end()) {
      *error = "Name or service not known";
      return false;
    }
    for (std::uint8_t last : it->second) {
      out.push_back({client::make_ipv4(10, 0, 0, last), port});
    }
    return true;
  };
  return o;
}

std::string head(const std::string& upstream) {
  return "listen:\n  - address: 127.0.0.1:8080\nupstreams:\n  app:\n" + upstream;
}

std::vector<std::string> errors(const std::string& yaml) {
  std::vector<std::string> out;
  for (const ConfigError& e : load_config_string(yaml, "test.yaml", fake_dns()).errors) {
    out.push_back(e.to_string());
  }
  return out;
}

TEST(UpstreamsConfig, NamesResolveAtLoadAndWeightsAreRead) {
  int lookups = 0;
  LoadResult r = load_config_string(head("    servers:\n"
                                         "      - app.test:3000\n"
                                         "      - { address: 10.0.0.5:3000, weight: 3 }\n"
                                         "      - { address: \"[::1]:3001\", weight: 2 }\n"
                                         "    resolve_interval: 10s\n"),
                                    "test.yaml", fake_dns(&lookups));
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  EXPECT_EQ(lookups, 1);  // addresses are not looked up
  const UpstreamConfig& u = r.snapshot->config.upstreams[0];
  ASSERT_EQ(u.servers.size(), 3u);
  EXPECT_EQ(u.servers[0].host, "app.test");
  EXPECT_FALSE(u.servers[0].literal);
  EXPECT_EQ(u.servers[0].weight, 1u);
  ASSERT_EQ(u.servers[0].addresses.size(), 2u);
  // Sorted, whatever order the resolver gave.
  EXPECT_EQ(client::format_socket_address(u.servers[0].addresses[0]), "10.0.0.1:3000");
  EXPECT_EQ(client::format_socket_address(u.servers[0].addresses[1]), "10.0.0.2:3000");
  EXPECT_TRUE(u.servers[1].literal);
  EXPECT_EQ(u.servers[1].weight, 3u);
  EXPECT_EQ(net::server_text(u.servers[2]), "[::1]:3001");
  EXPECT_EQ(u.servers[2].weight, 2u);
  EXPECT_EQ(u.resolve_interval, 10'000u);
  // Defaults: no active checks, passive ejection on.
  EXPECT_FALSE(u.health_check.enabled);
  EXPECT_EQ(u.ejection.consecutive_failures, 5u);
  EXPECT_EQ(u.ejection.duration_ms, 10'000u);
}

TEST(UpstreamsConfig, HealthChecksAndEjection) {
  LoadResult r = load_config_string(head("    servers: [app.test:3000]\n"
                                         "    health_check:\n"
                                         "      path: /healthz?deep=1\n"
                                         "      host: app.internal\n"
                                         "      interval: 2s\n"
                                         "      timeout: 500ms\n"
                                         "      healthy_threshold: 3\n"
                                         "      unhealthy_threshold: 2\n"
                                         "      expect: [200, 204]\n"
                                         "    ejection:\n"
                                         "      consecutive_failures: 3\n"
                                         "      window: 5s\n"
                                         "      duration: 2s\n"
                                         "      max_duration: 1m\n"
                                         "      statuses: [502, 503]\n"),
                                    "test.yaml", fake_dns());
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  const UpstreamConfig& u = r.snapshot->config.upstreams[0];
  EXPECT_TRUE(u.health_check.enabled);
  EXPECT_EQ(u.health_check.path, "/healthz?deep=1");
  EXPECT_EQ(u.health_check.host, "app.internal");
  EXPECT_EQ(u.health_check.interval_ms, 2000u);
  EXPECT_EQ(u.health_check.timeout_ms, 500u);
  EXPECT_EQ(u.health_check.healthy_threshold, 3u);
  EXPECT_EQ(u.health_check.unhealthy_threshold, 2u);
  EXPECT_EQ(u.health_check.expect, (std::vector<std::uint16_t>{200, 204}));
  EXPECT_EQ(u.ejection.consecutive_failures, 3u);
  EXPECT_EQ(u.ejection.window_ms, 5000u);
  EXPECT_EQ(u.ejection.duration_ms, 2000u);
  EXPECT_EQ(u.ejection.max_duration_ms, 60'000u);
  EXPECT_EQ(u.ejection.statuses, (std::vector<std::uint16_t>{502, 503}));

  LoadResult bare = load_config_string(head("    servers: [app.test:3000]\n    health_check:\n"),
                                       "test.yaml", fake_dns());
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare.snapshot->config.upstreams[0].health_check.enabled);  // defaults
  EXPECT_EQ(bare.snapshot->config.upstreams[0].health_check.path, "/");
  EXPECT_TRUE(bare.snapshot->config.upstreams[0].ejection.statuses.empty());  // no 5xx counts
  LoadResult off = load_config_string(
      head("    servers: [app.test:3000]\n    health_check: { enabled: false }\n"), "test.yaml",
      fake_dns());
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off.snapshot->config.upstreams[0].health_check.enabled);
}

TEST(UpstreamsConfig, ANameThatDoesNotResolveIsAnErrorAtItsPosition) {
  EXPECT_THAT(errors(head("    servers:\n"
                          "      - app.test:3000\n"
                          "      - nowhere.test:3000\n"
                          "      - { address: gone.test:80, weight: 2 }\n")),
              ElementsAre("test.yaml:7:9: upstreams.app.servers[1]: cannot resolve 'nowhere.test': "
                          "Name or service not known (names must resolve when the config is "
                          "loaded)",
                          "test.yaml:8:20: upstreams.app.servers[2].address: cannot resolve "
                          "'gone.test': Name or service not known (names must resolve when the "
                          "config is loaded)"));
}

TEST(UpstreamsConfig, ServerErrorsHavePositions) {
  EXPECT_THAT(
      errors(head("    servers:\n"
                  "      - app.test\n"
                  "      - ::1:80\n"
                  "      - app.test:70000\n"
                  "      - { weight: 2 }\n"
                  "      - { address: db.test:5432, weight: 0 }\n"
                  "      - { address: db.test:5432, wieght: 2 }\n"
                  "      - db.test:5432\n"
                  "      - bad host:1\n"
                  "      - [1, 2]\n")),
      ElementsAre(
          "test.yaml:6:9: upstreams.app.servers[0]: expected host:port, got 'app.test'",
          "test.yaml:7:9: upstreams.app.servers[1]: an IPv6 address needs brackets, as in "
          "[::1]:8080: '::1:80'",
          "test.yaml:8:9: upstreams.app.servers[2]: expected a port 1-65535 after the colon, got "
          "'app.test:70000'",
          "test.yaml:9:9: upstreams.app.servers[3]: missing required key 'address'",
          "test.yaml:10:42: upstreams.app.servers[4].weight: must be between 1 and 1000, got 0",
          "test.yaml:11:20: upstreams.app.servers[5].address: duplicate server db.test:5432",
          "test.yaml:11:34: unknown key 'wieght' in upstreams.app.servers[5] (did you mean "
          "'weight'?)",
          "test.yaml:12:9: upstreams.app.servers[6]: duplicate server db.test:5432",
          "test.yaml:13:9: upstreams.app.servers[7]: expected a host name (letters, digits, '-', "
          "'_', '.') or an IP address, got 'bad host:1'",
          "test.yaml:14:9: upstreams.app.servers[8]: expected a single value, got a list"));
}

TEST(UpstreamsConfig, HealthCheckAndEjectionErrorsHavePositions) {
  EXPECT_THAT(
      errors(head("    servers: [app.test:3000]\n"
                  "    health_check:\n"
                  "      path: healthz\n"
                  "      host: \"a b\"\n"
                  "      interval: 1s\n"
                  "      timeout: 2s\n"
                  "      unhealthy_threshold: 0\n"
                  "      expect: [200, 700]\n"
                  "      methd: GET\n"
                  "    ejection:\n"
                  "      consecutive_failures: 1001\n"
                  "      duration: 2m\n"
                  "      max_duration: 1m\n"
                  "      statuses: [500, 404]\n"
                  "    resolve_interval: 10ms\n")),
      ElementsAre("test.yaml:7:13: upstreams.app.health_check.path: expected a path starting with "
                  "'/' (printable, no spaces, at most 1024 characters), got 'healthz'",
                  "test.yaml:8:13: upstreams.app.health_check.host: expected a Host value "
                  "(printable, no spaces, at most 255 characters), got 'a b'",
                  "test.yaml:10:16: upstreams.app.health_check.timeout (2s) must not exceed "
                  "interval (1s)",
                  "test.yaml:11:28: upstreams.app.health_check.unhealthy_threshold: must be "
                  "between 1 and 100, got 0",
                  "test.yaml:12:21: upstreams.app.health_check.expect[1]: expected a status code "
                  "(100-599), got '700'",
                  "test.yaml:13:7: unknown key 'methd' in upstreams.app.health_check",
                  "test.yaml:15:29: upstreams.app.ejection.consecutive_failures: must be between "
                  "0 and 1000, got 1001",
                  "test.yaml:16:17: upstreams.app.ejection.duration (2m) must not exceed "
                  "max_duration (1m)",
                  "test.yaml:18:17: upstreams.app.ejection.statuses: only 5xx statuses can count "
                  "against a server",
                  "test.yaml:19:23: upstreams.app.resolve_interval: must be between 1s and 24h, "
                  "got 10ms"));
}

}  // namespace
}  // namespace gh::policy
