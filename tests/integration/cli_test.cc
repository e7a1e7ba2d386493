// The gatehouse binary as an operator uses it: subcommands, exit codes, signals, reload.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

int run_binary(const std::vector<std::string>& args, std::string* output, const TempDir& dir) {
  std::vector<std::string> full = {GATEHOUSE_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  Child c(full, dir.path() + "/out.log");
  int rc = c.wait(10s);
  *output = c.log();
  return rc;
}

TEST(Cli, VersionAndHelp) {
  TempDir dir;
  std::string out;
  EXPECT_EQ(run_binary({"version"}, &out, dir), 0);
  EXPECT_NE(out.find("gatehouse "), std::string::npos);
  EXPECT_EQ(run_binary({"--help"}, &out, dir), 0);
  for (const char* sub : {"run", "validate", "proxy", "demo", "version"}) {
    EXPECT_NE(out.find(sub), std::string::npos) << sub;
  }
  EXPECT_EQ(run_binary({"proxy", "--help"}, &out, dir), 0);
  EXPECT_NE(out.find("--from"), std::string::npos);
  // --version as well as `version`: version, commit, build type, libraries.
  for (const char* flag : {"--version", "-V", "version"}) {
    EXPECT_EQ(run_binary({flag}, &out, dir), 0) << flag;
    EXPECT_NE(out.find("(commit "), std::string::npos) << out;
    EXPECT_NE(out.find("libraries: OpenSSL"), std::string::npos) << out;
  }
  // Usage errors: exit 2, and what would have been right.
  EXPECT_EQ(run_binary({}, &out, dir), 2);
  EXPECT_NE(out.find("commands: run, validate, proxy"), std::string::npos) << out;
  EXPECT_EQ(run_binary({"frobnicate"}, &out, dir), 2);
  EXPECT_NE(out.find("unknown command 'frobnicate'"), std::string::npos) << out;
  EXPECT_EQ(run_binary({"run"}, &out, dir), 2);
  EXPECT_NE(out.find("gatehouse run: --config is required"), std::string::npos) << out;
  EXPECT_EQ(run_binary({"proxy", "--from", "nowhere", "--to", "127.0.0.1:1"}, &out, dir), 2);
  EXPECT_EQ(run_binary({"ctl", "frob"}, &out, dir), 2);
  EXPECT_EQ(run_binary({"report"}, &out, dir), 2);
}

TEST(Cli, ValidateReportsFileLineColumn) {
  TempDir dir;
  std::string bad = dir.file("bad.yaml",
                             "listen:\n  - address: 127.0.0.1:8080\nupstreams:\n  app:\n"
                             "    servers: [127.0.0.1:3000]\n    conect_timeout: 2s\n");
  std::string out;
  EXPECT_EQ(run_binary({"validate", "--config", bad}, &out, dir), 1);
  EXPECT_NE(out.find(bad + ":6:5:"), std::string::npos) << out;

  std::string good = dir.file("good.yaml",
                              "listen:\n  - address: 127.0.0.1:8080\nupstreams:\n  app:\n"
                              "    servers: [127.0.0.1:3000]\n");
  EXPECT_EQ(run_binary({"validate", "--config", good}, &out, dir), 0) << out;
  EXPECT_NE(out.find("ok"), std::string::npos);
}

TEST(Cli, ValidateOpensWhatTheConfigNames) {
  TempDir dir;
  const std::string head =
      "listen:\n  - address: 127.0.0.1:8080\nupstreams:\n  app:\n    servers: [127.0.0.1:3000]\n";
  std::string out;
  std::string asn = dir.file("asn.yaml", head + "reputation:\n  asn_database: " + dir.path() +
                                             "/missing.mmdb\n  rules:\n    - { name: x, asns: "
                                             "[64500], action: deny }\n");
  EXPECT_EQ(run_binary({"validate", "--config", asn}, &out, dir), 1);
  EXPECT_NE(out.find("missing.mmdb"), std::string::npos) << out;
  std::string css = dir.file(
      "css.yaml", head + "challenge: { theme_css_file: " + dir.path() + "/missing.css }\n");
  EXPECT_EQ(run_binary({"validate", "--config", css}, &out, dir), 1);
  EXPECT_NE(out.find("theme_css_file"), std::string::npos) << out;
  std::string list = dir.file("list.yaml", head + "lists: { deny_files: [" +
                                               dir.file("deny.txt", "10.0.0.0/33\n") + "] }\n");
  EXPECT_EQ(run_binary({"validate", "--config", list}, &out, dir), 1);
  EXPECT_NE(out.find("deny.txt:1"), std::string::npos) << out;
  // Nothing was created: validate has no side effects (no key file, no state directory).
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/var"));
}

TEST(Cli, ProxyModeServesAndStopsOnSigterm) {
  TempDir dir;
  Origin origin;
  Child c({GATEHOUSE_BINARY, "proxy", "--from", "127.0.0.1:0", "--to",
           "127.0.0.1:" + std::to_string(origin.port()), "--workers", "2"},
          dir.path() + "/proxy.log");
  std::uint16_t port = c.listening_port();
  ASSERT_NE(port, 0) << c.log();
  RawClient client(port);
  client.send(
      "POST /signup HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(client.read_response().status, 200);
  EXPECT_EQ(origin.requests().at(0).body, "abc");
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(10s), 0) << c.log();
  EXPECT_NE(c.log().find("stopped"), std::string::npos);
}

TEST(Cli, SighupReloadsAndKeepsOldConfigWhenBroken) {
  TempDir dir;
  Origin first, second;
  second.set_handler([](const OriginRequest&) {
    OriginReply r;
    r.body = "second";
    return r;
  });
  auto config = [&](std::uint16_t origin_port) {
    return "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\nupstreams:\n  app:\n"
           "    servers: [127.0.0.1:" +
           std::to_string(origin_port) + "]\n";
  };
  std::string path = dir.file("gatehouse.yaml", config(first.port()));
  Child c({GATEHOUSE_BINARY, "run", "--config", path}, dir.path() + "/run.log");
  std::uint16_t port = c.listening_port();
  ASSERT_NE(port, 0) << c.log();
  auto fetch = [&] {
    RawClient client(port);
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    return client.read_response().body;
  };
  EXPECT_EQ(fetch(), "ok");

  dir.file("gatehouse.yaml", "listen: [this is: not valid\n");
  c.signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return c.log().find("reload refused") != std::string::npos; }));
  EXPECT_EQ(fetch(), "ok");  // still the old snapshot

  dir.file("gatehouse.yaml", config(second.port()));
  c.signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return fetch() == "second"; }));

  c.signal(SIGINT);
  EXPECT_EQ(c.wait(10s), 0) << c.log();
}

TEST(Cli, AccessLogIsWrittenUnlessTurnedOff) {
  Origin origin;
  for (const bool enabled : {true, false}) {
    TempDir dir;
    std::string path = dir.file(
        "gatehouse.yaml",
        "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\nadmin: { enabled: false }\n"
        "upstreams:\n  app:\n    servers: [127.0.0.1:" +
            std::to_string(origin.port()) + "]\nstate_dir: " + dir.path() +
            "/state\nsecrets: { key_file: " + dir.path() +
            "/secret.key }\nbans: { journal: " + dir.path() +
            "/bans.journal }\naccess_log: { enabled: " + (enabled ? "true" : "false") + " }\n");
    Child c({GATEHOUSE_BINARY, "run", "--config", path}, dir.path() + "/run.log");
    std::uint16_t port = c.listening_port();
    ASSERT_NE(port, 0) << c.log();
    RawClient client(port);
    client.send("GET /hello HTTP/1.1\r\nHost: a\r\nUser-Agent: probe/1\r\n\r\n");
    EXPECT_EQ(client.read_response().status, 200);
    c.signal(SIGTERM);
    EXPECT_EQ(c.wait(10s), 0) << c.log();
    const std::string log_path = dir.path() + "/state/access.log";
    EXPECT_EQ(fs::exists(log_path), enabled);
    if (enabled) {
      std::ifstream in(log_path);
      std::string line;
      std::getline(in, line);
      EXPECT_NE(line.find("\"/hello\""), std::string::npos) << line;
      EXPECT_NE(line.find("probe/1"), std::string::npos) << line;
    }
  }
}

TEST(Cli, BansSurviveKill9) {
  TempDir dir;
  Origin origin;
  std::string path =
      dir.file("gatehouse.yaml",
               "server: { workers: 2 }\nlisten:\n  - address: 127.0.0.1:0\nupstreams:\n  app:\n"
               "    servers: [127.0.0.1:" +
                   std::to_string(origin.port()) +
                   "]\n"
                   "routes:\n  - name: all\n    limits:\n"
                   "      - { name: flood, key: [client.ip], rate: 1/min, action: { ban: 1h } }\n"
                   "bans: { journal: " +
                   dir.path() + "/state/bans.journal }\n");
  auto request = [](std::uint16_t port, const char* source) {
    RawClient c(port, source);
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    return c.read_response().status;
  };
  {
    Child c({GATEHOUSE_BINARY, "run", "--config", path}, dir.path() + "/run1.log");
    std::uint16_t port = c.listening_port();
    ASSERT_NE(port, 0) << c.log();
    EXPECT_EQ(request(port, "127.0.0.66"), 200);
    EXPECT_EQ(request(port, "127.0.0.66"), 429);  // over the limit: banned as well
    // Wait until the ban is in effect (turned away at accept), then kill without warning.
    EXPECT_TRUE(eventually([&] { return request(port, "127.0.0.66") == 0; }));
    c.signal(SIGKILL);
    EXPECT_EQ(c.wait(5s), 128 + SIGKILL);
  }
  Child again({GATEHOUSE_BINARY, "run", "--config", path}, dir.path() + "/run2.log");
  std::uint16_t port = again.listening_port();
  ASSERT_NE(port, 0) << again.log();
  EXPECT_EQ(request(port, "127.0.0.66"), 0) << again.log();  // still banned after the crash
  EXPECT_EQ(request(port, "127.0.0.67"), 200);
  EXPECT_NE(again.log().find("1 bans live after replay"), std::string::npos) << again.log();
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(10s), 0);
}

TEST(Cli, RunRefusesBadConfigWithExitCode1) {
  TempDir dir;
  std::string path = dir.file("x.yaml", "listen: []\n");
  std::string out;
  EXPECT_EQ(run_binary({"run", "--config", path}, &out, dir), 1);
  EXPECT_NE(out.find(path + ":"), std::string::npos) << out;
}

}  // namespace
}  // namespace gh::test
