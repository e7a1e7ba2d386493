// The 600-second ring for the dashboard: wrap-around, column JSON, modes, folding into a minute.
#include "observe/series.h"

#include <gtest/gtest.h>

namespace gh::observe {
namespace {

Second at(std::int64_t s, std::uint64_t passed, std::uint64_t shed = 0) {
  Second x;
  x.at_ms = s * 1000;
  x.figures.verdict(Verdict::Passed) = passed;
  x.figures.verdict(Verdict::Shed) = shed;
  x.figures.class_requests[3] = passed;
  x.figures.class_served[3] = passed;
  x.figures.latency_p50_ms = static_cast<std::uint32_t>(s % 7);
  x.figures.latency_p99_ms = static_cast<std::uint32_t>(s);
  x.figures.queue_length = static_cast<std::uint64_t>(s);
  x.figures.newcomers_admitted = 1;
  return x;
}

TEST(SecondSeries, ColumnsOldestFirstAndBoundedToTheRequest) {
  SecondSeries s;
  for (int i = 1; i <= 10; ++i) s.push(at(1000 + i, i));
  const auto j = s.json(3);
  EXPECT_EQ(j["t"], (nlohmann::json{1008, 1009, 1010}));
  EXPECT_EQ(j["passed"], (nlohmann::json{8, 9, 10}));
  EXPECT_EQ(j["requests"], (nlohmann::json{8, 9, 10}));
  EXPECT_EQ(j["resident_served"], (nlohmann::json{8, 9, 10}));
  EXPECT_EQ(j["queue_length"], (nlohmann::json{1008, 1009, 1010}));
  for (auto name : kVerdictNames) EXPECT_EQ(j[std::string(name)].size(), 3u) << name;
  for (auto name : kClassNames) EXPECT_EQ(j[std::string(name)].size(), 3u) << name;
  EXPECT_EQ(s.json(100)["t"].size(), 10u);
}

TEST(SecondSeries, WhatSignupsPaidIsAColumnAndAddsIntoTheMinute) {
  SecondSeries s;
  for (int i = 1; i <= 4; ++i) {
    Second x = at(2000 + i, 1);
    x.figures.signup_accounts = {0, 1, static_cast<std::uint64_t>(i % 2)};
    x.figures.signup_hashes = {65536, static_cast<std::uint64_t>(i % 2) * 1048576};
    x.figures.signup_solve_ms = 900;
    s.push(x);
  }
  const auto j = s.json(4);
  EXPECT_EQ(j["signup_accounts_base"], (nlohmann::json{1, 1, 1, 1}));
  EXPECT_EQ(j["signup_accounts_surcharged"], (nlohmann::json{1, 0, 1, 0}));
  EXPECT_EQ(j["signup_hashes_surcharged"], (nlohmann::json{1048576, 0, 1048576, 0}));
  EXPECT_EQ(j["signup_accounts_unpaid"], (nlohmann::json{0, 0, 0, 0}));
  const Minute m = s.fold(2001'000, 2005'000);
  EXPECT_EQ(m.figures.signup_accounts[1], 4u);
  EXPECT_EQ(m.figures.signup_accounts[2], 2u);
  EXPECT_EQ(m.figures.signup_hashes[1], 2u * 1048576);
  EXPECT_EQ(m.figures.signup_solve_ms, 3600u);
}

TEST(SecondSeries, KeepsTheLast600Seconds) {
  SecondSeries s;
  for (int i = 0; i < 1000; ++i) s.push(at(i, 1));
  EXPECT_EQ(s.size(), kSeriesSeconds);
  const auto j = s.json(10'000);
  ASSERT_EQ(j["t"].size(), kSeriesSeconds);
  EXPECT_EQ(j["t"].front(), 400);
  EXPECT_EQ(j["t"].back(), 999);
}

TEST(SecondSeries, AddsASecondNotAfterTheNewestIntoIt) {
  // The figures are deltas already taken from the counters: a second sample in the same second
  // (the tick at stop) or after a clock step back must not be lost.
  SecondSeries s;
  s.push(at(10, 1));
  s.push(at(10, 5));
  s.push(at(9, 5, 2));
  EXPECT_EQ(s.size(), 1u);
  const auto j = s.json(10);
  EXPECT_EQ(j["passed"], (nlohmann::json{11}));
  EXPECT_EQ(j["shed"], (nlohmann::json{2}));
  EXPECT_EQ(j["queue_length"], (nlohmann::json{10}));  // the highest, not a sum
}

TEST(SecondSeries, ModesAsColumnsWithNullWhereUnknown) {
  SecondSeries s;
  Second a = at(1, 1);
  a.modes = {{"signup", 0}};
  Second b = at(2, 1);
  b.modes = {{"signup", 2}, {"signup-eu", 1}};
  s.push(a);
  s.push(b);
  const auto j = s.json(10);
  EXPECT_EQ(j["modes"]["signup"], (nlohmann::json{0, 2}));
  EXPECT_EQ(j["modes"]["signup-eu"], (nlohmann::json{nullptr, 1}));
  EXPECT_EQ(j["mode_names"][2], "queue");
}

TEST(SecondSeries, FoldsSecondsIntoAMinute) {
  SecondSeries s;
  for (int i = 0; i < 120; ++i) {
    Second x = at(i, i < 60 ? 10 : 1, i == 30 ? 50 : 0);
    x.modes = {{"signup", static_cast<std::uint8_t>(i < 45 ? 0 : 2)}};
    s.push(x);
  }
  const Minute m = s.fold(0, 60'000);
  EXPECT_EQ(m.at_ms, 0);
  EXPECT_EQ(m.figures.verdict(Verdict::Passed), 600u);
  EXPECT_EQ(m.figures.verdict(Verdict::Shed), 50u);
  EXPECT_EQ(m.figures.newcomers_admitted, 60u);
  EXPECT_EQ(m.figures.queue_length, 59u);    // the largest
  EXPECT_EQ(m.figures.latency_p99_ms, 59u);  // the largest
  EXPECT_EQ(m.figures.latency_p50_ms, 3u);   // the median of 0..6 repeated
  EXPECT_EQ(m.peak_rps, 60u);                // second 30: 10 passed + 50 shed
  EXPECT_EQ(m.modes.at("signup"), "queue");
  EXPECT_EQ(s.fold(60'000, 120'000).figures.verdict(Verdict::Passed), 60u);
}

}  // namespace
}  // namespace gh::observe
