#include "core/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace gh::core {
namespace {

constexpr std::int64_t kAt = 1764000000127;  // 2025-11-24T16:00:00.127Z

TEST(Log, TextLineHasUtcMillisecondsAndFields) {
  EXPECT_EQ(format_log_line(LogFormat::Text, kAt, spdlog::level::info, "listening", nullptr),
            "2025-11-24T16:00:00.127Z info listening");
  const LogFields fields = {{"address", "127.0.0.1:8080"}, {"workers", 2}, {"reason", "a b"}};
  EXPECT_EQ(format_log_line(LogFormat::Text, kAt, spdlog::level::warn, "m", &fields),
            "2025-11-24T16:00:00.127Z warn m address=127.0.0.1:8080 workers=2 reason=\"a b\"");
  EXPECT_EQ(format_log_line(LogFormat::Text, 999, spdlog::level::err, "x", nullptr),
            "1970-01-01T00:00:00.999Z error x");
}

TEST(Log, JsonLineHasTsLevelMsgAndFields) {
  const LogFields fields = {{"event", "ban"},
                            {"cidr", "192.0.2.0/24"},
                            {"duration_s", 60},
                            {"msg", "cannot replace the message"}};
  const std::string line = format_log_line(LogFormat::Json, kAt, spdlog::level::info,
                                           "event ban: \"quoted\"\n", &fields);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;  // one line, whatever the message
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(line);
  auto it = j.begin();
  EXPECT_EQ(it.key(), "ts");  // first, as shippers expect
  EXPECT_EQ(j["ts"], "2025-11-24T16:00:00.127Z");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "event ban: \"quoted\"\n");
  EXPECT_EQ(j["event"], "ban");
  EXPECT_EQ(j["cidr"], "192.0.2.0/24");
  EXPECT_EQ(j["duration_s"], 60);
  EXPECT_EQ(j.size(), 6u);
  // Invalid UTF-8 in a message does not make an invalid line.
  const std::string bad =
      format_log_line(LogFormat::Json, kAt, spdlog::level::debug, "\xff\xfe", nullptr);
  EXPECT_NO_THROW(nlohmann::json::parse(bad)) << bad;
}

TEST(Log, ParsesNames) {
  EXPECT_EQ(parse_log_format("json"), LogFormat::Json);
  EXPECT_EQ(parse_log_format("text"), LogFormat::Text);
  EXPECT_FALSE(parse_log_format("JSON"));
  EXPECT_EQ(parse_log_level("trace"), LogLevel::Trace);
  EXPECT_EQ(parse_log_level("error"), LogLevel::Error);
  EXPECT_FALSE(parse_log_level("warning"));
  EXPECT_FALSE(parse_log_level(""));
  for (LogLevel l :
       {LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error}) {
    EXPECT_EQ(parse_log_level(log_level_name(l)), l);
  }
}

TEST(Log, ConfigureSetsLevelAndFormat) {
  configure_logging(LogFormat::Json, LogLevel::Warn);
  EXPECT_EQ(log_format(), LogFormat::Json);
  EXPECT_EQ(log_level(), LogLevel::Warn);
  EXPECT_FALSE(spdlog::default_logger()->should_log(spdlog::level::info));
  EXPECT_TRUE(spdlog::default_logger()->should_log(spdlog::level::warn));
  configure_logging(LogFormat::Text, LogLevel::Debug);
  EXPECT_TRUE(spdlog::default_logger()->should_log(spdlog::level::debug));
  EXPECT_FALSE(spdlog::default_logger()->should_log(spdlog::level::trace));
  configure_logging(LogFormat::Text, LogLevel::Info);
}

}  // namespace
}  // namespace gh::core
