#include "net/upstream_group.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "client/address.h"
#include "net/event_loop.h"
#include "net/resolve.h"
#include "net/upstream_pool.h"

namespace gh::net {
namespace {

client::SocketAddress addr(std::uint8_t last, std::uint16_t port) {
  return {client::make_ipv4(10, 0, 0, last), port};
}

UpstreamServer literal(std::uint8_t last, std::uint16_t port, std::uint32_t weight = 1) {
  UpstreamServer s;
  s.host = "10.0.0." + std::to_string(last);
  s.port = port;
  s.weight = weight;
  s.literal = true;
  s.addresses = {addr(last, port)};
  return s;
}

UpstreamServer named(const std::string& host, std::uint16_t port,
                     std::vector<client::SocketAddress> addresses) {
  UpstreamServer s;
  s.host = host;
  s.port = port;
  s.addresses = std::move(addresses);
  return s;
}

GroupConfig group(std::vector<UpstreamServer> servers) {
  GroupConfig c;
  c.name = "app";
  c.servers = std::move(servers);
  c.ejection.consecutive_failures = 2;
  c.ejection.window_ms = 10'000;
  c.ejection.duration_ms = 1'000;
  c.ejection.max_duration_ms = 8'000;
  return c;
}

std::string host_of(const Balancer::Peer* p) {
  return p == nullptr ? "-" : std::to_string(p->endpoint->address.ip.bytes[15]);
}

class GroupTest : public ::testing::Test {
 protected:
  EventLoop loop;
  UpstreamPool pool{loop};
};

TEST_F(GroupTest, EveryAddressOfEveryServerIsAnEndpoint) {
  UpstreamGroup g(
      group({literal(1, 80), named("app.internal", 3000, {addr(2, 3000), addr(3, 3000)})}));
  auto set = g.endpoints();
  ASSERT_EQ(set->entries.size(), 3u);
  EXPECT_EQ(set->entries[0].server, "10.0.0.1:80");
  EXPECT_EQ(set->entries[1].server, "app.internal:3000");
  EXPECT_EQ(set->entries[2].server, "app.internal:3000");
  EXPECT_EQ(set->entries[2].endpoint->address, addr(3, 3000));
}

TEST_F(GroupTest, WeightsAreHonouredPerWorker) {
  auto g = std::make_shared<UpstreamGroup>(group({literal(1, 80, 3), literal(2, 80, 1)}));
  Balancer b(g, pool);
  std::map<std::string, int> n;
  for (int i = 0; i < 400; ++i) ++n[host_of(b.pick(0))];
  EXPECT_EQ(n["1"], 300);
  EXPECT_EQ(n["2"], 100);
}

TEST_F(GroupTest, AnEjectedServerGetsNothingUntilItsTimeIsOver) {
  auto g = std::make_shared<UpstreamGroup>(group({literal(1, 80), literal(2, 80)}));
  Balancer b(g, pool);
  Balancer::Peer* one = nullptr;
  for (int i = 0; i < 2 && one == nullptr; ++i) {
    Balancer::Peer* p = b.pick(0);
    if (host_of(p) == "1") one = p;
  }
  ASSERT_NE(one, nullptr);
  EXPECT_FALSE(g->failed(*one->endpoint, 100, "connect: Connection refused"));
  EXPECT_TRUE(g->failed(*one->endpoint, 200, "connect: Connection refused"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(host_of(b.pick(500)), "2");
  EXPECT_EQ(g->admitted(500), 1u);
  // Back after 1 s, on probation: it has its turns again.
  std::map<std::string, int> n;
  for (int i = 0; i < 10; ++i) ++n[host_of(b.pick(1300))];
  EXPECT_EQ(n["1"], 5);
  // The exclusion of a retry: never the server that just failed.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(host_of(b.pick(1300, one)), "2");
}

TEST_F(GroupTest, NothingAdmittedPicksNothingAndSaysWhenToRetry) {
  auto g = std::make_shared<UpstreamGroup>(group({literal(1, 80), literal(2, 80)}));
  Balancer b(g, pool);
  auto set = g->endpoints();
  for (const auto& e : set->entries) {
    g->failed(*e.endpoint, 0, "refused");
    g->failed(*e.endpoint, 1, "refused");
  }
  EXPECT_EQ(b.pick(10), nullptr);
  EXPECT_EQ(g->admitted(10), 0u);
  EXPECT_EQ(b.retry_after_s(10), 1u);  // 991 ms left, rounded up
  set->entries[0].endpoint->down.store(true);
  EXPECT_EQ(b.retry_after_s(10), 1u);  // the other is back first
  set->entries[1].endpoint->down.store(true);
  EXPECT_EQ(b.retry_after_s(10), 10u);  // a round of health checks: 5 s x 2 passes
}

TEST_F(GroupTest, ASuccessAfterFailuresIsReportedAndBreaksTheStreak) {
  auto g = std::make_shared<UpstreamGroup>(group({literal(1, 80)}));
  Endpoint& e = *g->endpoints()->entries[0].endpoint;
  EXPECT_FALSE(e.watch.load());
  g->failed(e, 0, "timed out");
  EXPECT_TRUE(e.watch.load());
  g->succeeded(e, 1);
  EXPECT_FALSE(e.watch.load());
  EXPECT_FALSE(g->failed(e, 2, "timed out"));  // the streak started over
  EXPECT_EQ(e.failures.load(), 2u);
}

TEST_F(GroupTest, NewAddressesAreAddedAndGoneOnesDrainedWithTheirStateKept) {
  auto g = std::make_shared<UpstreamGroup>(
      group({named("app.internal", 3000, {addr(1, 3000), addr(2, 3000)})}));
  Balancer b(g, pool);
  Balancer::Peer* held = b.pick(0);  // a request in flight on 10.0.0.1
  ASSERT_EQ(host_of(held), "1");
  b.use(held);
  std::shared_ptr<Endpoint> two = g->endpoints()->entries[1].endpoint;
  g->failed(*two, 0, "refused");

  const auto names = g->names();
  ASSERT_EQ(names.size(), 1u);
  UpstreamEvent ev;
  EXPECT_TRUE(g->resolved(names[0], true, {addr(2, 3000), addr(3, 3000)}, "", false, 1, &ev));
  EXPECT_EQ(ev.kind, "upstream_addresses");
  EXPECT_EQ(ev.added, std::vector<std::string>{"10.0.0.3:3000"});
  EXPECT_EQ(ev.removed, std::vector<std::string>{"10.0.0.1:3000"});
  auto set = g->endpoints();
  ASSERT_EQ(set->entries.size(), 2u);
  EXPECT_EQ(set->entries[0].endpoint, two);  // the same object: its failure streak kept
  EXPECT_EQ(two->ejection.streak(), 1u);

  std::map<std::string, int> n;
  for (int i = 0; i < 10; ++i) ++n[host_of(b.pick(5))];
  EXPECT_EQ(n["2"], 5);
  EXPECT_EQ(n["3"], 5);
  EXPECT_EQ(n["1"], 0);
  EXPECT_TRUE(held->retired);  // still usable by its request ...
  EXPECT_TRUE(b.in_use());
  b.release(held);  // ... and freed after it
  EXPECT_FALSE(b.in_use());

  // The same answer again: nothing to say.
  EXPECT_FALSE(g->resolved(g->names()[0], true, {addr(3, 3000), addr(2, 3000)}, "", false, 2, &ev));
}

TEST_F(GroupTest, AResolutionFailureKeepsTheAddressesAndIsAnnouncedOnce) {
  auto g = std::make_shared<UpstreamGroup>(group({named("app.internal", 3000, {addr(1, 3000)})}));
  UpstreamEvent ev;
  EXPECT_TRUE(g->resolved(g->names()[0], false, {}, "Name or service not known", false, 1, &ev));
  EXPECT_EQ(ev.kind, "upstream_resolve_failed");
  EXPECT_NE(ev.message.find("keeping its last known addresses (10.0.0.1:3000)"), std::string::npos);
  UpstreamEvent again;
  EXPECT_FALSE(
      g->resolved(g->names()[0], false, {}, "Name or service not known", false, 2, &again));
  EXPECT_EQ(g->endpoints()->entries.size(), 1u);
  UpstreamEvent back;
  EXPECT_TRUE(g->resolved(g->names()[0], true, {addr(1, 3000)}, "", false, 3, &back));
  EXPECT_EQ(back.kind, "upstream_resolved");
}

TEST_F(GroupTest, AResolutionForAnOlderConfigIsIgnored) {
  auto g = std::make_shared<UpstreamGroup>(group({named("app.internal", 3000, {addr(1, 3000)})}));
  const auto name = g->names()[0];
  g->configure(group({named("app.internal", 3000, {addr(1, 3000)}), literal(9, 80)}));
  UpstreamEvent ev;
  EXPECT_FALSE(g->resolved(name, true, {addr(5, 3000)}, "", false, 1, &ev));
  EXPECT_EQ(g->endpoints()->entries.size(), 2u);
}

TEST_F(GroupTest, AReloadKeepsTheStateOfServersThatStay) {
  auto g = std::make_shared<UpstreamGroup>(group({literal(1, 80), literal(2, 80)}));
  std::shared_ptr<Endpoint> one = g->endpoints()->entries[0].endpoint;
  g->failed(*one, 0, "refused");
  g->failed(*one, 1, "refused");
  ASSERT_GT(one->ejected_until.load(), 0);
  g->configure(group({literal(1, 80, 5), literal(3, 80)}));
  auto set = g->endpoints();
  ASSERT_EQ(set->entries.size(), 2u);
  EXPECT_EQ(set->entries[0].endpoint, one);
  EXPECT_EQ(set->entries[0].weight, 5u);
  EXPECT_EQ(g->admitted(10), 1u);  // still ejected
}

TEST_F(GroupTest, HealthChecksTakeAServerDownAndBringItBackEndingItsEjection) {
  GroupConfig c = group({literal(1, 80), literal(2, 80)});
  c.health.enabled = true;
  c.health.unhealthy_threshold = 2;
  c.health.healthy_threshold = 1;
  auto g = std::make_shared<UpstreamGroup>(c);
  Endpoint& e = *g->endpoints()->entries[0].endpoint;
  UpstreamEvent ev;
  EXPECT_EQ(g->checked(e, false, 0, "connect: Connection refused", 0, 0, &ev),
            HealthStreak::Change::None);
  EXPECT_EQ(g->checked(e, false, 0, "connect: Connection refused", 0, 0, &ev),
            HealthStreak::Change::Down);
  EXPECT_EQ(ev.kind, "upstream_down");
  EXPECT_EQ(ev.message,
            "upstream app: server 10.0.0.1:80 down: 2 health checks failed in a row (connect: "
            "Connection refused)");
  EXPECT_FALSE(e.admitted(0));
  g->failed(e, 10, "refused");
  g->failed(e, 11, "refused");
  ASSERT_TRUE(e.ejection.ejected(20));
  EXPECT_EQ(g->checked(e, true, 200, "", 20, 0, &ev), HealthStreak::Change::Up);
  EXPECT_EQ(ev.kind, "upstream_up");
  EXPECT_TRUE(e.admitted(20));  // the ejection ended with it
}

TEST_F(GroupTest, TransitionsAreAnnouncedOnce) {
  auto g = std::make_shared<UpstreamGroup>(group({literal(1, 80)}));
  Endpoint& e = *g->endpoints()->entries[0].endpoint;
  std::vector<UpstreamEvent> out;
  g->transitions(0, out);
  EXPECT_TRUE(out.empty());
  g->failed(e, 0, "connect: Connection refused");
  g->failed(e, 1, "connect: Connection refused");
  g->transitions(2, out);
  g->transitions(3, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, "upstream_ejected");
  EXPECT_EQ(out[0].message,
            "upstream app: server 10.0.0.1:80 ejected for 1 s after failures in a row (last: "
            "connect: Connection refused; ejection 1)");
  g->transitions(1001, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].kind, "upstream_readmitted");
}

TEST_F(GroupTest, ThePoolForgetsAnAddressNoPeerNames) {
  auto g = std::make_shared<UpstreamGroup>(
      group({named("app.internal", 3000, {addr(1, 3000), addr(2, 3000)})}));
  {
    Balancer b(g, pool);
    b.pick(0);
    EXPECT_EQ(pool.server_count(), 2u);
    UpstreamEvent ev;
    g->resolved(g->names()[0], true, {addr(2, 3000)}, "", false, 1, &ev);
    b.pick(0);
    EXPECT_EQ(pool.server_count(), 1u);
  }
  EXPECT_EQ(pool.server_count(), 0u);
}

TEST(HostPort, NamesAndAddresses) {
  std::string why;
  auto a = parse_host_port("app.internal:3000", &why);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "app.internal");
  EXPECT_EQ(a->port, 3000);
  EXPECT_FALSE(a->literal);
  auto b = parse_host_port("[::1]:8080", &why);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->literal);
  EXPECT_EQ(client::format_socket_address(b->address), "[::1]:8080");
  auto c = parse_host_port("10.0.0.1:80", &why);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->literal);
  auto d = parse_host_port("localhost:80", &why);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->literal);  // a name like any other: resolved

  EXPECT_FALSE(parse_host_port("app.internal", &why));
  EXPECT_EQ(why, "expected host:port, got 'app.internal'");
  EXPECT_FALSE(parse_host_port("app:0", &why));
  EXPECT_EQ(why, "port 0 is not allowed here");
  EXPECT_FALSE(parse_host_port("app:99999", &why));
  EXPECT_EQ(why, "expected a port 1-65535 after the colon, got 'app:99999'");
  EXPECT_FALSE(parse_host_port("::1:80", &why));
  EXPECT_EQ(why, "an IPv6 address needs brackets, as in [::1]:8080: '::1:80'");
  EXPECT_FALSE(parse_host_port("a b:80", &why));
  EXPECT_FALSE(parse_host_port("a..b:80", &why));
  EXPECT_FALSE(parse_host_port(".a:80", &why));
  EXPECT_FALSE(parse_host_port("[10.0.0.1]:80", &why));
  EXPECT_FALSE(parse_host_port("[::1]80", &why));
}

TEST(Resolve, LocalhostComesFromTheHostsFile) {
  std::vector<client::SocketAddress> out;
  std::string error;
  ASSERT_TRUE(resolve("localhost", 8080, out, &error)) << error;
  EXPECT_NE(std::find(out.begin(), out.end(),
                      client::SocketAddress{client::make_ipv4(127, 0, 0, 1), 8080}),
            out.end());
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end(), address_less));
}

}  // namespace
}  // namespace gh::net
