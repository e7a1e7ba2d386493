// Shared rate limits end to end: two Gatehouse nodes (in this process, each a whole node) on one
// real redis-server, a flood of one address spread over both. Shared, a limit admits about its
// rate across the fleet (<= 1.1x); without `cluster:` each node admits it (about 2x). An exact
// limit admits its burst across the nodes. Redis killed mid-flood: each node falls back to its
// share of the rate, says so in /metrics, and goes back to the global figures when Redis returns.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "control/api.h"
#include "core/clock.h"
#include "fleet_support.h"
#include "process.h"
#include "redis_server.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "limits-fleet-test-token";
constexpr int kRate = 50;  // per second
constexpr int kBurst = 10;

using Node = FleetNode;

double metric_of(Node& n, const std::string& name) {
  return metric_value(n.metrics(), name);
}

struct SharedLimitsTest : ::testing::Test {
  RedisServer redis;
  Origin origin;

  std::string config(const std::string& node, bool cluster) {
    std::string yaml =
        basic_config(origin.port(),
                     "routes:\n"
                     "  - name: signup\n"
                     "    match: { path_prefix: /signup }\n"
                     "    limits:\n"
                     "      - { name: per-ip, key: [client.ip], rate: " +
                         std::to_string(kRate) + "/s, burst: " + std::to_string(kBurst) +
                         " }\n"
                         "  - name: join\n"
                         "    match: { path_prefix: /join }\n"
                         "    limits:\n"
                         "      - { name: joins, key: [client.ip], rate: 5/h, exact: true }\n"
                         "  - name: app\n"
                         "    match: { path_prefix: / }\n");
    if (cluster) {
      yaml +=
          "cluster:\n"
          "  seeds: [" +
          redis.address() + "]\n  node: " + node +
          "\n"
          "  sync_interval: 100ms\n"
          "  command_timeout: 50ms\n"
          "  breaker_failures: 2\n"
          "  breaker_open_for: 100ms\n";
    }
    return yaml;
  }
  Node start(const std::string& node, bool cluster = true) {
    return FleetNode::start(config(node, cluster), kToken);
  }
  static bool wait(const std::function<bool()>& pred, std::int64_t ms = 3000) {
    return within(pred, ms) >= 0;
  }

  struct Flood {
    int admitted = 0, refused = 0;
    double seconds = 0;
  };
  // One request every `gap_us`, round robin over the nodes, from `source`, for `ms`.
  static Flood flood(std::vector<Node*> nodes, const char* source, const std::string& path,
                     std::int64_t ms, std::int64_t gap_us = 2000) {
    Flood f;
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t count = ms * 1000 / gap_us;
    for (std::int64_t i = 0; i < count; ++i) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * gap_us));
      Node& n = *nodes[static_cast<std::size_t>(i) % nodes.size()];
      const int s = roundtrip(n.shield->port(), request("GET", path, ""), source).status;
      if (s == 200) {
        ++f.admitted;
      } else if (s == 429) {
        ++f.refused;
      }
    }
    f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return f;
  }
  static double allowed(const Flood& f) { return kRate * f.seconds + kBurst; }
};

TEST_F(SharedLimitsTest, PerAddressLimitAdmitsItsRateAcrossTwoNodes) {
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  Node n1 = start("n1"), n2 = start("n2");
  ASSERT_TRUE(wait([&] {
    return metric_of(n1, "gatehouse_fleet_up") == 1 && metric_of(n2, "gatehouse_fleet_up") == 1;
  }));
  const Flood shared = flood({&n1, &n2}, "127.0.0.21", "/signup", 4000);
  std::printf("shared, 2 nodes, %d/s burst %d: %d admitted, %d refused in %.2f s (%.3fx)\n", kRate,
              kBurst, shared.admitted, shared.refused, shared.seconds,
              shared.admitted / allowed(shared));
  EXPECT_LE(shared.admitted, 1.1 * allowed(shared));
  EXPECT_GE(shared.admitted, 0.9 * kRate * shared.seconds);
  EXPECT_GT(shared.refused, 0);
  EXPECT_GT(metric_of(n1, "gatehouse_fleet_limit_syncs_total"), 0);
  EXPECT_GT(metric_of(n2, "gatehouse_fleet_limit_keys_synced_total"), 0);
  EXPECT_EQ(metric_of(n1, "gatehouse_fleet_limit_local_share"), 0);
  EXPECT_EQ(metric_of(n1, "gatehouse_fleet_limit_deltas_dropped_total"), 0);
}

TEST_F(SharedLimitsTest, WithoutClusterEachNodeAdmitsTheRate) {
  Node n1 = start("n1", false), n2 = start("n2", false);
  const Flood alone = flood({&n1, &n2}, "127.0.0.22", "/signup", 4000);
  std::printf("alone, 2 nodes, %d/s burst %d: %d admitted in %.2f s (%.3fx)\n", kRate, kBurst,
              alone.admitted, alone.seconds, alone.admitted / allowed(alone));
  EXPECT_GE(alone.admitted, 1.8 * allowed(alone));
}

TEST_F(SharedLimitsTest, ExactLimitAdmitsItsBurstAcrossNodes) {
  ASSERT_NE(redis.port(), 0);
  Node n1 = start("n1"), n2 = start("n2");
  ASSERT_TRUE(wait([&] {
    return metric_of(n1, "gatehouse_fleet_up") == 1 && metric_of(n2, "gatehouse_fleet_up") == 1;
  }));
  // 5 per hour (burst 5): 20 sign-ups 30 ms apart, alternating nodes.
  const Flood f = flood({&n1, &n2}, "127.0.0.23", "/join", 600, 30'000);
  std::printf("exact 5/h over 2 nodes: %d admitted, %d refused\n", f.admitted, f.refused);
  EXPECT_EQ(f.admitted, 5);
  EXPECT_EQ(f.refused, 15);
}

TEST_F(SharedLimitsTest, RedisKilledEachNodeTakesItsShareThenRecovers) {
  ASSERT_NE(redis.port(), 0);
  Node n1 = start("n1"), n2 = start("n2");
  ASSERT_TRUE(wait([&] {
    return metric_of(n1, "gatehouse_fleet_limit_live_nodes") == 2 &&
           metric_of(n2, "gatehouse_fleet_limit_live_nodes") == 2;
  }));
  flood({&n1, &n2}, "127.0.0.24", "/signup", 1000);
  redis.kill();
  ASSERT_TRUE(wait([&] {
    return metric_of(n1, "gatehouse_fleet_up") == 0 && metric_of(n2, "gatehouse_fleet_up") == 0;
  }));
  const Flood away = flood({&n1, &n2}, "127.0.0.24", "/signup", 4000);
  std::printf("Redis gone, 2 nodes, %d/s: %d admitted in %.2f s (%.3fx)\n", kRate, away.admitted,
              away.seconds, away.admitted / allowed(away));
  EXPECT_EQ(metric_of(n1, "gatehouse_fleet_limit_local_share"), 1);
  EXPECT_EQ(metric_of(n2, "gatehouse_fleet_limit_local_share"), 1);
  EXPECT_GT(metric_of(n1, "gatehouse_fleet_limit_local_rounds_total"), 0);
  // Each node about rate / 2: the fleet about the rate, never each node the whole of it.
  EXPECT_LE(away.admitted, 1.25 * allowed(away));
  EXPECT_GE(away.admitted, 0.75 * kRate * away.seconds);

  ASSERT_TRUE(redis.restart());
  ASSERT_TRUE(wait(
      [&] {
        return metric_of(n1, "gatehouse_fleet_up") == 1 && metric_of(n2, "gatehouse_fleet_up") == 1;
      },
      5000));
  const Flood back = flood({&n1, &n2}, "127.0.0.24", "/signup", 2000);
  EXPECT_EQ(metric_of(n1, "gatehouse_fleet_limit_local_share"), 0);
  EXPECT_EQ(metric_of(n2, "gatehouse_fleet_limit_local_share"), 0);
  EXPECT_LE(back.admitted, 1.1 * allowed(back));
  std::printf("Redis back: %d admitted in %.2f s (%.3fx)\n", back.admitted, back.seconds,
              back.admitted / allowed(back));
}

}  // namespace
}  // namespace gh::test
