// The fleet on a real redis-server: shields in this process (each a whole node: listeners,
// workers, admin API, ban journal) sharing one Redis. A ban made on node 1 refuses on node 2
// within a second, its removal likewise; a sign-up mode set on node 1 holds on node 2 within a
// second; a node started later reads both; Redis killed: requests still served at normal
// latency, fail-static in /metrics, and catching up when Redis comes back.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control/api.h"
#include "core/clock.h"
#include "fleet_support.h"
#include "process.h"
#include "redis_server.h"
#include "stages/challenge/pow.h"
#include "support.h"

namespace gh::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = "fleet-test-token";

using Node = FleetNode;

struct FleetTest : ::testing::Test {
  RedisServer redis;
  Origin origin;

  std::string config(const std::string& node, const std::string& extra = "") {
    return basic_config(origin.port(),
                        "routes:\n"
                        "  - name: signup\n"
                        "    match: { path_prefix: /signup }\n"
                        "    class: signup\n"
                        "    signup: { mode: open }\n"
                        "  - name: app\n"
                        "    match: { path_prefix: / }\n"
                        "cluster:\n"
                        "  seeds: [" +
                            redis.address() +
                            "]\n"
                            "  node: " +
                            node +
                            "\n"
                            "  command_timeout: 50ms\n"
                            "  breaker_failures: 2\n"
                            "  breaker_open_for: 100ms\n" +
                            extra);
  }
  Node start(const std::string& node) { return FleetNode::start(config(node), kToken); }
  static bool fleet_up(Node& n) {
    return metric_line(n.metrics(), "gatehouse_fleet_up") == "gatehouse_fleet_up 1";
  }
  int status_from(Node& n, const char* source, const std::string& path = "/x") {
    return roundtrip(n.shield->port(), request("GET", path, ""), source).status;
  }
  // A banned address is refused: 403, or reset at accept before a byte is read (status 0).
  bool refused(Node& n, const char* source) {
    const int s = status_from(n, source);
    return s == 403 || s == 0;
  }
};

TEST_F(FleetTest, BanOnOneNodeRefusesOnTheOtherWithinASecond) {
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  Node n1 = start("n1");
  Node n2 = start("n2");
  ASSERT_GE(within([&] { return fleet_up(n1) && fleet_up(n2); }), 0);
  EXPECT_EQ(status_from(n2, "127.0.0.5"), 200);
  const json status = n1.call("GET", "/v1/status").body;
  EXPECT_EQ(status["fleet"]["node"], "n1");
  EXPECT_EQ(status["fleet"]["up"], true);
  EXPECT_EQ(status["fleet"]["redis"], redis.address());

  auto made = n1.call("POST", "/v1/bans", R"({"key": "127.0.0.5", "duration": "10m"})");
  ASSERT_EQ(made.status, 201) << made.body.dump();
  const std::int64_t took = within([&] { return refused(n2, "127.0.0.5"); }, 1000);
  ASSERT_GE(took, 0) << "node 2 still serves the address node 1 banned";
  std::printf("ban on n1 refused on n2 after %lld ms\n", static_cast<long long>(took));
  EXPECT_EQ(status_from(n2, "127.0.0.6"), 200);  // only that address
  // Node 2 keeps it in its own journal, as if made there, with where it came from.
  auto listed = n2.call("GET", "/v1/bans/127.0.0.5");
  EXPECT_EQ(listed.status, 200) << listed.body.dump();

  auto removed = n2.call("DELETE", "/v1/bans/127.0.0.5");
  ASSERT_EQ(removed.status, 200) << removed.body.dump();
  EXPECT_GE(within([&] { return status_from(n1, "127.0.0.5") == 200; }, 1000), 0)
      << "the removal on node 2 did not reach node 1";
}

TEST_F(FleetTest, ModeSetOnOneNodeHoldsOnTheOtherWithinASecond) {
  ASSERT_NE(redis.port(), 0);
  Node n1 = start("n1");
  Node n2 = start("n2");
  ASSERT_GE(within([&] { return fleet_up(n1) && fleet_up(n2); }), 0);
  EXPECT_EQ(status_from(n2, "127.0.0.7", "/signup"), 200);
  auto set = n1.call("POST", "/v1/signup-mode", R"({"route": "signup", "mode": "closed"})");
  ASSERT_EQ(set.status, 200) << set.body.dump();
  const std::int64_t took =
      within([&] { return status_from(n2, "127.0.0.7", "/signup") == 503; }, 1000);
  ASSERT_GE(took, 0) << "node 2 still takes sign-ups";
  std::printf("mode on n1 held on n2 after %lld ms\n", static_cast<long long>(took));
  auto modes = n2.call("GET", "/v1/signup-mode");
  EXPECT_EQ(modes.body["routes"][0]["manual"], true) << modes.body.dump();

  // Back to automatic on node 2: node 1 follows.
  ASSERT_EQ(n2.call("POST", "/v1/signup-mode", R"({"route": "signup", "mode": "auto"})").status,
            200);
  EXPECT_GE(within([&] { return status_from(n1, "127.0.0.7", "/signup") == 200; }, 1000), 0);
}

TEST_F(FleetTest, ANodeStartingReadsBansAndModes) {
  ASSERT_NE(redis.port(), 0);
  Node n1 = start("n1");
  ASSERT_GE(within([&] { return fleet_up(n1); }), 0);
  ASSERT_EQ(n1.call("POST", "/v1/bans", R"({"key": "127.0.0.0/24", "duration": "1h"})").status,
            201);
  ASSERT_EQ(n1.call("POST", "/v1/signup-mode", R"({"route": "signup", "mode": "closed"})").status,
            200);
  ASSERT_GE(within([&] { return redis.cli({"HLEN", "gh:bans"}) == "1"; }), 0);
  Node n3 = start("n3");
  EXPECT_GE(within([&] { return refused(n3, "127.0.0.9"); }), 0);
  EXPECT_GE(within([&] { return status_from(n3, "127.1.0.9", "/signup") == 503; }), 0);
}

TEST_F(FleetTest, ChallengeAnswerReplayedToAnotherNodeIsRefused) {
  ASSERT_NE(redis.port(), 0);
  TempDir keys;  // one signing key for the fleet, as operators copy it to every node
  const std::string extra = "secrets: { key_file: " + keys.path() +
                            "/fleet.key }\n"
                            "challenge: { levels: [{rate: 0, bits: 8}] }\n";
  auto node = [&](const std::string& name) {
    std::string yaml = config(name, extra);
    yaml = replace_all(yaml, "    signup: { mode: open }\n", "    require_clearance: true\n");
    return std::make_unique<Shield>(yaml);
  };
  auto s1 = node("n1");
  auto s2 = node("n2");
  auto up = [&](Shield& s) { return s.server().fleet() != nullptr && s.server().fleet()->up(); };
  ASSERT_GE(within([&] { return up(*s1) && up(*s2); }), 0);

  const std::string accept_json = "Accept: application/json\r\n";
  ClientResponse asked = roundtrip(s1->port(), request("GET", "/signup", accept_json));
  ASSERT_EQ(asked.status, 403) << asked.body;
  json j = json::parse(asked.body);
  const std::string token = j["challenge"]["token"].get<std::string>();
  auto nonce = challenge::pow_solve(token, j["challenge"]["bits"].get<std::uint8_t>(), 1u << 26);
  ASSERT_TRUE(nonce);
  const std::string form = "token=" + token + "&nonce=" + *nonce + "&return=/signup";
  ClientResponse solved =
      roundtrip(s1->port(), request("POST", "/.gatehouse/challenge", accept_json, form));
  ASSERT_EQ(solved.status, 200) << solved.body;
  // The claim reaches node 2 (a message, milliseconds; docs/OPERATIONS.md says what happens to a
  // replay faster than that), then the same answer sent there once is refused.
  const std::int64_t took =
      within([&] { return s2->server().defence().spent().size() >= 1; }, 1000);
  ASSERT_GE(took, 0) << "node 2 never heard of the claim";
  std::printf("challenge claim on n1 known to n2 after %lld ms\n", static_cast<long long>(took));
  ClientResponse replay =
      roundtrip(s2->port(), request("POST", "/.gatehouse/challenge", accept_json, form));
  EXPECT_EQ(replay.status, 403) << replay.body;
  EXPECT_NE(replay.body.find("already used"), std::string::npos) << replay.body;
  EXPECT_TRUE(set_cookie(replay, "gh_clearance").empty());
  // One key in Redis for it, and no conflict: node 2 never claimed it.
  EXPECT_EQ(redis.cli({"KEYS", "gh:spent:*"}).find('\n'), std::string::npos);
  EXPECT_NE(redis.cli({"KEYS", "gh:spent:*"}).find("gh:spent:"), std::string::npos);
  EXPECT_EQ(s2->server().fleet()->stats().spent_conflicts.load(), 0u);
}

TEST_F(FleetTest, RedisGoneFailStaticThenCatchesUp) {
  ASSERT_NE(redis.port(), 0);
  Node n1 = start("n1");
  Node n2 = start("n2");
  ASSERT_GE(within([&] { return fleet_up(n1) && fleet_up(n2); }), 0);
  ASSERT_EQ(n1.call("POST", "/v1/bans", R"({"key": "127.0.0.11", "duration": "1h"})").status, 201);
  ASSERT_GE(within([&] { return refused(n2, "127.0.0.11"); }, 1000), 0);

  redis.kill();
  ASSERT_GE(within([&] { return !fleet_up(n1) && !fleet_up(n2); }), 0);
  // Fail-static: the ban holds, requests are served, none waits for Redis.
  EXPECT_TRUE(refused(n2, "127.0.0.11"));
  std::vector<std::int64_t> us;
  for (int i = 0; i < 200; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(status_from(n2, "127.0.0.12"), 200);
    us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  std::sort(us.begin(), us.end());
  std::printf("Redis gone: p50 %lld us, p99 %lld us over 200 requests\n",
              static_cast<long long>(us[100]), static_cast<long long>(us[197]));
  EXPECT_LT(us[197], 50'000);  // far below any Redis timeout a request could have waited for
  const std::string m = n2.metrics();
  EXPECT_EQ(metric_line(m, "gatehouse_fleet_up"), "gatehouse_fleet_up 0");
  EXPECT_EQ(metric_line(m, "gatehouse_fleet_configured"), "gatehouse_fleet_configured 1");
  // The breaker opens after breaker_failures (3) reconnects failed in a row, 50 ms apart and
  // doubling: soon, but not necessarily before the 200 requests above are done.
  EXPECT_GE(within(
                [&] {
                  return n2.metrics().find("gatehouse_fleet_breaker{state=\"closed\"} 0") !=
                         std::string::npos;
                },
                3000),
            0)
      << n2.metrics();
  // A ban made meanwhile is queued.
  ASSERT_EQ(n1.call("POST", "/v1/bans", R"({"key": "127.0.0.13", "duration": "1h"})").status, 201);
  EXPECT_GE(within([&] {
              return metric_line(n1.metrics(), "gatehouse_fleet_pending") ==
                     "gatehouse_fleet_pending 1";
            }),
            0);
  EXPECT_EQ(status_from(n2, "127.0.0.13"), 200);

  ASSERT_TRUE(redis.restart());  // empty: what was queued is written
  ASSERT_GE(within([&] { return fleet_up(n1) && fleet_up(n2); }, 5000), 0);
  EXPECT_GE(within([&] { return refused(n2, "127.0.0.13"); }, 2000), 0);
  EXPECT_GE(within([&] {
              return metric_line(n1.metrics(), "gatehouse_fleet_pending") ==
                     "gatehouse_fleet_pending 0";
            }),
            0);
}

}  // namespace
}  // namespace gh::test
