// The fleet's one waiting line in Redis (fleet/line.h), on a real redis-server: the script itself
// (first-seen order, the bucket, a first visit told to wait keeping its turn, gone places, the
// cap), then three nodes under round robin letting people through in exactly the order they
// came, and Redis paused: each answer within request_timeout, from the node's own room.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fleet/line.h"
#include "fleet_support.h"
#include "process.h"
#include "redis_server.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
using fleet::LineAsk;

constexpr std::int64_t kMinuteUs = 60'000'000;

struct FleetLineTest : ::testing::Test {
  RedisServer redis;
  TempDir dir;
  std::string script = dir.file("line.lua", std::string(fleet::line_script()));

  // The script run as a node runs it (EVAL of the same text, the same keys and arguments):
  // {verdict, position}, or {-1, -1} when the reply is not two integers.
  std::pair<int, long long> ask(const LineAsk& a) {
    const std::vector<std::string> argv = fleet::line_argv("t:", a);
    std::vector<std::string> cli{"--eval", script};
    for (std::size_t i = 3; i < 7; ++i) cli.push_back(argv[i]);
    cli.push_back(",");
    for (std::size_t i = 7; i < argv.size(); ++i) cli.push_back(argv[i]);
    const std::string out = redis.cli(cli);
    int v = -1;
    long long p = -1;
    if (std::sscanf(out.c_str(), "%d\n%lld", &v, &p) != 2) return {-1, -1};
    return {v, p};
  }
  // Redis's clock, µs.
  std::int64_t now_us() {
    long long s = 0, us = 0;
    std::sscanf(redis.cli({"TIME"}).c_str(), "%lld\n%lld", &s, &us);
    return s * 1'000'000 + us;
  }
  // The bucket of `scope` set to hold `units` whole units (and a little more) for a while.
  void hold(std::uint32_t scope, const LineAsk& a, std::int64_t units) {
    const std::int64_t tat = now_us() + (a.hold - units) * a.interval_us - a.interval_us / 10;
    char key[64];
    std::snprintf(key, sizeof key, "t:room:{%08x}:bucket", scope);
    redis.cli({"SET", key, std::to_string(tat)});
  }
  // First-seen times are given from the start of the test (µs): real times, as first visits
  // told to wait are forgotten by Redis's clock.
  std::int64_t base = 0;
  LineAsk visit(std::uint32_t scope, char who, std::int64_t first_us, bool ticket = true) {
    if (base == 0) base = now_us();
    LineAsk a;
    a.scope = scope;
    a.id = std::string(32, who);
    a.ticket = ticket;
    a.first_us = base + first_us;
    a.interval_us = kMinuteUs;  // one a minute: nothing refills while a test runs
    a.burst = 3;
    a.hold = 3;
    a.max_queue = 4;
    a.gone_ms = 60'000;
    a.back_ms = 60'000;
    return a;
  }
};

constexpr std::pair<int, long long> kDue{1, 0};
constexpr std::pair<int, long long> kFull{2, 0};
std::pair<int, long long> wait(long long position) {
  return {0, position};
}

TEST_F(FleetLineTest, ScriptRanksByFirstSeenAndAdmitsWhatTheBucketHolds) {
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  const std::uint32_t s = 1;
  hold(s, visit(s, 'a', 0), 0);  // an empty bucket: everyone waits
  // Joined out of first-seen order: ranked by it (ties: by id, as every node breaks them).
  EXPECT_EQ(ask(visit(s, 'c', 3000)), wait(1));
  EXPECT_EQ(ask(visit(s, 'a', 1000)), wait(1));
  EXPECT_EQ(ask(visit(s, 'b', 2000)), wait(2));
  EXPECT_EQ(ask(visit(s, 'c', 3000)), wait(3));
  EXPECT_EQ(ask(visit(s, '9', 3000)), wait(3)) << "a tie goes by id: '9' before 'c'";
  EXPECT_EQ(ask(visit(s, 'd', 4000)), kFull) << "max_queue 4 places";
  EXPECT_EQ(ask(visit(s, 'e', 5000, false)), kFull) << "a first visit too";
  // One unit: the head is due, nobody else, and only when the head asks.
  hold(s, visit(s, 'a', 0), 1);
  EXPECT_EQ(ask(visit(s, 'b', 2000)), wait(2)) << "the head first";
  LineAsk closed = visit(s, 'a', 1000);
  closed.open = false;
  EXPECT_EQ(ask(closed), wait(1)) << "no room for a session on that node: ranked, never due";
  EXPECT_EQ(ask(visit(s, 'a', 1000)), kDue);
  EXPECT_EQ(ask(visit(s, 'b', 2000)), wait(1)) << "the unit was charged";
  // Two units: the next two, whichever of them asks first.
  hold(s, visit(s, 'a', 0), 2);
  EXPECT_EQ(ask(visit(s, '9', 3000)), kDue);
  EXPECT_EQ(ask(visit(s, 'b', 2000)), kDue);
  EXPECT_EQ(ask(visit(s, 'c', 3000)), wait(1));
  // A bucket that may hold more while people wait than while nobody does: calm, it holds the
  // burst only; with a line, all of it.
  const std::uint32_t h = 4;
  auto held = [&](char who, std::int64_t first, bool ticket) {
    LineAsk a = visit(h, who, first, ticket);
    a.burst = 1;
    return a;
  };
  hold(h, held('a', 0, false), 3);
  EXPECT_EQ(ask(held('a', 1000, false)), kDue);
  EXPECT_EQ(ask(held('b', 2000, false)), wait(1)) << "calm: a burst of one, not three";
  EXPECT_EQ(ask(held('b', 2000, true)), wait(1));
  EXPECT_EQ(ask(held('c', 3000, true)), wait(2));
  EXPECT_EQ(ask(held('d', 4000, true)), wait(3));
  EXPECT_EQ(ask(held('e', 5000, true)), wait(4));
  hold(h, held('a', 0, false), 3);
  EXPECT_EQ(ask(held('b', 2000, true)), kDue);
  EXPECT_EQ(ask(held('c', 3000, true)), kDue);
  EXPECT_EQ(ask(held('d', 4000, true)), kDue) << "people wait: all three";
  EXPECT_EQ(ask(held('e', 5000, true)), wait(1));
  // The keys of an idle route vanish: TTLs set from the gone timeout.
  const long long ttl = std::stoll(redis.cli({"PTTL", "t:room:{00000001}:line"}));
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 61'000);
}

TEST_F(FleetLineTest, AFirstVisitToldToWaitKeepsItsTurnAndAGonePlaceIsDropped) {
  ASSERT_NE(redis.port(), 0);
  const std::uint32_t s = 2;
  // Calm: a first visit goes in at once while the bucket holds a unit for it.
  hold(s, visit(s, 'a', 0), 1);
  EXPECT_EQ(ask(visit(s, 'a', 1000, false)), kDue);
  // The bucket is empty: the next is told to wait and takes no place (the line stays empty),
  // but is remembered until it is back with its ticket.
  EXPECT_EQ(ask(visit(s, 'b', 2000, false)), wait(1));
  EXPECT_EQ(redis.cli({"ZCARD", "t:room:{00000002}:line"}), "0");
  // A unit refills before B is back: C, first seen after B, does not take it.
  hold(s, visit(s, 'a', 0), 1);
  EXPECT_EQ(ask(visit(s, 'c', 3000, false)), wait(2));
  EXPECT_EQ(ask(visit(s, 'c', 3000)), wait(2)) << "C back first, still behind B";
  EXPECT_EQ(ask(visit(s, 'b', 2000)), kDue);
  EXPECT_EQ(ask(visit(s, 'c', 3000)), wait(1));

  // Gone: a place not visited for gone_ms is dropped (a bounded number a call) and holds
  // nobody back; one that keeps visiting stays.
  const std::uint32_t g = 3;
  hold(g, visit(g, 'a', 0), 0);
  auto quick = [&](char who, std::int64_t first) {
    LineAsk a = visit(g, who, first);
    a.gone_ms = 400;
    return a;
  };
  EXPECT_EQ(ask(quick('a', 1000)), wait(1));
  EXPECT_EQ(ask(quick('b', 2000)), wait(2));
  std::pair<int, long long> b{-1, -1};
  for (int i = 0; i < 12 && b != wait(1); ++i) {  // B polls; A has stopped
    std::this_thread::sleep_for(100ms);
    b = ask(quick('b', 2000));
  }
  EXPECT_EQ(b, wait(1)) << "A dropped as gone";
  EXPECT_EQ(redis.cli({"ZSCORE", "t:room:{00000003}:line", std::string(32, 'a')}), "");
  hold(g, visit(g, 'a', 0), 1);
  EXPECT_EQ(ask(quick('b', 2000)), kDue);
}

// Nodes of a fleet, a queue-mode sign-up route on each, one signing key.
struct FleetLineNodes : ::testing::Test {
  RedisServer redis;
  Origin origin;
  TempDir keys;

  FleetNode start(const std::string& node, const std::string& room, const std::string& cluster) {
    const std::string yaml = basic_config(origin.port(),
                                          "routes:\n"
                                          "  - name: signup\n"
                                          "    match: { path_prefix: /signup }\n"
                                          "    class: signup\n"
                                          "    signup:\n"
                                          "      mode: queue\n"
                                          "      waiting_room: " +
                                              room +
                                              "\n"
                                              "  - name: app\n"
                                              "    match: { path_prefix: / }\n"
                                              "secrets: { key_file: " +
                                              keys.path() +
                                              "/fleet.key }\n"
                                              "cluster:\n  seeds: [" +
                                              redis.address() + "]\n  node: " + node +
                                              "\n  command_timeout: 1s\n" + cluster);
    return FleetNode::start(yaml, "fleet-line-token");
  }
};

TEST_F(FleetLineNodes, RoundRobinLetsPeopleThroughInExactlyTheOrderTheyCame) {
  ASSERT_NE(redis.port(), 0);
  // 120 a minute: one each half second, a burst of 10. A generous request_timeout: this test is
  // about order, not a loaded machine's timing.
  const std::string room = "{ new_users_per_minute: 120, max_active: 1000, refresh: 1s }";
  std::vector<FleetNode> nodes;
  for (const char* n : {"a", "b", "c"}) nodes.push_back(start(n, room, "  request_timeout: 1s\n"));
  ASSERT_GE(within(
                [&] {
                  return std::all_of(nodes.begin(), nodes.end(), [](FleetNode& n) {
                    return n.fleet_up() && n.fleet().value("live", 0u) == 3;
                  });
                },
                5000),
            0);
  std::this_thread::sleep_for(1100ms);  // every room has had its fleet share (a tick a second)
  struct Person {
    std::string source, ticket;
    std::int64_t admitted_ms = -1;
  };
  constexpr std::size_t kPeople = 16;  // the burst, then six in line
  std::vector<Person> people(kPeople);
  const Since since;
  RoundRobin balancer({nodes[0].shield->port(), nodes[1].shield->port(), nodes[2].shield->port()});
  auto ask = [&](Person& p) {
    const int status = balancer.visit(p.source, p.ticket);
    if (status == 200 && p.admitted_ms < 0) p.admitted_ms = since();
    return status;
  };
  std::size_t at_once = 0;
  for (std::size_t i = 0; i < kPeople; ++i) {  // back to back: their number is their order
    people[i].source = "127.0.11." + std::to_string(i + 1);
    at_once += ask(people[i]) == 200 ? 1 : 0;
  }
  const std::int64_t asked_ms = since();
  for (int round = 0; round < 60; ++round) {
    for (Person& p : people) {
      if (p.admitted_ms < 0) ask(p);
    }
    if (std::all_of(people.begin(), people.end(),
                    [](const Person& p) { return p.admitted_ms >= 0; }))
      break;
    std::this_thread::sleep_for(100ms);
  }
  for (std::size_t i = 0; i < kPeople; ++i) {
    std::printf("person %zu admitted at %lld ms\n", i + 1,
                static_cast<long long>(people[i].admitted_ms));
    ASSERT_GE(people[i].admitted_ms, 0) << "never admitted: " << i + 1;
  }
  // The fleet's burst at once, not a third of it per node and not three bursts (plus what the
  // bucket earned back, one each half second, if a loaded machine stretched the asking).
  EXPECT_GE(at_once, 10u);
  EXPECT_LE(at_once, 10u + static_cast<std::size_t>(asked_ms / 500)) << "asked over " << asked_ms;
  // Exactly first-seen order: nobody before anyone who came earlier.
  for (std::size_t i = 1; i < kPeople; ++i)
    EXPECT_LE(people[i - 1].admitted_ms, people[i].admitted_ms)
        << "person " << i + 1 << " went in before person " << i;
  // Then one each half second: six after the burst take about 3 s (each polls every 100 ms).
  ASSERT_LT(at_once, kPeople - 1) << "too slow a machine to see a line form";
  const std::int64_t tail = people.back().admitted_ms - people[at_once].admitted_ms;
  const auto in_line = static_cast<std::int64_t>(kPeople - at_once);
  EXPECT_GE(tail, (in_line - 2) * 500) << "faster than the fleet's rate";
  EXPECT_LE(tail, 4'500) << "slower than the fleet's rate";
  // Every admission counted once, on the node that made it.
  std::uint64_t admitted = 0;
  for (FleetNode& n : nodes)
    for (const auto& r : n.shield->server().defence().routes_status())
      if (r.route == "signup") admitted += r.room.admitted_total;
  EXPECT_EQ(admitted, kPeople);
  std::uint64_t answered = 0;
  for (FleetNode& n : nodes) answered += n.shield->server().stats().fleet_awaits_answered;
  EXPECT_GE(answered, kPeople);
}

TEST_F(FleetLineNodes, RedisPausedAnswersWithinTheTimeoutFromTheLocalRoom) {
  ASSERT_NE(redis.port(), 0);
  const std::string room = "{ new_users_per_minute: 60, max_active: 1000, refresh: 1s }";
  FleetNode n = start("a", room, "  request_timeout: 5ms\n");
  ASSERT_GE(within([&] { return n.fleet_up(); }, 5000), 0);
  std::this_thread::sleep_for(1100ms);  // the room has had its fleet share (a tick a second)
  redis.pause();
  std::vector<std::int64_t> ms;
  int admitted = 0, queued = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string source = "127.0.12." + std::to_string(i + 1);
    const std::int64_t t0 = core::monotonic_ms();
    const ClientResponse r =
        roundtrip(n.shield->port(), request("GET", "/signup", "Accept: application/json\r\n"),
                  source.c_str());
    ms.push_back(core::monotonic_ms() - t0);
    admitted += r.status == 200 ? 1 : 0;
    queued += r.status == 202 ? 1 : 0;
  }
  redis.resume();
  std::sort(ms.begin(), ms.end());
  std::printf("Redis paused: answers in %lld-%lld ms (request_timeout 5 ms)\n",
              static_cast<long long>(ms.front()), static_cast<long long>(ms.back()));
  EXPECT_LE(ms.back(), 5 + 100);
  // The room's own bucket (a burst of 5 at 60 a minute), as alone.
  EXPECT_EQ(admitted, 5);
  EXPECT_EQ(queued, 3);
  const proxy::StatsTotals s = n.shield->server().stats();
  EXPECT_EQ(s.fleet_awaits_timed_out, 8u);
  EXPECT_EQ(s.fleet_await_fail_static, 8u);
}

}  // namespace
}  // namespace gh::test
