// RouteLimits::prefetch: the pipeline calls it as soon as the route is matched, for every request
// of every client, so it must be invisible to the limits: no key tracked, nothing charged, the
// same decisions afterwards as without it.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/address.h"
#include "http/parser.h"
#include "policy/config-t.h"
#include "stages/ratelimit/stage.h"

namespace gh::ratelimit {
namespace {

constexpr Nanos kSec = 1'000'000'000;
constexpr Nanos kT0 = 1000 * kSec;

struct Request {
  std::string raw = "GET /login HTTP/1.1\r\nHost: example.com\r\nX-Api-Key: k1\r\n\r\n";
  http::RequestHead head;
  KeyInputs in;
  explicit Request(std::uint8_t ip_low) {
    EXPECT_EQ(http::parse_request(raw, {}, head).status, http::ParseStatus::Complete);
    in.client = client::make_ipv4(192, 0, 2, ip_low);
    in.client_prefix = client::prefix_of(in.client, 24, 64);
    in.head = &head;
    in.route_name = "login";
  }
};

policy::LimitConfig limit(std::string name, std::vector<policy::KeyPart> key) {
  policy::LimitConfig l;
  l.name = std::move(name);
  l.key = std::move(key);
  l.rate = 3;
  l.period = 60'000;
  l.classes = 0x0f;
  return l;
}

// Early keys (address, prefix, route, method) and one read from a header, which prefetch skips.
std::vector<policy::LimitConfig> limits() {
  return {limit("per-ip", {{policy::KeyPartKind::ClientIp, ""}}),
          limit("per-prefix-route",
                {{policy::KeyPartKind::ClientPrefix, ""}, {policy::KeyPartKind::Route, ""}}),
          limit("per-method", {{policy::KeyPartKind::Method, ""}}),
          limit("per-api-key", {{policy::KeyPartKind::Header, "x-api-key"}})};
}

struct Route {
  Route() {
    cfg.name = "login";
    cfg.limits = limits();
    rl = std::make_unique<RouteLimits>(cfg, registry);
  }
  std::uint64_t occupied() const {
    std::uint64_t n = 0;
    for (const auto& t : rl->tables()) n += t->count_occupied();
    return n;
  }
  policy::RouteConfig cfg;
  Registry registry;
  std::unique_ptr<RouteLimits> rl;
};

TEST(Prefetch, TracksAndChargesNothing) {
  Route route;
  ASSERT_EQ(route.rl->tables().size(), 4u);
  for (std::uint8_t ip = 1; ip <= 50; ++ip) {
    const Request r(ip);
    EarlyTickets early;
    for (int i = 0; i < 10; ++i) route.rl->prefetch(r.in, early);
    EXPECT_EQ(early.size, 3u);  // the three early limits, not the header one
  }
  EXPECT_EQ(route.occupied(), 0u);
}

TEST(Prefetch, DecisionsAreTheSameWithAndWithoutIt) {
  Route with, without;
  const Request a(7), b(8);
  for (int i = 0; i < 6; ++i) {
    for (const Request* r : {&a, &b}) {
      EarlyTickets early;
      with.rl->prefetch(r->in, early);
      with.rl->prefetch(r->in, early);
      PendingCounts pw{}, po{};
      const stages::Verdict vw = with.rl->check(r->in, kT0 + i, pw, &early);
      const stages::Verdict vo = without.rl->check(r->in, kT0 + i, po);
      EXPECT_EQ(vw.action, vo.action) << "request " << i;
      EXPECT_EQ(vw.outcome, vo.outcome) << "request " << i;
      EXPECT_EQ(vw.rule, vo.rule) << "request " << i;
      EXPECT_EQ(vw.ratelimit.remaining, vo.ratelimit.remaining) << "request " << i;
    }
  }
  // The limits did bite (per-method is shared by both clients: 3 per minute), so the comparison
  // above covered refusals too.
  PendingCounts p{};
  EXPECT_EQ(with.rl->check(a.in, kT0 + 10, p).action, stages::Action::Reject);
  EXPECT_EQ(with.occupied(), without.occupied());
}

// Tickets are only good for the RouteLimits that made them: another route's (or a reloaded
// config's) check builds its own keys and charges its own tables.
TEST(Prefetch, TicketsOfAnotherRouteAreIgnored) {
  Route a, b;
  const Request r(9);
  EarlyTickets early;
  a.rl->prefetch(r.in, early);
  PendingCounts p{};
  const stages::Verdict v = b.rl->check(r.in, kT0, p, &early);
  EXPECT_EQ(v.action, stages::Action::Continue);
  EXPECT_EQ(a.occupied(), 0u);  // a's tables untouched
  EXPECT_EQ(b.occupied(), 4u);  // b charged its own four limits
}

}  // namespace
}  // namespace gh::ratelimit
