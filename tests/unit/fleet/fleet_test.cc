// Two fleet nodes sharing one real redis-server: a ban, its removal and a mode made on one reach
// the other within a second; a node starting reads what is there; Redis gone: fail-static, the
// changes queued and written when it returns.
#include "fleet/fleet.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "redis_server.h"

namespace gh::fleet {
namespace {

struct Seen {
  std::mutex mu;
  std::vector<BanRecord> bans, unbans;
  std::vector<ModeRecord> modes;
  std::vector<bool> states;

  FleetSinks sinks() {
    FleetSinks s;
    s.ban = [this](const BanRecord& b) {
      std::lock_guard l(mu);
      bans.push_back(b);
    };
    s.unban = [this](const BanRecord& b) {
      std::lock_guard l(mu);
      unbans.push_back(b);
    };
    s.mode = [this](const ModeRecord& m) {
      std::lock_guard l(mu);
      modes.push_back(m);
    };
    s.state = [this](bool up, const std::string&) {
      std::lock_guard l(mu);
      states.push_back(up);
    };
    return s;
  }
  template <class F>
  auto with(F f) {
    std::lock_guard l(mu);
    return f();
  }
};

// Polls `done` every 5 ms for up to `ms`; the time it took, or -1.
std::int64_t wait_for(const std::function<bool()>& done, std::int64_t ms = 3000) {
  const std::int64_t start = core::monotonic_ms();
  while (core::monotonic_ms() - start < ms) {
    if (done()) return core::monotonic_ms() - start;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done() ? core::monotonic_ms() - start : -1;
}

policy::ClusterConfig config(std::uint16_t port, const std::string& node) {
  policy::ClusterConfig c;
  c.enabled = true;
  c.seeds.push_back({"127.0.0.1", port});
  c.node = node;
  c.command_timeout = 100;
  c.connect_timeout = 200;
  c.breaker_failures = 2;
  c.breaker_open_for = 100;
  return c;
}

BanRecord ban(const std::string& cidr) {
  BanRecord b;
  b.cidr = cidr;
  b.start = core::wall_ms() / 1000;
  b.expiry = b.start + 600;
  b.reason = "test";
  b.source = "manual";
  return b;
}

TEST(Fleet, BansAndModesReachTheOtherNodeWithinASecond) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  Seen sa, sb;
  Fleet a(config(redis.port(), "a"), sa.sinks());
  Fleet b(config(redis.port(), "b"), sb.sinks());
  ASSERT_TRUE(a.start(nullptr));
  ASSERT_TRUE(b.start(nullptr));
  ASSERT_GE(wait_for([&] { return a.up() && b.up(); }), 0);

  a.publish_ban(ban("198.51.100.7/32"));
  const std::int64_t took = wait_for([&] { return sb.with([&] { return !sb.bans.empty(); }); });
  ASSERT_GE(took, 0);
  EXPECT_LT(took, 1000);
  sb.with([&] {
    EXPECT_EQ(sb.bans[0].cidr, "198.51.100.7/32");
    EXPECT_EQ(sb.bans[0].node, "a");
    return 0;
  });
  // The node that made it hears nothing back.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(sa.with([&] { return sa.bans.empty(); }));
  EXPECT_NE(redis.cli({"HGET", "gh:bans", "198.51.100.7/32"}).find("\"node\":\"a\""),
            std::string::npos);

  b.publish_unban("198.51.100.7/32");
  ASSERT_GE(wait_for([&] { return sa.with([&] { return !sa.unbans.empty(); }); }, 1000), 0);
  EXPECT_EQ(redis.cli({"HEXISTS", "gh:bans", "198.51.100.7/32"}), "0");

  b.publish_mode({"signup", "closed", "flood", "", core::wall_ms()});
  ASSERT_GE(wait_for([&] { return sa.with([&] { return !sa.modes.empty(); }); }, 1000), 0);
  sa.with([&] {
    EXPECT_EQ(sa.modes[0].mode, "closed");
    EXPECT_EQ(sa.modes[0].node, "b");
    return 0;
  });
  EXPECT_GE(a.stats().received.load(), 2u);
  // PUBLISH's reply reaches the publisher after the message may have reached the subscriber.
  EXPECT_GE(wait_for([&] { return b.stats().published.load() >= 2u; }, 1000), 0);
}

// A change queued while a node was cut off, written after a later one: the later one stays in
// Redis and on every node.
TEST(Fleet, TheLatestModeWinsWhateverOrderItIsWritten) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0);
  Seen sa, sb;
  Fleet a(config(redis.port(), "a"), sa.sinks());
  Fleet b(config(redis.port(), "b"), sb.sinks());
  ASSERT_TRUE(a.start(nullptr));
  ASSERT_TRUE(b.start(nullptr));
  ASSERT_GE(wait_for([&] { return a.up() && b.up(); }), 0);
  const std::int64_t now = core::wall_ms();
  a.publish_mode({"signup", "closed", "later", "", now});
  ASSERT_GE(wait_for([&] { return sb.with([&] { return sb.modes.size() == 1; }); }, 1000), 0);
  b.publish_mode({"signup", "open", "earlier", "", now - 5000});
  ASSERT_GE(wait_for([&] { return b.stats().published.load() == 1; }), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(redis.cli({"HGET", "gh:modes", "signup"}).find("\"closed\""), std::string::npos);
  EXPECT_TRUE(sa.with([&] { return sa.modes.empty(); }));  // a keeps its later mode
}

TEST(Fleet, ANodeStartingReadsTheSharedState) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0);
  Seen sa;
  Fleet a(config(redis.port(), "a"), sa.sinks());
  ASSERT_TRUE(a.start(nullptr));
  ASSERT_GE(wait_for([&] { return a.up(); }), 0);
  a.publish_ban(ban("192.0.2.0/24"));
  BanRecord old = ban("192.0.2.9/32");
  old.start -= 1000;
  old.expiry = old.start + 10;  // over: pruned by the reader
  a.publish_ban(old);
  a.publish_mode({"signup", "queue", "by ops", "", core::wall_ms()});
  ASSERT_GE(wait_for([&] { return a.stats().published.load() == 3; }), 0);

  Seen sc;
  Fleet c(config(redis.port(), "c"), sc.sinks());
  ASSERT_TRUE(c.start(nullptr));
  ASSERT_GE(
      wait_for([&] { return sc.with([&] { return !sc.bans.empty() && !sc.modes.empty(); }); }), 0);
  sc.with([&] {
    EXPECT_EQ(sc.bans.size(), 1u);
    EXPECT_EQ(sc.bans[0].cidr, "192.0.2.0/24");
    EXPECT_EQ(sc.modes[0].mode, "queue");
    return 0;
  });
  EXPECT_GE(wait_for([&] { return redis.cli({"HEXISTS", "gh:bans", "192.0.2.9/32"}) == "0"; }), 0);
}

TEST(Fleet, FailStaticThenCatchesUp) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0);
  Seen sa, sb;
  Fleet a(config(redis.port(), "a"), sa.sinks());
  Fleet b(config(redis.port(), "b"), sb.sinks());
  ASSERT_TRUE(a.start(nullptr));
  ASSERT_TRUE(b.start(nullptr));
  ASSERT_GE(wait_for([&] { return a.up() && b.up(); }), 0);

  redis.kill();
  ASSERT_GE(wait_for([&] { return !a.up() && !b.up(); }), 0);
  EXPECT_GT(a.stats().down_since_ms.load(), 0);
  // Made while Redis is gone: queued, never blocking the caller.
  const std::int64_t t0 = core::monotonic_ms();
  for (int i = 0; i < 100; ++i) a.publish_ban(ban("203.0.113." + std::to_string(i) + "/32"));
  EXPECT_LT(core::monotonic_ms() - t0, 500);  // 5 ms each even under sanitizers: no Redis wait
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(a.stats().pending.load(), 100u);
  EXPECT_GE(a.stats().breaker_opens.load(), 1u);
  EXPECT_TRUE(sa.with([&] { return sa.states.size() == 2 && sa.states[0] && !sa.states[1]; }));

  ASSERT_TRUE(redis.restart());
  // Back within the breaker's open time (doubled by failed probes, at most 1.6 s here).
  ASSERT_GE(wait_for([&] { return a.up() && b.up(); }, 5000), 0);
  ASSERT_GE(wait_for([&] { return sb.with([&] { return sb.bans.size() >= 100; }); }, 3000), 0);
  EXPECT_EQ(redis.cli({"HLEN", "gh:bans"}), "100");
  EXPECT_GE(wait_for([&] { return a.stats().pending.load() == 0; }), 0);
  // The return is said (and the outage's clock stops) once it has held a second: one line.
  EXPECT_GE(wait_for([&] { return a.stats().down_since_ms.load() == 0; }, 3000), 0);
  EXPECT_TRUE(sa.with([&] { return sa.states.size() == 3 && sa.states[2]; }));
}

TEST(Fleet, PendingChangesAreBounded) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0);
  const std::uint16_t port = redis.port();
  redis.kill();
  Seen sa;
  policy::ClusterConfig c = config(port, "a");
  c.max_pending = 16;
  Fleet a(c, sa.sinks());
  ASSERT_TRUE(a.start(nullptr));
  for (int i = 0; i < 40; ++i) a.publish_ban(ban("203.0.113." + std::to_string(i) + "/32"));
  EXPECT_EQ(a.stats().dropped.load(), 24u);
  EXPECT_GE(wait_for([&] { return a.stats().pending.load() == 16; }), 0);
  EXPECT_FALSE(a.up());
}

}  // namespace
}  // namespace gh::fleet
