// What an SRE's tools read from a running `gatehouse run`: its log lines, /metrics as
// Prometheus's own checker (promtool, lint included) sees it after every kind of traffic, the
// access log, and the shipped alert rules.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "control/metrics.h"
#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command line (bounded), its output captured; the exit code, or -1 on time-out.
int shell(const std::string& command, const TempDir& dir, std::string* output) {
  Child c({"/bin/sh", "-c", command}, dir.path() + "/shell.log");
  const int rc = c.wait(60s);
  *output = c.log();
  return rc;
}

// A GET to the admin listener (on 127.0.0.2: the proxy's listener has 127.0.0.1); the body, or
// "" on failure.
std::string admin_get(std::uint16_t port, const std::string& path) {
  httplib::Client c("127.0.0.2", port);
  c.set_read_timeout(std::chrono::seconds(5));
  auto r = c.Get(path);
  return r && r->status == 200 ? r->body : "";
}

// `gatehouse run` with routes that produce every verdict, its admin API on a free port.
class Telemetry : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string config =
        "server: { workers: 2 }\n"
        "listen:\n  - address: 127.0.0.1:0\n"
        "admin: { address: 127.0.0.2:0 }\n"
        "upstreams:\n  app:\n    servers: [127.0.0.1:" +
        std::to_string(origin_.port()) +
        "]\n"
        "    admission: { initial_limit: 20 }\n"
        "state_dir: " +
        dir_.path() + "/state\nsecrets: { key_file: " + dir_.path() +
        "/secret.key }\nbans: { journal: " + dir_.path() +
        "/bans.journal }\n"
        "lists: { deny: [127.0.0.66/32] }\n"
        "routes:\n"
        "  - name: signup\n    match: { path: /signup }\n    class: signup\n"
        "    signup: { mode: closed }\n"
        "  - name: protected\n    match: { path_prefix: /protected }\n"
        "    require_clearance: true\n"
        "  - name: limited\n    match: { path: /limited }\n    limits:\n"
        "      - { name: per-ip, key: [client.ip], rate: 1/min, burst: 1 }\n"
        "  - name: login\n    match: { path: /login }\n    limits:\n"
        "      - { name: ban-fast, key: [client.ip], rate: 1/min, burst: 1, action: {ban: 1m} }\n"
        "  - name: app\n";
    config_path_ = dir_.file("gatehouse.yaml", config);
    child_ = std::make_unique<Child>(
        std::vector<std::string>{GATEHOUSE_BINARY, "run", "--config", config_path_},
        dir_.path() + "/run.log");
    port_ = child_->listening_port();
    ASSERT_NE(port_, 0) << child_->log();
    admin_port_ =
        child_->port_from_log(std::regex("admin API on http://127\\.0\\.0\\.2:([0-9]+)/"));
    ASSERT_NE(admin_port_, 0) << child_->log();
  }
  void TearDown() override { stop(); }
  // SIGTERM, and the exit; the access log is complete afterwards.
  void stop() {
    if (child_ == nullptr || stopped_) return;
    stopped_ = true;
    child_->signal(SIGTERM);
    EXPECT_EQ(child_->wait(10s), 0) << child_->log();
  }
  std::vector<json> access_lines() {
    std::vector<json> out;
    std::istringstream in(slurp(dir_.path() + "/state/access.log"));
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << line;
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }

  int get(const std::string& path, const char* source = "127.0.0.1") {
    return roundtrip(port_, request("GET", path, ""), source).status;
  }

  // Every kind of traffic: forwarded (one by one, kept alive, pipelined), rate-limited,
  // challenged, closed sign-up, denied, banned (and closed at accept), malformed.
  void send_traffic() {
    EXPECT_EQ(get("/hello"), 200);
    {
      RawClient c(port_);
      ASSERT_TRUE(c.send(request("GET", "/a", "") + request("POST", "/b", "", "x=1") +
                         request("GET", "/c", "")));
      for (int i = 0; i < 3; ++i) EXPECT_EQ(c.read_response().status, 200);
    }
    EXPECT_EQ(get("/limited", "127.0.0.5"), 200);
    EXPECT_EQ(get("/limited", "127.0.0.5"), 429);
    EXPECT_EQ(get("/protected/page"), 403);  // the challenge page
    EXPECT_EQ(get("/signup"), 503);
    EXPECT_EQ(get("/", "127.0.0.66"), 403);
    EXPECT_EQ(get("/login", "127.0.0.9"), 200);
    EXPECT_EQ(get("/login", "127.0.0.9"), 429);  // and banned from now on
    // The ban reaches the accept path through the housekeeping thread: wait for it.
    EXPECT_TRUE(eventually([&] {
      RawClient c(port_, "127.0.0.9");
      return c.connected() && c.closed_by_peer(500ms);
    }));
    EXPECT_EQ(roundtrip(port_, "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n").status, 400);
  }

  TempDir dir_;
  Origin origin_;
  std::string config_path_;
  std::unique_ptr<Child> child_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  bool stopped_ = false;
};

TEST_F(Telemetry, PromtoolAcceptsTheLiveMetrics) {
  send_traffic();
  // The counters have seen every verdict.
  std::string metrics;
  ASSERT_TRUE(eventually(
      [&] {
        metrics = admin_get(admin_port_, "/metrics");
        return metrics.find("gatehouse_bans_live 1\n") != std::string::npos;
      },
      5s))
      << metrics;
  for (const char* line : {
           "gatehouse_requests_total{route=\"app\",class=\"anonymous\",verdict=\"passed\"} 4",
           "gatehouse_requests_total{route=\"limited\",class=\"anonymous\",verdict=\"rate_"
           "limited\"} 1",
           "gatehouse_requests_total{route=\"protected\",class=\"anonymous\",verdict="
           "\"challenged\"} 1",
           "gatehouse_requests_total{route=\"signup\",class=\"anonymous\",verdict=\"closed\"} 1",
           "gatehouse_requests_refused_total{reason=\"malformed\"} 1",
           "gatehouse_requests_refused_total{reason=\"deny_list\"} 1",
           "gatehouse_ratelimit_requests_total{outcome=\"rejected\"} ",
           "gatehouse_challenges_issued_total 1",
           "gatehouse_bans_live 1",
           "gatehouse_signup_mode{route=\"signup\",mode=\"closed\"} 1",
           "gatehouse_build_info{version=\"",
           "process_resident_memory_bytes ",
           "process_start_time_seconds ",
       }) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  }
  EXPECT_NE(metrics.find("gatehouse_connections_refused_total{reason=\"banned\"} "),
            std::string::npos);
  EXPECT_EQ(metrics.find("gatehouse_connections_refused_total{reason=\"banned\"} 0"),
            std::string::npos)
      << metrics;

  const std::string file = dir_.file("metrics.txt", metrics);
  std::string out;
  const int rc = shell("promtool check metrics < " + file + " 2>&1", dir_, &out);
  EXPECT_EQ(rc, 0) << "promtool check metrics (exit 127: promtool is not installed; "
                      "scripts/install-deps test):\n"
                   << out;
  EXPECT_EQ(out, "") << out;
}

// Bytes a response took on the wire (head, its blank line, a Content-Length body).
std::size_t wire_size(const ClientResponse& r) {
  return r.head.size() + 2 + r.body.size();
}

// The access log after real traffic: every field of every kind of exchange.
TEST_F(Telemetry, AccessLogSaysWhatHappened) {
  struct Expect {
    std::string method, path, route, verdict, ua;
    int status;
    std::size_t bytes_in, bytes_out;
  };
  std::vector<Expect> want;
  const std::string ua = kBrowserUa;

  // A forwarded POST on a kept-alive connection, then a GET on it: the query is not logged.
  {
    RawClient c(port_);
    const std::string post = request("POST", "/form?token=secret", "", "name=alice&x=1");
    ASSERT_TRUE(c.send(post));
    ClientResponse r = c.read_response();
    ASSERT_EQ(r.status, 200);
    want.push_back({"POST", "/form", "app", "passed", ua, 200, post.size(), wire_size(r)});
    const std::string get = request("GET", "/again", "");
    ASSERT_TRUE(c.send(get));
    r = c.read_response();
    ASSERT_EQ(r.status, 200);
    want.push_back({"GET", "/again", "app", "passed", ua, 200, get.size(), wire_size(r)});
  }
  // Pipelined: three requests in one send, the answers read back in order.
  {
    RawClient c(port_);
    const std::string a = request("GET", "/p1", "");
    const std::string b = request("POST", "/p2", "", "k=v");
    const std::string chunked =
        "POST /p3 HTTP/1.1\r\nHost: a\r\nUser-Agent: chunky/1\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    ASSERT_TRUE(c.send(a + b + chunked));
    const ClientResponse ra = c.read_response(), rb = c.read_response(), rc = c.read_response();
    ASSERT_EQ(ra.status, 200);
    ASSERT_EQ(rb.status, 200);
    ASSERT_EQ(rc.status, 200);
    want.push_back({"GET", "/p1", "app", "passed", ua, 200, a.size(), wire_size(ra)});
    want.push_back({"POST", "/p2", "app", "passed", ua, 200, b.size(), wire_size(rb)});
    want.push_back(
        {"POST", "/p3", "app", "passed", "chunky/1", 200, chunked.size(), wire_size(rc)});
  }
  // Refused: over a rate limit, a challenge, a closed sign-up, on one kept-alive connection.
  {
    RawClient c(port_, "127.0.0.5");
    for (const auto& [path, route, verdict, status] :
         std::vector<std::tuple<std::string, std::string, std::string, int>>{
             {"/limited", "limited", "passed", 200},
             {"/limited", "limited", "rate_limited", 429},
             {"/protected/x", "protected", "challenged", 403},
             {"/signup", "signup", "closed", 503}}) {
      const std::string req = request("GET", path, "");
      ASSERT_TRUE(c.send(req));
      const ClientResponse r = c.read_response();
      ASSERT_EQ(r.status, status) << path;
      want.push_back({"GET", path, route, verdict, ua, status, req.size(), wire_size(r)});
    }
  }
  // Long paths and user agents are cut, not dropped.
  {
    const std::string path = "/" + std::string(300, 'p');
    const std::string long_ua(200, 'u');
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: a\r\nUser-Agent: " + long_ua + "\r\n\r\n";
    const ClientResponse r = roundtrip(port_, req);
    ASSERT_EQ(r.status, 200);
    want.push_back({"GET", path.substr(0, 256), "app", "passed", long_ua.substr(0, 128), 200,
                    req.size(), wire_size(r)});
  }
  // A malformed head is answered and logged too, without a method, path or route.
  {
    RawClient c(port_);
    const std::string bad = "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n";
    ASSERT_TRUE(c.send(bad));
    const std::string answer = c.read_all();
    ASSERT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
    want.push_back({"", "", "", "denied", "", 400, bad.size(), answer.size()});
  }

  stop();
  const std::vector<json> lines = access_lines();
  ASSERT_EQ(lines.size(), want.size()) << slurp(dir_.path() + "/state/access.log");
  // Lines of different connections may interleave (two workers): match by path and status.
  std::vector<bool> used(lines.size());
  for (const Expect& e : want) {
    bool found = false;
    for (std::size_t i = 0; i < lines.size() && !found; ++i) {
      const json& l = lines[i];
      if (used[i] || l["path"] != e.path || l["status"] != e.status) continue;
      used[i] = found = true;
      const std::string what = e.method + " " + e.path.substr(0, 20) + ": " + l.dump();
      EXPECT_EQ(l["method"], e.method) << what;
      EXPECT_EQ(l["route"], e.route) << what;
      EXPECT_EQ(l["verdict"], e.verdict) << what;
      EXPECT_EQ(l["ua"], e.ua) << what;
      EXPECT_EQ(l["bytes_in"], e.bytes_in) << what;
      EXPECT_EQ(l["bytes_out"], e.bytes_out) << what;
      EXPECT_EQ(l["client"], e.route == "limited" || e.route == "protected" || e.route == "signup"
                                 ? "127.0.0.5"
                                 : "127.0.0.1")
          << what;
      EXPECT_EQ(l["class"], "anonymous") << what;
      EXPECT_TRUE(
          std::regex_match(l["time"].get<std::string>(),
                           std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z")))
          << what;
      EXPECT_GE(l["duration_ms"].get<std::int64_t>(), 0) << what;
      if (e.verdict == "passed" && e.status == 200) {
        EXPECT_GE(l["upstream_ms"].get<std::int64_t>(), 0) << what;
      }
    }
    EXPECT_TRUE(found) << "no access log line for " << e.method << " " << e.path << " " << e.status;
  }
}

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

// The shipped alert rules load in Prometheus (promtool check rules), behave as their unit tests
// say (promtool test rules), name only metrics that exist, and point at a runbook section that
// exists.
TEST(AlertRules, PassPromtoolAndPointAtTheRunbook) {
  TempDir dir;
  const std::string examples = std::string(GATEHOUSE_SOURCE_DIR) + "/examples";
  std::string out;
  EXPECT_EQ(shell("promtool check rules " + examples + "/alerts.yml 2>&1", dir, &out), 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
  EXPECT_EQ(shell("cd " + examples + " && promtool test rules alerts_test.yml 2>&1", dir, &out), 0)
      << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;

  const std::string runbook = slurp(std::string(GATEHOUSE_SOURCE_DIR) + "/docs/OPERATIONS.md");
  ASSERT_FALSE(runbook.empty());
  const YAML::Node rules = YAML::LoadFile(examples + "/alerts.yml");
  const std::regex metric("\\b((?:gatehouse|process)_[a-z0-9_]+)");
  std::size_t alerts = 0;
  for (const YAML::Node& group : rules["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      const std::string name = rule["alert"].as<std::string>();
      ++alerts;
      const YAML::Node a = rule["annotations"];
      EXPECT_FALSE(a["summary"].as<std::string>("").empty()) << name;
      const std::string url = a["runbook_url"].as<std::string>("");
      ASSERT_TRUE(url.starts_with("docs/OPERATIONS.md#")) << name << ": " << url;
      // The anchor GitHub makes of "### Name": the name in lower case.
      std::string heading = url.substr(url.find('#') + 1);
      bool found = false;
      for (std::size_t at = runbook.find("\n### "); at != std::string::npos;
           at = runbook.find("\n### ", at + 1)) {
        std::string h = runbook.substr(at + 5, runbook.find('\n', at + 5) - at - 5);
        for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        found = found || h == heading;
      }
      EXPECT_TRUE(found) << name << ": no section for " << url << " in docs/OPERATIONS.md";
      const std::string expr = rule["expr"].as<std::string>();
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric);
           it != std::sregex_iterator(); ++it) {
        std::string m = (*it)[1];
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
          if (control::find_metric_family(m) == nullptr && m.ends_with(suffix))
            m.resize(m.size() - std::strlen(suffix));
        }
        EXPECT_NE(control::find_metric_family(m), nullptr)
            << name << " reads " << m << ", which /metrics does not expose";
      }
    }
  }
  EXPECT_GE(alerts, 10u);
}

}  // namespace
}  // namespace gh::test
