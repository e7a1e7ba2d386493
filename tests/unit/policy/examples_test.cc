// Every shipped example must load cleanly. Tests run from the build tree: find the sources
// relative to this file.
#include <gtest/gtest.h>

#include <filesystem>

#include "policy/config.h"

namespace gh::policy {
namespace {

std::filesystem::path examples_dir() {
  return std::filesystem::path(__FILE__).parent_path() / ".." / ".." / ".." / "examples";
}

TEST(Examples, AllLoad) {
  int count = 0;
  ASSERT_TRUE(std::filesystem::is_directory(examples_dir())) << examples_dir();
  for (const auto& entry : std::filesystem::directory_iterator(examples_dir())) {
    if (entry.path().extension() != ".yaml") continue;
    // Envoy's own configuration (the decision service's front), not Gatehouse's.
    if (entry.path().filename().string().starts_with("envoy-")) continue;
    ++count;
    auto r = load_config_file(entry.path().string());
    std::string all;
    for (const auto& e : r.errors) all += e.to_string() + "\n";
    EXPECT_TRUE(r.ok()) << all;
  }
  EXPECT_GE(count, 2);
}

TEST(Examples, QuickStartRoutes) {
  auto r = load_config_file((examples_dir() / "gatehouse.yaml").string());
  ASSERT_TRUE(r.ok());
  const RouteTable& t = r.snapshot->routes;
  EXPECT_EQ(t.match("localhost:8080", http::Method::Post, "/signup")->route_class,
            RouteClass::Signup);
  EXPECT_EQ(t.match("localhost:8080", http::Method::Post, "/login")->route_class,
            RouteClass::Login);
  EXPECT_EQ(t.match("localhost:8080", http::Method::Get, "/account/settings")->name, "account");
  EXPECT_EQ(t.match("localhost:8080", http::Method::Delete, "/signup")->name, "everything-else");
  EXPECT_EQ(t.match("localhost:8080", http::Method::Get, "/")->name, "everything-else");
  char scratch[64];
  EXPECT_EQ(t.match("localhost:8080", http::Method::Post,
                    http::canonical_path("//%73ignup", path_options(r.snapshot->config.routing),
                                         scratch, sizeof scratch)
                        .path)
                ->name,
            "signup");
}

TEST(Examples, QuickStartLimits) {
  auto r = load_config_file((examples_dir() / "gatehouse.yaml").string());
  ASSERT_TRUE(r.ok());
  const Config& c = r.snapshot->config;
  const RouteConfig& signup = c.routes[0];
  ASSERT_EQ(signup.limits.size(), 2u);
  EXPECT_EQ(signup.limits[0].key[0].kind, KeyPartKind::ClientPrefix);
  EXPECT_TRUE(signup.limits[1].key.empty());  // the global bucket
  const RouteConfig& login = c.routes[1];
  ASSERT_EQ(login.name, "login");
  ASSERT_EQ(login.limits.size(), 2u);
  const LimitConfig& failures = login.limits[0];
  ASSERT_EQ(failures.key.size(), 1u);
  EXPECT_EQ(failures.key[0].kind, KeyPartKind::BodyField);
  EXPECT_EQ(failures.key[0].name, "username");
  EXPECT_EQ(failures.count_when_status, std::vector<std::uint16_t>{401});
  EXPECT_EQ(login.limits[1].action.kind, ActionKind::Ban);
}

TEST(Examples, Split) {
  auto r = load_config_file((examples_dir() / "split.yaml").string());
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  const Config& c = r.snapshot->config;
  EXPECT_EQ(c.source_files.size(), 3u);
  ASSERT_EQ(c.routes.size(), 5u);
  EXPECT_EQ(c.routes[0].name, "health");
  EXPECT_EQ(c.routes[1].name, "signup");
  EXPECT_EQ(c.routes[1].upstream, "auth");
  EXPECT_EQ(c.routes.back().name, "everything-else");
  EXPECT_EQ(c.bans.escalation_window, 7u * 86'400'000);
}

TEST(Examples, BehindLoadBalancer) {
  auto r = load_config_file((examples_dir() / "behind-load-balancer.yaml").string());
  ASSERT_TRUE(r.ok());
  const Config& c = r.snapshot->config;
  EXPECT_TRUE(c.listen[0].proxy_protocol);
  EXPECT_EQ(c.clients.trusted_proxies.size(), 2u);
  EXPECT_EQ(r.snapshot->routes.match("www.example.com", http::Method::Post, "/login")->upstream,
            "auth");
  EXPECT_EQ(r.snapshot->routes.match("other.example.com", http::Method::Post, "/login")->name,
            "default");
}

}  // namespace
}  // namespace gh::policy
