// The fleet's view of itself on a real redis-server: nodes in this process hear each other's
// heartbeats (GET /v1/fleet, /metrics, /v1/status), a node stopped goes "gone".
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control/api.h"
#include "core/clock.h"
#include "redis_server.h"
#include "support.h"

namespace gh::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = "fleet-view-token";

struct Node {
  std::unique_ptr<Shield> shield;
  std::unique_ptr<control::AdminApi> api;

  control::ApiResponse get(const std::string& path) {
    control::ApiRequest r;
    r.method = "GET";
    r.path = path;
    r.authorization = std::string("Bearer ") + kToken;
    r.authorization_count = 1;
    r.host = "127.0.0.1";
    r.user_agent = "gatehouse-ctl/test";
    return api->handle(r);
  }
  json fleet() { return get("/v1/fleet").body; }
  std::string metrics() { return get("/metrics").text; }
  policy::SignupMode mode(const std::string& route) {
    for (const auto& r : shield->server().defence().routes_status()) {
      if (r.route == route) return r.mode;
    }
    return policy::SignupMode::Open;
  }
};

// Milliseconds until `pred` holds (polled every 20 ms), or -1 after `limit`.
std::int64_t within(const std::function<bool()>& pred, std::int64_t limit) {
  const std::int64_t start = core::monotonic_ms();
  while (core::monotonic_ms() - start <= limit) {
    if (pred()) return core::monotonic_ms() - start;
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

struct FleetViewTest : ::testing::Test {
  RedisServer redis;
  Origin origin;

  Node start(const std::string& node, const std::string& signup) {
    const std::string yaml = basic_config(origin.port(),
                                          "routes:\n"
                                          "  - name: signup\n"
                                          "    match: { path_prefix: /signup }\n"
                                          "    class: signup\n"
                                          "    signup:\n" +
                                              signup +
                                              "  - name: app\n"
                                              "    match: { path_prefix: / }\n"
                                              "cluster:\n"
                                              "  seeds: [" +
                                              redis.address() + "]\n  node: " + node + "\n");
    Node n;
    n.shield = std::make_unique<Shield>(yaml);
    control::AdminApi::Options o;
    o.token = control::BearerToken::from_string(kToken);
    n.api = std::make_unique<control::AdminApi>(n.shield->server(), o);
    return n;
  }
  static bool hears(Node& n, std::uint64_t live) {
    const json f = n.fleet();
    return f.value("live", 0u) == live;
  }
};

TEST_F(FleetViewTest, NodesHearEachOtherAndAStoppedOneGoesGone) {
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  Node n1 = start("n1", "      mode: open\n");
  Node n2 = start("n2", "      mode: open\n");
  const std::int64_t took = within([&] { return hears(n1, 2) && hears(n2, 2); }, 5000);
  ASSERT_GE(took, 0) << n1.fleet().dump();
  std::printf("two nodes heard each other after %lld ms\n", static_cast<long long>(took));

  // Traffic on node 2 shows in node 1's view of the fleet.
  for (int i = 0; i < 30; ++i) roundtrip(n2.shield->port(), request("GET", "/signup", ""));
  ASSERT_GE(within(
                [&] {
                  const json f = n1.fleet();
                  for (const json& n : f["nodes"]) {
                    if (n["node"] == "n2") return n["figures"]["signups_total"] == 30;
                  }
                  return false;
                },
                4000),
            0)
      << n1.fleet().dump();
  const json f = n1.fleet();
  EXPECT_EQ(f["node"], "n1");
  EXPECT_EQ(f["sum"]["signups_total"], 30);
  ASSERT_EQ(f["nodes"].size(), 2u);
  EXPECT_EQ(f["nodes"][0]["node"], "n1");
  EXPECT_EQ(f["nodes"][0]["self"], true);
  EXPECT_EQ(f["nodes"][1]["state"], "live");
  const std::string m = n1.metrics();
  EXPECT_NE(m.find("gatehouse_fleet_nodes{state=\"live\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("gatehouse_fleet_signups 30\n"), std::string::npos) << m;
  const json status = n1.get("/v1/status").body;
  EXPECT_EQ(status["fleet"]["live"], 2) << status["fleet"].dump();
  // In Redis, as operators can read it.
  EXPECT_NE(redis.cli({"HKEYS", "gh:nodes"}).find("n2"), std::string::npos);

  n2.api.reset();  // stopped: silent from now on
  n2.shield.reset();
  const std::int64_t gone = within(
      [&] {
        return n1.metrics().find("gatehouse_fleet_nodes{state=\"gone\"} 1\n") != std::string::npos;
      },
      8000);
  ASSERT_GE(gone, 0) << n1.fleet().dump();
  std::printf("a stopped node counted gone after %lld ms\n", static_cast<long long>(gone));
  EXPECT_GE(gone, 3000);  // not before kGoneAfterMs (5 s since its last heartbeat)
  EXPECT_EQ(n1.fleet()["nodes"][1]["state"], "gone");
}

}  // namespace
}  // namespace gh::test
