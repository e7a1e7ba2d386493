// Gatehouse as the decision service of real nginx (auth_request) and real Caddy (forward_auth),
// configured from examples/nginx-auth-request.conf and examples/Caddyfile as shipped, in front of
// the demo application: a client over its limit gets 429 with Retry-After, a banned one 403, a
// newcomer solves the challenge and registers, a resident logs in and keeps its device token.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "client/address.h"
#include "core/clock.h"
#include "fronts.h"
#include "stages/challenge/pow.h"
#include "stages/lists/bans.h"

namespace gh::test {
namespace {

using json = nlohmann::json;

std::string policy(std::uint16_t app, const char* host) {
  return std::string(
             "server: { workers: 1 }\n"
             "listen:\n"
             "  - address: 127.0.0.1:0\n"
             "  - address: 127.0.0.1:0\n"
             "    decide: ") +
         host +
         "\n"
         "clients: { trusted_proxies: [127.0.0.1/32] }\n"
         "upstreams:\n  app: { servers: [127.0.0.1:" +
         std::to_string(app) +
         "] }\n"
         "residents: { success_cookie: demo_session, success_location: /account }\n"
         "challenge: { levels: [{ rate: 0, bits: 8 }], refresh_wait: 1s }\n"
         "routes:\n"
         "  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
         "    signup: { mode: challenge }\n"
         "  - name: login\n    match: { path: /login, methods: [POST] }\n    class: login\n"
         "  - name: limited\n    match: { path_prefix: /limited }\n    limits:\n"
         "      - { name: per-client, key: [client.ip], rate: 3/min, burst: 3 }\n"
         "  - name: app\n";
}

// One front (nginx or Caddy), Gatehouse (inline + decide listeners) and the demo app.
template <typename Front>
struct Stack {
  explicit Stack(const char* host)
      : app(dir.path()), shield(policy(app.port(), host)), front(dir, ports()) {}
  FrontPorts ports() {
    FrontPorts p;
    p.front = front_port = free_port();
    p.app = app.port();
    p.gatehouse = shield.port(0);
    p.decide = shield.port(1);
    return p;
  }
  ClientResponse send(const std::string& raw, const char* source = nullptr) {
    return roundtrip(front_port, raw, source);
  }
  TempDir dir;
  DemoApp app;
  Shield shield;
  std::uint16_t front_port = 0;
  Front front;
};

std::string form(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: " + kBrowserUa + "\r\n" +
         extra + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: " + kBrowserUa + "\r\n" +
         extra + "\r\n";
}

template <typename Front>
void passes_limits_and_bans(Stack<Front>& s) {
  ASSERT_TRUE(s.front.ready()) << s.front.log();
  const ClientResponse home = s.send(get("/"), "127.0.3.1");
  EXPECT_EQ(home.status, 200) << home.head << s.front.log();
  // Over its limit: the real answer of Gatehouse, through the proxy in front.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.send(get("/limited/x"), "127.0.3.2").status, 404) << i;
  const ClientResponse limited = s.send(get("/limited/x"), "127.0.3.2");
  EXPECT_EQ(limited.status, 429) << limited.head;
  EXPECT_GE(std::atoi(limited.header("retry-after").c_str()), 1) << limited.head;
  EXPECT_NE(limited.header("ratelimit-policy"), "") << limited.head;
  EXPECT_EQ(s.send(get("/limited/x"), "127.0.3.3").status, 404) << "another client is not limited";
  // Banned.
  lists::BanDuration d;
  d.base = 600;
  s.shield.server().bans()->ban(client::Cidr{*client::parse_ip("127.0.3.9"), 32}, d, "test", "t",
                                core::wall_seconds());
  const ClientResponse banned = s.send(get("/"), "127.0.3.9");
  EXPECT_EQ(banned.status, 403) << banned.head;
  EXPECT_NE(banned.body.find("banned"), std::string::npos) << banned.body;
  EXPECT_GE(std::atoi(banned.header("retry-after").c_str()), 500);
}

template <typename Front>
void newcomer_solves_and_registers(Stack<Front>& s) {
  ASSERT_TRUE(s.front.ready()) << s.front.log();
  const char* who = "127.0.4.1";
  const ClientResponse challenge = s.send(get("/signup", "Accept: application/json\r\n"), who);
  ASSERT_EQ(challenge.status, 403) << challenge.head << challenge.body;
  const json c = json::parse(challenge.body);
  const std::string token = c["challenge"]["token"];
  const auto nonce = challenge::pow_solve(token, 8, 1'000'000);
  ASSERT_TRUE(nonce.has_value());
  const ClientResponse solved = s.send(
      form("/.gatehouse/challenge", "token=" + token + "&nonce=" + *nonce + "&return=%2Fsignup"),
      who);
  ASSERT_EQ(solved.status, 303) << solved.head << solved.body;
  CookieJar jar;
  jar.update(solved);
  ASSERT_EQ(jar.values.count("gh_clearance"), 1u) << solved.head;
  const ClientResponse registered = s.send(
      form("/signup", "username=newcomer&email=newcomer%40example.test&password=correct-horse",
           jar.header()),
      who);
  EXPECT_EQ(registered.status, 303) << registered.head << registered.body;
  EXPECT_EQ(registered.header("location"), "/account");
  // Without the clearance, still the challenge.
  EXPECT_EQ(s.send(form("/signup", "username=bot&email=b%40example.test&password=x"), who).status,
            403);
}

template <typename Front>
void resident_keeps_its_device_token(Stack<Front>& s) {
  ASSERT_TRUE(s.front.ready()) << s.front.log();
  // The account exists at the app already.
  ASSERT_EQ(roundtrip(s.app.port(), form("/signup",
                                         "username=alice&email=alice%40example.test&password="
                                         "correct-horse"))
                .status,
            303);
  const ClientResponse login =
      s.send(form("/login", "username=alice&password=correct-horse"), "127.0.5.1");
  ASSERT_EQ(login.status, 303) << login.head;
  CookieJar jar;
  jar.update(login);
  ASSERT_EQ(jar.values.count("gh_device"), 1u) << login.head;
  const std::uint64_t residents = s.shield.server().stats().class_resident;
  const ClientResponse account = s.send(get("/account", jar.header()), "127.0.5.1");
  EXPECT_EQ(account.status, 200) << account.head;
  EXPECT_NE(account.body.find("alice"), std::string::npos);
  EXPECT_EQ(s.shield.server().stats().class_resident, residents + 1)
      << "the decision service saw the device token";
}

TEST(DecideNginx, PassesAndRefusesWithTheRealAnswer) {
  Stack<Nginx> s("nginx");
  passes_limits_and_bans(s);
}

TEST(DecideNginx, NewcomerSolvesTheChallengeAndRegisters) {
  Stack<Nginx> s("nginx");
  newcomer_solves_and_registers(s);
}

TEST(DecideNginx, ResidentLogsInAndKeepsItsDeviceToken) {
  Stack<Nginx> s("nginx");
  resident_keeps_its_device_token(s);
}

TEST(DecideCaddy, PassesAndRefusesWithTheRealAnswer) {
  Stack<Caddy> s("caddy");
  passes_limits_and_bans(s);
}

TEST(DecideCaddy, NewcomerSolvesTheChallengeAndRegisters) {
  Stack<Caddy> s("caddy");
  newcomer_solves_and_registers(s);
}

TEST(DecideCaddy, ResidentLogsInAndKeepsItsDeviceToken) {
  Stack<Caddy> s("caddy");
  resident_keeps_its_device_token(s);
}

}  // namespace
}  // namespace gh::test
