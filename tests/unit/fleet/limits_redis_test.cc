// The limit script on a real redis-server: two fleet nodes push deltas of one key and each gets
// the global debt back (the other's changes included), the key expires in Redis once its debt
// has drained, a script flushed from Redis is loaded again, and the heartbeat counts both nodes.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "fleet/fleet.h"
#include "redis_server.h"

namespace gh::fleet {
namespace {

struct Node {
  std::mutex mu;
  std::vector<LimitDelta> to_push;
  std::vector<LimitDelta> figures;
  std::unique_ptr<Fleet> fleet;

  Node(std::uint16_t port, const std::string& name) {
    policy::ClusterConfig c;
    c.enabled = true;
    c.seeds.push_back({"127.0.0.1", port});
    c.node = name;
    c.command_timeout = 200;
    c.sync_interval = 20;
    c.limit_shards = 4;
    fleet = std::make_unique<Fleet>(c, FleetSinks{});
    LimitsSync::Hooks h;
    h.drain = [this](std::vector<LimitDelta>& out) {
      std::lock_guard l(mu);
      out.insert(out.end(), to_push.begin(), to_push.end());
      to_push.clear();
    };
    h.apply = [this](const std::vector<LimitDelta>& f, Fold how) {
      std::lock_guard l(mu);
      if (how == Fold::Set) figures.insert(figures.end(), f.begin(), f.end());
    };
    fleet->share_limits(std::move(h));
  }
  void push(const LimitKey& k, std::int64_t ns) {
    std::lock_guard l(mu);
    to_push.push_back({k, ns});
  }
  // The last figure of `k`, or -1 (polled for up to 2 s).
  std::int64_t figure(const LimitKey& k) {
    for (int i = 0; i < 400; ++i) {
      {
        std::lock_guard l(mu);
        for (auto it = figures.rbegin(); it != figures.rend(); ++it) {
          if (it->key == k) {
            const std::int64_t ns = it->ns;
            figures.clear();
            return ns;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
  }
};

bool wait_up(Fleet& f) {
  for (int i = 0; i < 400 && !f.up(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return f.up();
}

TEST(LimitsRedis, BothNodesGetTheGlobalDebt) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  Node a(redis.port(), "a"), b(redis.port(), "b");
  ASSERT_TRUE(a.fleet->start(nullptr));
  ASSERT_TRUE(b.fleet->start(nullptr));
  ASSERT_TRUE(wait_up(*a.fleet));
  ASSERT_TRUE(wait_up(*b.fleet));
  const LimitKey k{0xabc, 0x7f000001, 0};
  const std::int64_t s = 1'000'000'000;
  a.push(k, 3 * s);
  const std::int64_t after_a = a.figure(k);
  EXPECT_GT(after_a, 3 * s - 50'000'000);  // 3 s owed, less the time that passed
  EXPECT_LE(after_a, 3 * s);
  b.push(k, 2 * s);
  const std::int64_t after_b = b.figure(k);
  EXPECT_GT(after_b, 5 * s - 100'000'000);  // a's 3 s and b's 2 s
  EXPECT_LE(after_b, 5 * s);
  a.push(k, -1 * s);  // a refund
  const std::int64_t after_refund = a.figure(k);
  EXPECT_GT(after_refund, 4 * s - 150'000'000);
  EXPECT_LE(after_refund, 4 * s);
  // In one shard's key, with a TTL covering the debt.
  const std::string name = redis_key("gh:", shard_of(k, 4), k);
  EXPECT_NE(name.find("{gs:0"), std::string::npos);
  const long ttl = std::stol(redis.cli({"PTTL", name}));
  EXPECT_GT(ttl, 4000);
  EXPECT_LE(ttl, 5000);

  // A key whose debt drains away is deleted.
  const LimitKey k2{0xabc, 0x7f000002, 0};
  a.push(k2, 10'000'000);
  EXPECT_GE(a.figure(k2), 0);
  a.push(k2, -10'000'000);
  EXPECT_EQ(a.figure(k2), 0);
  EXPECT_EQ(redis.cli({"EXISTS", redis_key("gh:", shard_of(k2, 4), k2)}).substr(0, 1), "0");

  // Both nodes beat: two live nodes.
  for (int i = 0; i < 200 && a.fleet->limits_stats()->live_nodes.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(a.fleet->limits_stats()->live_nodes.load(), 2u);

  // Redis forgot the script (a restart, a failover): loaded again, the answer still comes.
  redis.cli({"SCRIPT", "FLUSH"});
  b.push(k, 1 * s);
  EXPECT_GT(b.figure(k), 4 * s);
  EXPECT_GE(b.fleet->limits_stats()->noscript.load(), 1u);
  EXPECT_EQ(a.fleet->limits_stats()->calls_failed.load(), 0u);
  EXPECT_EQ(b.fleet->limits_stats()->calls_failed.load(), 0u);
}

}  // namespace
}  // namespace gh::fleet
