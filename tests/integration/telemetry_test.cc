// What an SRE's tools read from a running `gatehouse run`: its log lines.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The log as a shipper reads it: JSON lines with ts, level, msg and fields; the level follows a
// reload; the command line wins over the config.
TEST(Logs, JsonLinesAndALevelThatFollowsReload) {
  TempDir dir;
  Origin origin;
  auto config = [&](const std::string& level) {
    return "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\nadmin: { enabled: false }\n"
           "upstreams:\n  app:\n    servers: [127.0.0.1:" +
           std::to_string(origin.port()) + "]\nstate_dir: " + dir.path() +
           "/state\nsecrets: { key_file: " + dir.path() +
           "/secret.key }\nbans: { journal: " + dir.path() +
           "/bans.journal }\nlog: { format: json, level: " + level + " }\n";
  };
  const std::string path = dir.file("gatehouse.yaml", config("info"));
  Child c({GATEHOUSE_BINARY, "run", "--config", path}, dir.path() + "/run.log");
  ASSERT_NE(c.listening_port(), 0) << c.log();
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    const std::string log = c.log();
    for (std::size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  c.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return count("signal: config reloaded") == 1; })) << c.log();
  dir.file("gatehouse.yaml", config("warn"));
  c.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return count("log: json lines from level warn on") == 1; }))
      << c.log();
  c.signal(SIGHUP);  // at warn, the next reload's info line is left out ...
  dir.file("gatehouse.yaml", "listen: [not: valid\n");
  std::this_thread::sleep_for(300ms);
  c.signal(SIGHUP);  // ... and a refused reload's error is not
  ASSERT_TRUE(eventually([&] { return count("reload refused") >= 1; })) << c.log();
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(10s), 0) << c.log();
  // Reloaded once at info: the second reload (level info -> warn) applies the level first.
  EXPECT_EQ(count("signal: config reloaded"), 1u) << c.log();

  std::istringstream lines(c.log());
  std::string line;
  std::size_t n = 0;
  bool listening = false;
  const std::regex ts("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
  while (std::getline(lines, line)) {
    ++n;
    const json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
    ASSERT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg")) << line;
    EXPECT_TRUE(std::regex_match(j["ts"].get<std::string>(), ts)) << line;
    EXPECT_TRUE(j["level"] == "info" || j["level"] == "warn" || j["level"] == "error") << line;
    if (j["msg"].get<std::string>().starts_with("listening on")) {
      listening = true;
      EXPECT_EQ(j["address"], "127.0.0.1:" + std::to_string(c.listening_port())) << line;
      EXPECT_EQ(j["workers"], 1) << line;
    }
    if (j.value("event", "") == "start") {
      EXPECT_EQ(j["level"], "info") << line;
    }
  }
  EXPECT_TRUE(listening) << c.log();
  EXPECT_GT(n, 4u);

  // --log-format and --log-level win over the config's section.
  dir.file("gatehouse.yaml", config("error"));
  Child t(
      {GATEHOUSE_BINARY, "run", "--config", path, "--log-format", "text", "--log-level", "debug"},
      dir.path() + "/text.log");
  ASSERT_NE(t.listening_port(), 0) << t.log();
  t.signal(SIGTERM);
  ASSERT_EQ(t.wait(10s), 0) << t.log();
  std::istringstream text(t.log());
  const std::regex text_line(
      "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z (trace|debug|info|warn|error) .+");
  n = 0;
  while (std::getline(text, line)) {
    ++n;
    EXPECT_TRUE(std::regex_match(line, text_line)) << line;
  }
  EXPECT_NE(t.log().find(" info listening on 127.0.0.1:"), std::string::npos) << t.log();
  EXPECT_NE(t.log().find("workers=1"), std::string::npos) << t.log();
  EXPECT_GT(n, 2u);

  // A bad value is a usage error (exit 2).
  Child bad({GATEHOUSE_BINARY, "run", "--config", path, "--log-level", "verbose"},
            dir.path() + "/bad.log");
  EXPECT_EQ(bad.wait(10s), 2) << bad.log();
}

}  // namespace
}  // namespace gh::test
