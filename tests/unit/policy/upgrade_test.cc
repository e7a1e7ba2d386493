// A route's `upgrade` opt-in and the limits of its spliced connections (policy/config.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "policy/config.h"
#include "test_util.h"

namespace gh::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RouteUpgrade, DefaultsRefuseAndBoundSplices) {
  auto r = load_config_string(std::string(test::kBase) + "routes:\n  - name: rest\n", "t.yaml");
  ASSERT_TRUE(r.ok());
  const RouteConfig& route = r.snapshot->config.routes.at(0);
  EXPECT_TRUE(route.upgrade.empty());
  EXPECT_EQ(route.upgrade_idle_timeout, 120'000);
  EXPECT_EQ(route.upgrade_max_bytes, 256ull << 20);
}

TEST(RouteUpgrade, OptInWithLimits) {
  auto r = load_config_string(std::string(test::kBase) +
                                  "routes:\n"
                                  "  - name: chat\n"
                                  "    match: { path_prefix: /ws/ }\n"
                                  "    upgrade: [WebSocket]\n"
                                  "    upgrade_idle_timeout: 30s\n"
                                  "    upgrade_max_size: 4MiB\n"
                                  "  - name: rest\n",
                              "t.yaml");
  ASSERT_TRUE(r.ok());
  const RouteConfig& chat = r.snapshot->config.routes.at(0);
  EXPECT_THAT(chat.upgrade, ElementsAre("websocket"));
  EXPECT_EQ(chat.upgrade_idle_timeout, 30'000);
  EXPECT_EQ(chat.upgrade_max_bytes, 4ull << 20);
}

TEST(RouteUpgrade, ErrorsNameTheSpot) {
  auto errs = test::errors_of(std::string(test::kBase) +
                              "routes:\n"
                              "  - name: a\n"
                              "    upgrade: [websockets]\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_THAT(errs[0], HasSubstr("test.yaml:8:15"));
  EXPECT_THAT(errs[0], HasSubstr("routes[0].upgrade[0]: unknown protocol 'websockets'"));
  EXPECT_THAT(errs[0], HasSubstr("websocket"));

  errs = test::errors_of(std::string(test::kBase) +
                         "routes:\n"
                         "  - name: a\n"
                         "    upgrade: [h2c]\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_THAT(errs[0], HasSubstr("past every stage"));

  errs = test::errors_of(std::string(test::kBase) +
                         "routes:\n"
                         "  - name: a\n"
                         "    upgrade: []\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_THAT(errs[0], HasSubstr("test.yaml:8:"));
  EXPECT_THAT(errs[0], HasSubstr("leave the key out to refuse upgrades"));

  errs = test::errors_of(std::string(test::kBase) +
                         "routes:\n"
                         "  - name: a\n"
                         "    upgrade: websocket\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_THAT(errs[0], HasSubstr("a list of protocols"));

  errs = test::errors_of(std::string(test::kBase) +
                         "routes:\n"
                         "  - name: a\n"
                         "    upgrade: [websocket, WEBSOCKET]\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_THAT(errs[0], HasSubstr("duplicate protocol"));

  // Limits without the opt-in would silently do nothing.
  errs = test::errors_of(std::string(test::kBase) +
                         "routes:\n"
                         "  - name: a\n"
                         "    upgrade_idle_timeout: 1m\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_THAT(errs[0], HasSubstr("test.yaml:8:5"));
  EXPECT_THAT(errs[0], HasSubstr("set `upgrade` on this route too"));

  errs = test::errors_of(std::string(test::kBase) +
                         "routes:\n"
                         "  - name: a\n"
                         "    upgrade: [websocket]\n"
                         "    upgrade_max_size: 10B\n"
                         "    upgrade_idle_timeout: 10ms\n");
  EXPECT_EQ(errs.size(), 2u);
}

}  // namespace
}  // namespace gh::policy
