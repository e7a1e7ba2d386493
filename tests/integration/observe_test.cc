// The operator's view over real sockets: the admin API's sign-up modes, routes, events, top,
// series, reload and dashboard, the new /metrics families (checked against the one table and
// docs/ADMIN.md), the access log, the automatic incident report, and the binary (`gatehouse run`,
// `ctl signup-mode|events|top|routes|reload`, `gatehouse report`).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "client/address.h"
#include "control/admin_server.h"
#include "control/metrics.h"
#include "core/clock.h"
#include "observe/jsonl.h"
#include "policy/config.h"
#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kToken = "observe-token-7d1e93b2c4a8";

std::string write_token(const std::string& dir) {
  const std::string path = dir + "/admin.token";
  std::ofstream(path, std::ios::trunc) << kToken << "\n";
  ::chmod(path.c_str(), 0600);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kRoutes =
    "routes:\n"
    "  - name: signup\n"
    "    match: { path_prefix: /signup }\n"
    "    class: signup\n"
    "    signup: { mode: open }\n"
    "  - name: app\n"
    "    limits:\n"
    "      - { name: per-ip, key: [client.ip], rate: 1000/s }\n";

int get_status(std::uint16_t port, const std::string& path, const char* source = nullptr) {
  RawClient c(port, source);
  c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\nUser-Agent: observe-test/1\r\n\r\n");
  return c.read_response().status;
}

class Observe : public ::testing::Test {
 protected:
  void SetUp() override {
    shield_ = std::make_unique<Shield>(basic_config(origin_.port(), kRoutes));
    token_file_ = write_token(shield_->dir());
    policy::AdminConfig c;
    c.address = *client::parse_socket_address("127.0.0.1:0");
    c.token_file = token_file_;
    admin_ = std::make_unique<control::AdminServer>(shield_->server(), c, "test");
    admin_->set_reload([this](const std::string& by, std::string* why) {
      reloads_.push_back(by);
      if (fail_reload_) {
        *why = "boom";
        return false;
      }
      return true;
    });
    std::string error;
    ASSERT_TRUE(admin_->start(&error)) << error;
  }
  void TearDown() override {
    if (admin_) admin_->stop();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", admin_->port());
    c.set_read_timeout(3);
    return c;
  }
  static httplib::Headers auth(const std::string& token = kToken) {
    return {{"Authorization", "Bearer " + token}};
  }
  httplib::Result set_mode(const std::string& body, const httplib::Headers& h = auth()) const {
    return client().Post("/v1/signup-mode", h, body, "application/json");
  }
  json get(const std::string& path) const {
    auto r = client().Get(path);
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }
  // Waits for the housekeeping tick to have counted `n` requests in the series.
  bool series_has(std::uint64_t n) const {
    return eventually(
        [&] {
          json s = get("/v1/series?seconds=30");
          std::uint64_t total = 0;
          for (const json& v : s["requests"]) total += v.get<std::uint64_t>();
          return total >= n;
        },
        5s);
  }

  Origin origin_;
  std::unique_ptr<Shield> shield_;
  std::string token_file_;
  std::unique_ptr<control::AdminServer> admin_;
  std::vector<std::string> reloads_;
  bool fail_reload_ = false;
};

TEST_F(Observe, SignupModeNeedsTheTokenAndTakesEffect) {
  EXPECT_EQ(get_status(shield_->port(), "/signup"), 200);

  auto r = set_mode(R"({"route": "signup", "mode": "closed"})", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_NE(r->get_header_value("WWW-Authenticate").find("Bearer"), std::string::npos);
  r = set_mode(R"({"route": "signup", "mode": "closed"})", auth("wrong-token-0000"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_NE(r->get_header_value("WWW-Authenticate").find("invalid_token"), std::string::npos);
  EXPECT_EQ(get_status(shield_->port(), "/signup"), 200);  // nothing changed

  r = set_mode(R"({"route": "nope", "mode": "closed"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_NE(r->body.find("signup"), std::string::npos) << "names the sign-up routes: " << r->body;
  r = set_mode(R"({"route": "signup", "mode": "shut"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(json::parse(r->body)["field"], "mode");
  r = set_mode(R"({"route": "signup"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = set_mode(R"({"route": "signup", "mode": "closed", "extra": 1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = client().Post("/v1/signup-mode", auth(), R"({"route": "signup", "mode": "closed"})",
                    "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415) << r->body;

  r = set_mode(R"({"route": "signup", "mode": "closed", "reason": "flood"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["mode"], "closed");
  EXPECT_EQ(j["manual"], true);
  EXPECT_EQ(j["configured"], "open");
  EXPECT_EQ(get_status(shield_->port(), "/signup"), 503);
  EXPECT_EQ(get_status(shield_->port(), "/"), 200);  // other routes untouched

  json modes = get("/v1/signup-mode");
  ASSERT_EQ(modes["routes"].size(), 1u) << modes;
  EXPECT_EQ(modes["routes"][0]["mode"], "closed");
  EXPECT_EQ(get("/v1/signup-mode?route=signup")["mode"], "closed");
  EXPECT_EQ(client().Get("/v1/signup-mode?route=app")->status, 404);

  // The change is an event, with who made it.
  json events = get("/v1/events?limit=10");
  bool found = false;
  for (const json& e : events["events"]) {
    if (e["kind"] == "mode_change" && e["route"] == "signup") {
      found = true;
      EXPECT_EQ(e["data"]["to"], "closed");
      EXPECT_EQ(e["data"]["from"], "open");
      EXPECT_EQ(e["data"]["by"], "admin");
      EXPECT_NE(e["message"].get<std::string>().find("flood"), std::string::npos);
    }
  }
  EXPECT_TRUE(found) << events;

  // Mode gauges: one per route and mode.
  const std::string metrics = client().Get("/metrics")->body;
  EXPECT_NE(metrics.find("gatehouse_signup_mode{route=\"signup\",mode=\"closed\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("gatehouse_signup_mode{route=\"signup\",mode=\"open\"} 0"),
            std::string::npos);
  EXPECT_NE(metrics.find("gatehouse_signup_mode_manual{route=\"signup\"} 1"), std::string::npos);

  r = set_mode(R"({"route": "signup", "mode": "queue"})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["mode"], "queue");
  r = set_mode(R"({"route": "signup", "mode": "auto"})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["mode"], "open");
  EXPECT_EQ(json::parse(r->body)["manual"], false);
  EXPECT_EQ(get_status(shield_->port(), "/signup"), 200);
}

TEST_F(Observe, ReadsSeriesTopRoutesStatus) {
  for (int i = 0; i < 40; ++i) ASSERT_EQ(get_status(shield_->port(), "/", "127.0.0.7"), 200);
  ASSERT_TRUE(set_mode(R"({"route": "signup", "mode": "closed"})")->status == 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(get_status(shield_->port(), "/signup", "127.0.0.8"), 503);
  ASSERT_TRUE(series_has(45));

  json s = get("/v1/series?seconds=30");
  std::uint64_t passed = 0, closed = 0, anonymous = 0;
  for (std::size_t i = 0; i < s["t"].size(); ++i) {
    passed += s["passed"][i].get<std::uint64_t>();
    closed += s["closed"][i].get<std::uint64_t>();
    anonymous += s["anonymous"][i].get<std::uint64_t>();
  }
  EXPECT_EQ(passed, 40u);
  EXPECT_EQ(closed, 5u);
  EXPECT_EQ(anonymous, 45u);
  EXPECT_TRUE(s["modes"].contains("signup")) << s;
  EXPECT_EQ(client().Get("/v1/series?seconds=0")->status, 400);
  EXPECT_EQ(client().Get("/v1/series?seconds=601")->status, 400);
  EXPECT_EQ(client().Get("/v1/series?seconds=x")->status, 400);

  json top = get("/v1/top?n=5");
  ASSERT_FALSE(top["prefixes"].empty()) << top;
  EXPECT_EQ(top["prefixes"][0]["key"], "127.0.0.0/24");
  bool ua = false;
  for (const json& it : top["user_agents"]) ua = ua || it["key"] == "observe-test/1";
  EXPECT_TRUE(ua) << "refused requests carry their user agent: " << top;
  EXPECT_TRUE(top.contains("accounts"));
  EXPECT_TRUE(top.contains("asns"));
  EXPECT_EQ(client().Get("/v1/top?n=65")->status, 400);

  json routes = get("/v1/routes");
  ASSERT_EQ(routes["routes"].size(), 2u) << routes;
  const json& app = routes["routes"][1];
  EXPECT_EQ(app["name"], "app");
  EXPECT_EQ(app["requests"]["passed"], 40);
  ASSERT_EQ(app["limits"].size(), 1u);
  EXPECT_EQ(app["limits"][0]["name"], "per-ip");
  EXPECT_EQ(app["limits"][0]["key"], "client.ip");
  EXPECT_EQ(app["limits"][0]["table"]["tracked"], 1);
  EXPECT_EQ(routes["routes"][0]["signup"]["mode"], "closed");
  EXPECT_EQ(routes["routes"][0]["requests"]["closed"], 5);

  json st = get("/v1/status");
  ASSERT_EQ(st["signup"].size(), 1u) << st;
  EXPECT_EQ(st["signup"][0]["mode"], "closed");
  EXPECT_TRUE(st["upstreams"].is_array());
  EXPECT_EQ(st["queue"]["length"], 0);

  EXPECT_EQ(client().Get("/v1/events?limit=0")->status, 400);
  EXPECT_EQ(get("/v1/events?limit=1")["events"].size(), 1u);

  // /metrics: requests by route, class and verdict; histograms.
  const std::string m = client().Get("/metrics")->body;
  EXPECT_NE(
      m.find("gatehouse_requests_total{route=\"app\",class=\"anonymous\",verdict=\"passed\"} 40"),
      std::string::npos);
  EXPECT_NE(
      m.find("gatehouse_requests_total{route=\"signup\",class=\"anonymous\",verdict=\"closed\"} 5"),
      std::string::npos);
  EXPECT_NE(m.find("# TYPE gatehouse_upstream_latency_seconds histogram"), std::string::npos);
  EXPECT_NE(m.find("gatehouse_upstream_latency_seconds_count 40"), std::string::npos);
  EXPECT_NE(m.find("gatehouse_request_duration_seconds_bucket{le=\"+Inf\"} 45"), std::string::npos);
  EXPECT_NE(m.find("gatehouse_challenges_issued_total 0"), std::string::npos);
}

// Every family in the table is exposed (HELP and TYPE once) and documented; nothing is exposed
// that is not in it.
TEST_F(Observe, MetricsMatchTheTableAndTheDocs) {
  const std::string m = client().Get("/metrics")->body;
  std::map<std::string, int> types, helps;
  std::regex type_line("# TYPE ([a-z0-9_]+) ([a-z]+)");
  for (auto it = std::sregex_iterator(m.begin(), m.end(), type_line); it != std::sregex_iterator();
       ++it) {
    const std::string name = (*it)[1];
    ++types[name];
    const control::MetricFamily* f = control::find_metric_family(name);
    ASSERT_NE(f, nullptr) << name << " is exposed but not in control/metrics.h";
    EXPECT_EQ(f->type, (*it)[2].str()) << name;
  }
  std::regex help_line("# HELP ([a-z0-9_]+) ");
  for (auto it = std::sregex_iterator(m.begin(), m.end(), help_line); it != std::sregex_iterator();
       ++it) {
    ++helps[(*it)[1]];
  }
  const std::string docs = read_file(std::string(GATEHOUSE_SOURCE_DIR) + "/docs/ADMIN.md");
  ASSERT_FALSE(docs.empty());
  for (const control::MetricFamily& f : control::metric_families()) {
    EXPECT_EQ(types[f.name], 1) << f.name << ": TYPE once";
    EXPECT_EQ(helps[f.name], 1) << f.name << ": HELP once";
    EXPECT_NE(docs.find("| `" + f.name + "` | " + std::string(f.type) + " |"), std::string::npos)
        << "docs/ADMIN.md does not list " << f.name << " (" << f.type << ")";
  }
  EXPECT_EQ(types.size(), control::metric_families().size());
  // Each series line belongs to a declared family (histograms add _bucket, _sum, _count), and the
  // families' lines are contiguous.
  std::istringstream lines(m);
  std::string line, current;
  std::set<std::string> done;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!types.count(name) && name.ends_with(suffix))
        name.resize(name.size() - std::strlen(suffix));
    }
    EXPECT_TRUE(types.count(name)) << line;
    if (name != current) {
      EXPECT_TRUE(done.insert(name).second) << name << " is split: " << line;
      current = name;
    }
  }
}

TEST_F(Observe, ReloadAndDashboard) {
  auto r = client().Post("/v1/reload", "", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  r = client().Post("/v1/reload", auth(), "", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["reloaded"], true);
  r = client().Post("/v1/reload", auth(), "{}", "application/json");
  EXPECT_EQ(r->status, 200) << r->body;
  r = client().Post("/v1/reload", auth(), R"({"x": 1})", "application/json");
  EXPECT_EQ(r->status, 400) << r->body;
  fail_reload_ = true;
  r = client().Post("/v1/reload", auth(), "", "");
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_NE(r->body.find("boom"), std::string::npos);
  EXPECT_EQ(reloads_.size(), 3u);
  EXPECT_EQ(client().Get("/v1/reload")->status, 405);

  for (const char* path : {"/", "/dashboard", "/dashboard/"}) {
    r = client().Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/html", 0), 0u) << path;
    EXPECT_NE(r->body.find("Gatehouse dashboard"), std::string::npos);
    EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'self'"),
              std::string::npos);
  }
  r = client().Get("/dashboard/dashboard.js");
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("/v1/signup-mode"), std::string::npos);
  EXPECT_EQ(client().Get("/dashboard/nope.js")->status, 404);
  EXPECT_EQ(client().Post("/dashboard", auth(), "{}", "application/json")->status, 405);
}

// The Server alone: bans through the API are events; the access log is written when asked for.
TEST(ObserveServer, AccessLogAndBanEvents) {
  TempDir dir;
  Origin origin;
  std::string yaml = basic_config(origin.port(), kRoutes);
  yaml +=
      "bans: { journal: " + dir.path() + "/bans.journal }\nstate_dir: " + dir.path() + "/state\n";
  policy::LoadResult loaded = policy::load_config_string(yaml, "test");
  ASSERT_TRUE(loaded.errors.empty());
  proxy::ObserveOptions o;
  o.access_log = true;
  proxy::Server server(loaded.snapshot, o);
  std::string error;
  ASSERT_TRUE(server.start(&error)) << error;
  const std::uint16_t port = server.ports().at(0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get_status(port, "/hello"), 200);
  ASSERT_TRUE(
      server.defence().set_mode("signup", policy::SignupMode::Closed, "test", core::wall_ms()));
  EXPECT_EQ(get_status(port, "/signup/form"), 503);

  policy::AdminConfig c;
  c.address = *client::parse_socket_address("127.0.0.1:0");
  c.token_file = write_token(dir.path());
  control::AdminServer admin(server, c, "test");
  ASSERT_TRUE(admin.start(&error)) << error;
  httplib::Client http("127.0.0.1", admin.port());
  auto r = http.Post(
      "/v1/bans",
      {{"Authorization", std::string("Bearer ") + kToken}, {"User-Agent", "gatehouse-ctl"}},
      R"({"key": "203.0.113.7", "duration": "1h", "reason": "stuffing"})", "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  r = http.Delete("/v1/bans/203.0.113.7", {{"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_EQ(r->status, 200) << r->body;
  admin.stop();
  server.stop();
  server.wait();

  const std::string log = read_file(dir.path() + "/state/access.log");
  std::istringstream lines(log);
  std::string line;
  int passed = 0, closed = 0;
  while (std::getline(lines, line)) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    if (j["verdict"] == "passed" && j["route"] == "app") {
      ++passed;
      EXPECT_EQ(j["status"], 200);
      EXPECT_EQ(j["client"], "127.0.0.1");
    }
    if (j["verdict"] == "closed") {
      ++closed;
      EXPECT_EQ(j["status"], 503);
      EXPECT_EQ(j["path"], "/signup/form");
      EXPECT_EQ(j["ua"], "observe-test/1");
    }
  }
  EXPECT_EQ(passed, 3) << log;
  EXPECT_EQ(closed, 1) << log;

  const std::string events = read_file(dir.path() + "/state/events.jsonl");
  for (const char* kind : {"\"start\"", "\"mode_change\"", "\"ban\"", "\"unban\"", "\"stop\""}) {
    EXPECT_NE(events.find(kind), std::string::npos) << kind << " in " << events;
  }
  EXPECT_NE(events.find("\"by\":\"ctl\""), std::string::npos) << events;
  // The minute in progress is written at stop.
  EXPECT_NE(read_file(dir.path() + "/state/minutes.jsonl").find("\"closed\":1"), std::string::npos);
}

// A trigger takes the route away from its configured mode and brings it back: an incident report
// is written by itself.
TEST(ObserveServer, AutomaticModeEndWritesAReport) {
  TempDir dir;
  Origin origin;
  std::string yaml = basic_config(
      origin.port(),
      "routes:\n"
      "  - name: signup\n"
      "    match: { path_prefix: /signup }\n"
      "    class: signup\n"
      "    signup:\n"
      "      mode: open\n"
      "      triggers:\n"
      "        - { metric: request_rate, above: 4, below: 1, for: 1s, hold: 2s, mode: closed }\n"
      "  - name: app\n");
  yaml +=
      "bans: { journal: " + dir.path() + "/bans.journal }\nstate_dir: " + dir.path() + "/state\n";
  policy::LoadResult loaded = policy::load_config_string(yaml, "test");
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors[0].to_string();
  proxy::Server server(loaded.snapshot);
  std::string error;
  ASSERT_TRUE(server.start(&error)) << error;
  const std::uint16_t port = server.ports().at(0);
  const auto mode = [&] { return server.defence().routes_status().at(0).mode; };
  // About 20 requests a second until the trigger closes sign-up.
  const bool closed = eventually(
      [&] {
        for (int i = 0; i < 4; ++i) get_status(port, "/signup");
        return mode() == policy::SignupMode::Closed;
      },
      15s);
  ASSERT_TRUE(closed);
  ASSERT_TRUE(eventually([&] { return mode() == policy::SignupMode::Open; }, 20s));
  ASSERT_TRUE(eventually([&] { return server.observer().reports_written() == 1; }, 3s));
  server.stop();
  server.wait();
  std::vector<fs::path> reports;
  for (const auto& e : fs::directory_iterator(dir.path() + "/state/reports"))
    reports.push_back(e.path());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].filename().string().rfind("incident-", 0), 0u);
  const std::string text = read_file(reports[0].string());
  EXPECT_NE(text.find("# Incident report"), std::string::npos);
  EXPECT_NE(text.find("open -&gt; closed"), std::string::npos) << text;
  EXPECT_NE(text.find("trigger"), std::string::npos);
}

// ---- the binary ------------------------------------------------------------------------------

struct Ran {
  int rc = -1;
  std::string out;
};

Ran gatehouse(const TempDir& dir, const std::vector<std::string>& args,
              const std::vector<std::string>& env = {}) {
  std::vector<std::string> full = {GATEHOUSE_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  Child c(full, dir.path() + "/cmd.log", env);
  Ran r;
  r.rc = c.wait(20s);
  r.out = c.log();
  return r;
}

TEST(ObserveBinary, CtlSignupModeEventsTopRoutesReloadThenReport) {
  TempDir dir;
  Origin origin;
  const std::string token = write_token(dir.path());
  const std::string state = dir.path() + "/state";
  const std::string config = dir.path() + "/gatehouse.yaml";
  std::ofstream(config) << "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\n"
                           "admin: { address: 127.0.0.2:0, token_file: " +
                               token +
                               " }\n"
                               "upstreams:\n  app:\n    servers: [127.0.0.1:" +
                               std::to_string(origin.port()) + "]\n" + kRoutes +
                               "bans: { journal: " + dir.path() +
                               "/bans.journal }\n"
                               "secrets: { key_file: " +
                               dir.path() +
                               "/secret.key }\n"
                               "state_dir: " +
                               state + "\n";
  Child run({GATEHOUSE_BINARY, "run", "--config", config}, dir.path() + "/run.log");
  const std::uint16_t port =
      run.port_from_log(std::regex("admin API on http://127\\.0\\.0\\.2:([0-9]+)/"));
  ASSERT_NE(port, 0) << run.log();
  const std::uint16_t proxy_port =
      run.port_from_log(std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"));
  ASSERT_NE(proxy_port, 0) << run.log();
  const std::string admin = "127.0.0.2:" + std::to_string(port);
  for (int i = 0; i < 25; ++i) ASSERT_EQ(get_status(proxy_port, "/"), 200);

  Ran r = gatehouse(dir, {"ctl", "--admin", admin, "signup-mode"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("signup +open +auto +open"))) << r.out;

  r = gatehouse(dir, {"ctl", "--admin", admin, "signup-mode", "signup", "closed"});
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("--token-file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("admin.token_file"), std::string::npos) << r.out;
  EXPECT_EQ(get_status(proxy_port, "/signup"), 200);

  r = gatehouse(dir, {"ctl", "--admin", admin, "signup-mode", "signup", "shut"});
  EXPECT_EQ(r.rc, 2) << r.out;

  r = gatehouse(dir, {"ctl", "--admin", admin, "--token-file", token, "signup-mode", "signup",
                      "closed", "--reason", "registration flood"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("sign-up mode of signup: closed"), std::string::npos) << r.out;
  EXPECT_EQ(get_status(proxy_port, "/signup"), 503);
  EXPECT_EQ(get_status(proxy_port, "/signup"), 503);

  r = gatehouse(dir,
                {"ctl", "--admin", admin, "--token-file", token, "signup-mode", "nope", "open"});
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("no sign-up route"), std::string::npos) << r.out;

  r = gatehouse(dir, {"ctl", "--admin", admin, "--json", "signup-mode", "signup"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(json::parse(r.out, nullptr, false).value("mode", ""), "closed") << r.out;

  r = gatehouse(dir, {"ctl", "--admin", admin, "events"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("mode_change +signup +ctl +open -> closed: registration flood")))
      << r.out;

  ASSERT_TRUE(eventually(
      [&] {
        return gatehouse(dir, {"ctl", "--admin", admin, "top"}).out.find("127.0.0.0/24") !=
               std::string::npos;
      },
      5s));
  r = gatehouse(dir, {"ctl", "--admin", admin, "routes"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("app +other +app +25 +25"))) << r.out;
  EXPECT_TRUE(
      std::regex_search(r.out, std::regex("signup +signup +app +3 +1 +closed \\(manual\\)")))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("app +per-ip +client\\.ip +1000/1s +reject +1/")))
      << r.out;

  r = gatehouse(dir, {"ctl", "--admin", admin, "reload"});
  EXPECT_EQ(r.rc, 1) << r.out;
  r = gatehouse(dir, {"ctl", "--admin", admin, "--token-file", token, "reload"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("config reloaded (generation 2)"), std::string::npos) << r.out;

  run.signal(SIGTERM);
  ASSERT_EQ(run.wait(10s), 0) << run.log();

  // The report from the files, with the shield stopped.
  const std::string out = dir.path() + "/report.md";
  r = gatehouse(dir, {"report", "--since", "-1h", "--state-dir", state, "-o", out});
  EXPECT_EQ(r.rc, 0) << r.out;
  const std::string report = read_file(out);
  EXPECT_NE(report.find("# Incident report"), std::string::npos) << report;
  EXPECT_NE(report.find("received 28 requests"), std::string::npos) << report;
  EXPECT_NE(report.find("registration flood"), std::string::npos) << report;
  EXPECT_NE(report.find("| ctl |"), std::string::npos) << report;
  EXPECT_NE(report.find("127.0.0[.]0/24"), std::string::npos) << "defanged indicator: " << report;

  r = gatehouse(dir, {"report", "--since", "-1h", "--config", config});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("received 28 requests"), std::string::npos) << r.out;
}

// Synthetic state files: the figures in them come out in the report.
TEST(ObserveBinary, ReportFromSyntheticFiles) {
  TempDir dir;
  const std::int64_t t0 = 1'795'000'000'000;  // a minute boundary
  const std::string state = dir.path() + "/st";
  fs::create_directories(state);
  std::ofstream minutes(state + "/minutes.jsonl");
  for (int i = 0; i < 3; ++i) {
    json m = {
        {"t", t0 + i * 60'000},
        {"verdicts", {{"passed", 1000 + i}, {"shed", 4321}, {"closed", 17}}},
        {"classes", {{"resident", {{"requests", 200}, {"served", 200}}}}},
        {"peak_rps", 250 + i},
        {"routes", {{"signup", 5338 + i}}},
        {"modes", {{"signup", "queue"}}},
        {"top", {{"prefixes", {{{"key", "198.51.100.0/24"}, {"count", 4000}, {"error", 0}}}}}}};
    minutes << m.dump() << "\n";
  }
  minutes << "not json\n";
  minutes.close();
  std::ofstream(state + "/events.jsonl")
      << json({{"at", t0 + 1000},
               {"kind", "mode_change"},
               {"route", "signup"},
               {"message", "open -> queue: request_rate above 200"},
               {"data", {{"from", "open"}, {"to", "queue"}, {"by", "trigger"}}}})
             .dump()
      << "\n";
  Ran r = gatehouse(dir, {"report", "--since", "2026-11-18T00:00:00Z", "--until",
                          "2026-11-18T00:00:00Z", "--state-dir", state});
  EXPECT_EQ(r.rc, 2) << r.out;  // until not after since
  r = gatehouse(dir, {"report", "--since", "yesterday-ish", "--state-dir", state});
  EXPECT_EQ(r.rc, 2) << r.out;
  r = gatehouse(dir, {"report", "--since", "-1h", "--state-dir", dir.path() + "/missing"});
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("--state-dir"), std::string::npos) << r.out;

  const std::string since = std::to_string(t0 / 1000);
  r = gatehouse(dir, {"report", "--since", "@" + since, "--state-dir", state});  // not a format
  EXPECT_EQ(r.rc, 2);
  std::string from = observe::format_time(t0), to = observe::format_time(t0 + 180'000);
  r = gatehouse(dir, {"report", "--since", from, "--until", to, "--state-dir", state});
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("received 16,017 requests"), std::string::npos) << r.out;  // 3003+12963+51
  EXPECT_NE(r.out.find("252"), std::string::npos) << "peak rate: " << r.out;
  EXPECT_NE(r.out.find("198.51.100[.]0/24"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("request_rate above 200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("100.0%"), std::string::npos) << "residents served: " << r.out;
}

}  // namespace
}  // namespace gh::test
