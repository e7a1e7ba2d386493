// count_when limits through RouteLimits::check and settle: charged on arrival so that requests
// sent together cannot all pass before the first response, refunded when the status does not
// count, and counted on a matching status for the classes the limit does not check.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/address.h"
#include "http/parser.h"
#include "policy/config-t.h"
#include "stages/ratelimit/keyhash.h"
#include "stages/ratelimit/stage.h"

namespace gh::ratelimit {
namespace {

using policy::ClientClass;
using stages::Action;
using stages::Outcome;

constexpr Nanos kSec = 1'000'000'000;
constexpr Nanos kT0 = 1000 * kSec;
constexpr std::uint8_t kAllClasses = 0x0f;
constexpr std::uint8_t kAllButResidents =
    kAllClasses & ~(1u << static_cast<unsigned>(ClientClass::Resident));

// A parsed login form that owns its bytes (the head's views point into raw).
struct Login {
  std::string raw;
  std::string body;
  http::RequestHead head;
  KeyInputs in;
};

std::unique_ptr<Login> login(const std::string& user, ClientClass cls = ClientClass::Anonymous,
                             std::uint8_t ip_low = 7) {
  auto r = std::make_unique<Login>();
  r->body = "username=" + user + "&password=guess";
  r->raw =
      "POST /login HTTP/1.1\r\nHost: example.com\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
      std::to_string(r->body.size()) + "\r\n\r\n";
  EXPECT_EQ(http::parse_request(r->raw, {}, r->head).status, http::ParseStatus::Complete);
  r->in.client = client::make_ipv4(192, 0, 2, ip_low);
  r->in.client_prefix = client::prefix_of(r->in.client, 24, 64);
  r->in.head = &r->head;
  r->in.route_name = "login";
  r->in.body = r->body;
  r->in.body_complete = true;
  r->in.client_class = cls;
  return r;
}

// 5 per 15 minutes per account, counting 401s: the CONFIG.md example.
policy::LimitConfig failures_per_account(std::uint8_t classes = kAllClasses) {
  policy::LimitConfig l;
  l.name = "per-account-on-failure";
  l.key = {{policy::KeyPartKind::BodyField, "username"}};
  l.rate = 5;
  l.period = 15 * 60 * 1000;
  l.count_when_status = {401};
  l.classes = classes;
  return l;
}

// A route's limits with a registry of their own (fresh tables per test).
struct Route {
  explicit Route(std::vector<policy::LimitConfig> limits) {
    cfg.name = "login";
    cfg.limits = std::move(limits);
    rl = std::make_unique<RouteLimits>(cfg, registry);
  }
  Table& table(std::size_t i) const { return *rl->tables().at(i); }
  // The state of `user`'s bucket in limit i, without touching it.
  Decision peek(std::size_t i, const std::string& user) const {
    const auto r = login(user);
    Key k;
    EXPECT_EQ(build_key(cfg.limits.at(i).key, r->in, process_seed(), k), KeyBuild::Ok);
    return table(i).peek(k, kT0);
  }
  policy::RouteConfig cfg;
  Registry registry;
  std::unique_ptr<RouteLimits> rl;
};

bool passed(const stages::Verdict& v) {
  return v.action == Action::Continue && v.outcome == Outcome::Passed;
}

// The finding: 40 wrong logins sent together got 37 guesses against 5 per 15 min, because each
// was only checked on arrival and counted when its 401 came back.
TEST(CountWhen, FortyConcurrentWrongLoginsGetAtMostTheLimit) {
  Route route({failures_per_account()});
  const auto req = login("victim");
  std::array<PendingCounts, 40> pending{};
  int passes = 0;
  for (PendingCounts& p : pending) {
    const stages::Verdict v = route.rl->check(req->in, kT0, p);
    if (passed(v)) {
      ++passes;
      EXPECT_EQ(p.size, 1);
    } else {
      EXPECT_EQ(v.action, Action::Reject);
      EXPECT_EQ(v.status, 429);
      EXPECT_EQ(v.rule, "per-account-on-failure");
      EXPECT_EQ(v.ratelimit.remaining, 0u);
      EXPECT_GE(v.retry_after_s, 179u);  // one emission interval: 15 min / 5
      EXPECT_EQ(p.size, 0);
    }
  }
  EXPECT_EQ(passes, 5);
  for (PendingCounts& p : pending) RouteLimits::settle(p, 401, kT0);
  EXPECT_FALSE(route.peek(0, "victim").allowed);
  EXPECT_EQ(route.peek(0, "victim").remaining, 0u);
  // Other accounts are untouched.
  EXPECT_EQ(route.peek(0, "someone-else").remaining, 5u);
}

// A status that does not count gives the charge back: a successful login after failures, or a
// local answer after the limits passed (the proxy's own 503).
TEST(CountWhen, NonMatchingStatusRefundsTheCharge) {
  Route route({failures_per_account()});
  const auto req = login("alice");
  std::array<PendingCounts, 5> pending{};
  for (PendingCounts& p : pending) ASSERT_TRUE(passed(route.rl->check(req->in, kT0, p)));
  PendingCounts sixth;
  EXPECT_FALSE(passed(route.rl->check(req->in, kT0, sixth))) << "charged on arrival";

  RouteLimits::settle(pending[0], 401, kT0);
  RouteLimits::settle(pending[1], 401, kT0);
  RouteLimits::settle(pending[2], 401, kT0);
  EXPECT_EQ(route.peek(0, "alice").remaining, 0u);  // two still in flight
  RouteLimits::settle(pending[3], 200, kT0);        // the owner got in: the unit comes back
  EXPECT_EQ(route.peek(0, "alice").remaining, 1u);
  RouteLimits::settle(pending[4], 503, kT0);  // answered locally, never reached the app
  EXPECT_EQ(route.peek(0, "alice").remaining, 2u);

  EXPECT_TRUE(passed(route.rl->check(req->in, kT0, sixth)));
  EXPECT_EQ(route.peek(0, "alice").remaining, 1u);
}

// A refund is an exact undo even after time has passed, and never leaves the key fuller than an
// idle one.
TEST(CountWhen, RefundAfterTimeIsExactAndStopsAtIdle) {
  Route route({failures_per_account()});
  const Nanos t = route.table(0).limit().emission_interval;
  const auto req = login("bob");
  PendingCounts kept;
  ASSERT_TRUE(passed(route.rl->check(req->in, kT0, kept)));
  RouteLimits::settle(kept, 401, kT0);  // debt T
  PendingCounts p;
  ASSERT_TRUE(passed(route.rl->check(req->in, kT0, p)));  // debt 2T
  const Nanos later = kT0 + t / 2;
  RouteLimits::settle(p, 200, later);  // back to what the one failure left: T/2 at `later`
  Key k;
  ASSERT_EQ(build_key(route.cfg.limits[0].key, req->in, process_seed(), k), KeyBuild::Ok);
  EXPECT_EQ(route.table(0).peek(k, later).reset, t / 2);

  // The charge drained away before the answer came: nothing left to give back.
  PendingCounts slow;
  ASSERT_TRUE(passed(route.rl->check(req->in, later, slow)));
  RouteLimits::settle(slow, 200, kT0 + 10 * t);
  EXPECT_EQ(route.table(0).peek(k, kT0 + 10 * t).remaining, 5u);
  EXPECT_EQ(route.table(0).peek(k, kT0 + 10 * t).reset, 0);
}

TEST(CountWhen, SettleTwiceDoesNothingTheSecondTime) {
  Route route({failures_per_account()});
  const auto req = login("carol");
  for (int i = 0; i < 2; ++i) {
    PendingCounts p;
    ASSERT_TRUE(passed(route.rl->check(req->in, kT0, p)));
    RouteLimits::settle(p, 401, kT0);
  }
  PendingCounts p;
  ASSERT_TRUE(passed(route.rl->check(req->in, kT0, p)));
  EXPECT_EQ(route.peek(0, "carol").remaining, 2u);
  RouteLimits::settle(p, 200, kT0);  // the upstream's answer
  EXPECT_EQ(p.size, 0);
  EXPECT_EQ(route.peek(0, "carol").remaining, 3u);
  RouteLimits::settle(p, 200, kT0);  // again: no second refund
  RouteLimits::settle(p, 502, kT0);  // a local answer after the head: no refund either
  RouteLimits::settle(p, 401, kT0);  // nor a charge
  EXPECT_EQ(route.peek(0, "carol").remaining, 3u);
}

// No status at all (client gone, upstream cut): the charge stays.
TEST(CountWhen, ExchangeWithoutStatusKeepsTheCharge) {
  Route route({failures_per_account()});
  const auto req = login("dave");
  for (int i = 0; i < 5; ++i) {
    PendingCounts p;
    ASSERT_TRUE(passed(route.rl->check(req->in, kT0, p)));
    p.clear();
  }
  PendingCounts p;
  EXPECT_FALSE(passed(route.rl->check(req->in, kT0, p)));
}

// The refund finds the key by its tag: once the key is evicted it is owed nothing, and the key
// that now holds its slot is not credited. A later charge of the same key stays charged.
TEST(CountWhen, RefundAfterEvictionTouchesNoOtherKey) {
  policy::LimitConfig l = failures_per_account();
  l.max_keys = 1;  // one bucket of 7 slots: every account shares it
  Route route({l});
  ASSERT_EQ(route.table(0).capacity(), 7u);
  const auto victim = login("victim");
  PendingCounts p;
  ASSERT_TRUE(passed(route.rl->check(victim->in, kT0, p)));
  EXPECT_EQ(route.peek(0, "victim").status, Status::Tracked) << "charged on arrival";
  EXPECT_EQ(route.peek(0, "victim").remaining, 4u);

  // Seven other accounts fail once a little later; the victim has the smallest TAT and goes.
  for (int i = 0; i < 7; ++i) {
    const auto other = login("other" + std::to_string(i));
    PendingCounts q;
    ASSERT_TRUE(passed(route.rl->check(other->in, kT0 + 1 + i, q)));
    RouteLimits::settle(q, 401, kT0 + 1 + i);
  }
  ASSERT_EQ(route.peek(0, "victim").status, Status::Untracked);
  std::vector<Decision> before;
  for (int i = 0; i < 7; ++i) before.push_back(route.peek(0, "other" + std::to_string(i)));
  const TableStats stats_before = route.table(0).stats();

  RouteLimits::settle(p, 200, kT0 + 10);
  EXPECT_EQ(route.peek(0, "victim").status, Status::Untracked) << "a refund never tracks a key";
  EXPECT_EQ(route.table(0).stats().inserts, stats_before.inserts);
  for (int i = 0; i < 7; ++i) {
    const Decision now = route.peek(0, "other" + std::to_string(i));
    EXPECT_EQ(now.status, Status::Tracked);
    EXPECT_EQ(now.remaining, before[static_cast<std::size_t>(i)].remaining) << i;
    EXPECT_EQ(now.reset, before[static_cast<std::size_t>(i)].reset) << i;
  }
}

// A failures-per-account limit that leaves residents out: a resident is neither checked nor
// charged on arrival (the owner can log in while a botnet stuffs the account), but its failed
// login counts against the account, since a device token proves nothing about the password.
TEST(CountWhen, ResidentLeftOutIsNotCheckedButItsFailureIsCharged) {
  Route route({failures_per_account(kAllButResidents)});
  const auto bot = login("owner", ClientClass::Anonymous);
  const auto resident = login("owner", ClientClass::Resident);
  for (int i = 0; i < 5; ++i) {
    PendingCounts p;
    ASSERT_TRUE(passed(route.rl->check(bot->in, kT0, p)));
    RouteLimits::settle(p, 401, kT0);
  }
  PendingCounts refused;
  ASSERT_FALSE(passed(route.rl->check(bot->in, kT0, refused)));
  const Decision locked = route.peek(0, "owner");

  // The owner still gets in, and is not charged on arrival.
  std::array<PendingCounts, 3> pending{};
  for (PendingCounts& p : pending) {
    const stages::Verdict v = route.rl->check(resident->in, kT0, p);
    EXPECT_TRUE(passed(v));
    EXPECT_FALSE(v.has_ratelimit) << "the limit does not apply to this class";
    EXPECT_EQ(p.size, 1);
  }
  EXPECT_EQ(route.peek(0, "owner").reset, locked.reset);

  RouteLimits::settle(pending[0], 200, kT0);  // a success is not counted, and refunds nothing
  EXPECT_EQ(route.peek(0, "owner").reset, locked.reset);
  RouteLimits::settle(pending[1], 401, kT0);  // a failure is
  const Nanos t = route.table(0).limit().emission_interval;
  EXPECT_EQ(route.peek(0, "owner").reset, locked.reset + t);
  pending[2].clear();  // no status: nothing proved, nothing counted
  EXPECT_EQ(route.peek(0, "owner").reset, locked.reset + t);
}

// On a fresh account, a resident's failures fill the bucket that then stops everyone else.
TEST(CountWhen, ResidentFailuresCountAgainstTheAccount) {
  Route route({failures_per_account(kAllButResidents)});
  const auto resident = login("erin", ClientClass::Resident);
  for (int i = 0; i < 5; ++i) {
    PendingCounts p;
    ASSERT_TRUE(passed(route.rl->check(resident->in, kT0, p)));
    RouteLimits::settle(p, 401, kT0);
  }
  PendingCounts p;
  EXPECT_TRUE(passed(route.rl->check(resident->in, kT0, p))) << "residents are never checked";
  const auto anon = login("erin", ClientClass::Anonymous);
  PendingCounts q;
  EXPECT_FALSE(passed(route.rl->check(anon->in, kT0, q)));
}

// A plain limit keeps today's class behaviour: a class it leaves out is neither checked nor
// charged, whatever the status.
TEST(CountWhen, PlainLimitIgnoresClassesItLeavesOut) {
  policy::LimitConfig l = failures_per_account(kAllButResidents);
  l.count_when_status.clear();
  Route route({l});
  const auto resident = login("frank", ClientClass::Resident);
  for (int i = 0; i < 10; ++i) {
    PendingCounts p;
    ASSERT_TRUE(passed(route.rl->check(resident->in, kT0, p)));
    EXPECT_EQ(p.size, 0);
    RouteLimits::settle(p, 401, kT0);
  }
  EXPECT_EQ(route.peek(0, "frank").remaining, 5u);
  EXPECT_EQ(route.peek(0, "frank").status, Status::Untracked);
}

// A request refused by a later limit never reaches the application: the count_when charge this
// check made is given back at once and nothing is left queued.
TEST(CountWhen, RefusalByALaterLimitRefundsAndDequeues) {
  policy::LimitConfig per_ip;
  per_ip.name = "per-ip";
  per_ip.key = {{policy::KeyPartKind::ClientIp, ""}};
  per_ip.rate = 1;
  per_ip.period = 60'000;
  Route route({failures_per_account(), per_ip});
  const auto req = login("grace");
  PendingCounts first;
  ASSERT_TRUE(passed(route.rl->check(req->in, kT0, first)));
  EXPECT_EQ(first.size, 1);
  PendingCounts second;
  const stages::Verdict v = route.rl->check(req->in, kT0, second);
  EXPECT_EQ(v.action, Action::Reject);
  EXPECT_EQ(v.rule, "per-ip");
  EXPECT_EQ(second.size, 0);
  EXPECT_EQ(route.peek(0, "grace").remaining, 4u);  // only the first request's charge
  RouteLimits::settle(second, 401, kT0);
  EXPECT_EQ(route.peek(0, "grace").remaining, 4u);
}

// A delayed count_when request is charged when its slot is reserved, and refunded like any other.
TEST(CountWhen, DelayedRequestIsChargedAndRefundable) {
  policy::LimitConfig l = failures_per_account();
  l.rate = 1;
  l.period = 1000;
  l.burst = 1;
  l.action.kind = policy::ActionKind::Delay;
  l.action.delay_max = 5000;
  Route route({l});
  const auto req = login("heidi");
  PendingCounts first;
  ASSERT_TRUE(passed(route.rl->check(req->in, kT0, first)));
  PendingCounts delayed;
  const stages::Verdict v = route.rl->check(req->in, kT0, delayed);
  ASSERT_EQ(v.action, Action::Delay);
  EXPECT_EQ(v.wait_ms, 1000);
  ASSERT_EQ(delayed.size, 1);
  EXPECT_EQ(route.peek(0, "heidi").reset, 2 * kSec);
  RouteLimits::settle(delayed, 200, kT0);
  EXPECT_EQ(route.peek(0, "heidi").reset, kSec);
  RouteLimits::settle(first, 401, kT0);
  EXPECT_EQ(route.peek(0, "heidi").reset, kSec);
}

// Several workers check and settle at the same instant, each holding a few exchanges open at a
// time. Charges in the table never exceed the burst, so neither do the failures counted plus the
// exchanges in flight; at the end the table holds exactly the failures that were kept.
TEST(CountWhen, ThreadsCheckingAndSettlingNeverPassMoreThanTheLimit) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 400;
  constexpr int kOpen = 3;  // exchanges each thread holds before any answer
  Route route({failures_per_account()});
  const std::uint32_t burst = route.table(0).limit().burst;
  std::atomic<int> outstanding{0};  // charged and not refunded: kept failures + open exchanges
  std::atomic<int> max_outstanding{0};
  std::atomic<int> kept{0};
  std::atomic<int> passes{0};
  std::barrier sync(kThreads);
  const auto worker = [&](int id) {
    const auto req = login("target", ClientClass::Anonymous, static_cast<std::uint8_t>(10 + id));
    std::uint32_t rng = 0x9e3779b9u * static_cast<std::uint32_t>(id + 1);
    std::array<PendingCounts, kOpen> open{};
    for (int round = 0; round < kRounds; ++round) {
      sync.arrive_and_wait();  // every round starts together, so the checks really interleave
      for (PendingCounts& p : open) {
        if (!passed(route.rl->check(req->in, kT0, p))) continue;
        passes.fetch_add(1);
        const int now_out = outstanding.fetch_add(1) + 1;
        int seen = max_outstanding.load();
        while (now_out > seen && !max_outstanding.compare_exchange_weak(seen, now_out)) {
        }
      }
      for (PendingCounts& p : open) {
        if (p.size == 0) continue;
        rng = rng * 1664525u + 1013904223u;
        // Mostly successes (refunded), now and then a failure (kept for good).
        if ((rng >> 24) < 8) {
          kept.fetch_add(1);
          RouteLimits::settle(p, 401, kT0);
        } else {
          outstanding.fetch_sub(1);  // before the refund: never undercounts the table
          RouteLimits::settle(p, 200, kT0);
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, i);
  for (std::thread& t : threads) t.join();

  EXPECT_LE(max_outstanding.load(), static_cast<int>(burst));
  EXPECT_LE(kept.load(), static_cast<int>(burst));
  EXPECT_GT(passes.load(), static_cast<int>(burst)) << "refunds let the workers go on";
  EXPECT_EQ(route.peek(0, "target").remaining, burst - static_cast<std::uint32_t>(kept.load()));
}

}  // namespace
}  // namespace gh::ratelimit
