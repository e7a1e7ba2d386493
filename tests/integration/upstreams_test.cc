// Real upstreams and honest listeners, on loopback: an address already served is refused, a
// reload binds and unbinds listeners, servers are balanced by weight, a dead one is ejected (its
// requests retried on another before anything was sent), health checks bring it back, names
// resolve, and an upstream with no server left answers 503 with Retry-After.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "control/api.h"
#include "fronts.h"
#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;

std::string get(std::uint16_t, const std::string& path = "/") {
  return "GET " + path + " HTTP/1.1\r\nHost: app\r\nUser-Agent: " + std::string(kBrowserUa) +
         "\r\nConnection: close\r\n\r\n";
}

Origin::Handler named(const std::string& name) {
  return [name](const OriginRequest&) {
    OriginReply r;
    r.body = name;
    return r;
  };
}

std::string upstream(const std::string& servers, const std::string& extra = "") {
  return "server: { workers: 1 }\n"
         "listen:\n  - address: 127.0.0.1:0\n"
         "upstreams:\n  app:\n    connect_timeout: 500ms\n    servers:\n" +
         servers + extra;
}

std::string server(std::uint16_t port, int weight = 1) {
  return "      - { address: 127.0.0.1:" + std::to_string(port) +
         ", weight: " + std::to_string(weight) + " }\n";
}

bool has_event(proxy::Server& s, const std::string& kind, const std::string& part = "") {
  for (const auto& e : s.observer().recent_events(1000)) {
    if (e.kind == kind && e.message.find(part) != std::string::npos) return true;
  }
  return false;
}

// ---- listeners ----------------------------------------------------------------------------

TEST(Listeners, ASecondProcessOnTheSameAddressRefusesToStart) {
  TempDir one, two;
  Origin origin;
  const std::uint16_t port = free_port();
  auto config = [&](const TempDir& dir) {
    return "server: { workers: 2 }\nlisten:\n  - address: 127.0.0.1:" + std::to_string(port) +
           "\nadmin: { enabled: false }\nstate_dir: " + dir.path() +
           "/state\nbans: { journal: " + dir.path() +
           "/bans.journal }\nsecrets: { key_file: " + dir.path() +
           "/secret.key }\nupstreams:\n  app:\n    servers: [127.0.0.1:" +
           std::to_string(origin.port()) + "]\n";
  };
  Child first({GATEHOUSE_BINARY, "run", "--config", one.file("g.yaml", config(one))},
              one.path() + "/run.log");
  ASSERT_EQ(first.listening_port(), port) << first.log();

  Child second({GATEHOUSE_BINARY, "run", "--config", two.file("g.yaml", config(two))},
               two.path() + "/run.log");
  EXPECT_EQ(second.wait(10s), 1) << second.log();
  const std::string log = second.log();
  EXPECT_NE(log.find("127.0.0.1:" + std::to_string(port) + ": already served by pid "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("(gatehouse)"), std::string::npos) << log;

  // The first one never shared: it still answers every request.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(roundtrip(port, get(port)).status, 200);
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(10s), 0) << first.log();
}

TEST(Listeners, AReloadBindsNewListenersAndDrainsRemovedOnes) {
  Origin origin;
  Shield shield(basic_config(origin.port()));
  const std::uint16_t first = shield.port(0);
  RawClient idle(first);  // a keep-alive connection on the listener that goes
  ASSERT_TRUE(idle.send("GET / HTTP/1.1\r\nHost: app\r\n\r\n"));
  EXPECT_EQ(idle.read_response().status, 200);

  const std::uint16_t second = free_port();
  const std::string both =
      "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\n"
      "  - address: 127.0.0.1:" +
      std::to_string(second) +
      "\nupstreams:\n  app:\n    servers: [127.0.0.1:" + std::to_string(origin.port()) + "]\n";
  shield.reload(both);
  // The answer says what changed.
  EXPECT_EQ(shield.server().reload_changes(),
            std::vector<std::string>{"listening on 127.0.0.1:" + std::to_string(second)});
  ASSERT_EQ(shield.server().ports().size(), 2u);
  EXPECT_EQ(shield.server().ports()[0], first);  // kept, not rebound
  EXPECT_EQ(shield.server().ports()[1], second);
  EXPECT_TRUE(eventually([&] { return roundtrip(second, get(second)).status == 200; }));
  EXPECT_EQ(roundtrip(first, get(first)).status, 200);

  const std::string only_second =
      "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:" + std::to_string(second) +
      "\nupstreams:\n  app:\n    servers: [127.0.0.1:" + std::to_string(origin.port()) + "]\n";
  // Through the same path as SIGHUP and POST /v1/reload: the event names the change too.
  std::string why;
  ASSERT_TRUE(shield.server().reload_logged(shield.load(only_second), "test", &why)) << why;
  EXPECT_EQ(shield.server().reload_changes(),
            std::vector<std::string>{"no longer listening on 127.0.0.1:" + std::to_string(first) +
                                     " (its connections close after their current exchange)"});
  EXPECT_TRUE(has_event(shield.server(), "reload",
                        "no longer listening on 127.0.0.1:" + std::to_string(first)));
  ASSERT_EQ(shield.server().ports(), std::vector<std::uint16_t>{second});
  // The removed listener accepts nothing more, and its idle connection is closed.
  EXPECT_TRUE(eventually([&] { return !RawClient(first).connected(); }));
  EXPECT_TRUE(idle.closed_by_peer());
  EXPECT_EQ(roundtrip(second, get(second)).status, 200);

  // An address another process serves: the reload is refused, naming it; nothing changes.
  const std::string with_taken =
      "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:" + std::to_string(second) +
      "\n  - address: 127.0.0.1:" + std::to_string(origin.port()) +
      "\nupstreams:\n  app:\n    servers: [127.0.0.1:" + std::to_string(origin.port()) + "]\n";
  std::string error;
  EXPECT_FALSE(shield.server().reload(shield.load(with_taken), &error));
  EXPECT_NE(
      error.find("listen[1] 127.0.0.1:" + std::to_string(origin.port()) + ": already served by "),
      std::string::npos)
      << error;
  EXPECT_NE(error.find("the running config is kept"), std::string::npos) << error;
  EXPECT_EQ(shield.server().ports(), std::vector<std::uint16_t>{second});
  EXPECT_EQ(roundtrip(second, get(second)).status, 200);
}

// ---- upstreams ----------------------------------------------------------------------------

TEST(Upstreams, ADeadServerIsEjectedAndTheOtherServesEveryRequest) {
  Origin alive(named("alive"));
  const std::uint16_t dead = free_port();
  Shield shield(upstream(server(alive.port()) + server(dead),
                         "    ejection: { consecutive_failures: 2, duration: 1m }\n"));
  std::map<int, int> statuses;
  for (int i = 0; i < 40; ++i) ++statuses[roundtrip(shield.port(), get(shield.port())).status];
  EXPECT_EQ(statuses[200], 40);  // not one 502: a failed connect goes to the other server
  const auto stats = shield.server().stats();
  EXPECT_EQ(stats.upstream_ejections, 1u);
  // Before the ejection, each request the dead server got was retried: 2 of them, no more.
  EXPECT_EQ(stats.upstream_retried_elsewhere, 2u);
  EXPECT_EQ(stats.upstream_connect_failures, 2u);
  EXPECT_EQ(alive.request_count(), 40u);
  EXPECT_TRUE(eventually([&] { return has_event(shield.server(), "upstream_ejected"); }));
  EXPECT_TRUE(shield.server().upstream_healthy("app"));
  EXPECT_TRUE(shield.server().upstream_problems().empty());
}

TEST(Upstreams, AHealthCheckBringsAServerBack) {
  Origin a(named("a"));
  const std::uint16_t b_port = free_port();
  Shield shield(
      upstream(server(a.port()) + server(b_port),
               "    health_check: { path: /healthz, interval: 100ms, timeout: 100ms,\n"
               "                    unhealthy_threshold: 1, healthy_threshold: 1 }\n"
               "    ejection: { consecutive_failures: 1, duration: 1h, max_duration: 1h }\n"));
  EXPECT_TRUE(eventually([&] { return has_event(shield.server(), "upstream_down"); }));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(roundtrip(shield.port(), get(shield.port())).status, 200);

  Origin b(named("b"), b_port);  // back, on the same port
  EXPECT_TRUE(eventually([&] { return has_event(shield.server(), "upstream_up"); }, 5s));
  std::map<std::string, int> bodies;
  for (int i = 0; i < 20; ++i) ++bodies[roundtrip(shield.port(), get(shield.port())).body];
  EXPECT_EQ(bodies["a"], 10);
  EXPECT_EQ(bodies["b"], 10);
  // Health checks ask with their own path and say who they are.
  bool checked = false;
  for (const auto& r : b.requests()) {
    checked =
        checked || (r.target == "/healthz" && r.header("user-agent") == "gatehouse-health-check");
  }
  EXPECT_TRUE(checked);
}

TEST(Upstreams, WeightsAreHonoured) {
  Origin heavy(named("heavy")), light(named("light"));
  Shield shield(upstream(server(heavy.port(), 3) + server(light.port(), 1)));
  std::map<std::string, int> bodies;
  for (int i = 0; i < 200; ++i) ++bodies[roundtrip(shield.port(), get(shield.port())).body];
  EXPECT_NEAR(bodies["heavy"], 150, 10);
  EXPECT_NEAR(bodies["light"], 50, 10);
}

// Two requests on one keep-alive connection for routes of two upstreams: each goes to its own
// route's upstream (the second must not reuse the first one's choice).
TEST(Upstreams, EachRequestOfAConnectionGoesToItsOwnRoutesUpstream) {
  Origin a(named("a")), b(named("b"));
  Shield shield(
      "server: { workers: 1 }\n"
      "listen:\n  - address: 127.0.0.1:0\n"
      "upstreams:\n"
      "  one: { servers: [127.0.0.1:" +
      std::to_string(a.port()) +
      "] }\n"
      "  two: { servers: [127.0.0.1:" +
      std::to_string(b.port()) +
      "] }\n"
      "routes:\n"
      "  - { name: b, match: { path_prefix: /b }, upstream: two }\n"
      "  - { name: rest, upstream: one }\n");
  RawClient c(shield.port());
  const std::string ua = "User-Agent: " + std::string(kBrowserUa) + "\r\n";
  for (const char* path : {"/a", "/b", "/a", "/b"}) {
    ASSERT_TRUE(c.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: app\r\n" + ua + "\r\n"));
    const ClientResponse r = c.read_response();
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, path + 1) << path;
  }
  EXPECT_EQ(a.request_count(), 2u);
  EXPECT_EQ(b.request_count(), 2u);
}

TEST(Upstreams, LocalhostIsANameThatResolvesAndServes) {
  Origin origin(named("origin"));
  Shield shield(upstream("      - localhost:" + std::to_string(origin.port()) + "\n"));
  // localhost may also be ::1 where the origin does not listen: that address fails, is ejected,
  // and its requests go to 127.0.0.1. None fails.
  for (int i = 0; i < 10; ++i) {
    const ClientResponse r = roundtrip(shield.port(), get(shield.port()));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "origin");
  }
  const auto status = shield.server().upstreams_status();
  ASSERT_EQ(status.size(), 1u);
  ASSERT_EQ(status[0].names.size(), 1u);
  EXPECT_EQ(status[0].names[0].server, "localhost:" + std::to_string(origin.port()));
  EXPECT_FALSE(status[0].names[0].literal);
  EXPECT_GE(status[0].names[0].addresses, 1u);
}

TEST(Upstreams, AllServersDownIsA503WithRetryAfter) {
  const std::uint16_t dead1 = free_port(), dead2 = free_port();
  Shield shield(upstream(server(dead1) + server(dead2),
                         "    ejection: { consecutive_failures: 1, duration: 30s }\n"));
  // The first request finds both dead (it tries one, then the other): a 502.
  EXPECT_EQ(roundtrip(shield.port(), get(shield.port())).status, 502);
  for (int i = 0; i < 5; ++i) {
    const ClientResponse r = roundtrip(shield.port(), get(shield.port()));
    EXPECT_EQ(r.status, 503);
    const int retry = std::atoi(r.header("retry-after").c_str());
    EXPECT_GE(retry, 25);
    EXPECT_LE(retry, 30);
    EXPECT_NE(r.body.find("no server of this service is available right now"), std::string::npos)
        << r.body;
  }
  EXPECT_EQ(shield.server().stats().upstream_unavailable, 5u);
  EXPECT_FALSE(shield.server().upstream_healthy("app"));
  ASSERT_EQ(shield.server().upstream_problems().size(), 1u);
  EXPECT_EQ(shield.server().upstream_problems()[0],
            "upstream app has no healthy server (2 addresses, all down or ejected)");
  EXPECT_TRUE(eventually([&] { return has_event(shield.server(), "upstream_unavailable"); }));

  // The admin API tells the same.
  control::AdminApi api(shield.server(), {});
  control::ApiRequest req;
  req.method = "GET";
  req.path = "/v1/upstreams";
  req.host = "127.0.0.1:7462";
  const control::ApiResponse res = api.handle(req);
  ASSERT_EQ(res.status, 200);
  const auto& up = res.body["upstreams"][0];
  EXPECT_EQ(up["name"], "app");
  EXPECT_EQ(up["healthy"], false);
  EXPECT_EQ(up["servers"].size(), 2u);
  EXPECT_EQ(up["servers"][0]["addresses"][0]["state"], "ejected");
  EXPECT_EQ(up["servers"][0]["addresses"][0]["ejections"], 1);
  EXPECT_NE(up["servers"][0]["addresses"][0]["last_failure"].get<std::string>().find("refused"),
            std::string::npos);

  // So does the readiness probe: a load balancer stops sending to a shield with nothing behind.
  req.path = "/readyz";
  const control::ApiResponse ready = api.handle(req);
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body["ready"], false);
  ASSERT_EQ(ready.body["problems"].size(), 1u) << ready.body.dump();
  EXPECT_EQ(ready.body["problems"][0],
            "upstream app has no healthy server (2 addresses, all down or ejected)");
}

// /readyz follows the health checks both ways: 503 once the only server is down, 200 when it
// answers again.
TEST(Upstreams, ReadinessFollowsTheHealthChecks) {
  const std::uint16_t port = free_port();
  Shield shield(upstream(server(port),
                         "    health_check: { path: /healthz, interval: 100ms, timeout: 100ms,\n"
                         "                    unhealthy_threshold: 1, healthy_threshold: 1 }\n"));
  control::AdminApi api(shield.server(), {});
  control::ApiRequest req;
  req.method = "GET";
  req.path = "/readyz";
  req.host = "127.0.0.1:7462";
  EXPECT_TRUE(eventually([&] { return api.handle(req).status == 503; }, 5s));
  const control::ApiResponse down = api.handle(req);
  EXPECT_EQ(down.body["ready"], false);
  ASSERT_EQ(down.body["problems"].size(), 1u) << down.body.dump();
  EXPECT_EQ(down.body["problems"][0],
            "upstream app has no healthy server (1 address, down or ejected)");
  EXPECT_FALSE(shield.server().upstreams_healthy());

  Origin back(named("back"), port);
  EXPECT_TRUE(eventually([&] { return api.handle(req).status == 200; }, 5s));
  EXPECT_EQ(api.handle(req).body, nlohmann::json::parse(R"({"ready": true, "problems": []})"));
  EXPECT_TRUE(shield.server().upstreams_healthy());
  EXPECT_EQ(roundtrip(shield.port(), get(shield.port())).body, "back");
}

TEST(Upstreams, AReloadChangesTheServersAndKeepsTheirHealth) {
  Origin a(named("a")), b(named("b"));
  const std::uint16_t dead = free_port();
  Shield shield(
      upstream(server(a.port()) + server(dead),
               "    ejection: { consecutive_failures: 1, duration: 1h, max_duration: 1h }\n"));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(roundtrip(shield.port(), get(shield.port())).status, 200);
  EXPECT_EQ(shield.server().stats().upstream_ejections, 1u);
  // The dead server stays (still ejected: its state is kept), b joins.
  shield.reload(
      upstream(server(a.port()) + server(dead) + server(b.port()),
               "    ejection: { consecutive_failures: 1, duration: 1h, max_duration: 1h }\n"));
  EXPECT_EQ(shield.server().reload_changes(),
            std::vector<std::string>{"upstream app: server 127.0.0.1:" + std::to_string(b.port()) +
                                     " added"});
  std::map<std::string, int> bodies;
  for (int i = 0; i < 20; ++i) ++bodies[roundtrip(shield.port(), get(shield.port())).body];
  EXPECT_EQ(bodies["a"], 10);
  EXPECT_EQ(bodies["b"], 10);
  EXPECT_EQ(shield.server().stats().upstream_ejections, 1u);
  EXPECT_EQ(shield.server().stats().upstream_connect_failures, 1u);
}

TEST(Upstreams, ListedStatusesCountAsFailuresAndEject) {
  Origin good(named("good"));
  Origin sick([](const OriginRequest&) {
    OriginReply r;
    r.status = 503;
    r.body = "sick";
    return r;
  });
  Shield shield(upstream(server(good.port()) + server(sick.port()),
                         "    ejection: { consecutive_failures: 2, duration: 1m, "
                         "statuses: [502, 503] }\n"));
  std::map<int, int> statuses;
  for (int i = 0; i < 20; ++i) ++statuses[roundtrip(shield.port(), get(shield.port())).status];
  // The 503s were sent (they are not retried): two, then the sick server is out.
  EXPECT_EQ(statuses[503], 2);
  EXPECT_EQ(statuses[200], 18);
  EXPECT_EQ(sick.request_count(), 2u);
  EXPECT_EQ(shield.server().stats().upstream_ejections, 1u);
  EXPECT_TRUE(
      eventually([&] { return has_event(shield.server(), "upstream_ejected", "answered 503"); }));

  // /metrics: per server address, up or not, requests and failures.
  control::AdminApi api(shield.server(), {});
  control::ApiRequest req;
  req.method = "GET";
  req.path = "/metrics";
  req.host = "127.0.0.1:7462";
  const std::string m = api.handle(req).text;
  const std::string sick_labels =
      "{upstream=\"app\",server=\"127.0.0.1:" + std::to_string(sick.port()) +
      "\",address=\"127.0.0.1:" + std::to_string(sick.port()) + "\"} ";
  const std::string good_labels =
      "{upstream=\"app\",server=\"127.0.0.1:" + std::to_string(good.port()) +
      "\",address=\"127.0.0.1:" + std::to_string(good.port()) + "\"} ";
  EXPECT_NE(m.find("gatehouse_upstream_server_up" + sick_labels + "0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("gatehouse_upstream_server_up" + good_labels + "1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("gatehouse_upstream_server_requests_total" + good_labels + "18\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("gatehouse_upstream_server_failures_total" + sick_labels + "2\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("gatehouse_upstream_server_ejections_total" + sick_labels + "1\n"),
            std::string::npos)
      << m;
}

TEST(Upstreams, TheApplicationsOwn5xxEjectNothingByDefault) {
  Origin a([](const OriginRequest&) {
    OriginReply r;
    r.status = 500;
    return r;
  });
  Origin b(named("b"));
  Shield shield(
      upstream(server(a.port()) + server(b.port()), "    ejection: { consecutive_failures: 1 }\n"));
  std::map<int, int> statuses;
  for (int i = 0; i < 10; ++i) ++statuses[roundtrip(shield.port(), get(shield.port())).status];
  // The application's own 500s are relayed, and eject nothing unless listed.
  EXPECT_EQ(statuses[500], 5);
  EXPECT_EQ(statuses[200], 5);
  EXPECT_EQ(shield.server().stats().upstream_ejections, 0u);
}

}  // namespace
}  // namespace gh::test
