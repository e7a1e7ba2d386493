// The `cluster:` section: absent means one node alone; seeds, credentials, timeouts and the node
// name, with file:line:col errors for bad values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fleet/config.h"
#include "policy/config.h"
#include "test_util.h"

namespace gh::policy {
namespace {

using test::errors_of;
using test::kBase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ClusterConfig, AbsentMeansAlone) {
  const LoadResult r = load_config_string(std::string(kBase), "test.yaml");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_FALSE(r.snapshot->config.cluster.enabled);
  EXPECT_TRUE(r.snapshot->config.cluster.seeds.empty());
}

TEST(ClusterConfig, ReadsEveryKey) {
  const LoadResult r = load_config_string(std::string(kBase) +
                                              "cluster:\n"
                                              "  seeds: [127.0.0.1:7000, 'redis.internal:6380']\n"
                                              "  user: gatehouse\n"
                                              "  connect_timeout: 100ms\n"
                                              "  command_timeout: 5ms\n"
                                              "  node: edge-1\n"
                                              "  sync_interval: 150ms\n"
                                              "  prefix: 'shop:{gh}:'\n"
                                              "  breaker_failures: 5\n"
                                              "  breaker_open_for: 2s\n"
                                              "  max_pending: 100\n"
                                              "  mode: cluster\n",
                                          "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  const ClusterConfig& c = r.snapshot->config.cluster;
  EXPECT_TRUE(c.enabled);
  ASSERT_EQ(c.seeds.size(), 2u);
  EXPECT_EQ(c.seeds[0].host, "127.0.0.1");
  EXPECT_EQ(c.seeds[0].port, 7000);
  EXPECT_EQ(c.seeds[1].host, "redis.internal");
  EXPECT_EQ(c.seeds[1].port, 6380);
  EXPECT_EQ(c.user, "gatehouse");
  EXPECT_EQ(c.connect_timeout, 100u);
  EXPECT_EQ(c.command_timeout, 5u);
  EXPECT_EQ(c.node, "edge-1");
  EXPECT_EQ(c.sync_interval, 150u);
  EXPECT_EQ(c.prefix, "shop:{gh}:");
  EXPECT_EQ(c.breaker_failures, 5u);
  EXPECT_EQ(c.breaker_open_for, 2000u);
  EXPECT_EQ(c.max_pending, 100u);
  EXPECT_EQ(c.mode, ClusterMode::Cluster);
}

TEST(ClusterConfig, DefaultsAreForTheRequestPath) {
  const LoadResult r =
      load_config_string(std::string(kBase) + "cluster:\n  seeds: [127.0.0.1:6379]\n", "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  const ClusterConfig& c = r.snapshot->config.cluster;
  EXPECT_EQ(c.command_timeout, 20u);
  EXPECT_EQ(c.connect_timeout, 250u);
  EXPECT_EQ(c.prefix, "gh:");
  EXPECT_EQ(c.node, fleet::default_node_name());
  EXPECT_FALSE(c.node.empty());
  EXPECT_TRUE(c.password_file.empty());
  EXPECT_EQ(c.mode, ClusterMode::Auto);
}

TEST(ClusterConfig, Errors) {
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  node: a\n"),
              ElementsAre("test.yaml:6:1: cluster: missing required key 'seeds' (the Redis "
                          "addresses, host:port)"));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: []\n"),
              ElementsAre(HasSubstr("test.yaml:7:10: cluster.seeds")));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [127.0.0.1]\n"),
              ElementsAre(HasSubstr("test.yaml:7:11: cluster.seeds[0]: ")));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1, a:1]\n"),
              ElementsAre("test.yaml:7:16: cluster.seeds[1]: duplicate seed 'a:1'"));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  command_timeout: 0ms\n"),
              ElementsAre(HasSubstr("test.yaml:8:20: cluster.command_timeout: must be between")));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  node: 'a b'\n"),
              ElementsAre(HasSubstr("test.yaml:8:9: cluster.node")));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  prefix: 'a b'\n"),
              ElementsAre(HasSubstr("test.yaml:8:11: cluster.prefix: expected 1-64 letters")));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  mode: clustr\n"),
              ElementsAre("test.yaml:8:9: cluster.mode: unknown mode 'clustr': use auto, "
                          "standalone or cluster (did you mean 'cluster'?)"));
  EXPECT_THAT(errors_of(std::string(kBase) + "cluster:\n  seeds: [a:1]\n  seed: [a:1]\n"),
              ElementsAre(HasSubstr("did you mean 'seeds'")));
  EXPECT_THAT(
      errors_of(std::string(kBase) +
                "cluster:\n  seeds: [a:1]\n  password_file: /nonexistent/pw\n"),
      ElementsAre("test.yaml:8:18: cluster.password_file: cannot use '/nonexistent/pw': No such "
                  "file or directory"));
}

TEST(ClusterConfig, PasswordFileMustBeTheOwners) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("gh-cluster-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto pw = dir / "redis.pw";
  std::ofstream(pw) << "secret\n";
  ::chmod(pw.c_str(), 0644);
  const std::string main = (dir / "main.yaml").string();
  const std::string yaml =
      std::string(kBase) + "cluster:\n  seeds: [a:1]\n  password_file: redis.pw\n";
  LoadResult r = load_config_string(yaml, main);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].to_string(), HasSubstr("readable by others than its owner (chmod 600)"));
  ::chmod(pw.c_str(), 0600);
  r = load_config_string(yaml, main);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  EXPECT_EQ(r.snapshot->config.cluster.password_file, pw.string());  // beside the config file
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gh::policy
