// The access log: lines as written, per-worker rings, sampling of refusals with "skipped", drops
// when a ring is full, reopen, rotation.
#include "observe/access_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "temp_dir.h"

namespace gh::observe {
namespace {

using nlohmann::json;
using testing::TempDir;

AccessRecord record(std::int64_t at_ms, Verdict verdict, std::uint16_t status = 200) {
  AccessRecord r;
  r.at_ms = at_ms;
  r.family = 4;
  r.address[0] = 203;
  r.address[1] = 0;
  r.address[2] = 113;
  r.address[3] = 7;
  r.status = status;
  r.verdict = verdict;
  r.client_class = 3;
  r.method.set("POST");
  r.route.set("signup");
  r.path.set("/signup?x=1");
  r.user_agent.set("Mozilla/5.0");
  r.bytes_in = 123;
  r.bytes_out = 456;
  r.duration_ms = 12;
  r.upstream_ms = 10;
  return r;
}

std::vector<json> lines_of(const std::string& path) {
  std::vector<json> out;
  read_json_lines(path, [&](const json& j) {
    out.push_back(j);
    return true;
  });
  return out;
}

TEST(AccessLine, HasTheFields) {
  AccessRecord r = record(1'795'514'400'000, Verdict::RateLimited, 429);
  r.rule.set("signup-per-prefix");
  const json j = json::parse(format_access_line(r, 3, 0));
  EXPECT_EQ(j["time"], "2026-11-24T10:00:00.000Z");
  EXPECT_EQ(j["client"], "203.0.113.7");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["route"], "signup");
  EXPECT_EQ(j["path"], "/signup?x=1");
  EXPECT_EQ(j["status"], 429);
  EXPECT_EQ(j["verdict"], "rate_limited");
  EXPECT_EQ(j["rule"], "signup-per-prefix");
  EXPECT_EQ(j["class"], "resident");
  EXPECT_EQ(j["bytes_out"], 456);
  EXPECT_EQ(j["ua"], "Mozilla/5.0");
  EXPECT_EQ(j["skipped"], 3);
  EXPECT_FALSE(j.contains("dropped"));

  AccessRecord v6 = record(0, Verdict::Passed);
  v6.family = 6;
  std::memset(v6.address, 0, 16);
  v6.address[0] = 0x20;
  v6.address[1] = 0x01;
  v6.address[2] = 0x0d;
  v6.address[3] = 0xb8;
  v6.address[15] = 1;
  v6.user_agent.set("bad \xff utf8");
  const json k = json::parse(format_access_line(v6, 0, 2));
  EXPECT_EQ(k["client"], "2001:db8::1");
  EXPECT_EQ(k["dropped"], 2);
  EXPECT_FALSE(k.contains("rule"));
}

TEST(AccessLine, TextsAreCutToTheirSlots) {
  AccessRecord r;
  r.path.set(std::string(1000, 'p'));
  EXPECT_EQ(r.path.view().size(), sizeof(r.path.bytes));
  r.user_agent.set(std::string(1000, 'u'));
  EXPECT_EQ(r.user_agent.view().size(), 128u);
}

TEST(AccessLog, WritesWhatWorkersLog) {
  TempDir dir;
  AccessLogOptions o;
  o.path = dir.file("access.jsonl");
  std::string error;
  auto log = AccessLog::open(o, 2, &error);
  ASSERT_NE(log, nullptr) << error;
  std::thread w0([&] {
    for (int i = 0; i < 500; ++i) EXPECT_TRUE(log->log(0, record(1000 + i, Verdict::Passed)));
  });
  std::thread w1([&] {
    for (int i = 0; i < 500; ++i) EXPECT_TRUE(log->log(1, record(1000 + i, Verdict::Passed)));
  });
  w0.join();
  w1.join();
  log->flush();
  EXPECT_EQ(lines_of(o.path).size(), 1000u);
  const AccessLogStats s = log->stats();
  EXPECT_EQ(s.written, 1000u);
  EXPECT_EQ(s.dropped, 0u);
}

TEST(AccessLog, SamplesRefusalsUnderAFloodAndSaysHowManyItSkipped) {
  TempDir dir;
  AccessLogOptions o;
  o.path = dir.file("access.jsonl");
  o.refusals_keep_per_s = 10;
  o.refusals_sample_one_in = 100;
  std::string error;
  auto log = AccessLog::open(o, 1, &error);
  ASSERT_NE(log, nullptr);
  int logged = 0;
  // 1000 refusals in one second, plus passed requests that are never sampled.
  for (int i = 0; i < 1000; ++i) {
    logged += log->log(0, record(5'000'000 + i / 10, Verdict::RateLimited, 429));
    if (i % 100 == 0) {
      EXPECT_TRUE(log->log(0, record(5'000'000, Verdict::Passed)));
    }
  }
  // The next second starts afresh and carries the count of what was left out.
  EXPECT_TRUE(log->log(0, record(5'001'000, Verdict::Banned, 403)));
  log->flush();
  EXPECT_EQ(logged, 10 + 9);  // the first 10, then 1 in 100 of the 990 over
  const auto lines = lines_of(o.path);
  EXPECT_EQ(lines.size(), 19u + 10u + 1u);
  std::uint64_t skipped = 0;
  for (const json& j : lines) skipped += j.value("skipped", std::uint64_t{0});
  EXPECT_EQ(skipped, 1000u - 19u);
  EXPECT_EQ(log->stats().sampled_out, 1000u - 19u);
  EXPECT_EQ(lines.back()["verdict"], "banned");
}

TEST(AccessLog, AFullRingDropsAndCountsWithoutBlocking) {
  TempDir dir;
  AccessLogOptions o;
  o.path = dir.file("access.jsonl");
  o.ring_records = 16;
  o.poll_ms = 10'000;  // the writer sleeps: the ring fills
  std::string error;
  auto log = AccessLog::open(o, 1, &error);
  ASSERT_NE(log, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the writer go to sleep
  int accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += log->log(0, record(i, Verdict::Passed));
  EXPECT_EQ(accepted, 16);
  EXPECT_EQ(log->stats().dropped, 84u);
  log->flush();
  EXPECT_TRUE(log->log(0, record(200, Verdict::Passed)));
  log->flush();
  const auto lines = lines_of(o.path);
  ASSERT_EQ(lines.size(), 17u);
  EXPECT_EQ(lines.back()["dropped"], 84);
}

TEST(AccessLog, ReopenAfterAnOutsideRotation) {
  TempDir dir;
  AccessLogOptions o;
  o.path = dir.file("access.jsonl");
  std::string error;
  auto log = AccessLog::open(o, 1, &error);
  ASSERT_NE(log, nullptr);
  log->log(0, record(1, Verdict::Passed));
  log->flush();
  std::filesystem::rename(o.path, o.path + ".moved");
  log->reopen();
  log->flush();
  log->log(0, record(2, Verdict::Passed));
  log->flush();
  EXPECT_EQ(lines_of(o.path + ".moved").size(), 1u);
  EXPECT_EQ(lines_of(o.path).size(), 1u);
}

TEST(AccessLog, BoundedBySizeRotation) {
  TempDir dir;
  AccessLogOptions o;
  o.path = dir.file("access.jsonl");
  o.files = RotateOptions{4096, 2};
  o.write_buffer = 512;
  std::string error;
  auto log = AccessLog::open(o, 1, &error);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 2000; ++i) {
    while (!log->log(0, record(i, Verdict::Passed))) std::this_thread::yield();
  }
  log->flush();
  EXPECT_GT(log->stats().rotations, 0u);
  EXPECT_LE(std::filesystem::file_size(o.path), 4096u);
  EXPECT_LE(std::filesystem::file_size(o.path + ".1"), 4096u);
  EXPECT_FALSE(std::filesystem::exists(o.path + ".2"));
}

TEST(AccessLog, DestructorWritesWhatIsQueued) {
  TempDir dir;
  AccessLogOptions o;
  o.path = dir.file("access.jsonl");
  o.poll_ms = 10'000;
  std::string error;
  {
    auto log = AccessLog::open(o, 1, &error);
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 10; ++i) log->log(0, record(i, Verdict::Passed));
  }
  EXPECT_EQ(lines_of(o.path).size(), 10u);
}

}  // namespace
}  // namespace gh::observe
