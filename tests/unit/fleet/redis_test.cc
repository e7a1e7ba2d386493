// The connection on our event loop against a real redis-server: commands pipelined and answered
// in order, a subscription, a command past its timeout dropping the connection, a refused
// connect, and no loop left waiting.
#include "fleet/redis.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "net/event_loop.h"
#include "redis_server.h"
#include "run_loop.h"

namespace gh::fleet {
namespace {

// Turns the loop until `done` or `ms` pass; false on time out.
bool run_until(net::EventLoop& loop, const std::function<bool()>& done, std::int64_t ms = 3000) {
  return test::run_until(loop, done, ms);
}

RedisConnection::Options options(std::uint16_t port, std::int64_t command_timeout_ms = 500) {
  RedisConnection::Options o;
  o.host = "127.0.0.1";
  o.port = port;
  o.connect_timeout_ms = 500;
  o.command_timeout_ms = command_timeout_ms;
  return o;
}

TEST(Redis, PipelinedCommandsAnswerInOrder) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0) << "redis-server did not start";
  net::EventLoop loop;
  std::vector<std::string> downs;
  RedisConnection c(loop, options(redis.port()), [&](const std::string& w) { downs.push_back(w); });
  std::string error;
  ASSERT_TRUE(c.connect(&error)) << error;
  std::vector<long long> got;
  constexpr int kN = 200;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(c.command({"INCR", "counter"}, [&](const Reply* r) {
      ASSERT_NE(r, nullptr);
      got.push_back(r->integer);
    }));
  }
  EXPECT_EQ(c.pending(), static_cast<std::size_t>(kN));
  ASSERT_TRUE(run_until(loop, [&] { return got.size() == kN; }));
  for (int i = 0; i < kN; ++i) EXPECT_EQ(got[i], i + 1);
  EXPECT_TRUE(c.established());
  EXPECT_EQ(c.pending(), 0u);
  bool answered = false;
  c.command({"GET", "missing"}, [&](const Reply* r) {
    answered = true;
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->type, Reply::Type::Nil);
  });
  ASSERT_TRUE(run_until(loop, [&] { return answered; }));
  EXPECT_TRUE(downs.empty());
}

TEST(Redis, SubscriptionReceivesMessages) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0);
  net::EventLoop loop;
  RedisConnection sub(loop, options(redis.port()), nullptr);
  RedisConnection pub(loop, options(redis.port()), nullptr);
  ASSERT_TRUE(sub.connect(nullptr));
  ASSERT_TRUE(pub.connect(nullptr));
  std::vector<std::string> messages;
  bool subscribed = false;
  sub.subscribe(
      "ch",
      [&](std::string_view ch, std::string_view m) {
        EXPECT_EQ(ch, "ch");
        messages.emplace_back(m);
      },
      [&](const Reply* r) { subscribed = r != nullptr; });
  ASSERT_TRUE(run_until(loop, [&] { return subscribed; }));
  for (const char* m : {"one", "two", "three"}) pub.command({"PUBLISH", "ch", m}, nullptr);
  ASSERT_TRUE(run_until(loop, [&] { return messages.size() == 3; }));
  EXPECT_EQ(messages, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(Redis, SlowRedisTimesOutAndEveryCommandFails) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0);
  net::EventLoop loop;
  std::vector<std::string> downs;
  RedisConnection c(loop, options(redis.port(), 30),
                    [&](const std::string& w) { downs.push_back(w); });
  ASSERT_TRUE(c.connect(nullptr));
  bool ponged = false;
  c.command({"PING"}, [&](const Reply* r) { ponged = r != nullptr; });
  ASSERT_TRUE(run_until(loop, [&] { return ponged; }));
  redis.pause();
  int failed = 0;
  for (int i = 0; i < 3; ++i) {
    c.command({"PING"}, [&](const Reply* r) { failed += r == nullptr ? 1 : 0; });
  }
  const std::int64_t start = core::monotonic_ms();
  ASSERT_TRUE(run_until(loop, [&] {
    c.check(loop.now_ms());
    return !downs.empty();
  }));
  const std::int64_t took = core::monotonic_ms() - start;
  redis.resume();
  EXPECT_EQ(failed, 3);
  EXPECT_FALSE(c.open());
  EXPECT_EQ(downs.size(), 1u);
  EXPECT_NE(downs[0].find("no reply within 30 ms"), std::string::npos) << downs[0];
  // The 30 ms timeout, seen on the loop's 16 ms ticks.
  EXPECT_LT(took, 30 + 3 * net::TimerWheel::kTickMs + 20);
  // And it connects again.
  ASSERT_TRUE(c.connect(nullptr));
  ponged = false;
  c.command({"PING"}, [&](const Reply* r) { ponged = r != nullptr; });
  ASSERT_TRUE(run_until(loop, [&] { return ponged; }));
}

TEST(Redis, RefusedConnectReportsDown) {
  std::uint16_t port;
  {
    test::RedisServer redis;
    ASSERT_NE(redis.port(), 0);
    port = redis.port();
  }  // gone: nothing listens there now
  net::EventLoop loop;
  std::vector<std::string> downs;
  RedisConnection c(loop, options(port), [&](const std::string& w) { downs.push_back(w); });
  bool failed = false;
  if (c.connect(nullptr)) {
    c.command({"PING"}, [&](const Reply* r) { failed = r == nullptr; });
    ASSERT_TRUE(run_until(loop, [&] { return !downs.empty(); }));
    EXPECT_TRUE(failed);
    EXPECT_NE(downs[0].find("connect"), std::string::npos) << downs[0];
  }
  EXPECT_FALSE(c.open());
}

TEST(Redis, ServerGoneMidwayReportsDown) {
  test::RedisServer redis;
  ASSERT_NE(redis.port(), 0);
  net::EventLoop loop;
  std::vector<std::string> downs;
  RedisConnection c(loop, options(redis.port()), [&](const std::string& w) { downs.push_back(w); });
  ASSERT_TRUE(c.connect(nullptr));
  bool ponged = false;
  c.command({"PING"}, [&](const Reply* r) { ponged = r != nullptr; });
  ASSERT_TRUE(run_until(loop, [&] { return ponged; }));
  redis.kill();
  ASSERT_TRUE(run_until(loop, [&] { return !downs.empty(); }));
  EXPECT_FALSE(c.open());
}

}  // namespace
}  // namespace gh::fleet
