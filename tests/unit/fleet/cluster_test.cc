// The cluster client against real servers: a standalone Redis used as before (auto mode), and a
// 3-master Cluster with a replica each: keys routed to every master, a stale map repaired by
// MOVED (and the redirect cap), ASK during a slot migration without touching the map, and a
// master killed: commands fail within their deadline, never later, and resume on the promoted
// replica with the same client.
#include "fleet/cluster.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "fleet/slots.h"
#include "net/event_loop.h"
#include "redis_cluster.h"
#include "redis_server.h"
#include "run_loop.h"

namespace gh::fleet {
namespace {

struct Harness {
  net::EventLoop loop;
  std::unique_ptr<ClusterClient> client;
  std::vector<std::string> downs;

  explicit Harness(ClusterClient::Options o) {
    client = std::make_unique<ClusterClient>(loop, std::move(o),
                                             [this](const std::string& w) { downs.push_back(w); });
  }
  // Turns the loop (checking the client every tick) until `done` or `ms` pass.
  bool run_until(const std::function<bool()>& done, std::int64_t ms = 5000) {
    return test::run_until(loop, done, ms, [this] { client->check(loop.now_ms()); });
  }
  // start() until ready (each failure moves to the next node).
  bool start() {
    bool answered = false, ok = false;
    std::string why;
    for (int attempt = 0; attempt < 10 && !ok; ++attempt) {
      answered = false;
      client->start([&](bool r, const std::string& w) {
        answered = true;
        ok = r;
        why = w;
      });
      run_until([&] { return answered; });
      if (!ok) client->rotate();
    }
    EXPECT_TRUE(ok) << why;
    return ok;
  }
  // One command, waited for: the reply's type and text ("" and Nil type on nullptr).
  std::pair<bool, std::string> run(const std::string& key, std::vector<std::string> argv) {
    bool done = false;
    std::pair<bool, std::string> out{false, ""};
    const bool queued = client->command(key, std::move(argv), [&](const Reply* r) {
      done = true;
      if (r != nullptr) out = {r->type != Reply::Type::Error, r->str};
    });
    if (!queued) return out;
    run_until([&] { return done; });
    return out;
  }
};

// Generous: a loaded machine under sanitizers must not make a redirection look like a failure.
// The failover test sets its own, tighter deadline.
ClusterClient::Options options(std::vector<NodeAddress> seeds) {
  ClusterClient::Options o;
  o.seeds = std::move(seeds);
  o.connect_timeout_ms = 1000;
  o.command_timeout_ms = 1000;
  o.deadline_ms = 3000;
  return o;
}

TEST(Cluster, AStandaloneRedisIsUsedAsBefore) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  Harness h(options({{"127.0.0.1", redis.port()}}));
  ASSERT_TRUE(h.start());
  EXPECT_TRUE(h.client->ready());
  EXPECT_FALSE(h.client->is_cluster());
  EXPECT_EQ(h.run("foo", {"SET", "foo", "1"}), std::make_pair(true, std::string("OK")));
  EXPECT_EQ(h.run("bar", {"INCR", "foo"}).first, true);
  EXPECT_EQ(redis.cli({"GET", "foo"}), "2");
  EXPECT_EQ(h.client->connections(), 1u);
  // Told to expect a Cluster, it refuses to use a standalone Redis.
  ClusterClient::Options o = options({{"127.0.0.1", redis.port()}});
  o.mode = ClusterClient::Mode::Cluster;
  Harness strict(o);
  bool answered = false, ok = true;
  std::string why;
  strict.client->start([&](bool r, const std::string& w) {
    answered = true;
    ok = r;
    why = w;
  });
  ASSERT_TRUE(strict.run_until([&] { return answered; }));
  EXPECT_FALSE(ok);
  EXPECT_NE(why.find("cluster support disabled"), std::string::npos) << why;
  // The connection lost: the owner is told, the command fails at once.
  redis.kill();
  EXPECT_TRUE(h.run_until([&] { return !h.downs.empty(); }));
  EXPECT_FALSE(h.run("foo", {"GET", "foo"}).first);
}

TEST(Cluster, RoutesEveryKeyToItsMasterAndRepairsAStaleMap) {
  test::RedisCluster cluster;
  ASSERT_TRUE(cluster.ok()) << "could not make a Redis Cluster";
  Harness h(options({{"127.0.0.1", cluster.port(0)}}));
  ASSERT_TRUE(h.start());
  ASSERT_TRUE(h.client->is_cluster());
  EXPECT_EQ(h.client->map().covered(), 16384u);
  EXPECT_EQ(h.client->map().masters.size(), 3u);
  EXPECT_LE(h.client->map().replicas.size(), 3u);  // listed once they hold data
  for (int i = 0; i < 60; ++i) {
    const std::string k = "key:" + std::to_string(i);
    ASSERT_EQ(h.run(k, {"SET", k, std::to_string(i)}).second, "OK") << k;
  }
  EXPECT_EQ(h.client->stats().moved, 0u);
  EXPECT_GE(h.client->connections(), 3u);
  // Each key landed on the master that owns its slot (redis-cli -c would follow redirections:
  // asking without it proves where it is).
  for (int i = 0; i < 60; i += 7) {
    const std::string k = "key:" + std::to_string(i);
    const int m = cluster.master_of(key_slot(k));
    ASSERT_GE(m, 0);
    EXPECT_EQ(cluster.cli(m, "GET " + k), std::to_string(i));
  }
  EXPECT_EQ(cluster.cli(0, "CLUSTER KEYSLOT foo"), "12182");

  // A stale map (every slot on one master): MOVED sends each command to the right node, and
  // the map is read again.
  SlotMap stale;
  const NodeAddress first = h.client->map().masters[0];
  stale.master_index(first);
  stale.owner.fill(0);
  h.client->set_map_for_test(stale);
  for (int i = 0; i < 30; ++i) {
    const std::string k = "key:" + std::to_string(i);
    ASSERT_EQ(h.run(k, {"GET", k}), std::make_pair(true, std::to_string(i)))
        << k << ": moved " << h.client->stats().moved << ", retries " << h.client->stats().retries
        << ", gave up " << h.client->stats().gave_up;
  }
  EXPECT_GT(h.client->stats().moved, 0u);
  EXPECT_TRUE(h.run_until([&] { return h.client->map().masters.size() == 3; }));
  EXPECT_GE(h.client->stats().refreshes, 1u);

  // No redirection allowed: a MOVED fails the command.
  ClusterClient::Options o = options({{"127.0.0.1", cluster.port(0)}});
  o.max_redirects = 0;
  Harness capped(o);
  ASSERT_TRUE(capped.start());
  capped.client->set_map_for_test(stale);
  int misrouted = -1;
  for (int i = 0; i < 30 && misrouted < 0; ++i) {
    const std::string k = "key:" + std::to_string(i);
    if (*h.client->map().master_of(key_slot(k)) != first) misrouted = i;
  }
  ASSERT_GE(misrouted, 0);
  const std::string k = "key:" + std::to_string(misrouted);
  EXPECT_EQ(capped.run(k, {"GET", k}), std::make_pair(false, std::string()));
  EXPECT_EQ(capped.client->stats().gave_up, 1u);
}

TEST(Cluster, AskDuringAMigrationLeavesTheMapAlone) {
  test::RedisCluster cluster;
  ASSERT_TRUE(cluster.ok());
  Harness h(options({{"127.0.0.1", cluster.port(0)}}));
  ASSERT_TRUE(h.start());
  const std::string key = "migrating-key";
  const std::uint16_t slot = key_slot(key);
  const int from = cluster.master_of(slot);
  ASSERT_GE(from, 0);
  int to = -1;
  for (int i = 0; i < 6 && to < 0; ++i) {
    const int m = cluster.master_of(key_slot("x" + std::to_string(i)));
    if (m >= 0 && m != from) to = m;
  }
  for (int s = 0; s < 16384 && to < 0; s += 1000) {
    const int m = cluster.master_of(s);
    if (m >= 0 && m != from) to = m;
  }
  ASSERT_GE(to, 0);
  const std::string from_id = cluster.cli(from, "CLUSTER MYID");
  const std::string to_id = cluster.cli(to, "CLUSTER MYID");
  const std::string s = std::to_string(slot);
  ASSERT_EQ(cluster.cli(to, "CLUSTER SETSLOT " + s + " IMPORTING " + from_id), "OK");
  ASSERT_EQ(cluster.cli(from, "CLUSTER SETSLOT " + s + " MIGRATING " + to_id), "OK");
  const NodeAddress owner = *h.client->map().master_of(slot);

  // The key is not on the old owner: it answers ASK, the client asks the new one.
  EXPECT_EQ(h.run(key, {"SET", key, "v"}), std::make_pair(true, std::string("OK")));
  EXPECT_EQ(h.client->stats().asked, 1u);
  EXPECT_EQ(h.client->stats().moved, 0u);
  EXPECT_EQ(*h.client->map().master_of(slot), owner);  // the map unchanged
  EXPECT_EQ(cluster.cli(to, "CLUSTER COUNTKEYSINSLOT " + s), "1");
  EXPECT_EQ(cluster.cli(from, "CLUSTER COUNTKEYSINSLOT " + s), "0");
  EXPECT_EQ(h.run(key, {"GET", key}), std::make_pair(true, std::string("v")));
  EXPECT_EQ(h.client->stats().asked, 2u);  // asked again: ASK is for one command only
}

TEST(Cluster, AMasterKilledFailsCommandsWithinTheirDeadlineThenTheReplicaServes) {
  test::RedisCluster cluster;
  ASSERT_TRUE(cluster.ok());
  std::vector<NodeAddress> seeds;
  for (int i = 0; i < 3; ++i) seeds.push_back({"127.0.0.1", cluster.port(i)});
  ClusterClient::Options o = options(seeds);
  o.command_timeout_ms = 200;
  o.deadline_ms = 400;
  Harness h(o);
  ASSERT_TRUE(h.start());
  const std::string key = "survivor";
  const int victim = cluster.master_of(key_slot(key));
  ASSERT_GE(victim, 0);
  ASSERT_EQ(h.run(key, {"SET", key, "before"}).second, "OK");
  const NodeAddress old_master = *h.client->map().master_of(key_slot(key));
  EXPECT_EQ(old_master.port, cluster.port(victim));
  cluster.kill(victim);

  // One command every 50 ms until one succeeds: each failure comes within its deadline (plus a
  // tick or two of the loop), and the same client gets through once a replica took over.
  const std::int64_t deadline = o.deadline_ms;
  int failed = 0;
  std::int64_t worst = 0;
  bool served = false;
  const std::int64_t give_up = core::monotonic_ms() + 20000;
  while (!served && core::monotonic_ms() < give_up) {
    bool done = false;
    const std::int64_t t0 = core::monotonic_ms();
    ASSERT_TRUE(h.client->command(key, {"SET", key, "after"}, [&](const Reply* r) {
      done = true;
      served = r != nullptr && r->type == Reply::Type::Status;
    }));
    ASSERT_TRUE(h.run_until([&] { return done; }, 2 * deadline));
    worst = std::max(worst, core::monotonic_ms() - t0);
    if (!served) {
      ++failed;
      h.run_until([] { return false; }, 50);
    }
  }
  ASSERT_TRUE(served) << "no replica took over within 20 s";
  std::printf("master killed: %d commands failed, slowest answer %lld ms (deadline %lld ms)\n",
              failed, static_cast<long long>(worst), static_cast<long long>(deadline));
  EXPECT_GT(failed, 0);
  EXPECT_LE(worst, deadline + 100);
  EXPECT_NE(*h.client->map().master_of(key_slot(key)), old_master);
  EXPECT_GE(h.client->stats().refreshes, 1u);
  EXPECT_EQ(h.run(key, {"GET", key}), std::make_pair(true, std::string("after")));
}

}  // namespace
}  // namespace gh::fleet
