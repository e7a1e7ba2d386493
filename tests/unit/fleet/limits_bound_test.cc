// The error bound of shared limits, measured: simulated time, real limiter tables and registries
// (one per node), the real sync loop, and the script's maths for Redis with a round trip of 1 ms.
// A flood of one key spread round robin over the nodes admits at most
//   rate × t + burst + (nodes − 1) × (burst + rate × sync_interval)
// (each node's first burst before it has heard of the others, then at most one interval of the
// others' admissions unseen), against nodes × (rate × t + burst) without sharing.
#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <memory>

#include "fleet/limits_sync.h"
#include "limits_model.h"
#include "stages/ratelimit/config.h"
#include "stages/ratelimit/stage.h"

namespace gh::fleet {
namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;

struct Sim {
  struct Node {
    ratelimit::Registry registry;
    std::shared_ptr<ratelimit::Table> table;
    std::unique_ptr<LimitsSync> sync;
  };
  struct Call {
    std::int64_t due_ms;
    std::vector<std::string> argv;
    LimitsSync::Callback cb;
  };
  test::ScriptModel redis;
  std::vector<std::unique_ptr<Node>> nodes;
  std::deque<Call> wire;
  policy::LimitConfig limit;
  std::int64_t t_ms = 0;
  bool redis_up = true;

  Sim(int n, bool shared, std::uint32_t rate, std::uint32_t burst, policy::Millis interval) {
    limit.name = "per-ip";
    limit.rate = rate;
    limit.period = 1000;
    limit.burst = burst;
    policy::ClusterConfig cc;
    cc.sync_interval = interval;
    for (int i = 0; i < n; ++i) {
      auto node = std::make_unique<Node>();
      Node* raw = node.get();
      if (shared) raw->registry.share(nullptr);
      raw->table = raw->registry.table_for("signup", limit, *ratelimit::gcra_of(limit));
      if (shared) {
        LimitsSync::Hooks hooks;
        hooks.drain = [raw](std::vector<LimitDelta>& out) {
          std::vector<ratelimit::DeltaEntry> buf;
          raw->registry.drain(buf);
          for (const auto& e : buf) out.push_back({{e.limit, e.key.lo, e.key.hi}, e.delta});
        };
        hooks.apply = [raw, this](const std::vector<LimitDelta>& f, Fold how) {
          std::vector<ratelimit::Registry::Figure> figs;
          for (const auto& d : f) figs.push_back({d.key.limit, {d.key.lo, d.key.hi}, d.ns});
          if (how == Fold::Set) {
            raw->registry.set_debts(figs, now_ns());
          } else if (how == Fold::Add) {
            raw->registry.add_debts(figs, now_ns());
          } else {
            raw->registry.raise_debts(figs, now_ns());
          }
        };
        cc.node = "n" + std::to_string(i);
        raw->sync = std::make_unique<LimitsSync>(
            cc, hooks,
            [this](const std::string&, const std::vector<std::string>& argv,
                   LimitsSync::Callback cb) {
              if (!redis_up) return false;
              wire.push_back({t_ms + 1, argv, std::move(cb)});
              return true;
            });
      }
      nodes.push_back(std::move(node));
    }
  }
  ratelimit::Nanos now_ns() const { return (t_ms + 1000) * kNsPerMs; }

  // `per_ms` requests of one key every millisecond, round robin over the nodes, for `ms`.
  // Returns how many were admitted.
  std::uint64_t flood(std::int64_t ms, int per_ms) {
    const ratelimit::Key key{0x7f000001, 0};
    std::uint64_t admitted = 0;
    std::size_t next = 0;
    for (std::int64_t end = t_ms + ms; t_ms < end; ++t_ms) {
      while (!wire.empty() && wire.front().due_ms <= t_ms) {
        Call c = std::move(wire.front());
        wire.pop_front();
        if (!redis_up) {
          c.cb(nullptr);
          continue;
        }
        Reply r = redis.run(c.argv, t_ms * 1000);
        c.cb(&r);
      }
      for (auto& n : nodes) {
        if (n->sync) n->sync->tick(t_ms, redis_up);
      }
      for (int i = 0; i < per_ms; ++i) {
        Node& n = *nodes[next++ % nodes.size()];
        if (n.table->decide(key, now_ns()).allowed) ++admitted;
      }
    }
    return admitted;
  }
};

TEST(LimitsBound, TwoNodesAdmitTheRateWithinOneIntervalOfError) {
  // 50/s, burst 10, a flood of 1000/s for 10 s over two nodes, sync every 100 ms.
  Sim shared(2, true, 50, 10, 100);
  const std::uint64_t admitted = shared.flood(10'000, 1);
  Sim alone(2, false, 50, 10, 100);
  const std::uint64_t alone_admitted = alone.flood(10'000, 1);
  const double allowed = 50.0 * 10 + 10;  // rate × t + burst
  const double bound = allowed + 1 * (10 + 50 * 0.1);
  std::printf(
      "2 nodes, 50/s burst 10, 10 s of 1000/s, sync 100 ms: shared %llu (%.3fx), "
      "alone %llu (%.3fx), bound %.0f\n",
      static_cast<unsigned long long>(admitted), admitted / allowed,
      static_cast<unsigned long long>(alone_admitted), alone_admitted / allowed, bound);
  EXPECT_LE(admitted, bound);
  EXPECT_LE(admitted, 1.1 * allowed);
  EXPECT_GE(admitted, 50u * 10);  // no under-admission either
  EXPECT_GE(alone_admitted, 1.9 * allowed);
  EXPECT_GT(shared.redis.calls, 90u);  // about one script call per node and interval
}

TEST(LimitsBound, ThreeNodesAndALongerInterval) {
  Sim shared(3, true, 100, 20, 250);
  const std::uint64_t admitted = shared.flood(10'000, 3);
  const double allowed = 100.0 * 10 + 20;
  const double bound = allowed + 2 * (20 + 100 * 0.25);
  std::printf(
      "3 nodes, 100/s burst 20, 10 s of 3000/s, sync 250 ms: shared %llu (%.3fx), "
      "bound %.0f\n",
      static_cast<unsigned long long>(admitted), admitted / allowed, bound);
  EXPECT_LE(admitted, bound);
  EXPECT_GE(admitted, 100u * 10);
}

TEST(LimitsBound, RedisAwayEachNodeTakesItsShare) {
  Sim shared(2, true, 50, 10, 100);
  shared.redis.live = 2;
  shared.flood(2'000, 1);  // the heartbeat has told both nodes of two live nodes
  ASSERT_EQ(shared.nodes[0]->sync->live_nodes(), 2u);
  shared.redis_up = false;
  shared.flood(1'000, 1);  // past the debt carried from before
  const std::uint64_t admitted = shared.flood(10'000, 1);
  std::printf("Redis away, 2 live nodes, 50/s: %llu admitted in 10 s (%.3fx the rate)\n",
              static_cast<unsigned long long>(admitted), admitted / 500.0);
  EXPECT_TRUE(shared.nodes[0]->sync->stats().local_share.load());
  // Each node about rate / 2: the fleet about the rate (each node's bursts on top).
  EXPECT_LE(admitted, 1.2 * 500);
  EXPECT_GE(admitted, 0.8 * 500);
  // Redis back: figures global again.
  shared.redis_up = true;
  shared.flood(1'000, 1);
  EXPECT_FALSE(shared.nodes[0]->sync->stats().local_share.load());
}

}  // namespace
}  // namespace gh::fleet
