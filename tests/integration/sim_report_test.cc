// Issue 7's closing check: run a (scaled-down) registration flood with `gatehouse sim` through
// `gatehouse run`, stop the shield, write `gatehouse report` from what it kept on disk, and
// compare the report's figures with the simulator's own counts.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "demo/app.h"
#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// The January 2025 shape at a size a test machine runs in seconds: residents who logged in
// before keep logging in, newcomers sign up, a rotating botnet floods sign-up.
constexpr const char* kScenario = R"(name: registration-flood-small
description: residents, newcomers and a sign-up flood, scaled down for a test
duration: 4s
drain: 5s
seed: 7
populations:
  - name: residents
    behaviour: resident
    arrival_rate: 4
    accounts: 12
    pages: 1
    sources: 127.1.0.0/16
    prior_login: true
  - name: newcomers
    behaviour: newcomer
    arrival_rate: 1
    sources: 127.2.0.0/16
    spread: true
    give_up_after: 20s
  - name: bots
    behaviour: signup-flood
    arrival_rate: 150
    sources: 127.3.0.0/16
    rotate: true
    solve_challenges: false
)";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "| NAME | 1,234 ..." -> 1234 (the report groups digits with commas).
std::int64_t table_number(const std::string& report, const std::string& name) {
  const std::regex row("\\| " + name + " \\| ([0-9,]+)");
  std::smatch m;
  if (!std::regex_search(report, m, row)) return -1;
  std::string digits;
  for (char c : m[1].str()) {
    if (c != ',') digits += c;
  }
  return std::stoll(digits);
}

TEST(SimReport, ReportFiguresAgreeWithTheSimulator) {
  TempDir dir;
  demo::Options o;
  o.port = 0;
  o.db_path = dir.path() + "/demo.db";
  o.workers = 4;
  o.pwhash_ops = 1;  // crypto_pwhash_OPSLIMIT_MIN: the test is about counting, not hashing
  o.pwhash_mem = 8192;
  demo::App app(o);
  std::string error;
  ASSERT_TRUE(app.start(&error)) << error;

  const std::string config = dir.file(
      "gatehouse.yaml",
      "server: { workers: 1 }\n"
      "listen:\n  - address: 127.0.0.1:0\n"
      "admin: { enabled: false }\n"
      "upstreams:\n  app: { servers: [127.0.0.1:" +
          std::to_string(app.port()) +
          "] }\n"
          "challenge: { levels: [{rate: 0, bits: 8}] }\n"
          "residents: { success_cookie: demo_session }\n"
          "routes:\n"
          "  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
          "    signup: { mode: challenge }\n"
          "  - name: login\n    match: { path: /login, methods: [POST] }\n    class: login\n"
          "  - name: app\n"
          "secrets: { key_file: " +
          dir.path() + "/secret.key }\nstate_dir: " + dir.path() +
          "/state\nbans: { journal: " + dir.path() + "/bans.journal }\n");
  Child shield({GATEHOUSE_BINARY, "run", "--config", config}, dir.path() + "/shield.log");
  const std::uint16_t port = shield.listening_port();
  ASSERT_NE(port, 0) << shield.log();

  const std::string scenario = dir.file("scenario.yaml", kScenario);
  const std::string sim_json = dir.path() + "/sim.json";
  Child sim(
      {GATEHOUSE_BINARY, "sim", scenario, "--target", "http://127.0.0.1:" + std::to_string(port),
       "--app", "http://127.0.0.1:" + std::to_string(app.port()), "--report", sim_json, "-q"},
      dir.path() + "/sim.log");
  ASSERT_EQ(sim.wait(90s), 0) << sim.log();
  shield.signal(SIGTERM);
  ASSERT_EQ(shield.wait(20s), 0) << shield.log();

  Child report({GATEHOUSE_BINARY, "report", "--since", "-1h", "--state-dir", dir.path() + "/state",
                "-o", dir.path() + "/report.md"},
               dir.path() + "/report.log");
  ASSERT_EQ(report.wait(20s), 0) << report.log();
  const std::string md = read_file(dir.path() + "/report.md");
  ASSERT_FALSE(md.empty()) << report.log();

  const json j = json::parse(read_file(sim_json));
  std::int64_t sent = 0, challenged = 0, resident_users = 0, resident_ok = 0;
  for (const json& p : j["populations"]) {
    sent += p["sent"].get<std::int64_t>();
    challenged += p["challenged"].get<std::int64_t>();
    if (p["name"] == "residents") {
      resident_users = p["users_ok"].get<std::int64_t>() + p["users_failed"].get<std::int64_t>();
      resident_ok = p["users_ok"].get<std::int64_t>();
    }
  }
  ASSERT_GT(sent, 300);
  for (const json& p : j["populations"]) {
    std::printf("%s: sent %lld challenged %lld solved %lld refused %s users_unfinished %lld\n",
                p["name"].get<std::string>().c_str(), (long long)p["sent"].get<std::int64_t>(),
                (long long)p["challenged"].get<std::int64_t>(),
                (long long)p["solved"].get<std::int64_t>(), p["refused"].dump().c_str(),
                (long long)p["users_unfinished"].get<std::int64_t>());
  }
  // Every request the simulator sent went through the shield; the only others are the
  // residents' one login each before the run (prior_login), retried at most a few times.
  const std::int64_t requests = table_number(md, "Requests");
  EXPECT_GE(requests, sent) << md;
  EXPECT_LE(requests, sent + 12 * 3) << md;
  // Each challenge the simulator met is one challenge answer in the report.
  EXPECT_EQ(table_number(md, "challenged"), challenged) << md;
  // Residents: the simulator saw all of them through; so does the report.
  EXPECT_EQ(resident_ok, resident_users);
  EXPECT_NE(md.find("| Residents served | 100.0%"), std::string::npos) << md;
  app.stop();
}

}  // namespace
}  // namespace gh::test
