// The per-worker wait queue: order, eviction in shedding order, CoDel deadlines, removal; and a
// randomised comparison against a plain reference model.
#include "stages/admission/wait_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace gh::admission {
namespace {

using Q = WaitQueue<int>;
using P = Priority;

policy::AdmissionConfig timing(policy::Millis timeout, policy::Millis target,
                               policy::Millis interval) {
  policy::AdmissionConfig c;
  c.queue_timeout = timeout;
  c.codel_target = target;
  c.codel_interval = interval;
  return c;
}

std::vector<int> drain(Q& q, std::int64_t now) {
  std::vector<int> out;
  while (auto v = q.pop(now)) out.push_back(*v);
  return out;
}

TEST(WaitQueue, PopsHighestPriorityFirstThenFifo) {
  Q q(10, timing(2000, 5, 100));
  int ev = 0;
  EXPECT_EQ(q.push(1, P::Suspect, 0, &ev), Q::Push::Queued);
  EXPECT_EQ(q.push(2, P::Verified, 1, &ev), Q::Push::Queued);
  EXPECT_EQ(q.push(3, P::AnonymousSignup, 2, &ev), Q::Push::Queued);
  EXPECT_EQ(q.push(4, P::Resident, 3, &ev), Q::Push::Queued);
  EXPECT_EQ(q.push(5, P::Verified, 4, &ev), Q::Push::Queued);
  EXPECT_EQ(q.push(6, P::AnonymousOther, 5, &ev), Q::Push::Queued);
  EXPECT_EQ(q.push(7, P::Suspect, 6, &ev), Q::Push::Queued);
  EXPECT_EQ(q.size(), 7u);
  EXPECT_EQ(q.size(P::Verified), 2u);
  EXPECT_EQ(drain(q, 10), (std::vector<int>{4, 2, 5, 6, 3, 1, 7}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.stats().last_wait_ms, 4);  // 7 waited 6 → 10
}

TEST(WaitQueue, FullQueueEvictsLowestNewestInSheddingOrder) {
  Q q(3, timing(2000, 5, 100));
  int ev = -1;
  ASSERT_EQ(q.push(1, P::Suspect, 0, &ev), Q::Push::Queued);
  ASSERT_EQ(q.push(2, P::AnonymousSignup, 0, &ev), Q::Push::Queued);
  ASSERT_EQ(q.push(3, P::Suspect, 0, &ev), Q::Push::Queued);
  // Full. A verified arrival evicts the newest suspect.
  EXPECT_EQ(q.push(4, P::Verified, 1, &ev), Q::Push::QueuedEvicting);
  EXPECT_EQ(ev, 3);
  EXPECT_EQ(q.push(5, P::AnonymousOther, 1, &ev), Q::Push::QueuedEvicting);
  EXPECT_EQ(ev, 1);
  // No suspect left: the anonymous sign-up is next; an arrival of that same class is refused.
  ev = -1;
  EXPECT_EQ(q.push(6, P::AnonymousSignup, 1, &ev), Q::Push::Refused);
  EXPECT_EQ(ev, -1);
  EXPECT_EQ(q.push(7, P::Suspect, 1, &ev), Q::Push::Refused);
  EXPECT_EQ(q.push(8, P::Resident, 1, &ev), Q::Push::QueuedEvicting);
  EXPECT_EQ(ev, 2);
  // Now anonymous-other 5, verified 4, resident 8.
  EXPECT_EQ(q.push(9, P::Resident, 1, &ev), Q::Push::QueuedEvicting);
  EXPECT_EQ(ev, 5);
  EXPECT_EQ(q.push(10, P::Verified, 1, &ev), Q::Push::Refused);
  EXPECT_EQ(q.push(11, P::Resident, 1, &ev), Q::Push::QueuedEvicting);
  EXPECT_EQ(ev, 4);
  EXPECT_EQ(q.push(12, P::Resident, 1, &ev), Q::Push::Refused);  // all residents: refuse newcomers
  EXPECT_EQ(drain(q, 2), (std::vector<int>{8, 9, 11}));
  EXPECT_EQ(q.stats().evicted, 5u);
  EXPECT_EQ(q.stats().refused, 4u);
}

TEST(WaitQueue, EvictionNeedsAPlaceToPutTheEvicted) {
  Q q(1, timing(2000, 5, 100));
  ASSERT_EQ(q.push(1, P::Suspect, 0, nullptr), Q::Push::Queued);
  EXPECT_EQ(q.push(2, P::Resident, 0, nullptr), Q::Push::Refused);
  Q zero(0, timing(2000, 5, 100));
  int ev = 0;
  EXPECT_EQ(zero.push(1, P::Resident, 0, &ev), Q::Push::Refused);
  EXPECT_FALSE(zero.pop(0).has_value());
  EXPECT_EQ(zero.next_deadline(), kNoDeadline);
}

TEST(WaitQueue, TimeoutWhenTheQueueDoesNotStand) {
  Q q(8, timing(2000, 5, 5000));  // interval longer than the timeout: plain timeouts
  ASSERT_EQ(q.push(1, P::Verified, 0, nullptr), Q::Push::Queued);
  ASSERT_EQ(q.push(2, P::Suspect, 500, nullptr), Q::Push::Queued);
  EXPECT_EQ(q.next_deadline(), 2000);
  std::vector<int> out;
  q.expire(1999, [&](int v) { out.push_back(v); });
  EXPECT_TRUE(out.empty());
  q.expire(2000, [&](int v) { out.push_back(v); });
  EXPECT_EQ(out, (std::vector<int>{1}));
  EXPECT_EQ(q.next_deadline(), 2500);
  q.expire(2500, [&](int v) { out.push_back(v); });
  EXPECT_EQ(out, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.stats().timed_out, 2u);
  EXPECT_EQ(q.next_deadline(), kNoDeadline);
}

TEST(WaitQueue, CodelTargetOnceTheQueueHasStoodForAnInterval) {
  Q q(8, timing(2000, 5, 100));
  ASSERT_EQ(q.push(1, P::Verified, 0, nullptr), Q::Push::Queued);
  // Not standing yet: the normal timeout applies, so a 50 ms wait is fine.
  EXPECT_FALSE(q.standing(100));
  EXPECT_EQ(q.next_deadline(), 101);  // when it turns standing, 1 has waited more than 5 ms
  std::vector<int> out;
  q.expire(50, [&](int v) { out.push_back(v); });
  EXPECT_TRUE(out.empty());
  ASSERT_EQ(q.push(2, P::Verified, 99, nullptr), Q::Push::Queued);
  q.expire(101, [&](int v) { out.push_back(v); });
  EXPECT_TRUE(q.standing(101));
  EXPECT_EQ(out, (std::vector<int>{1}));  // 101 ms > 5: gone; 2 has waited 2 ms only
  EXPECT_EQ(q.next_deadline(), 104);
  q.expire(104, [&](int v) { out.push_back(v); });
  EXPECT_EQ(out, (std::vector<int>{1, 2}));
  // Empty again: the next waiter starts with the full timeout.
  ASSERT_EQ(q.push(3, P::Suspect, 200, nullptr), Q::Push::Queued);
  EXPECT_FALSE(q.standing(250));
  q.expire(250, [&](int v) { out.push_back(v); });
  EXPECT_EQ(out.size(), 2u);
}

TEST(WaitQueue, AQueueThatEmptiesNeverStands) {
  Q q(8, timing(2000, 5, 100));
  std::vector<int> out;
  for (int t = 0; t < 1000; t += 50) {
    ASSERT_EQ(q.push(t, P::AnonymousSignup, t, nullptr), Q::Push::Queued);
    q.expire(t + 40, [&](int v) { out.push_back(v); });
    ASSERT_TRUE(q.pop(t + 40).has_value());  // served within 40 ms, queue empty again
  }
  EXPECT_TRUE(out.empty());
}

TEST(WaitQueue, RemoveKeepsOrderAndResetsWhenEmpty) {
  Q q(4, timing(2000, 5, 100));
  for (int i = 1; i <= 4; ++i) ASSERT_EQ(q.push(i, P::Verified, i, nullptr), Q::Push::Queued);
  EXPECT_TRUE(q.remove(2));
  EXPECT_FALSE(q.remove(2));
  EXPECT_FALSE(q.remove(99));
  EXPECT_EQ(q.size(), 3u);
  ASSERT_EQ(q.push(5, P::Verified, 5, nullptr), Q::Push::Queued);  // fits again
  EXPECT_EQ(drain(q, 6), (std::vector<int>{1, 3, 4, 5}));
  ASSERT_EQ(q.push(6, P::Suspect, 500, nullptr), Q::Push::Queued);
  EXPECT_TRUE(q.remove(6));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.next_deadline(), kNoDeadline);
  EXPECT_EQ(q.stats().removed, 2u);
}

// A reference: a vector of (priority, seq, enqueued) with the documented rules spelled out
// naively. Random operations must give identical answers, including across ring wrap-around.
struct Model {
  struct W {
    int item;
    int prio;
    std::int64_t at;
  };
  std::size_t cap;
  std::vector<W> ws;  // arrival order
  std::int64_t since = 0;
  std::int64_t timeout, target, interval;

  Q::Push push(int item, int prio, std::int64_t now, int* ev) {
    Q::Push r = Q::Push::Queued;
    if (ws.size() == cap) {
      int lowest = 99;
      for (const W& w : ws) lowest = std::min(lowest, w.prio);
      if (cap == 0 || prio <= lowest) return Q::Push::Refused;
      for (std::size_t i = ws.size(); i-- > 0;) {
        if (ws[i].prio == lowest) {
          *ev = ws[i].item;
          ws.erase(ws.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
      }
      r = Q::Push::QueuedEvicting;
    }
    if (ws.empty()) since = now;
    ws.push_back({item, prio, now});
    return r;
  }
  std::optional<int> pop() {
    int best = -1;
    for (std::size_t i = 0; i < ws.size(); ++i) {
      if (best < 0 || ws[i].prio > ws[static_cast<std::size_t>(best)].prio) {
        best = static_cast<int>(i);
      }
    }
    if (best < 0) return std::nullopt;
    const int v = ws[static_cast<std::size_t>(best)].item;
    ws.erase(ws.begin() + best);
    return v;
  }
  std::vector<int> expire(std::int64_t now) {
    const bool standing = !ws.empty() && now - since > interval;
    const std::int64_t wait = standing ? target : timeout;
    std::vector<int> out;
    for (int p = 0; p < 5; ++p) {
      for (std::size_t i = 0; i < ws.size();) {
        if (ws[i].prio == p && now - ws[i].at >= wait) {
          out.push_back(ws[i].item);
          ws.erase(ws.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          ++i;
        }
      }
    }
    return out;
  }
  bool remove(int item) {
    for (std::size_t i = 0; i < ws.size(); ++i) {
      if (ws[i].item == item) {
        ws.erase(ws.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
    }
    return false;
  }
};

TEST(WaitQueue, MatchesReferenceModelUnderRandomOperations) {
  std::mt19937 rng(12345);
  for (std::size_t cap : {1u, 2u, 5u, 17u}) {
    Q q(cap, timing(300, 5, 50));
    Model m{cap, {}, 0, 300, 5, 50};
    std::int64_t now = 0;
    int next = 0;
    for (int op = 0; op < 20'000; ++op) {
      now += static_cast<std::int64_t>(rng() % 4);
      switch (rng() % 6) {
        case 0:
        case 1:
        case 2: {
          const int prio = static_cast<int>(rng() % 5);
          int ev_q = -1, ev_m = -1;
          const auto rq = q.push(next, static_cast<Priority>(prio), now, &ev_q);
          const auto rm = m.push(next, prio, now, &ev_m);
          ASSERT_EQ(rq, rm) << "op " << op;
          ASSERT_EQ(ev_q, ev_m);
          ++next;
          break;
        }
        case 3:
          ASSERT_EQ(q.pop(now), m.pop());
          break;
        case 4: {
          std::vector<int> got;
          q.expire(now, [&](int v) { got.push_back(v); });
          ASSERT_EQ(got, m.expire(now)) << "op " << op;
          break;
        }
        case 5: {
          const int victim = next - 1 - static_cast<int>(rng() % 8);
          ASSERT_EQ(q.remove(victim), m.remove(victim));
          break;
        }
      }
      ASSERT_EQ(q.size(), m.ws.size());
      for (int p = 0; p < 5; ++p) {
        const auto n = static_cast<std::size_t>(std::count_if(
            m.ws.begin(), m.ws.end(), [&](const Model::W& w) { return w.prio == p; }));
        ASSERT_EQ(q.size(static_cast<Priority>(p)), n);
      }
      // next_deadline is never later than the first time expire would act.
      const std::int64_t d = q.next_deadline();
      if (!m.ws.empty()) {
        Model probe = m;
        ASSERT_FALSE(probe.expire(d).empty()) << "op " << op;
        if (d - 1 >= now) {
          Model early = m;
          ASSERT_TRUE(early.expire(d - 1).empty()) << "op " << op;
        }
      } else {
        ASSERT_EQ(d, kNoDeadline);
      }
    }
  }
}

}  // namespace
}  // namespace gh::admission
