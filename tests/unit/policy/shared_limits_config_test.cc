// Shared limits in the configuration: `shared` (default true) and `exact` per limit, the sync's
// shards and key cap in `cluster:`, with file:line:col errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/config.h"
#include "test_util.h"

namespace gh::policy {
namespace {

using test::errors_of;
using test::kBase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string with_limit(const std::string& extra) {
  return std::string(kBase) +
         "routes:\n"
         "  - name: signup\n"
         "    limits:\n"
         "      - name: joins\n"
         "        key: [client.prefix]\n"
         "        rate: 5/h\n" +
         extra;
}

TEST(SharedLimitsConfig, SharedByDefaultExactWhenAsked) {
  LoadResult r = load_config_string(with_limit(""), "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  const LimitConfig& plain = r.snapshot->config.routes.at(0).limits.at(0);
  EXPECT_TRUE(plain.shared);
  EXPECT_FALSE(plain.exact);

  r = load_config_string(with_limit("        exact: true\n"), "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  EXPECT_TRUE(r.snapshot->config.routes.at(0).limits.at(0).exact);

  r = load_config_string(with_limit("        shared: false\n"), "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  EXPECT_FALSE(r.snapshot->config.routes.at(0).limits.at(0).shared);
}

TEST(SharedLimitsConfig, Errors) {
  EXPECT_THAT(errors_of(with_limit("        shared: false\n        exact: true\n")),
              ElementsAre("test.yaml:12:17: routes[0].limits[0]: an exact limit is shared across "
                          "the fleet: drop 'shared: false' or 'exact: true'"));
  EXPECT_THAT(errors_of(with_limit("        exact: maybe\n")),
              ElementsAre(HasSubstr("test.yaml:12:16: routes[0].limits[0].exact")));
}

TEST(SharedLimitsConfig, ClusterShardsAndKeyCap) {
  LoadResult r = load_config_string(std::string(kBase) +
                                        "cluster:\n  seeds: [a:1]\n  limit_shards: 64\n"
                                        "  max_sync_keys: 5000\n",
                                    "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.cluster.limit_shards, 64u);
  EXPECT_EQ(r.snapshot->config.cluster.max_sync_keys, 5000u);
  r = load_config_string(std::string(kBase) + "cluster:\n  seeds: [a:1]\n", "test.yaml");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.snapshot->config.cluster.limit_shards, 16u);
  EXPECT_EQ(r.snapshot->config.cluster.max_sync_keys, 20'000u);
  EXPECT_EQ(r.snapshot->config.cluster.sync_interval, 200u);
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  limit_shards: 0\n"),
              ElementsAre(HasSubstr("test.yaml:8:17: cluster.limit_shards")));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  max_sync_keys: 2\n"),
              ElementsAre(HasSubstr("test.yaml:8:18: cluster.max_sync_keys")));
}

TEST(SharedLimitsConfig, RequestTimeout) {
  LoadResult r = load_config_string(std::string(kBase) + "cluster:\n  seeds: [a:1]\n", "test.yaml");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.snapshot->config.cluster.request_timeout, 5u);
  r = load_config_string(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  request_timeout: 0ms\n",
                         "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.cluster.request_timeout, 0u) << "0: never wait";
  r = load_config_string(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  request_timeout: 20ms\n",
                         "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.cluster.request_timeout, 20u);
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  request_timeout: 2s\n"),
              ElementsAre(HasSubstr("test.yaml:8:20: cluster.request_timeout")));
}

}  // namespace
}  // namespace gh::policy
