// Per-minute aggregates: JSON round trip, leniency towards damage, caps, the store on disk.
#include "observe/minutes.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace gh::observe {
namespace {

using nlohmann::json;
using testing::TempDir;

Minute sample(std::int64_t at) {
  Minute m;
  m.at_ms = at;
  m.figures.verdict(Verdict::Passed) = 100;
  m.figures.verdict(Verdict::RateLimited) = 7;
  m.figures.verdict(Verdict::Closed) = 2;
  m.figures.class_requests = {1, 2, 3, 4};
  m.figures.class_served = {0, 1, 2, 4};
  m.figures.latency_p50_ms = 12;
  m.figures.latency_p99_ms = 340;
  m.figures.newcomers_admitted = 5;
  m.figures.queue_length = 77;
  m.figures.login_requests = 9;
  m.figures.login_failed = 4;
  m.figures.login_limited = 3;
  m.figures.head_timeouts = 2;
  m.figures.signup_accounts = {1, 6, 2};
  m.figures.signup_hashes = {393216, 2097152};
  m.figures.signup_solve_ms = 7300;
  m.peak_rps = 42;
  m.distinct_prefixes = 31;
  m.routes = {{"signup", 60}, {"login", 49}};
  m.modes = {{"signup", "queue"}};
  m.top.prefixes = {{"203.0.113.0/24", 50, 1}};
  m.top.user_agents = {{"curl/8", 20, 0}};
  m.top.accounts = {{"alice@example.com", 9, 0}};
  m.top.asns = {{"AS64496", 60, 2}};
  return m;
}

bool same(const Minute& a, const Minute& b) {
  return a.at_ms == b.at_ms && a.figures.verdicts == b.figures.verdicts &&
         a.figures.class_requests == b.figures.class_requests &&
         a.figures.class_served == b.figures.class_served &&
         a.figures.latency_p50_ms == b.figures.latency_p50_ms &&
         a.figures.latency_p99_ms == b.figures.latency_p99_ms &&
         a.figures.newcomers_admitted == b.figures.newcomers_admitted &&
         a.figures.queue_length == b.figures.queue_length &&
         a.figures.login_requests == b.figures.login_requests &&
         a.figures.login_failed == b.figures.login_failed &&
         a.figures.login_limited == b.figures.login_limited &&
         a.figures.head_timeouts == b.figures.head_timeouts &&
         a.figures.signup_accounts == b.figures.signup_accounts &&
         a.figures.signup_hashes == b.figures.signup_hashes &&
         a.figures.signup_solve_ms == b.figures.signup_solve_ms && a.peak_rps == b.peak_rps &&
         a.distinct_prefixes == b.distinct_prefixes && a.routes == b.routes && a.modes == b.modes &&
         a.top == b.top;
}

TEST(Minute, RoundTripsThroughJson) {
  const Minute m = sample(1'795'514'400'000);
  const json j = m;
  EXPECT_EQ(j["verdicts"]["rate_limited"], 7);
  EXPECT_EQ(j["classes"]["resident"]["served"], 4);
  EXPECT_EQ(j["time"], "2026-11-24T10:00:00.000Z");
  const auto back = minute_from_json(json::parse(dump_line(j)));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(same(*back, m));
  EXPECT_EQ(back->figures.requests(), 109u);
}

TEST(Minute, FleetFiguresRoundTrip) {
  Minute m = sample(1'795'514'400'000);
  EXPECT_FALSE(minute_from_json(json(m))->fleet.has_value());  // a node alone writes none
  m.fleet = Minute::Fleet{3, 2, 1, 4'210, 3'900};
  const auto back = minute_from_json(json::parse(dump_line(json(m))));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->fleet, m.fleet);
}

TEST(Minute, MistypedFieldsKeepDefaultsAndNeverThrow) {
  const json j = json::parse(R"({"t": 60000, "verdicts": {"passed": "many", "shed": 3},
      "classes": [], "latency_ms": {"p50": -1, "p99": 99999999999}, "routes": {"a": 1, "b": "x"},
      "modes": {"signup": 2, "login": "open"}, "top": {"prefixes": [{"key": 1}, {"key": "k", "count": 2}, 5]}})");
  const auto m = minute_from_json(j);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->figures.verdict(Verdict::Passed), 0u);
  EXPECT_EQ(m->figures.verdict(Verdict::Shed), 3u);
  EXPECT_EQ(m->figures.latency_p50_ms, 0u);
  EXPECT_EQ(m->figures.latency_p99_ms, UINT32_MAX);
  EXPECT_EQ(m->routes, (std::map<std::string, std::uint64_t>{{"a", 1}}));
  EXPECT_EQ(m->modes, (std::map<std::string, std::string>{{"login", "open"}}));
  ASSERT_EQ(m->top.prefixes.size(), 1u);
  EXPECT_EQ(m->top.prefixes[0].key, "k");
  EXPECT_FALSE(minute_from_json(json::parse(R"({"verdicts": {}})")).has_value());
  EXPECT_FALSE(minute_from_json(json::array()).has_value());
}

TEST(Minute, TopListsAndKeysAreCapped) {
  Minute m = sample(0);
  m.top.user_agents.clear();
  for (int i = 0; i < 100; ++i) m.top.user_agents.push_back({std::string(500, 'a' + i % 26), 1, 0});
  const json j = m;
  ASSERT_EQ(j["top"]["user_agents"].size(), kMinuteTopMax);
  EXPECT_EQ(j["top"]["user_agents"][0]["key"].get<std::string>().size(), kTopKeyMax);
}

TEST(MinuteStore, AppendsAndReadsARange) {
  TempDir dir;
  std::string error;
  auto store = MinuteStore::open(dir.path(), RotateOptions{}, &error);
  ASSERT_NE(store, nullptr) << error;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->append(sample(i * 60'000)));
  const auto r = MinuteStore::read_range(dir.path(), 2 * 60'000, 5 * 60'000);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].at_ms, 120'000);
  EXPECT_TRUE(same(r[2], sample(240'000)));
}

TEST(MinuteStore, BoundedOnDiskAndReadsRotatedFiles) {
  TempDir dir;
  std::string error;
  const std::size_t line = dump_line(json(sample(29 * 60'000))).size() + 1;
  auto store = MinuteStore::open(dir.path(), RotateOptions{line * 5, 3}, &error);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(store->append(sample(i * 60'000)));
  ReadStats stats;
  const auto r = MinuteStore::read_range(dir.path(), 0, INT64_MAX, &stats);
  EXPECT_EQ(stats.files, 3u);
  EXPECT_EQ(r.size(), 15u);  // three files of five minutes
  EXPECT_EQ(r.back().at_ms, 29 * 60'000);
  EXPECT_EQ(r.front().at_ms, 15 * 60'000);
}

}  // namespace
}  // namespace gh::observe
