// The path rules (policy/paths.h): state files inside state_dir, relative names relative to the
// configuration file that names them, absolute names as written.
#include "policy/paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "policy/config.h"
#include "test_util.h"

namespace gh::policy {
namespace {

class Paths : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        (std::filesystem::temp_directory_path() / ("gh_paths_test_" + std::to_string(::getpid())))
            .string();
    std::filesystem::create_directories(dir_ + "/etc/conf.d");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  Config load(const std::string& name) {
    LoadResult r = load_config_file(dir_ + "/" + name);
    std::string all;
    for (const auto& e : r.errors) all += e.to_string() + "\n";
    EXPECT_TRUE(r.ok()) << all;
    return r.ok() ? r.snapshot->config : Config{};
  }

  std::string dir_;
};

TEST_F(Paths, DefaultsLiveInStateDirNextToTheConfig) {
  write("etc/gatehouse.yaml", std::string(test::kBase));
  const Config c = load("etc/gatehouse.yaml");
  const std::string etc = dir_ + "/etc";
  EXPECT_EQ(c.state_dir, etc + "/var");
  EXPECT_EQ(c.secrets.key_file, etc + "/var/secret.key");
  EXPECT_EQ(c.bans.journal, etc + "/var/bans.journal");
  EXPECT_EQ(c.access_log.path, etc + "/var/access.log");
}

TEST_F(Paths, RelativeStateFilesAreInsideStateDir) {
  write("etc/gatehouse.yaml", std::string(test::kBase) +
                                  "state_dir: ./state/\n"
                                  "secrets: { key_file: keys/secret.key }\n"
                                  "bans: { journal: bans.journal }\n"
                                  "access_log: { path: /var/log/gatehouse/access.log }\n");
  const Config c = load("etc/gatehouse.yaml");
  const std::string state = dir_ + "/etc/state";  // "./" and the trailing slash dropped
  EXPECT_EQ(c.state_dir, state);
  EXPECT_EQ(c.secrets.key_file, state + "/keys/secret.key");
  EXPECT_EQ(c.bans.journal, state + "/bans.journal");
  EXPECT_EQ(c.access_log.path, "/var/log/gatehouse/access.log");  // absolute: as written
}

TEST_F(Paths, AbsoluteStateDir) {
  write("etc/gatehouse.yaml", std::string(test::kBase) + "state_dir: /var/lib/gatehouse\n" +
                                  "secrets: { key_file: /etc/gatehouse/secret.key }\n");
  const Config c = load("etc/gatehouse.yaml");
  EXPECT_EQ(c.state_dir, "/var/lib/gatehouse");
  EXPECT_EQ(c.secrets.key_file, "/etc/gatehouse/secret.key");
  EXPECT_EQ(c.bans.journal, "/var/lib/gatehouse/bans.journal");
}

// Files Gatehouse reads are relative to the file that names them, an included one included.
TEST_F(Paths, ReadFilesAreRelativeToTheFileNamingThem) {
  write("etc/theme.css", "body{}");
  write("etc/conf.d/admin.yaml", "admin: { token_file: admin.token }\nstate_dir: ../state\n");
  write("etc/gatehouse.yaml", std::string(test::kBase) +
                                  "include: [conf.d/admin.yaml]\n"
                                  "challenge: { theme_css_file: theme.css }\n");
  const Config c = load("etc/gatehouse.yaml");
  EXPECT_EQ(c.admin.token_file, dir_ + "/etc/conf.d/admin.token");
  EXPECT_EQ(c.challenge.theme_css_file, dir_ + "/etc/theme.css");
  // Relative to conf.d/; ".." is left to the kernel (a symbolic link would make it differ).
  EXPECT_EQ(c.state_dir, dir_ + "/etc/conf.d/../state");
  EXPECT_EQ(c.bans.journal, dir_ + "/etc/conf.d/../state/bans.journal");
}

// A configuration from a string (the demo, tests) has no directory: the current one.
TEST_F(Paths, StringConfigsStayRelativeToTheWorkingDirectory) {
  LoadResult r =
      load_config_string(std::string(test::kBase) + "bans: { journal: j.journal }\n", "demo");
  ASSERT_TRUE(r.ok());
  const Config& c = r.snapshot->config;
  EXPECT_EQ(c.state_dir, "var");
  EXPECT_EQ(c.secrets.key_file, "var/secret.key");
  EXPECT_EQ(c.bans.journal, "var/j.journal");
}

TEST(PathUnder, Joins) {
  EXPECT_EQ(path_under("/var/lib/gatehouse", "secret.key"), "/var/lib/gatehouse/secret.key");
  EXPECT_EQ(path_under("/var/lib/gatehouse/", "./a/b"), "/var/lib/gatehouse/a/b");
  EXPECT_EQ(path_under("/var/lib/gatehouse", "/etc/key"), "/etc/key");
  EXPECT_EQ(path_under("/", "key"), "/key");
  EXPECT_EQ(path_under("", "key"), "key");
}

}  // namespace
}  // namespace gh::policy
