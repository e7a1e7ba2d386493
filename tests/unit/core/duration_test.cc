#include "core/duration.h"

#include <gtest/gtest.h>

namespace gh::core {
namespace {

constexpr std::int64_t kS = 1000;

std::string config(std::int64_t ms, TimeUnit largest = TimeUnit::Day) {
  return format_duration(ms, DurationStyle::Config, largest);
}

std::string compact(std::int64_t seconds) {
  return format_duration(seconds * kS, DurationStyle::Compact);
}

std::string minutes(std::int64_t ms) {
  return format_duration(ms, DurationStyle::Minutes);
}

TEST(Duration, Config) {
  EXPECT_EQ(config(0), "0s");
  EXPECT_EQ(config(1), "1ms");
  EXPECT_EQ(config(1500), "1500ms");
  EXPECT_EQ(config(1 * kS), "1s");
  EXPECT_EQ(config(90 * kS), "90s");
  EXPECT_EQ(config(120 * kS), "2m");
  EXPECT_EQ(config(3600 * kS), "1h");
  EXPECT_EQ(config(90 * 60 * kS), "90m");
  EXPECT_EQ(config(86'400 * kS), "1d");
  EXPECT_EQ(config(365 * 86'400 * kS), "365d");
  EXPECT_EQ(config(-5 * kS), "0s");
}

TEST(Duration, ConfigUpToALargestUnit) {
  EXPECT_EQ(config(60 * kS, TimeUnit::Second), "60s");
  EXPECT_EQ(config(10 * kS, TimeUnit::Second), "10s");
  EXPECT_EQ(config(2500, TimeUnit::Second), "2500ms");
  EXPECT_EQ(config(0, TimeUnit::Second), "0s");
  EXPECT_EQ(config(86'400 * kS, TimeUnit::Hour), "24h");
  EXPECT_EQ(config(90 * 60 * kS, TimeUnit::Minute), "90m");
}

TEST(Duration, Compact) {
  EXPECT_EQ(compact(0), "0s");
  EXPECT_EQ(compact(-5), "0s");
  EXPECT_EQ(compact(42), "42s");
  EXPECT_EQ(compact(60), "1m");
  EXPECT_EQ(compact(3552), "59m12s");
  EXPECT_EQ(compact(3600), "1h");
  EXPECT_EQ(compact(3601), "1h");  // two units at most, the second next to the first
  EXPECT_EQ(compact(3660), "1h1m");
  EXPECT_EQ(compact(86'400), "1d");
  EXPECT_EQ(compact(2 * 86'400 + 4 * 3600 + 59), "2d4h");
  EXPECT_EQ(compact(365 * 86'400), "365d");
  EXPECT_EQ(format_duration(999, DurationStyle::Compact), "0s");  // whole seconds
  EXPECT_EQ(format_duration(61'500, DurationStyle::Compact), "1m1s");
}

TEST(Duration, Minutes) {
  EXPECT_EQ(minutes(0), "0 min");
  EXPECT_EQ(minutes(-1), "0 min");
  EXPECT_EQ(minutes(59'999), "0 min");
  EXPECT_EQ(minutes(6 * 60 * kS), "6 min");
  EXPECT_EQ(minutes(59 * 60 * kS), "59 min");
  EXPECT_EQ(minutes(60 * 60 * kS), "1 h 00 min");
  EXPECT_EQ(minutes(65 * 60 * kS), "1 h 05 min");
  EXPECT_EQ(minutes(26 * 3600 * kS + 42 * 60 * kS), "26 h 42 min");
}

}  // namespace
}  // namespace gh::core
