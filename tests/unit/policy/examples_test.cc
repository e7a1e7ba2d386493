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
