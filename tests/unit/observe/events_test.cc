// The event log: memory ring, disk lines, restart, range reads over rotated files, limits.
#include "observe/events.h"

#include <gtest/gtest.h>

#include <thread>

#include "temp_dir.h"

namespace gh::observe {
namespace {

using nlohmann::json;
using testing::TempDir;

Event make(std::int64_t at, std::string kind, std::string route = "", std::string message = "") {
  return Event{at, std::move(kind), std::move(route), std::move(message), nullptr};
}

TEST(EventLog, KeepsTheLastNInMemoryOldestFirst) {
  EventLog log(EventLogOptions{3, {}});
  for (int i = 1; i <= 5; ++i) log.append(make(i * 1000, "reload"));
  const auto r = log.recent(10);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].at_ms, 3000);
  EXPECT_EQ(r[2].at_ms, 5000);
  const auto two = log.recent(2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].at_ms, 4000);
}

TEST(EventLog, StampsTheWallClockWhenAtIsZero) {
  EventLog log;
  log.append(make(0, "start"));
  EXPECT_GT(log.recent(1).at(0).at_ms, 1'700'000'000'000);
}

TEST(EventLog, SurvivesARestart) {
  TempDir dir;
  std::string error;
  {
    auto log = EventLog::open(dir.path() + "/state", EventLogOptions{}, &error);
    ASSERT_NE(log, nullptr) << error;
    Event e = make(1000, "mode_change", "signup", "open -> queue");
    e.data = json{{"from", "open"}, {"to", "queue"}, {"by", "trigger"}};
    ASSERT_TRUE(log->append(e));
    ASSERT_TRUE(log->append(make(2000, "ban", "", "203.0.113.0/24")));
  }
  auto log = EventLog::open(dir.path() + "/state", EventLogOptions{}, &error);
  ASSERT_NE(log, nullptr) << error;
  const auto r = log->recent(10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].kind, "mode_change");
  EXPECT_EQ(r[0].route, "signup");
  EXPECT_EQ(r[0].data["to"], "queue");
  EXPECT_EQ(r[1].message, "203.0.113.0/24");
  log->append(make(3000, "unban"));
  const auto all = EventLog::read_range(dir.path() + "/state", 0, 10'000);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].kind, "unban");
}

TEST(EventLog, ReadRangeCoversRotatedFilesAndSortsByTime) {
  TempDir dir;
  std::string error;
  auto log = EventLog::open(dir.path(), EventLogOptions{100, {300, 8}}, &error);
  ASSERT_NE(log, nullptr) << error;
  for (int i = 0; i < 40; ++i)
    log->append(make(10'000 + i * 1000, "trigger", "signup", "t" + std::to_string(i)));
  log->append(make(5'000, "reload"));  // the clock stepped back
  EXPECT_TRUE(std::filesystem::exists(dir.file("events.jsonl.1")));
  ReadStats stats;
  const auto r = EventLog::read_range(dir.path(), 0, INT64_MAX, &stats);
  EXPECT_EQ(stats.bad_lines, 0u);
  ASSERT_GE(r.size(), 2u);
  EXPECT_EQ(r.front().kind, "reload");
  for (std::size_t i = 1; i < r.size(); ++i) EXPECT_LE(r[i - 1].at_ms, r[i].at_ms);
  EXPECT_LT(r.size(), 41u);  // bounded: the oldest rotated away
  const auto window = EventLog::read_range(dir.path(), 40'000, 45'000);
  ASSERT_EQ(window.size(), 5u);
  EXPECT_EQ(window.front().at_ms, 40'000);
  EXPECT_EQ(window.back().at_ms, 44'000);
}

TEST(EventLog, DamagedLinesAreSkipped) {
  TempDir dir;
  testing::write_all(dir.file("events.jsonl"),
                     "{\"at\":1,\"kind\":\"start\"}\n{\"at\":\"x\",\"kind\":\"bad\"}\ngarbage\n"
                     "{\"kind\":\"no time\"}\n{\"at\":2,\"kind\":\"stop\",\"data\":[1]}\n");
  ReadStats stats;
  const auto r = EventLog::read_range(dir.path(), 0, 100, &stats);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[1].data.is_null());  // data must be an object
  EXPECT_EQ(stats.bad_lines, 3u);
}

TEST(EventLog, CutsOversizedTexts) {
  EventLog log;
  Event e = make(1, "ban", "", std::string(5000, 'm'));
  e.data = json{{"blob", std::string(20000, 'd')}};
  log.append(e);
  const Event got = log.recent(1).at(0);
  EXPECT_EQ(got.message.size(), kEventMessageMax);
  EXPECT_EQ(got.data, (json{{"truncated", true}}));
}

TEST(EventLog, ConcurrentAppendsAreAllKept) {
  TempDir dir;
  std::string error;
  auto log = EventLog::open(dir.path(), EventLogOptions{10'000, {}}, &error);
  ASSERT_NE(log, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) log->append(make(1 + t * 1000 + i, "trigger"));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(log->recent(10'000).size(), 400u);
  ReadStats stats;
  EXPECT_EQ(EventLog::read_range(dir.path(), 0, INT64_MAX, &stats).size(), 400u);
  EXPECT_EQ(stats.bad_lines, 0u);
}

TEST(EventLog, OpenFailsClearlyOnAnUnusableDirectory) {
  TempDir dir;
  testing::write_all(dir.file("file"), "x");
  std::string error;
  EXPECT_EQ(EventLog::open(dir.file("file") + "/sub", EventLogOptions{}, &error), nullptr);
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace gh::observe
