// Decisions that wait for Redis (gate::Step::Await), end to end: two Gatehouse nodes in this
// process on one real redis-server. A solved challenge answered on both nodes at the same moment
// (the two requests' bytes written back to back) passes on exactly one, over HTTP/1.1 and over
// HTTP/2; Redis paused (SIGSTOP): the answer comes within cluster.request_timeout and a margin,
// decided locally, and says so in /metrics.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fleet_support.h"
#include "process.h"
#include "redis_server.h"
#include "stages/challenge/pow.h"
#include "support.h"

namespace gh::test {
namespace {

using json = nlohmann::json;

constexpr const char* kAcceptJson = "Accept: application/json\r\n";

struct FleetAwaitTest : ::testing::Test {
  RedisServer redis;
  Origin origin;
  TempDir keys;  // one signing key for the fleet, as operators copy it to every node

  // A node: an HTTP/1.1 listener (port 0) and an HTTP/2 one (port 1); the sign-up route wants a
  // clearance; `cluster_extra` goes into the cluster section ("" with cluster false: alone).
  std::unique_ptr<Shield> node(const std::string& name, const std::string& cluster_extra,
                               bool cluster = true) {
    std::string yaml =
        "server: { workers: 1 }\n"
        "listen:\n  - address: 127.0.0.1:0\n  - address: 127.0.0.1:0\n    http2: true\n"
        "upstreams:\n  app:\n    servers: [127.0.0.1:" +
        std::to_string(origin.port()) +
        "]\n"
        "routes:\n"
        "  - name: signup\n"
        "    match: { path_prefix: /signup }\n"
        "    class: signup\n"
        "    require_clearance: true\n"
        "  - name: app\n"
        "    match: { path_prefix: / }\n"
        "secrets: { key_file: " +
        keys.path() +
        "/fleet.key }\n"
        "challenge: { levels: [{rate: 0, bits: 8}], spent_per_prefix: 10000 }\n";
    if (cluster) {
      yaml += "cluster:\n  seeds: [" + redis.address() + "]\n  node: " + name +
              "\n  command_timeout: 1s\n" + cluster_extra;
    }
    return std::make_unique<Shield>(yaml);
  }
  static bool up(Shield& s) { return s.server().fleet() != nullptr && s.server().fleet()->up(); }

  // A challenge asked of `s` and solved: the urlencoded answer.
  static std::string solved_form(Shield& s) {
    ClientResponse asked = roundtrip(s.port(), request("GET", "/signup", kAcceptJson));
    EXPECT_EQ(asked.status, 403) << asked.body;
    const json j = json::parse(asked.body, nullptr, false);
    if (!j.contains("challenge")) return "";
    const std::string token = j["challenge"]["token"].get<std::string>();
    auto nonce = challenge::pow_solve(token, j["challenge"]["bits"].get<std::uint8_t>(), 1u << 26);
    EXPECT_TRUE(nonce.has_value());
    return "token=" + token + "&nonce=" + nonce.value_or("") + "&return=/signup";
  }
  static std::string answer(const std::string& form) {
    return request("POST", "/.gatehouse/challenge", kAcceptJson, form);
  }
  // Of the answers two nodes gave the same request, the refused one when exactly one passed
  // (200) and the other was refused (403); nullptr otherwise.
  static const ClientResponse* one_passed(const ClientResponse& r1, const ClientResponse& r2) {
    if (r1.status == 200 && r2.status == 403) return &r2;
    if (r1.status == 403 && r2.status == 200) return &r1;
    return nullptr;
  }
  // h2_pair.py: each line of `lines` POSTed to `path` on the two nodes' HTTP/2 listeners at the
  // same moment, round after round; each round must pass on exactly one of them.
  static void expect_one_of_two_per_round(Shield& n1, Shield& n2, const std::string& lines,
                                          const char* path, std::size_t want) {
    TempDir dir;
    Child pair(
        {"/usr/bin/python3", std::string(GATEHOUSE_SOURCE_DIR) + "/tests/integration/h2_pair.py",
         std::to_string(n1.port(1)), std::to_string(n2.port(1)), kBrowserUa,
         dir.file("lines", lines), path},
        dir.path() + "/pair.log");
    ASSERT_EQ(pair.wait(std::chrono::seconds(60)), 0) << pair.log();
    const std::string log = pair.log();
    std::size_t rounds = 0;
    for (std::size_t at = log.find("ROUND "); at != std::string::npos;
         at = log.find("ROUND ", at + 1)) {
      int a = 0, b = 0;
      ASSERT_EQ(std::sscanf(log.c_str() + at, "ROUND %d %d", &a, &b), 2);
      EXPECT_TRUE((a == 200 && b == 403) || (a == 403 && b == 200)) << a << " and " << b;
      ++rounds;
    }
    EXPECT_EQ(rounds, want) << log;
  }
  static std::string both(const ClientResponse& r1, const ClientResponse& r2) {
    return std::to_string(r1.status) + " and " + std::to_string(r2.status) + "\n" + r1.body + "\n" +
           r2.body;
  }
  static std::uint64_t stat(Shield& s, std::uint64_t proxy::StatsTotals::*field) {
    return s.server().stats().*field;
  }
};

TEST_F(FleetAwaitTest, AChallengeAnsweredOnTwoNodesAtOncePassesOnOne) {
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  // A generous timeout: this test is about the claim, not about a loaded machine's timing.
  auto n1 = node("n1", "  request_timeout: 500ms\n");
  auto n2 = node("n2", "  request_timeout: 500ms\n");
  ASSERT_GE(within([&] { return up(*n1) && up(*n2); }), 0);
  constexpr int kRounds = 20;
  int passed_on_1 = 0, passed_on_2 = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string form = solved_form(*n1);
    ASSERT_FALSE(form.empty());
    RawClient c1(n1->port()), c2(n2->port());
    ASSERT_TRUE(c1.connected() && c2.connected());
    const std::string bytes = answer(form);
    ASSERT_TRUE(c1.send(bytes));  // back to back: microseconds apart, far under the news's ms
    ASSERT_TRUE(c2.send(bytes));
    const ClientResponse r1 = c1.read_response(), r2 = c2.read_response();
    const ClientResponse* refused = one_passed(r1, r2);
    ASSERT_NE(refused, nullptr) << "round " << round << ": " << both(r1, r2);
    EXPECT_NE(refused->body.find("already used"), std::string::npos) << refused->body;
    EXPECT_TRUE(set_cookie(*refused, "gh_clearance").empty());
    (r1.status == 200 ? passed_on_1 : passed_on_2)++;
  }
  std::printf("%d rounds: passed on n1 %d times, on n2 %d times\n", kRounds, passed_on_1,
              passed_on_2);
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_awaits_timed_out) +
                stat(*n2, &proxy::StatsTotals::fleet_awaits_timed_out),
            0u);
  // Each round's second answer is refused: by Redis when the two raced, or by the node's own set
  // when the news of the first claim got there first (a worker scheduled late on a busy machine).
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::challenges_failed) +
                stat(*n2, &proxy::StatsTotals::challenges_failed),
            std::uint64_t{kRounds});
  std::printf(
      "%d rounds over HTTP/1.1: %llu refused by Redis, the rest by the news\n", kRounds,
      static_cast<unsigned long long>(stat(*n1, &proxy::StatsTotals::fleet_replays_refused) +
                                      stat(*n2, &proxy::StatsTotals::fleet_replays_refused)));
}

TEST_F(FleetAwaitTest, OverHttp2TooAChallengeAnsweredOnTwoNodesAtOncePassesOnOne) {
  ASSERT_NE(redis.port(), 0);
  auto n1 = node("n1", "  request_timeout: 500ms\n");
  auto n2 = node("n2", "  request_timeout: 500ms\n");
  ASSERT_GE(within([&] { return up(*n1) && up(*n2); }), 0);
  constexpr int kRounds = 20;
  std::string forms;
  for (int round = 0; round < kRounds; ++round) forms += solved_form(*n1) + "\n";
  ASSERT_NO_FATAL_FAILURE(
      expect_one_of_two_per_round(*n1, *n2, forms, "/.gatehouse/challenge", kRounds));
  // Each round's second answer is refused: by Redis (the two raced), or by the node's own set when
  // the news of the first claim got there first (a worker scheduled late on a busy machine).
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::challenges_failed) +
                stat(*n2, &proxy::StatsTotals::challenges_failed),
            std::uint64_t{kRounds});
  std::printf(
      "%d rounds over HTTP/2: %llu refused by Redis, the rest by the news\n", kRounds,
      static_cast<unsigned long long>(stat(*n1, &proxy::StatsTotals::fleet_replays_refused) +
                                      stat(*n2, &proxy::StatsTotals::fleet_replays_refused)));
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_awaits_timed_out) +
                stat(*n2, &proxy::StatsTotals::fleet_awaits_timed_out),
            0u);
  EXPECT_GE(stat(*n1, &proxy::StatsTotals::h2_streams), std::uint64_t{kRounds});
}

TEST_F(FleetAwaitTest, RedisPausedAnswersWithinTheTimeoutLocally) {
  ASSERT_NE(redis.port(), 0);
  auto n1 = node("n1", "  request_timeout: 5ms\n");
  ASSERT_GE(within([&] { return up(*n1); }), 0);
  // Solved while Redis answers; answered while it does not.
  std::vector<std::string> forms;
  for (int i = 0; i < 10; ++i) forms.push_back(solved_form(*n1));
  redis.pause();
  std::vector<std::int64_t> ms;
  for (const std::string& form : forms) {
    RawClient c(n1->port());
    const std::int64_t t0 = core::monotonic_ms();
    ASSERT_TRUE(c.send(answer(form)));
    const ClientResponse r = c.read_response();
    ms.push_back(core::monotonic_ms() - t0);
    EXPECT_EQ(r.status, 200) << "fail-static: the local claim stands\n" << r.body;
    EXPECT_FALSE(set_cookie(r, "gh_clearance").empty());
  }
  redis.resume();
  std::sort(ms.begin(), ms.end());
  std::printf("Redis paused: answers in %lld-%lld ms (request_timeout 5 ms)\n",
              static_cast<long long>(ms.front()), static_cast<long long>(ms.back()));
  // The timeout, plus a margin for a loaded machine; a request that waited for the command to
  // fail would take command_timeout (1 s).
  EXPECT_LE(ms.back(), 5 + 100);
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_await_fail_static), forms.size());
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_awaits_timed_out), forms.size());
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::challenges_solved), forms.size());
}

TEST_F(FleetAwaitTest, AClientGoneWhileWaitingIsNotTouchedByTheLateReply) {
  ASSERT_NE(redis.port(), 0);
  auto n1 = node("n1", "  request_timeout: 300ms\n");
  ASSERT_GE(within([&] { return up(*n1); }), 0);
  std::vector<std::string> forms;
  for (int i = 0; i < 6; ++i) forms.push_back(solved_form(*n1));
  redis.pause();
  for (int i = 0; i < 5; ++i) {
    RawClient c(n1->port());
    ASSERT_TRUE(c.send(answer(forms[i])));
    // Waiting for Redis now; the client goes (its destructor closes the socket).
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  redis.resume();  // the five replies come back for requests that are gone (ASan watches)
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const ClientResponse r = roundtrip(n1->port(), answer(forms[5]));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(set_cookie(r, "gh_clearance").empty());
  EXPECT_GE(stat(*n1, &proxy::StatsTotals::fleet_awaits_answered), 1u);
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_awaits_timed_out), 0u);
}

TEST_F(FleetAwaitTest, AnExactLimitHammeredOnTwoNodesAtOnceAdmitsExactlyItsBurst) {
  ASSERT_NE(redis.port(), 0);
  const std::string limited =
      "  - name: join\n"
      "    match: { path_prefix: /join }\n"
      "    limits:\n"
      "      - { name: joins, key: [client.ip], rate: 5/h, exact: true }\n";
  auto with_join = [&](const std::string& name) {
    std::string yaml =
        "server: { workers: 2 }\n"
        "listen:\n  - address: 127.0.0.1:0\n"
        "upstreams:\n  app:\n    servers: [127.0.0.1:" +
        std::to_string(origin.port()) + "]\nroutes:\n" + limited +
        "  - name: app\n    match: { path_prefix: / }\n"
        "cluster:\n  seeds: [" +
        redis.address() + "]\n  node: " + name +
        "\n  command_timeout: 1s\n  request_timeout: 500ms\n";
    return std::make_unique<Shield>(yaml);
  };
  auto n1 = with_join("n1");
  auto n2 = with_join("n2");
  ASSERT_GE(within([&] { return up(*n1) && up(*n2); }), 0);
  // 4 connections a node, each sending its requests back to back with the others: 40 requests
  // of one address within a few milliseconds, against 5 an hour.
  constexpr int kConnections = 4, kEach = 5;
  std::atomic<int> admitted{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kConnections; ++t) {
    threads.emplace_back([&, t] {
      RawClient c((t % 2 == 0 ? *n1 : *n2).port(), "127.0.0.40");
      for (int i = 0; i < kEach; ++i) {
        if (!c.send(request("GET", "/join", ""))) break;
        const int status = c.read_response().status;
        (status == 200 ? admitted : status == 429 ? refused : other)++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::printf("exact limit of 5: %d admitted, %d refused across 2 nodes\n", admitted.load(),
              refused.load());
  EXPECT_EQ(admitted.load(), 5);
  EXPECT_EQ(refused.load(), 2 * kConnections * kEach - 5);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_awaits_timed_out) +
                stat(*n2, &proxy::StatsTotals::fleet_awaits_timed_out),
            0u);
}

// A challenge solved on `s`: the clearance, as the Cookie field a browser sends back.
std::string clearance_cookie(Shield& s) {
  const std::string form = FleetAwaitTest::solved_form(s);
  const ClientResponse r = roundtrip(s.port(), FleetAwaitTest::answer(form));
  EXPECT_EQ(r.status, 200) << r.body;
  return cookie_header(set_cookie(r, "gh_clearance"));
}

// One sign-up a clearance: the same clearance posted with a sign-up to two nodes at the same
// moment (faster than the news of either's claim) is forwarded once, with its body whole, and
// challenged again on the other node. Odd rounds send the head first and the body after it, so the
// body comes while (or after) the request waits for Redis.
TEST_F(FleetAwaitTest, ASignupClearancePostedToTwoNodesAtOnceOpensOneSignup) {
  ASSERT_NE(redis.port(), 0);
  auto n1 = node("n1", "  request_timeout: 500ms\n");
  auto n2 = node("n2", "  request_timeout: 500ms\n");
  ASSERT_GE(within([&] { return up(*n1) && up(*n2); }), 0);
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const std::string with = clearance_cookie(*n1);
    ASSERT_FALSE(with.empty());
    const std::string body = "email=user" + std::to_string(round) + "%40example.org&plan=free";
    const std::string bytes = request("POST", "/signup", with + kAcceptJson, body);
    const std::string head = bytes.substr(0, bytes.size() - body.size());
    RawClient c1(n1->port()), c2(n2->port());
    ASSERT_TRUE(c1.connected() && c2.connected());
    if (round % 2 == 0) {
      ASSERT_TRUE(c1.send(bytes));  // back to back: microseconds apart, far under the news's ms
      ASSERT_TRUE(c2.send(bytes));
    } else {
      ASSERT_TRUE(c1.send(head));
      ASSERT_TRUE(c2.send(head));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ASSERT_TRUE(c1.send(body));
      ASSERT_TRUE(c2.send(body));
    }
    const ClientResponse r1 = c1.read_response(), r2 = c2.read_response();
    const ClientResponse* refused = one_passed(r1, r2);
    ASSERT_NE(refused, nullptr) << "round " << round << ": " << both(r1, r2);
    EXPECT_NE(refused->body.find("challenge"), std::string::npos) << refused->body;
    // The one forwarded came with its body whole.
    std::size_t forwarded = 0;
    for (const OriginRequest& o : origin.requests()) {
      if (o.target == "/signup" && o.method == "POST" &&
          o.body.find("user" + std::to_string(round) + "%40") != std::string::npos) {
        ++forwarded;
        EXPECT_EQ(o.body, body);
      }
    }
    EXPECT_EQ(forwarded, 1u) << "round " << round;
  }
  const auto sum = [&](std::uint64_t proxy::StatsTotals::*field) {
    return stat(*n1, field) + stat(*n2, field);
  };
  // Each round's second sign-up is a reuse: caught by Redis when the two raced, or by the node's
  // own set when the news of the first claim got there first (a worker scheduled late).
  EXPECT_EQ(sum(&proxy::StatsTotals::signup_clearances_reused), std::uint64_t{kRounds});
  EXPECT_EQ(sum(&proxy::StatsTotals::fleet_awaits_timed_out), 0u);
  EXPECT_EQ(sum(&proxy::StatsTotals::fleet_await_fail_static), 0u);
  std::printf("%d rounds: %llu sign-up reuses refused by Redis, the rest by the news\n", kRounds,
              static_cast<unsigned long long>(sum(&proxy::StatsTotals::fleet_signups_refused)));
}

// The same over HTTP/2: a stream waits for the clearance's claim in Redis with its body held, and
// one of the two streams is forwarded, its body whole.
TEST_F(FleetAwaitTest, OverHttp2TooASignupClearancePostedToTwoNodesAtOnceOpensOneSignup) {
  ASSERT_NE(redis.port(), 0);
  auto n1 = node("n1", "  request_timeout: 500ms\n");
  auto n2 = node("n2", "  request_timeout: 500ms\n");
  ASSERT_GE(within([&] { return up(*n1) && up(*n2); }), 0);
  constexpr int kRounds = 10;
  std::string lines;
  for (int round = 0; round < kRounds; ++round) {
    const std::string form = solved_form(*n1);
    const ClientResponse solved = roundtrip(n1->port(), answer(form));
    ASSERT_EQ(solved.status, 200) << solved.body;
    const std::string clearance = set_cookie(solved, "gh_clearance");
    ASSERT_FALSE(clearance.empty());
    lines += clearance + "\temail=h2user" + std::to_string(round) + "%40example.org&plan=free\n";
  }
  const auto answered = [&] {
    return stat(*n1, &proxy::StatsTotals::fleet_awaits_answered) +
           stat(*n2, &proxy::StatsTotals::fleet_awaits_answered);
  };
  const std::uint64_t answered_before = answered();  // the challenges' claims above
  ASSERT_NO_FATAL_FAILURE(expect_one_of_two_per_round(*n1, *n2, lines, "/signup", kRounds));
  for (int round = 0; round < kRounds; ++round) {
    const std::string body = "email=h2user" + std::to_string(round) + "%40example.org&plan=free";
    std::size_t forwarded = 0;
    for (const OriginRequest& o : origin.requests()) {
      if (o.target == "/signup" && o.method == "POST" && o.body == body) ++forwarded;
    }
    EXPECT_EQ(forwarded, 1u) << "round " << round;
  }
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::signup_clearances_reused) +
                stat(*n2, &proxy::StatsTotals::signup_clearances_reused),
            std::uint64_t{kRounds});
  // Each round's forwarded sign-up waited for Redis's word on its clearance (a stream parked with
  // its body, then resumed); the other was refused by Redis or by the news, whichever came first.
  EXPECT_GE(answered() - answered_before, std::uint64_t{kRounds});
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_awaits_timed_out) +
                stat(*n2, &proxy::StatsTotals::fleet_awaits_timed_out),
            0u);
}

// Redis not answering: the node's own claim decides the sign-up within the timeout, and still
// refuses the clearance's second sign-up on this node.
TEST_F(FleetAwaitTest, RedisPausedTheLocalSignupClaimDecides) {
  ASSERT_NE(redis.port(), 0);
  auto n1 = node("n1", "  request_timeout: 5ms\n");
  ASSERT_GE(within([&] { return up(*n1); }), 0);
  const std::string with = clearance_cookie(*n1);
  ASSERT_FALSE(with.empty());
  redis.pause();
  const std::int64_t t0 = core::monotonic_ms();
  const ClientResponse first =
      roundtrip(n1->port(), request("POST", "/signup", with + kAcceptJson, "email=a%40b.org"));
  const std::int64_t ms = core::monotonic_ms() - t0;
  const ClientResponse second =
      roundtrip(n1->port(), request("POST", "/signup", with + kAcceptJson, "email=c%40d.org"));
  redis.resume();
  EXPECT_EQ(first.status, 200) << "fail-static: the local claim stands\n" << first.body;
  EXPECT_LE(ms, 5 + 100) << "the timeout and a margin, not command_timeout (1 s)";
  EXPECT_EQ(second.status, 403) << second.body;
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_awaits_timed_out), 1u);
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_await_fail_static), 1u);
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::signup_clearances_reused), 1u);
  EXPECT_EQ(stat(*n1, &proxy::StatsTotals::fleet_signups_refused), 0u);
}

// The cost of waiting: the answer's round trip with and without the claim in Redis, on open
// connections. GATEHOUSE_AWAIT_ROUNDS sets how many (a few thousand for figures worth reading).
TEST_F(FleetAwaitTest, AddedLatencyOfAnAwaitedAnswer) {
  ASSERT_NE(redis.port(), 0);
  auto awaited = node("n1", "");                   // request_timeout: the default 5 ms
  auto local = node("n2", "", /*cluster=*/false);  // alone: no wait
  ASSERT_GE(within([&] { return up(*awaited); }), 0);
  int rounds = 200;
  if (const char* env = std::getenv("GATEHOUSE_AWAIT_ROUNDS")) rounds = std::atoi(env);
  rounds = std::clamp(rounds, 10, 20'000);
  auto measure = [&](Shield& s, std::vector<std::int64_t>& us) {
    std::vector<std::string> forms;
    for (int i = 0; i < rounds; ++i) forms.push_back(solved_form(s));
    for (const std::string& form : forms) {
      RawClient c(s.port());  // connected before the clock starts (an answer closes it)
      ASSERT_TRUE(c.connected());
      const auto t0 = std::chrono::steady_clock::now();
      ASSERT_TRUE(c.send(answer(form)));
      ASSERT_EQ(c.read_response().status, 200);
      us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count());
    }
    std::sort(us.begin(), us.end());
  };
  std::vector<std::int64_t> with, without;
  measure(*awaited, with);
  measure(*local, without);
  ASSERT_EQ(with.size(), static_cast<std::size_t>(rounds));
  auto pct = [](const std::vector<std::int64_t>& v, double p) {
    return static_cast<long long>(v[static_cast<std::size_t>(p * (v.size() - 1))]);
  };
  std::printf(
      "challenge answer over %d rounds: awaited p50 %lld us p99 %lld us; alone p50 %lld us "
      "p99 %lld us\n",
      rounds, pct(with, 0.5), pct(with, 0.99), pct(without, 0.5), pct(without, 0.99));
  const std::uint64_t answered = stat(*awaited, &proxy::StatsTotals::fleet_awaits_answered);
  std::printf("waited for Redis (the node's own count): mean %llu us over %llu answered\n",
              static_cast<unsigned long long>(stat(*awaited, &proxy::StatsTotals::fleet_await_us) /
                                              std::max<std::uint64_t>(1, answered)),
              static_cast<unsigned long long>(answered));
  EXPECT_EQ(stat(*awaited, &proxy::StatsTotals::fleet_awaits_answered) +
                stat(*awaited, &proxy::StatsTotals::fleet_awaits_timed_out),
            static_cast<std::uint64_t>(rounds));
  EXPECT_EQ(stat(*local, &proxy::StatsTotals::fleet_awaits_answered), 0u);
}

}  // namespace
}  // namespace gh::test
