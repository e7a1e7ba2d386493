// `include:`: merging, conflicts, cycles, nesting, and errors named after the file they are in.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "client/address.h"
#include "policy/config.h"

namespace gh::policy {
namespace {

using ::testing::ElementsAre;

class Include : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("gh_include_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "limits");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `name` under the test directory; returns its full path.
  std::string write(const std::string& name, std::string_view text) {
    std::ofstream(dir_ / name) << text;
    return path(name);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::vector<std::string> errors_of(const std::string& name) {
    std::vector<std::string> out;
    for (const ConfigError& e : load_config_file(path(name)).errors) out.push_back(e.to_string());
    return out;
  }

  std::filesystem::path dir_;
};

constexpr std::string_view kMain =
    "include: [limits/login.yaml, lists.yaml]\n"
    "listen:\n"
    "  - address: 127.0.0.1:8080\n"
    "upstreams:\n"
    "  app: { servers: [127.0.0.1:3000] }\n"
    "lists:\n"
    "  allow: [10.0.0.0/8]\n"
    "routes:\n"
    "  - name: signup\n"
    "    match: { path_prefix: /signup }\n"
    "    upstream: app\n";

TEST_F(Include, MergesInOrder) {
  write("main.yaml", kMain);
  write("limits/login.yaml",
        "include: ../more.yaml\n"
        "listen:\n"
        "  - address: 127.0.0.1:8081\n"
        "upstreams:\n"
        "  auth: { servers: [127.0.0.1:4000] }\n"
        "routes:\n"
        "  - name: login\n"
        "    match: { path: /login }\n"
        "    upstream: auth\n"
        "    limits: [{name: per-ip, key: [client.ip], rate: 5/min}]\n");
  write("more.yaml",
        "routes:\n"
        "  - name: rest\n"
        "    upstream: app\n"
        "limits: { max_body_size: 2MiB }\n");
  write("allow.txt", "192.0.2.0/24\n");
  write("lists.yaml",
        "lists:\n"
        "  allow: [\"2001:db8::/32\"]\n"
        "  deny: [192.0.2.0/24]\n"
        "  allow_files: [allow.txt]\n"
        "bans: { max_entries: 1000 }\n");
  auto r = load_config_file(path("main.yaml"));
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  const Config& c = r.snapshot->config;
  EXPECT_EQ(c.source_path, path("main.yaml"));
  EXPECT_THAT(c.source_files, ElementsAre(path("main.yaml"), path("limits/login.yaml"),
                                          path("limits/../more.yaml"), path("lists.yaml")));
  // The including file's own entries first, then each include's (depth first), in order.
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].name, "signup");
  EXPECT_EQ(c.routes[1].name, "login");
  EXPECT_EQ(c.routes[1].upstream_index, 1u);
  EXPECT_EQ(c.routes[1].mark.file, path("limits/login.yaml"));
  EXPECT_EQ(c.routes[1].mark.line, 7);
  EXPECT_EQ(c.routes[1].limits[0].mark.file, path("limits/login.yaml"));
  EXPECT_EQ(c.routes[2].name, "rest");
  EXPECT_EQ(c.routes[2].upstream_index, 0u);
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(client::format_socket_address(c.listen[1].address), "127.0.0.1:8081");
  ASSERT_EQ(c.upstreams.size(), 2u);
  EXPECT_EQ(c.upstreams[1].name, "auth");
  EXPECT_EQ(c.limits.max_body_bytes, 2u * 1024 * 1024);
  ASSERT_EQ(c.lists.allow.size(), 2u);
  EXPECT_EQ(client::format_cidr(c.lists.allow[0]), "10.0.0.0/8");
  EXPECT_EQ(client::format_cidr(c.lists.allow[1]), "2001:db8::/32");
  EXPECT_EQ(c.lists.deny.size(), 1u);
  EXPECT_THAT(c.lists.allow_files, ElementsAre(path("allow.txt")));
  EXPECT_EQ(c.bans.max_entries, 1000u);
  EXPECT_EQ(r.snapshot->routes.match("", http::Method::Post, "/login")->upstream, "auth");
}

TEST_F(Include, ListenAndUpstreamsMayComeFromIncludes) {
  write("main.yaml", "include: parts.yaml\n");
  write("parts.yaml",
        "listen: [{address: 127.0.0.1:8080}]\n"
        "upstreams: {app: {servers: [127.0.0.1:3000]}}\n");
  auto r = load_config_file(path("main.yaml"));
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.routes.size(), 1u);  // the implicit catch-all
  EXPECT_EQ(r.snapshot->config.routes[0].name, "default");
}

TEST_F(Include, FromAStringIsRelativeToItsName) {
  write("parts.yaml", "upstreams: {app: {servers: [127.0.0.1:3000]}}\n");
  auto r = load_config_string("listen: [{address: 127.0.0.1:8080}]\ninclude: parts.yaml\n",
                              path("inline.yaml"));
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.source_path, "");
  EXPECT_THAT(r.snapshot->config.source_files, ElementsAre(path("parts.yaml")));
}

TEST_F(Include, ErrorsNameTheirFile) {
  write("main.yaml", kMain);
  write("limits/login.yaml",
        "routes:\n"
        "  - name: login\n"
        "    limits:\n"
        "      - {name: a, rate: 5/mon}\n"
        "    upstream: nope\n");
  write("lists.yaml", "lists:\n  allow: [300.0.0.1]\n  deny_files: [deny.txt]\n");
  const std::string login = path("limits/login.yaml");
  const std::string lists = path("lists.yaml");
  EXPECT_THAT(
      errors_of("main.yaml"),
      ElementsAre(login + ":4:25: routes[0].limits[0].rate: invalid rate '5/mon': use N/UNIT or "
                          "N/<k>UNIT with UNIT ms, s, m (min), h or d (day) (e.g. 50/s, 5/min, "
                          "100/15min, 1000/day) (did you mean 'min'?)",
                  login + ":5:15: routes[0].upstream: unknown upstream 'nope'",
                  lists + ":2:11: lists.allow[0]: invalid address or CIDR '300.0.0.1'",
                  lists + ":3:16: lists.deny_files[0]: cannot read '" + path("deny.txt") +
                      "': No such file or directory"));
}

TEST_F(Include, SyntaxErrorInAnIncludedFile) {
  write("main.yaml", kMain);
  write("limits/login.yaml", "routes: [\n");
  write("lists.yaml", "lists: {}\n");
  // No "unknown upstream" or "missing listen" noise: a broken file stops whole-config checks.
  EXPECT_THAT(errors_of("main.yaml"),
              ElementsAre(path("limits/login.yaml") +
                          ":2:1: invalid YAML: end of sequence flow not found"));
}

TEST_F(Include, MissingFile) {
  write("main.yaml", kMain);
  write("lists.yaml", "{}\n");
  EXPECT_THAT(errors_of("main.yaml"),
              ElementsAre(path("main.yaml") + ":1:11: include[0]: cannot read '" +
                          path("limits/login.yaml") + "': No such file or directory"));
  write("main.yaml", "include: [limits]\n");
  EXPECT_THAT(errors_of("main.yaml"),
              ElementsAre(path("main.yaml") + ":1:11: include[0]: cannot read '" + path("limits") +
                          "': it is a directory"));
  write("main.yaml", "include: /dev/null\n");
  EXPECT_THAT(errors_of("main.yaml"),
              ElementsAre(path("main.yaml") +
                          ":1:10: include: cannot read '/dev/null': it is not a regular file"));
}

TEST_F(Include, ConflictsNameBothPlaces) {
  write("main.yaml", kMain);
  write("limits/login.yaml",
        "listen:\n"
        "  - address: 127.0.0.1:8080\n"
        "upstreams:\n"
        "  app: { servers: [127.0.0.1:3001] }\n"
        "routes:\n"
        "  - name: signup\n"
        "server: { workers: 2 }\n"
        "admin: { enabled: false }\n");
  write("lists.yaml",
        "server: { workers: 3 }\n"
        "clients: {}\n"
        "limits: {}\n"
        "bans: {}\n"
        "admin: {}\n");
  const std::string main = path("main.yaml");
  const std::string login = path("limits/login.yaml");
  const std::string lists = path("lists.yaml");
  const std::string once =
      " (each section that holds one value may appear in one file only)";
  EXPECT_THAT(
      errors_of("main.yaml"),
      ElementsAre(login +
                      ":2:14: listen[0].address: 127.0.0.1:8080 is already used by "
                      "listen[0] (" +
                      main + ":3:5)",
                  login + ":4:3: upstreams: duplicate upstream 'app' (first at " + main + ":5:3)",
                  login + ":6:11: routes[0].name: duplicate route name 'signup' (first at " + main +
                      ":9:5)",
                  lists + ":1:1: server: already set in " + login + ":7:1" + once,
                  lists + ":5:1: admin: already set in " + login + ":8:1" + once));
}

TEST_F(Include, AdminAddressAgainstAnIncludedListener) {
  write("main.yaml",
        "include: l.yaml\n"
        "upstreams: {app: {servers: [127.0.0.1:3000]}}\n"
        "admin: {address: 127.0.0.1:8080}\n");
  write("l.yaml", "listen: [{address: 127.0.0.1:8080}]\n");
  EXPECT_THAT(errors_of("main.yaml"),
              ElementsAre(path("main.yaml") +
                          ":3:18: admin.address: 127.0.0.1:8080 is already used by listen[0] (" +
                          path("l.yaml") + ":1:10)"));
}

TEST_F(Include, Cycles) {
  write("a.yaml",
        "include: [b.yaml]\nlisten: [{address: 127.0.0.1:8080}]\n"
        "upstreams: {app: {servers: [127.0.0.1:3000]}}\n");
  write("b.yaml", "include: [./c.yaml]\n");
  write("c.yaml", "include: [a.yaml]\n");
  EXPECT_THAT(
      errors_of("a.yaml"),
      ElementsAre(path("c.yaml") + ":1:11: include[0]: include cycle: " + path("a.yaml") + " -> " +
                  path("b.yaml") + " -> " + path("c.yaml") + " -> " + path("a.yaml")));
  write("b.yaml", "include: b.yaml\n");
  EXPECT_THAT(errors_of("a.yaml"), ElementsAre(path("b.yaml") + ":1:10: include: include cycle: " +
                                               path("b.yaml") + " -> " + path("b.yaml")));
}

TEST_F(Include, SameFileTwice) {
  write("a.yaml",
        "include: [b.yaml, c.yaml]\nlisten: [{address: 127.0.0.1:8080}]\n"
        "upstreams: {app: {servers: [127.0.0.1:3000]}}\n");
  write("b.yaml", "include: [limits/../d.yaml]\n");
  write("c.yaml", "include: [d.yaml]\n");
  write("d.yaml", "routes: [{name: d}]\n");
  EXPECT_THAT(errors_of("a.yaml"),
              ElementsAre(path("c.yaml") + ":1:11: include[0]: '" + path("d.yaml") +
                          "' is already included (from " + path("b.yaml") + ":1:11)"));
}

TEST_F(Include, DepthAndCount) {
  // a0 includes a1 ... includes a9: a9 is at depth 9, one too deep.
  write("a0.yaml",
        "include: a1.yaml\nlisten: [{address: 127.0.0.1:8080}]\n"
        "upstreams: {app: {servers: [127.0.0.1:3000]}}\n");
  for (int i = 1; i <= 9; ++i) {
    write("a" + std::to_string(i) + ".yaml", "include: a" + std::to_string(i + 1) + ".yaml\n");
  }
  write("a10.yaml", "{}\n");
  EXPECT_THAT(
      errors_of("a0.yaml"),
      ElementsAre(path("a8.yaml") + ":1:10: include: includes nest more than 8 levels deep"));
  write("a8.yaml", "{}\n");  // depth 8 is fine
  EXPECT_TRUE(load_config_file(path("a0.yaml")).ok());

  std::string many =
      "listen: [{address: 127.0.0.1:8080}]\n"
      "upstreams: {app: {servers: [127.0.0.1:3000]}}\ninclude:\n";
  for (int i = 0; i < 64; ++i) {
    write("e" + std::to_string(i) + ".yaml", "");  // empty files add nothing
    many += "  - e" + std::to_string(i) + ".yaml\n";
  }
  write("many.yaml", many);
  EXPECT_THAT(errors_of("many.yaml"),
              ElementsAre(path("many.yaml") +
                          ":67:5: include[63]: more than 64 configuration files in all"));
}

TEST_F(Include, Shape) {
  const std::string base =
      "listen: [{address: 127.0.0.1:8080}]\n"
      "upstreams: {app: {servers: [127.0.0.1:3000]}}\n";
  write("main.yaml", "include: {a: b}\n" + base);
  EXPECT_THAT(errors_of("main.yaml"),
              ElementsAre(path("main.yaml") +
                          ":1:10: include: expected a file name or a list of them, got a map"));
  write("main.yaml", "include: ['', [x]]\n" + base);
  EXPECT_THAT(
      errors_of("main.yaml"),
      ElementsAre(path("main.yaml") + ":1:11: include[0]: must not be empty",
                  path("main.yaml") + ":1:15: include[1]: expected a single value, got a list"));
  write("main.yaml", "routes:\n  - name: a\n    include: x.yaml\n" + base);
  EXPECT_THAT(errors_of("main.yaml"),
              ElementsAre(path("main.yaml") + ":3:5: unknown key 'include' in routes[0]"));
  write("main.yaml", "include: [l.yaml]\n" + base);
  write("l.yaml", "- a\n");
  EXPECT_THAT(
      errors_of("main.yaml"),
      ElementsAre(path("l.yaml") + ":1:1: expected a map of sections at top level, got a list"));
  write("l.yaml", "routes: [{name: a}]\n");
  auto r = load_config_file(path("main.yaml"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.snapshot->config.routes.size(), 1u);  // no implicit catch-all: routes were given
}

}  // namespace
}  // namespace gh::policy
