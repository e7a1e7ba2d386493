// Each invalid configuration gives exact `file:line:col: message` lines, all of them at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/config.h"
#include "test_util.h"

namespace gh::policy {
namespace {

using test::errors_of;
using test::kBase;
using ::testing::ElementsAre;

// kBase is 5 lines: appended sections start on line 6.
std::vector<std::string> with_base(std::string_view more) {
  return errors_of(std::string(kBase) + std::string(more));
}

TEST(ConfigErrors, YamlSyntaxAndShape) {
  EXPECT_THAT(
      errors_of(""),
      ElementsAre("test.yaml:1:1: empty configuration: 'listen' and 'upstreams' are required"));
  EXPECT_THAT(errors_of("- a\n- b\n"),
              ElementsAre("test.yaml:1:1: expected a map of sections at top level, got a list"));
  EXPECT_THAT(errors_of("listen: [\n"),
              ElementsAre("test.yaml:2:1: invalid YAML: end of sequence flow not found"));
  EXPECT_THAT(errors_of("a: b: c\n"),
              ElementsAre("test.yaml:1:5: invalid YAML: illegal map value"));
  EXPECT_THAT(errors_of("--- {}\n--- {}\n"),
              ElementsAre("test.yaml:2:1: only one YAML document is allowed"));
  EXPECT_THAT(
      errors_of("listen: 127.0.0.1:8080\nupstreams: [a]\n"),
      ElementsAre("test.yaml:1:9: listen: expected a list of listeners, got a value",
                  "test.yaml:2:12: upstreams: expected a map of name to upstream, got a list"));
  EXPECT_THAT(errors_of("listen:\nupstreams:\n"),
              ElementsAre("test.yaml:1:1: listen: at least one listener is required",
                          "test.yaml:2:1: upstreams: at least one upstream is required"));
}

TEST(ConfigErrors, UnknownAndDuplicateKeys) {
  EXPECT_THAT(
      with_base("lisen: []\n"),
      ElementsAre("test.yaml:6:1: unknown key 'lisen' at top level (did you mean 'listen'?)"));
  EXPECT_THAT(
      with_base("server: { worker: 2 }\n"),
      ElementsAre("test.yaml:6:11: unknown key 'worker' in server (did you mean 'workers'?)"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    matches: {}\n"),
      ElementsAre("test.yaml:8:5: unknown key 'matches' in routes[0] (did you mean 'match'?)"));
  EXPECT_THAT(with_base("colour: blue\n"),
              ElementsAre("test.yaml:6:1: unknown key 'colour' at top level"));
  EXPECT_THAT(with_base("listen:\n  - address: 1.2.3.4:80\n"),
              ElementsAre("test.yaml:6:1: duplicate key 'listen' at top level"));
}

TEST(ConfigErrors, ScalarsAndRanges) {
  EXPECT_THAT(with_base("server: { workers: 257 }\n"),
              ElementsAre("test.yaml:6:20: server.workers: must be between 0 and 256, got 257"));
  EXPECT_THAT(with_base("server:\n  workers:\n"),
              ElementsAre("test.yaml:7:3: server.workers: missing value"));
  EXPECT_THAT(with_base("server: { workers: -1 }\n"),
              ElementsAre("test.yaml:6:20: server.workers: expected a whole number, got '-1'"));
  EXPECT_THAT(with_base("limits:\n  head_timeout: 10\n"),
              ElementsAre("test.yaml:7:17: limits.head_timeout: invalid duration '10': add a unit "
                          "(ms, s, m, h, d)"));
  EXPECT_THAT(
      with_base("limits:\n  head_timeout: 0s\n"),
      ElementsAre("test.yaml:7:17: limits.head_timeout: must be between 1ms and 24h, got 0s"));
  EXPECT_THAT(
      with_base("limits:\n  head_timeout: 1.5s\n"),
      ElementsAre(
          "test.yaml:7:17: limits.head_timeout: invalid duration '1.5s': use a whole number with "
          "ms, s, m, h or d (e.g. 500ms, 10s, 2m)"));
  EXPECT_THAT(
      with_base("limits:\n  head_timeout: [1s]\n"),
      ElementsAre("test.yaml:7:17: limits.head_timeout: expected a single value, got a list"));
  EXPECT_THAT(
      with_base("limits:\n  max_head_size: 16KB\n"),
      ElementsAre(
          "test.yaml:7:18: limits.max_head_size: invalid size '16KB': use bytes or a whole number "
          "with B, KiB, MiB or GiB (1KiB = 1024 bytes) (did you mean 'KiB'?)"));
  EXPECT_THAT(
      with_base("limits:\n  max_head_size: 2MiB\n"),
      ElementsAre("test.yaml:7:18: limits.max_head_size: must be between 1KiB and 1MiB, got 2MiB"));
  EXPECT_THAT(
      with_base("limits:\n  max_head_size: 4KiB\n"),
      ElementsAre(
          "test.yaml:7:18: limits.max_target_size (8KiB) must not exceed max_head_size (4KiB)"));
  EXPECT_THAT(with_base("limits:\n  max_connections: 10\n"),
              ElementsAre("test.yaml:7:20: limits.max_connections_per_client (256) must not exceed "
                          "max_connections (10)"));
  EXPECT_THAT(
      with_base("limits:\n  max_header_fields: 101\n"),
      ElementsAre("test.yaml:7:22: limits.max_header_fields: must be between 1 and 100, got 101"));
  EXPECT_THAT(with_base("limits: 5\n"),
              ElementsAre("test.yaml:6:9: limits: expected a map, got a value"));
  EXPECT_THAT(with_base("admin:\n  enabled: yes\n"),
              ElementsAre("test.yaml:7:12: admin.enabled: expected true or false, got 'yes'"));
}

TEST(ConfigErrors, Addresses) {
  EXPECT_THAT(
      with_base("clients:\n  trusted_proxies: [10.0.0.0/33, 1.2.3.4, \"2001:db8::/129\"]\n"),
      ElementsAre(
          "test.yaml:7:21: clients.trusted_proxies[0]: invalid address or CIDR '10.0.0.0/33'",
          "test.yaml:7:43: clients.trusted_proxies[2]: invalid address or CIDR '2001:db8::/129'"));
  EXPECT_THAT(with_base("clients:\n  trusted_proxies: 10.0.0.0/8\n"),
              ElementsAre("test.yaml:7:20: clients.trusted_proxies: expected a list of addresses "
                          "or CIDRs, got a value"));
  EXPECT_THAT(
      with_base("admin:\n  address: 127.0.0.1\n"),
      ElementsAre("test.yaml:7:12: admin.address: invalid address '127.0.0.1': expected IPv4:port, "
                  "[IPv6]:port or localhost:port"));
  EXPECT_THAT(
      with_base("admin:\n  address: 127.0.0.1:8080\n"),
      ElementsAre("test.yaml:7:12: admin.address: 127.0.0.1:8080 is already used by listen[0]"));
}

TEST(ConfigErrors, Http2ListenerIsNotADecisionService) {
  EXPECT_THAT(errors_of("listen:\n"
                        "  - address: 127.0.0.1:8080\n"
                        "    http2: true\n"
                        "    decide: nginx\n"
                        "  - address: 127.0.0.1:8081\n"
                        "    http2: yes please\n"
                        "upstreams:\n"
                        "  a: {servers: [1.1.1.1:1]}\n"
                        "trusted_proxies: [127.0.0.1/32]\n"
                        "routes:\n"
                        "  - name: r\n"),
              ::testing::Contains(::testing::HasSubstr(
                  "test.yaml:2:5: listen[0]: a decide listener answers its proxy over HTTP/1.1")));
}

TEST(ConfigErrors, ListenersAndUpstreams) {
  EXPECT_THAT(
      errors_of("listen:\n"
                "  - address: 127.0.0.1:8080\n"
                "  - address: 127.0.0.1:8080\n"
                "  - proxy_protocol: true\n"
                "upstreams:\n"
                "  a:\n"
                "    servers: []\n"
                "  b:\n"
                "    servers: [1.2.3.4:0, 1.2.3.4:1, 1.2.3.4:1]\n"
                "    max_idle_connections: 300\n"
                "  c: {}\n"
                "  a: {servers: [1.1.1.1:1]}\n"
                "routes:\n"
                "  - name: r\n"),
      ElementsAre(
          "test.yaml:3:14: listen[1].address: 127.0.0.1:8080 is already used by listen[0]",
          "test.yaml:4:5: listen[2]: missing required key 'address'",
          "test.yaml:7:14: upstreams.a.servers: at least one server is required",
          "test.yaml:9:15: upstreams.b.servers[0]: port 0 is not allowed here",
          "test.yaml:9:37: upstreams.b.servers[2]: duplicate server 1.2.3.4:1",
          "test.yaml:10:27: upstreams.b.max_idle_connections (300) must not exceed max_connections "
          "(256)",
          "test.yaml:11:3: upstreams.c: missing required key 'servers'",
          "test.yaml:12:3: upstreams: duplicate upstream 'a' (first at line 6)",
          "test.yaml:14:5: routes[0]: missing 'upstream' (required when there is more than one "
          "upstream)"));
  EXPECT_THAT(errors_of("upstreams:\n  app:\n    servers: [127.0.0.1:3000]\n  other:\n    servers: "
                        "[127.0.0.1:3001]\n"),
              ElementsAre("test.yaml:1:1: missing required key 'listen'",
                          "test.yaml:1:1: routes: required when there is more than one upstream"));
}

TEST(ConfigErrors, Routes) {
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    upstream: ap\n"),
      ElementsAre(
          "test.yaml:8:15: routes[0].upstream: unknown upstream 'ap' (did you mean 'app'?)"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n  - name: a\n"),
      ElementsAre("test.yaml:8:11: routes[1].name: duplicate route name 'a' (first at line 7)"));
  EXPECT_THAT(
      with_base("routes:\n  - match: { path: x }\n"),
      ElementsAre(
          "test.yaml:7:5: routes[0]: missing required key 'name'",
          "test.yaml:7:20: routes[0].match.path: must start with '/' and hold no spaces, control "
          "characters, '?' or '#'"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    match: { path_regex: \"^/u/(\" }\n"),
      ElementsAre("test.yaml:8:26: routes[0].match.path_regex: invalid regex: missing ): ^/u/("));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    match: { methods: [GET, get, FETCH, GET] }\n"),
      ElementsAre(
          "test.yaml:8:29: routes[0].match.methods[1]: unknown method 'get' (did you mean 'GET'?)",
          "test.yaml:8:34: routes[0].match.methods[2]: unknown method 'FETCH' (did you mean "
          "'PATCH'?)",
          "test.yaml:8:41: routes[0].match.methods[3]: duplicate method 'GET'"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    match: { methods: [] }\n"),
      ElementsAre(
          "test.yaml:8:23: routes[0].match.methods: an empty list matches nothing; leave the key "
          "out to match any method"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    match: { path: /a, path_prefix: /b }\n"),
      ElementsAre(
          "test.yaml:8:12: routes[0].match: set only one of path, path_prefix, path_regex"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    match: { host: example.com:8080 }\n"),
      ElementsAre(
          "test.yaml:8:20: routes[0].match.host: invalid host 'example.com:8080': leave out the "
          "port (the request's port is ignored)"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    class: singup\n"),
      ElementsAre(
          "test.yaml:8:12: routes[0].class: unknown class 'singup': use login, signup, api, static "
          "or other (did you mean 'signup'?)"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a b\n"),
      ElementsAre(
          "test.yaml:7:11: routes[0].name: invalid name 'a b': use 1-64 letters, digits, '_', '-' "
          "or '.'"));
  EXPECT_THAT(
      with_base("routes:\n  - name: a\n    max_body_size: 0\n"),
      ElementsAre("test.yaml:8:20: routes[0].max_body_size: must be between 1B and 16GiB, got 0"));
  EXPECT_THAT(with_base("routes: {}\n"),
              ElementsAre("test.yaml:6:9: routes: expected a list of routes, got a map"));
}

TEST(ConfigErrors, SeveralSectionsAtOnce) {
  // Errors from every section are collected, sorted by position.
  EXPECT_THAT(
      with_base("server: { workers: many }\n"
                "limits:\n"
                "  send_timeout: 5\n"
                "  max_body_size: 1MB\n"
                "routes:\n"
                "  - name: x\n"
                "    upstream: nope\n"),
      ElementsAre(
          "test.yaml:6:20: server.workers: expected a whole number, got 'many'",
          "test.yaml:8:17: limits.send_timeout: invalid duration '5': add a unit (ms, s, m, h, d)",
          "test.yaml:9:18: limits.max_body_size: invalid size '1MB': use bytes or a whole number "
          "with B, KiB, MiB or GiB (1KiB = 1024 bytes) (did you mean 'MiB'?)",
          "test.yaml:12:15: routes[0].upstream: unknown upstream 'nope'"));
}

}  // namespace
}  // namespace gh::policy

namespace gh::policy {
namespace {

// yaml-cpp 0.7 loops forever on a stray ',' at document level (upstream issue 1040).
TEST(ConfigErrors, StrayFlowTokenDoesNotHang) {
  EXPECT_THAT(errors_of(","),
              ::testing::ElementsAre("test.yaml:1:1: invalid YAML: unexpected ','"));
  EXPECT_THAT(errors_of("[a],"),
              ::testing::ElementsAre("test.yaml:1:4: invalid YAML: unexpected ','"));
  EXPECT_THAT(errors_of(", a"),
              ::testing::ElementsAre("test.yaml:1:1: invalid YAML: unexpected ','"));
  EXPECT_THAT(errors_of("--- {}\n--- {}\n--- {}\n"),
              ::testing::ElementsAre("test.yaml:2:1: only one YAML document is allowed"));
}

}  // namespace
}  // namespace gh::policy
