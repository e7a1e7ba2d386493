// The fleet on a real Redis Cluster (3 masters, a replica each, cluster-node-timeout 1 s): two
// shields in this process share a ban within a second, a sign-up mode, and a challenge answer
// replayed to the second node is refused; then the master holding the bans is killed, a replica
// takes over, and a ban made afterwards still reaches the other node, without restarting
// either.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "control/api.h"
#include "core/clock.h"
#include "fleet/fleet.h"
#include "fleet/slots.h"
#include "fleet_support.h"
#include "process.h"
#include "redis_cluster.h"
#include "stages/challenge/pow.h"
#include "support.h"

namespace gh::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = "fleet-cluster-token";

using Node = FleetNode;

TEST(FleetCluster, BansModesAndChallengesSharedAndAFailoverSurvived) {
  RedisCluster cluster;
  ASSERT_TRUE(cluster.ok()) << "could not make a Redis Cluster";
  Origin origin;
  TempDir keys;  // one signing key for the fleet
  std::string seeds;
  for (int i = 0; i < RedisCluster::kNodes; ++i) seeds += (i ? ", " : "") + cluster.address(i);
  auto start = [&](const std::string& name) {
    const std::string yaml = basic_config(origin.port(),
                                          "routes:\n"
                                          "  - name: signup\n"
                                          "    match: { path_prefix: /signup }\n"
                                          "    class: signup\n"
                                          "    signup: { mode: open }\n"
                                          "  - name: gated\n"
                                          "    match: { path_prefix: /gated }\n"
                                          "    class: signup\n"
                                          "    require_clearance: true\n"
                                          "  - name: app\n"
                                          "    match: { path_prefix: / }\n"
                                          "secrets: { key_file: " +
                                              keys.path() +
                                              "/fleet.key }\n"
                                              "challenge: { levels: [{rate: 0, bits: 8}] }\n"
                                              "cluster:\n"
                                              "  seeds: [" +
                                              seeds +
                                              "]\n"
                                              "  mode: cluster\n"
                                              "  node: " +
                                              name +
                                              "\n"
                                              "  command_timeout: 100ms\n"
                                              "  breaker_failures: 2\n"
                                              "  breaker_open_for: 100ms\n");
    return FleetNode::start(yaml, kToken);
  };
  Node n1 = start("n1");
  Node n2 = start("n2");
  ASSERT_GE(within([&] { return n1.fleet_up() && n2.fleet_up(); }), 0);
  EXPECT_TRUE(n1.shield->server().fleet()->stats().cluster.load());
  auto status = [&](Node& n, const char* source, const std::string& path = "/x") {
    return roundtrip(n.shield->port(), request("GET", path, ""), source).status;
  };
  auto refused = [&](Node& n, const char* source) {
    const int s = status(n, source);
    return s == 403 || s == 0;  // 0: reset at accept, before a byte is read
  };

  // A ban.
  EXPECT_EQ(status(n2, "127.0.0.5"), 200);
  ASSERT_EQ(n1.call("POST", "/v1/bans", R"({"key": "127.0.0.5", "duration": "10m"})").status, 201);
  const std::int64_t ban_ms = within([&] { return refused(n2, "127.0.0.5"); }, 1000);
  ASSERT_GE(ban_ms, 0) << "node 2 still serves the address node 1 banned";
  std::printf("cluster: ban on n1 refused on n2 after %lld ms\n", static_cast<long long>(ban_ms));

  // A mode.
  EXPECT_EQ(status(n2, "127.0.0.7", "/signup"), 200);
  ASSERT_EQ(n1.call("POST", "/v1/signup-mode", R"({"route": "signup", "mode": "closed"})").status,
            200);
  const std::int64_t mode_ms =
      within([&] { return status(n2, "127.0.0.7", "/signup") == 503; }, 1000);
  ASSERT_GE(mode_ms, 0) << "node 2 still takes sign-ups";
  std::printf("cluster: mode on n1 held on n2 after %lld ms\n", static_cast<long long>(mode_ms));

  // A challenge answer replayed to the other node.
  const std::string accept_json = "Accept: application/json\r\n";
  ClientResponse asked = roundtrip(n1.shield->port(), request("GET", "/gated", accept_json));
  ASSERT_EQ(asked.status, 403) << asked.body;
  json j = json::parse(asked.body);
  const std::string token = j["challenge"]["token"].get<std::string>();
  auto nonce = challenge::pow_solve(token, j["challenge"]["bits"].get<std::uint8_t>(), 1u << 26);
  ASSERT_TRUE(nonce);
  const std::string form = "token=" + token + "&nonce=" + *nonce + "&return=/gated";
  ClientResponse solved =
      roundtrip(n1.shield->port(), request("POST", "/.gatehouse/challenge", accept_json, form));
  ASSERT_EQ(solved.status, 200) << solved.body;
  ASSERT_GE(within([&] { return n2.shield->server().defence().spent().size() >= 1; }, 1000), 0);
  ClientResponse replay =
      roundtrip(n2.shield->port(), request("POST", "/.gatehouse/challenge", accept_json, form));
  EXPECT_EQ(replay.status, 403) << replay.body;
  EXPECT_NE(replay.body.find("already used"), std::string::npos) << replay.body;

  // The master holding the bans killed: a replica is promoted, and a ban made afterwards on
  // node 1 refuses on node 2, both still running.
  const int victim = cluster.master_of(fleet::key_slot("gh:bans"));
  ASSERT_GE(victim, 0);
  const std::int64_t killed_at = core::monotonic_ms();
  cluster.kill(victim);
  ASSERT_EQ(n1.call("POST", "/v1/bans", R"({"key": "127.0.0.9", "duration": "10m"})").status, 201);
  EXPECT_EQ(status(n2, "127.0.0.10"), 200);  // requests served meanwhile
  const std::int64_t after = within([&] { return refused(n2, "127.0.0.9"); }, 15000);
  ASSERT_GE(after, 0) << "the ban made during the failover never reached node 2";
  std::printf("cluster: master killed; a ban made then refused on n2 %lld ms after the kill\n",
              static_cast<long long>(core::monotonic_ms() - killed_at));
  EXPECT_NE(cluster.master_of(fleet::key_slot("gh:bans")), victim);
  EXPECT_TRUE(refused(n2, "127.0.0.5"));  // what was known before is kept
  EXPECT_GE(within([&] { return n1.fleet_up() && n2.fleet_up(); }, 5000), 0);
  // And afterwards, at the usual speed.
  ASSERT_EQ(n2.call("POST", "/v1/bans", R"({"key": "127.0.0.11", "duration": "10m"})").status, 201);
  EXPECT_GE(within([&] { return refused(n1, "127.0.0.11"); }, 1000), 0);
}

}  // namespace
}  // namespace gh::test
