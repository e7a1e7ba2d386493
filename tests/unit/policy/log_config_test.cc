// The `log` section: format and level, with file:line:col errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/config.h"
#include "test_util.h"

namespace gh::policy {
namespace {

using test::errors_of;
using test::kBase;
using ::testing::ElementsAre;

TEST(LogConfig, DefaultsToTextFromInfo) {
  const LoadResult r = load_config_string(std::string(kBase), "test.yaml");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.snapshot->config.log.format, core::LogFormat::Text);
  EXPECT_EQ(r.snapshot->config.log.level, core::LogLevel::Info);
}

TEST(LogConfig, ReadsFormatAndLevel) {
  const LoadResult r =
      load_config_string(std::string(kBase) + "log: { format: json, level: debug }\n", "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.log.format, core::LogFormat::Json);
  EXPECT_EQ(r.snapshot->config.log.level, core::LogLevel::Debug);
  for (const auto& [text, level] :
       std::vector<std::pair<std::string, core::LogLevel>>{{"trace", core::LogLevel::Trace},
                                                           {"info", core::LogLevel::Info},
                                                           {"warn", core::LogLevel::Warn},
                                                           {"error", core::LogLevel::Error}}) {
    const LoadResult l =
        load_config_string(std::string(kBase) + "log:\n  level: " + text + "\n", "test.yaml");
    ASSERT_TRUE(l.errors.empty()) << text;
    EXPECT_EQ(l.snapshot->config.log.level, level) << text;
    EXPECT_EQ(l.snapshot->config.log.format, core::LogFormat::Text) << text;
  }
}

TEST(LogConfig, Errors) {
  // kBase is 5 lines: the section starts on line 6.
  EXPECT_THAT(
      errors_of(std::string(kBase) + "log: { format: xml }\n"),
      ElementsAre("test.yaml:6:16: log.format: unknown log format 'xml': use text or json"));
  EXPECT_THAT(errors_of(std::string(kBase) + "log:\n  level: warning\n"),
              ElementsAre("test.yaml:7:10: log.level: unknown log level 'warning': use trace, "
                          "debug, info, warn or error"));
  EXPECT_THAT(errors_of(std::string(kBase) + "log:\n  lvl: debug\n"),
              ElementsAre("test.yaml:7:3: unknown key 'lvl' in log (did you mean 'level'?)"));
}

}  // namespace
}  // namespace gh::policy
