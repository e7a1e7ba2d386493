// The admin API over real loopback sockets: an in-process Shield with an AdminServer next to it,
// and the binary (`gatehouse run` with an admin section, then `gatehouse ctl`).
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "client/address.h"
#include "control/admin_server.h"
#include "core/clock.h"
#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kToken = "test-token-4f9c2a71d0e8b6";

std::string write_token(const std::string& dir, const std::string& content = kToken, mode_t mode = 0600,
                        const std::string& name = "admin.token") {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::trunc) << content << "\n";
  ::chmod(path.c_str(), mode);
  return path;
}

policy::AdminConfig admin_config(const std::string& token_file, const char* address = "127.0.0.1:0") {
  policy::AdminConfig c;
  c.address = *client::parse_socket_address(address);
  c.token_file = token_file;
  return c;
}

// A shield (one worker, journal in its own directory) with an admin API on 127.0.0.1:0.
class Admin : public ::testing::Test {
 protected:
  void SetUp() override {
    shield_ = std::make_unique<Shield>(basic_config(origin_.port()));
    token_file_ = write_token(shield_->dir());
    admin_ = std::make_unique<control::AdminServer>(shield_->server(), admin_config(token_file_), "test");
    std::string error;
    ASSERT_TRUE(admin_->start(&error)) << error;
    ASSERT_NE(admin_->port(), 0);
  }
  void TearDown() override {
    if (admin_) admin_->stop();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", admin_->port());
    c.set_connection_timeout(2);
    c.set_read_timeout(3);
    c.set_write_timeout(3);
    return c;
  }
  static httplib::Headers auth(const std::string& token = kToken) {
    return {{"Authorization", "Bearer " + token}};
  }
  httplib::Result add_ban(const std::string& body, const httplib::Headers& headers = auth()) const {
    return client().Post("/v1/bans", headers, body, "application/json");
  }
  static json body(const httplib::Result& r) { return json::parse(r->body); }
  json status() const {
    auto r = client().Get("/v1/status");
    EXPECT_TRUE(r);
    return r ? body(r) : json();
  }
  std::size_t live_bans() { return shield_->server().bans()->list(core::wall_seconds()).size(); }
  int request_from(const char* source) {
    RawClient c(shield_->port(), source);
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    return c.read_response().status;
  }

  Origin origin_;
  std::unique_ptr<Shield> shield_;
  std::string token_file_;
  std::unique_ptr<control::AdminServer> admin_;
};

TEST_F(Admin, ListAddRemove) {
  auto r = client().Get("/v1/bans");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(body(r), json::parse(R"({"bans": []})"));

  const auto before = core::wall_seconds();
  r = add_ban(R"({"key": "203.0.113.7", "duration": "1h", "reason": "credential stuffing"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  json ban = body(r)["ban"];
  EXPECT_EQ(ban["key"], "203.0.113.7/32");
  EXPECT_EQ(ban["source"], "manual");
  EXPECT_EQ(ban["reason"], "credential stuffing");
  EXPECT_EQ(ban["level"], 0);
  EXPECT_GE(ban["start"].get<std::int64_t>(), before);
  EXPECT_EQ(ban["expiry"].get<std::int64_t>() - ban["start"].get<std::int64_t>(), 3600);
  EXPECT_LE(ban["expires_in_s"].get<std::int64_t>(), 3600);
  EXPECT_GE(ban["expires_in_s"].get<std::int64_t>(), 3598);

  r = add_ban(R"({"key": "2001:db8::1/48", "duration": "10m"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(body(r)["ban"]["key"], "2001:db8::/48");

  r = client().Get("/v1/bans");
  ASSERT_TRUE(r);
  json bans = body(r)["bans"];
  ASSERT_EQ(bans.size(), 2u);
  EXPECT_EQ(bans[0]["key"], "2001:db8::/48");  // soonest expiry first
  EXPECT_EQ(bans[1]["key"], "203.0.113.7/32");

  r = client().Get("/v1/bans/2001%3Adb8%3A%3A%2F48");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body(r)["ban"]["key"], "2001:db8::/48");

  r = client().Delete("/v1/bans/2001%3Adb8%3A%3A%2F48", auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body(r)["removed"], true);
  r = client().Delete("/v1/bans/2001%3Adb8%3A%3A%2F48", auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(body(r)["field"], "key");
  r = client().Delete("/v1/bans/203.0.113.7", auth());  // a bare address is its /32
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(live_bans(), 0u);
}

TEST_F(Admin, ChangesWithoutTheRightTokenAreRefusedAndLeaveNoBan) {
  const std::string ban = R"({"key": "198.51.100.9", "duration": "1h"})";
  for (const httplib::Headers& headers :
       {httplib::Headers{}, auth("wrong"), auth(std::string(kToken) + "x"), auth(std::string(kToken).substr(1)),
        httplib::Headers{{"Authorization", std::string("Basic ") + kToken}}}) {
    auto r = add_ban(ban, headers);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_NE(r->get_header_value("WWW-Authenticate").find("Bearer"), std::string::npos);
    EXPECT_TRUE(body(r).contains("error"));
  }
  EXPECT_EQ(live_bans(), 0u);

  ASSERT_EQ(add_ban(ban)->status, 201);
  auto r = client().Delete("/v1/bans/198.51.100.9", auth("wrong"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = client().Delete("/v1/bans/198.51.100.9");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(live_bans(), 1u);  // still banned
}

TEST_F(Admin, ManualBanTurnsTheAddressAwayAtTheProxy) {
  EXPECT_EQ(request_from("127.0.0.77"), 200);
  const json before = status()["stats"];

  auto r = add_ban(R"({"key": "127.0.0.77", "duration": "5m", "reason": "test"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(request_from("127.0.0.77"), 0);  // closed at accept
  EXPECT_EQ(request_from("127.0.0.78"), 200);

  const json after = status()["stats"];
  EXPECT_GE(after["connections_refused_banned"].get<std::uint64_t>(),
            before["connections_refused_banned"].get<std::uint64_t>() + 1);
  EXPECT_GE(after["requests"].get<std::uint64_t>(), before["requests"].get<std::uint64_t>() + 1);
  EXPECT_GE(after["connections_accepted"].get<std::uint64_t>(), 2u);

  r = client().Delete("/v1/bans/127.0.0.77", auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(request_from("127.0.0.77"), 200);
}

TEST_F(Admin, Status) {
  json s = status();
  EXPECT_EQ(s["version"], "test");
  EXPECT_EQ(s["workers"], 1);
  EXPECT_EQ(s["generation"], shield_->server().generation());
  EXPECT_GE(s["uptime_s"].get<std::int64_t>(), 0);
  ASSERT_EQ(s["listeners"].size(), 1u);
  EXPECT_EQ(s["listeners"][0]["address"], "127.0.0.1:" + std::to_string(shield_->port()));
  EXPECT_EQ(s["admin"]["address"], "127.0.0.1:" + std::to_string(admin_->port()));
  EXPECT_EQ(s["admin"]["changes_enabled"], true);
#define GH_EXPECT_STAT(name, help) EXPECT_TRUE(s["stats"].contains(#name)) << #name;
  GH_WORKER_STATS(GH_EXPECT_STAT)
#undef GH_EXPECT_STAT
  EXPECT_EQ(s["bans"]["capacity"], 100000);
  EXPECT_EQ(s["bans"]["live"], 0);
  ASSERT_EQ(add_ban(R"({"key": "192.0.2.1", "duration": "1m"})")->status, 201);
  s = status();
  EXPECT_EQ(s["bans"]["live"], 1);
  EXPECT_EQ(s["bans"]["bans"], 1);
}

TEST_F(Admin, MetricsInPrometheusTextFormat) {
  EXPECT_EQ(request_from("127.0.0.1"), 200);
  auto r = client().Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(
      r->body.find("# TYPE gatehouse_request_heads_total counter\ngatehouse_request_heads_total 1\n"),
      std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("gatehouse_bans_live 0\n"), std::string::npos);
  EXPECT_EQ(client().Post("/metrics", "", "text/plain")->status, 405);
}

TEST(AdminMetrics, LimitTablesHaveOneSeriesPerRouteAndLimit) {
  Origin origin;
  Shield shield(basic_config(origin.port(),
                             "routes:\n  - name: signup\n    limits:\n"
                             "      - { name: per-ip, key: [client.ip], rate: 1/min, max_keys: 64 }\n"));
  control::AdminServer admin(shield.server(), admin_config(write_token(shield.dir())), "test");
  std::string error;
  ASSERT_TRUE(admin.start(&error)) << error;
  for (const char* source : {"127.0.0.1", "127.0.0.2", "127.0.0.2"}) {
    RawClient c(shield.port(), source);
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.read_response();
  }
  httplib::Client c("127.0.0.1", admin.port());
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("gatehouse_limit_keys_tracked{route=\"signup\",limit=\"per-ip\"} 2\n"),
            std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("gatehouse_ratelimit_requests_total{outcome=\"rejected\"} 1\n"),
            std::string::npos);
  EXPECT_NE(r->body.find("gatehouse_ratelimit_requests_total{outcome=\"passed\"} 2\n"),
            std::string::npos);
  admin.stop();
}

TEST_F(Admin, ClearErrors) {
  auto expect_error = [](const httplib::Result& r, int status, const std::string& part, const std::string& field = "") {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    json b = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(b.is_object()) << r->body;
    EXPECT_NE(b.value("error", "").find(part), std::string::npos) << r->body;
    EXPECT_EQ(b.value("field", ""), field) << r->body;
  };
  expect_error(client().Get("/v1/nope"), 404, "no such endpoint");
  expect_error(client().Get("/v1/bans/not-an-address"), 400, "invalid key", "key");
  expect_error(client().Put("/v1/bans", auth(), "{}", "application/json"), 405, "not allowed");
  expect_error(client().Post("/v1/bans", auth(), "{}", "text/plain"), 415, "application/json");
  expect_error(add_ban("{\"key\": "), 400, "not valid JSON");
  expect_error(add_ban(R"({"key": "1.2.3.4", "duration": "90"})"), 400, "add a unit", "duration");
  expect_error(add_ban(R"({"key": "1.2.3.4", "duration": "1h", "extra": true})"), 400, "unknown field", "extra");
  // Over 16 KiB: declared, and chunked (no length known up front).
  const std::string big = R"({"key": "1.2.3.4", "duration": "1h", "reason": ")" + std::string(17000, 'x') + "\"}";
  expect_error(add_ban(big), 413, "16 KiB");
  auto chunked = client().Post(
      "/v1/bans", auth(),
      [&](std::size_t offset, httplib::DataSink& sink) {
        if (offset < big.size()) sink.write(big.data() + offset, std::min<std::size_t>(4096, big.size() - offset));
        if (offset + 4096 >= big.size()) sink.done();
        return true;
      },
      "application/json");
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 413);
  EXPECT_EQ(live_bans(), 0u);
}

TEST_F(Admin, RefusedBeforeTheBodyIsRead) {
  const std::string body = "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";  // must not be served
  {
    RawClient raw(admin_->port());
    raw.send("POST /v1/bans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    ClientResponse r = raw.read_response();
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.header("connection"), "close");
    EXPECT_TRUE(raw.closed_by_peer());
    EXPECT_EQ(raw.read_all(std::chrono::milliseconds(10)), "");  // the "body" was not served
  }
  {
    // Expect: 100-continue is answered with the refusal, not with 100.
    RawClient raw(admin_->port());
    raw.send("POST /v1/bans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
    ClientResponse r = raw.read_response();
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find("bearer token"), std::string::npos) << r.body;
  }
  {
    RawClient raw(admin_->port());
    raw.send("POST /v1/bans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Authorization: Bearer " + std::string(kToken) +
             "\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
    ClientResponse r = raw.read_response();
    EXPECT_EQ(r.status, 413);
  }
  EXPECT_EQ(live_bans(), 0u);
}

TEST_F(Admin, ReadOnlyWithoutATokenFile) {
  admin_->stop();
  admin_ = std::make_unique<control::AdminServer>(shield_->server(), admin_config(""));
  std::string error;
  ASSERT_TRUE(admin_->start(&error)) << error;
  auto r = add_ban(R"({"key": "192.0.2.1", "duration": "1m"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(body(r)["error"], "admin changes disabled: set admin.token_file");
  EXPECT_EQ(client().Get("/v1/bans")->status, 200);
  EXPECT_EQ(status()["admin"]["changes_enabled"], false);
  EXPECT_EQ(live_bans(), 0u);
}

TEST_F(Admin, RefusesToStartUnsafely) {
  std::string error;
  const std::string dir = shield_->dir();

  control::AdminServer loose(shield_->server(), admin_config(write_token(dir, kToken, 0644, "loose.token")));
  EXPECT_FALSE(loose.start(&error));
  EXPECT_NE(error.find("chmod 600 " + dir + "/loose.token"), std::string::npos) << error;

  control::AdminServer missing(shield_->server(), admin_config(dir + "/no-such-file"));
  EXPECT_FALSE(missing.start(&error));
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;

  control::AdminServer empty(shield_->server(), admin_config(write_token(dir, "", 0600, "empty.token")));
  EXPECT_FALSE(empty.start(&error));
  EXPECT_NE(error.find("empty"), std::string::npos) << error;

  control::AdminServer open(shield_->server(), admin_config("", "0.0.0.0:0"));
  EXPECT_FALSE(open.start(&error));
  EXPECT_NE(error.find("not a loopback address"), std::string::npos) << error;

  // The admin port is not shared (no SO_REUSEPORT): a second one on it fails loudly.
  const std::string taken = "127.0.0.1:" + std::to_string(admin_->port());
  control::AdminServer second(shield_->server(), admin_config(token_file_, taken.c_str()));
  EXPECT_FALSE(second.start(&error));
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
}

TEST_F(Admin, StopIsPromptAndIdempotent) {
  const auto t0 = std::chrono::steady_clock::now();
  admin_->stop();
  admin_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  auto r = client().Get("/v1/status");
  EXPECT_FALSE(r);
}

// ---- through the binary -------------------------------------------------------------------------



struct Ran {
  int rc = -1;
  std::string out;
};

Ran ctl(const TempDir& dir, const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> full = {GATEHOUSE_BINARY, "ctl"};
  full.insert(full.end(), args.begin(), args.end());
  Child c(full, dir.path() + "/ctl.log", env);
  Ran r;
  r.rc = c.wait(10s);
  r.out = c.log();
  return r;
}

TEST(AdminBinary, RunWithAdminThenCtlBans) {
  TempDir dir;
  Origin origin;
  const std::string token = write_token(dir.path());
  const std::string config = dir.path() + "/gatehouse.yaml";
  // The admin API on 127.0.0.2 (loopback too), port 0: never the fixed default port in tests.
  std::ofstream(config) << "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\n"
                           "admin: { address: 127.0.0.2:0, token_file: " + token + " }\n"
                           "upstreams:\n  app:\n    servers: [127.0.0.1:" + std::to_string(origin.port()) + "]\n"
                           "bans: { journal: " + dir.path() + "/bans.journal }\n";
  Child run({GATEHOUSE_BINARY, "run", "--config", config}, dir.path() + "/run.log");
  const std::uint16_t port = run.port_from_log(std::regex("admin API on http://127\\.0\\.0\\.2:([0-9]+)/"));
  ASSERT_NE(port, 0) << run.log();
  const std::uint16_t proxy_port = run.port_from_log(std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"));
  ASSERT_NE(proxy_port, 0) << run.log();
  const std::string admin = "127.0.0.2:" + std::to_string(port);

  Ran r = ctl(dir, {"--admin", admin, "bans", "list"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("no bans"), std::string::npos) << r.out;

  // No token: refused (exit 1), with a hint.
  r = ctl(dir, {"--admin", admin, "bans", "add", "127.0.0.99", "--for", "1h"});
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("HTTP 401"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--token-file"), std::string::npos) << r.out;

  r = ctl(dir, {"--admin", admin, "--token-file", token, "bans", "add", "127.0.0.99", "--for", "1h", "--reason",
                "stuffing"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("banned 127.0.0.99/32"), std::string::npos) << r.out;

  RawClient banned(proxy_port, "127.0.0.99");
  banned.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(banned.read_response().status, 0);  // turned away at accept

  // The token from the environment; an IPv6 prefix too.
  const std::string env = "GATEHOUSE_ADMIN_TOKEN_FILE=" + token;
  r = ctl(dir, {"--admin", admin, "bans", "add", "2001:db8::/48", "--for", "30m"}, {env});
  EXPECT_EQ(r.rc, 0) << r.out;

  r = ctl(dir, {"--admin", admin, "bans", "list"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("KEY +EXPIRES IN +LEVEL +SOURCE +REASON"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("2001:db8::/48 +(29m[0-9]+s|30m) +0 +manual +-"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("127\\.0\\.0\\.99/32 +(59m[0-9]+s|1h) +0 +manual +stuffing")))
      << r.out;

  r = ctl(dir, {"--admin", admin, "--json", "bans", "list"});
  EXPECT_EQ(r.rc, 0) << r.out;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["bans"].size(), 2u);

  r = ctl(dir, {"--admin", admin, "status"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("connections_refused_banned"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 live"), std::string::npos) << r.out;

  r = ctl(dir, {"--admin", admin, "bans", "remove", "2001:db8::/48"}, {env});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("removed the ban on 2001:db8::/48"), std::string::npos) << r.out;
  r = ctl(dir, {"--admin", admin, "bans", "remove", "127.0.0.99"}, {env});
  EXPECT_EQ(r.rc, 0) << r.out;
  r = ctl(dir, {"--admin", admin, "bans", "remove", "127.0.0.99"}, {env});
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("no ban on 127.0.0.99/32"), std::string::npos) << r.out;

  RawClient again(proxy_port, "127.0.0.99");
  again.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(again.read_response().status, 200);

  // Usage errors exit 2, before any request.
  EXPECT_EQ(ctl(dir, {"--admin", admin, "bans", "add", "127.0.0.99"}).rc, 2);
  EXPECT_EQ(ctl(dir, {"--admin", admin, "bans", "add", "127.0.0.99", "--for", "60"}).rc, 2);
  EXPECT_EQ(ctl(dir, {"--admin", admin, "bans", "add", "not-an-ip", "--for", "1h"}).rc, 2);
  EXPECT_EQ(ctl(dir, {"--admin", "nowhere", "status"}).rc, 2);
  EXPECT_EQ(ctl(dir, {}).rc, 2);
  EXPECT_EQ(ctl(dir, {"--help"}).rc, 0);

  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(10s), 0) << run.log();

  // Nothing listens any more: a clear message naming the address.
  r = ctl(dir, {"--admin", admin, "status"});
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("cannot connect to the admin API at " + admin), std::string::npos) << r.out;
}

TEST(AdminBinary, RunRefusesATokenFileOthersCanRead) {
  TempDir dir;
  const std::string token = write_token(dir.path(), kToken, 0644);
  const std::string config = dir.path() + "/gatehouse.yaml";
  std::ofstream(config) << "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\n"
                           "admin: { address: 127.0.0.2:0, token_file: " + token + " }\n"
                           "upstreams:\n  app:\n    servers: [127.0.0.1:9]\n"
                           "bans: { journal: " + dir.path() + "/bans.journal }\n";
  Child run({GATEHOUSE_BINARY, "run", "--config", config}, dir.path() + "/run.log");
  EXPECT_EQ(run.wait(10s), 1) << run.log();
  EXPECT_NE(run.log().find("chmod 600 " + token), std::string::npos) << run.log();
}

TEST(AdminBinary, RunFailsWhenTheConfiguredAdminAddressIsTaken) {
  TempDir dir;
  // Hold a port on 127.0.0.2 with a plain listening socket.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_storage ss{};
  socklen_t len = client::to_sockaddr(*client::parse_socket_address("127.0.0.2:0"), ss);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  len = sizeof ss;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  const std::uint16_t taken = client::from_sockaddr(ss, len)->port;

  const std::string config = dir.path() + "/gatehouse.yaml";
  std::ofstream(config) << "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\n"
                           "admin: { address: 127.0.0.2:" + std::to_string(taken) + " }\n"
                           "upstreams:\n  app:\n    servers: [127.0.0.1:9]\n"
                           "bans: { journal: " + dir.path() + "/bans.journal }\n";
  Child run({GATEHOUSE_BINARY, "run", "--config", config}, dir.path() + "/run.log");
  EXPECT_EQ(run.wait(10s), 1) << run.log();
  EXPECT_NE(run.log().find("cannot start the admin API: cannot listen on 127.0.0.2:" + std::to_string(taken)),
            std::string::npos)
      << run.log();
  ::close(fd);
}

}  // namespace
}  // namespace gh::test

namespace gh::test {
namespace {

// "Log out everywhere": revoking an account turns every device token it holds into nothing,
// at once, kept on disk; logging in again makes a new one.
TEST(AdminResidents, RevokingAnAccountLogsItsDevicesOut) {
  Origin origin([](const OriginRequest& q) {
    OriginReply r;
    if (q.target == "/login") {
      r.status = q.body.find("password=right") != std::string::npos ? 200 : 401;
      if (r.status == 200) r.headers.push_back({"Set-Cookie", "sid=1; Path=/"});
    }
    return r;
  });
  Shield shield(basic_config(origin.port(),
                             "residents: { success_cookie: sid }\n"
                             "routes:\n  - name: login\n    match: { path: /login }\n"
                             "    class: login\n  - name: app\n"));
  const std::string token_file = write_token(shield.dir());
  control::AdminServer admin(shield.server(), admin_config(token_file), "test");
  std::string error;
  ASSERT_TRUE(admin.start(&error)) << error;
  auto login = [&] {
    return set_cookie(
        roundtrip(shield.port(), request("POST", "/login", "", "username=Alice&password=right")),
        "gh_device");
  };
  const std::string device = login();
  ASSERT_NE(device, "");
  auto resident = [&](const std::string& cookie) {
    const std::uint64_t before = shield.server().stats().class_resident;
    roundtrip(shield.port(), request("GET", "/home", cookie_header(cookie)));
    return shield.server().stats().class_resident == before + 1;
  };
  ASSERT_TRUE(resident(device));

  httplib::Client c("127.0.0.1", admin.port());
  const httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};
  auto no_token = c.Post("/v1/residents/revoke", "{\"account\": \"alice\"}", "application/json");
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  auto bad = c.Post("/v1/residents/revoke", auth, "{\"user\": \"alice\"}", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto ok = c.Post("/v1/residents/revoke", auth, "{\"account\": \" ALICE \"}", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_FALSE(resident(device)) << "the old token is refused";
  // A login in the very millisecond of the revocation is revoked with it; a later one is not.
  std::this_thread::sleep_for(5ms);
  const std::string again = login();
  ASSERT_NE(again, "");
  EXPECT_TRUE(resident(again)) << "a new login is a new epoch";

  std::ifstream kept(shield.dir() + "/state/revocations");
  std::string line;
  ASSERT_TRUE(std::getline(kept, line));
  EXPECT_EQ(line.rfind("account ", 0), 0u) << line;
  admin.stop();
}

}  // namespace
}  // namespace gh::test
