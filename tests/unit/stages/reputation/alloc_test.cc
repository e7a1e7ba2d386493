// No heap allocation per call in steady state: this test program's global operator new (plain
// and nothrow, with their deletes, so ASan sees matching pairs) counts allocations, and score(),
// note() and recent() must make none once warm. The one exception is RE2::Set::Match with an output
// vector, which allocates its match set inside RE2; score() only calls it when a user agent matches
// at least one pattern.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "mmdb_writer.h"
#include "stages/reputation/refusals.h"
#include "stages/reputation/scorer.h"
#include "test_util.h"

// g++ 12 at -O2 sees the malloc inside the replaced operator new and the free inside the
// replaced delete, and warns about a pair that is in fact matched.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace gh::reputation {
namespace {

using policy::ReputationAction;
using policy::ReputationRule;
using testing::cidr;
using testing::ip;

long allocations() {
  return g_allocations.load(std::memory_order_relaxed);
}

TEST(NoAllocation, ScoreOnTheSteadyPath) {
  testing::TempDir dir;
  testing::MmdbWriter w;
  w.add(cidr("192.0.2.0/24"), 16509);
  const std::string db = dir.file("asn.mmdb");
  ASSERT_TRUE(w.write(db));

  policy::ReputationConfig c;
  c.asn_database = db;
  for (int i = 0; i < 100; ++i) {
    ReputationRule r;
    r.name = "bot" + std::to_string(i);
    r.user_agent = "(?i)bot" + std::to_string(i) + "\\b";
    r.weight = 1;
    c.rules.push_back(r);
  }
  ReputationRule hdr;
  hdr.name = "no-lang";
  hdr.headers_missing = {"Accept-Language"};
  hdr.headers_present = {"accept"};
  hdr.weight = 30;
  ReputationRule net;
  net.name = "net";
  net.cidrs = {cidr("192.0.2.0/24"), cidr("2001:db8::/32")};
  net.weight = 5;
  ReputationRule asn;
  asn.name = "asn";
  asn.asns = {16509};
  asn.weight = 7;
  ReputationRule path;
  path.name = "path";
  path.path_prefix = "/signup";
  path.methods = {http::Method::Get};
  path.action = ReputationAction::Challenge;
  path.level = 2;
  c.rules.push_back(hdr);
  c.rules.push_back(net);
  c.rules.push_back(asn);
  c.rules.push_back(path);
  c.thresholds = {{40, ReputationAction::Deny, 0}, {10, ReputationAction::Challenge, 1}};
  std::string error;
  auto s = Scorer::build(c, error);
  ASSERT_NE(s, nullptr) << error;

  auto browser = testing::parse(
      "GET /signup HTTP/1.1\nHost: a\nUser-Agent: Mozilla/5.0 Firefox/126.0\nAccept: */*\n");
  const Request r{&browser->head, ip("192.0.2.9"), "/signup"};
  const Score first = s->score(r, 3);  // warms the thread's scratch space and RE2's DFA
  EXPECT_EQ(first.total, 30 + 5 + 7);
  const long before = allocations();
  for (int i = 0; i < 100; ++i) {
    const Score out = s->score(r, 3);
    ASSERT_EQ(out.total, first.total);
  }
  EXPECT_EQ(allocations() - before, 0);
}

TEST(NoAllocation, RefusalTracker) {
  const long start = allocations();
  auto t_ptr = std::make_unique<RefusalTracker>(4096, 60'000);
  EXPECT_GT(allocations(), start);  // the counter does see allocations
  RefusalTracker& t = *t_ptr;
  const long before = allocations();
  std::uint64_t sum = 0;
  for (int i = 0; i < 1000; ++i) {
    client::Cidr c = cidr("2001:db8::/64");
    c.address.bytes[7] = static_cast<std::uint8_t>(i);
    t.note(c, i);
    sum += t.recent(c, i);
  }
  EXPECT_EQ(allocations() - before, 0);
  EXPECT_GT(sum, 0u);
}

}  // namespace
}  // namespace gh::reputation
