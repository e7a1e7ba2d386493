// Rate limits, address lists and bans end to end: config in, refusals and headers out.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: a\r\n" + extra + "\r\n";
}

std::string post_form(const std::string& path, const std::string& body,
                      const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

int status_of(std::uint16_t port, const std::string& request, const char* source = nullptr) {
  RawClient c(port, source);
  c.send(request);
  return c.read_response().status;
}

std::string config_with_routes(std::uint16_t origin, const std::string& routes,
                               const std::string& extra = "") {
  return basic_config(origin, "routes:\n" + routes + extra);
}

struct LimitsTest : ::testing::Test {
  Origin origin;
};

TEST_F(LimitsTest, PerPrefixLimitRefusesWith429AndHeaders) {
  Shield shield(config_with_routes(origin.port(),
      "  - name: signup\n    match: { path_prefix: /signup }\n    limits:\n"
      "      - { name: per-prefix, key: [client.prefix], rate: 3/min, burst: 3 }\n"
      "  - name: rest\n"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(status_of(shield.port(), get("/signup")), 200) << i;
  RawClient c(shield.port());
  c.send(get("/signup"));
  ClientResponse r = c.read_response();
  EXPECT_EQ(r.status, 429);
  int retry = std::atoi(r.header("retry-after").c_str());
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 20);  // one request every 20 s
  EXPECT_EQ(r.header("ratelimit-policy"), "\"per-prefix\";q=3;w=60");
  EXPECT_NE(r.header("ratelimit").find("\"per-prefix\";r=0;t="), std::string::npos) << r.head;
  // The refusal did not reach the app; another prefix and another route are unaffected.
  EXPECT_EQ(origin.request_count(), 3u);
  EXPECT_EQ(status_of(shield.port(), get("/signup"), "127.0.1.9"), 200);  // other /24
  EXPECT_EQ(status_of(shield.port(), get("/other")), 200);
  EXPECT_EQ(shield.server().stats().ratelimit_rejected, 1u);
}

TEST_F(LimitsTest, FailedLoginsCountPerAccountOnly) {
  origin.set_handler([](const OriginRequest& q) {
    OriginReply r;
    r.status = q.body.find("password=right") != std::string::npos ? 200 : 401;
    return r;
  });
  Shield shield(config_with_routes(origin.port(),
      "  - name: login\n    match: { path: /login, methods: [POST] }\n    class: login\n    limits:\n"
      "      - name: failures-per-account\n        key: [body.username]\n        rate: 3/15min\n"
      "        count_when: { status: [401] }\n",
      "residents: { enabled: false }\n"));
  // Three failures for alice (with changing case and encoding: one account all the same).
  EXPECT_EQ(status_of(shield.port(), post_form("/login", "username=alice&password=x")), 401);
  EXPECT_EQ(status_of(shield.port(), post_form("/login", "username=ALICE&password=y")), 401);
  EXPECT_EQ(status_of(shield.port(), post_form("/login", "username=%61lice&password=z")), 401);
  // Now alice's account is closed to this flood for a while, whatever the password.
  EXPECT_EQ(status_of(shield.port(), post_form("/login", "username=alice&password=right")), 429);
  // Successful logins never counted: bob logs in again and again.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(status_of(shield.port(), post_form("/login", "username=bob&password=right")), 200);
  }
  EXPECT_EQ(origin.request_count(), 8u);
}

TEST_F(LimitsTest, BodyKeyFromJsonAndChunkedBodies) {
  Shield shield(config_with_routes(origin.port(),
      "  - name: signup\n    match: { path: /signup }\n    limits:\n"
      "      - { name: per-email-domain, key: [email_domain.email], rate: 2/h }\n"));
  auto json = [](const std::string& email) {
    std::string body = "{\"username\":\"u\",\"email\":\"" + email + "\",\"password\":\"p\"}";
    return "POST /signup HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  EXPECT_EQ(status_of(shield.port(), json("a@spam.test")), 200);
  EXPECT_EQ(status_of(shield.port(), json("b@SPAM.test")), 200);
  EXPECT_EQ(status_of(shield.port(), json("c@spam.test")), 429);
  EXPECT_EQ(status_of(shield.port(), json("c@good.test")), 200);
  // A chunked body is read the same way (its first bytes are de-chunked to find the field).
  std::string body = "{\"email\":\"d@spam.test\"}";
  std::string chunked = "POST /signup HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n5\r\n" + body.substr(0, 5) + "\r\n" +
                        [&] { char b[8]; std::snprintf(b, sizeof b, "%zx", body.size() - 5); return std::string(b); }() +
                        "\r\n" + body.substr(5) + "\r\n0\r\n\r\n";
  EXPECT_EQ(status_of(shield.port(), chunked), 429);
  // The refused ones never reached the app.
  EXPECT_EQ(origin.request_count(), 3u);
}

TEST_F(LimitsTest, GlobalLimitIsOneBucketForEveryone) {
  Shield shield(config_with_routes(origin.port(),
      "  - name: signup\n    match: { path: /signup }\n    limits:\n"
      "      - { name: total, key: [], rate: 2/min }\n"));
  EXPECT_EQ(status_of(shield.port(), get("/signup"), "127.0.0.1"), 200);
  EXPECT_EQ(status_of(shield.port(), get("/signup"), "127.1.0.1"), 200);
  EXPECT_EQ(status_of(shield.port(), get("/signup"), "127.2.0.1"), 429);
}

TEST_F(LimitsTest, DryRunRecordsButNeverRefuses) {
  Shield shield(config_with_routes(origin.port(),
      "  - name: signup\n    limits:\n"
      "      - { name: watch, key: [client.ip], rate: 1/min, dry_run: true }\n"));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(status_of(shield.port(), get("/")), 200);
  EXPECT_EQ(shield.server().stats().ratelimit_dry_run, 3u);
  EXPECT_EQ(shield.server().stats().ratelimit_rejected, 0u);
}

TEST_F(LimitsTest, DelayPacesInsteadOfRefusing) {
  Shield shield(config_with_routes(origin.port(),
      "  - name: api\n    limits:\n"
      "      - { name: pace, key: [client.ip], rate: 5/s, burst: 1, action: { delay: 1s } }\n"));
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(status_of(shield.port(), get("/")), 200);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, 300ms);  // 3 requests at one per 200 ms: the 2nd and 3rd waited
  EXPECT_EQ(shield.server().stats().ratelimit_delayed, 2u);
}

TEST_F(LimitsTest, TarpitHoldsThenRefusesAndCloses) {
  Shield shield(config_with_routes(origin.port(),
      "  - name: api\n    limits:\n"
      "      - { name: slow-down, key: [client.ip], rate: 1/min, action: { tarpit: 400ms } }\n"));
  EXPECT_EQ(status_of(shield.port(), get("/")), 200);
  auto t0 = std::chrono::steady_clock::now();
  RawClient c(shield.port());
  c.send(get("/"));
  ClientResponse r = c.read_response();
  EXPECT_EQ(r.status, 429);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 350ms);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(LimitsTest, DropClosesWithoutAnswer) {
  Shield shield(config_with_routes(origin.port(),
      "  - name: api\n    limits:\n"
      "      - { name: gone, key: [client.ip], rate: 1/min, action: drop }\n"));
  EXPECT_EQ(status_of(shield.port(), get("/")), 200);
  RawClient c(shield.port());
  c.send(get("/"));
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(c.read_all(100ms), "");
}

TEST_F(LimitsTest, BanActionBansTheAddressAndSurvivesRestart) {
  std::string routes =
      "  - name: signup\n    limits:\n"
      "      - { name: flood, key: [client.ip], rate: 2/min, action: { ban: 1h } }\n";
  char tmpl[] = "/tmp/gatehouse-bans-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string cfg = config_with_routes(origin.port(), routes,
                                       "bans: { journal: " + dir + "/bans.journal }\n");
  {
    Shield shield(cfg);
    const char* bot = "127.0.0.66";
    EXPECT_EQ(status_of(shield.port(), get("/"), bot), 200);
    EXPECT_EQ(status_of(shield.port(), get("/"), bot), 200);
    EXPECT_EQ(status_of(shield.port(), get("/"), bot), 429);
    // The housekeeping thread applies the ban; from then on the bot is turned away at accept.
    ASSERT_TRUE(eventually([&] { return shield.server().bans()->stats().live == 1; }));
    RawClient c(shield.port(), bot);
    c.send(get("/"));
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(c.read_all(100ms), "");
    EXPECT_EQ(status_of(shield.port(), get("/"), "127.0.0.67"), 200);  // others are fine
  }
  {
    Shield again(cfg);  // a restart replays the journal
    RawClient c(again.port(), "127.0.0.66");
    c.send(get("/"));
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(again.server().stats().connections_refused_banned, 1u);
  }
  std::filesystem::remove_all(dir);
}

TEST_F(LimitsTest, AllowListSkipsLimitsAndDenyListRefuses) {
  Shield shield(config_with_routes(origin.port(),
      "  - name: api\n    limits:\n      - { name: tight, key: [client.ip], rate: 1/min }\n",
      "lists: { allow: [127.0.5.0/24], deny: [127.0.6.0/24] }\n"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(status_of(shield.port(), get("/"), "127.0.5.1"), 200);
  EXPECT_EQ(status_of(shield.port(), get("/"), "127.0.6.1"), 403);
  EXPECT_EQ(status_of(shield.port(), get("/"), "127.0.7.1"), 200);
  EXPECT_EQ(status_of(shield.port(), get("/"), "127.0.7.1"), 429);
}

TEST_F(LimitsTest, ForwardedClientsAreLimitedOneByOneAndTheTableStaysBounded) {
  // A flood from many distinct addresses through a trusted proxy: each address has its own
  // bucket, and a small table stays at its size however many addresses come.
  Shield shield(config_with_routes(origin.port(),
      "  - name: signup\n    limits:\n"
      "      - { name: per-ip, key: [client.ip], rate: 1/min, burst: 2, max_keys: 64 }\n",
      "clients: { trusted_proxies: [127.0.0.0/8] }\n"));
  RawClient c(shield.port());
  int ok = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string xff = "X-Forwarded-For: 198.51." + std::to_string(i / 250) + "." +
                      std::to_string(i % 250 + 1) + "\r\n";
    c.send(get("/", xff));
    ok += c.read_response().status == 200;
  }
  EXPECT_EQ(ok, 2000);  // every address is new: each first request passes
  // The last address is tracked (older, less-limited keys made room): its burst of 2 is spent
  // by its next request, and the one after is refused.
  c.send(get("/", "X-Forwarded-For: 198.51.7.250\r\n"));
  EXPECT_EQ(c.read_response().status, 200);
  c.send(get("/", "X-Forwarded-For: 198.51.7.250\r\n"));
  EXPECT_EQ(c.read_response().status, 429);
  auto rt = shield.server().runtime();
  const auto* limits = rt->limits_for(&rt->policy->routes.routes()[0]);
  auto tables = limits->tables();
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_LE(tables[0]->count_occupied(), tables[0]->capacity());
  EXPECT_LT(tables[0]->capacity(), 128u);
  ratelimit::TableStats ts = tables[0]->stats();
  EXPECT_GT(ts.evictions_least_limited + ts.evictions_expired, 1800u);  // room was made, counted
}

TEST_F(LimitsTest, ReloadKeepsLimiterState) {
  std::string cfg = config_with_routes(origin.port(),
      "  - name: api\n    limits:\n      - { name: tight, key: [client.ip], rate: 1/min }\n");
  Shield shield(cfg);
  EXPECT_EQ(status_of(shield.port(), get("/")), 200);
  EXPECT_EQ(status_of(shield.port(), get("/")), 429);
  shield.reload(cfg + "# edited\n");
  EXPECT_TRUE(eventually([&] { return shield.server().generation() == 2; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(status_of(shield.port(), get("/")), 429);  // not a fresh bucket after a reload
}

}  // namespace
}  // namespace gh::test
