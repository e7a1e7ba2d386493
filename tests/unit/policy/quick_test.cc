#include "policy/quick.h"

#include <gtest/gtest.h>

#include "client/address.h"

namespace gh::policy {
namespace {

TEST(QuickSnapshot, ProxyMode) {
  auto from = *client::parse_socket_address("0.0.0.0:8080");
  auto to = *client::parse_socket_address("[::1]:3000");
  SnapshotPtr s = make_proxy_snapshot(from, to, 3);
  ASSERT_NE(s, nullptr);
  const Config& c = s->config;
  EXPECT_TRUE(c.source_path.empty());
  EXPECT_EQ(c.generation, 0u);
  EXPECT_EQ(c.server.workers, 3u);
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].address, from);
  EXPECT_FALSE(c.listen[0].proxy_protocol);
  ASSERT_EQ(c.upstreams.size(), 1u);
  EXPECT_EQ(c.upstreams[0].name, "app");
  ASSERT_EQ(c.upstreams[0].servers.size(), 1u);
  EXPECT_TRUE(c.upstreams[0].servers[0].literal);
  EXPECT_EQ(c.upstreams[0].servers[0].addresses, std::vector<client::SocketAddress>{to});
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].name, "default");
  EXPECT_EQ(c.routes[0].upstream, "app");
  EXPECT_EQ(c.routes[0].upstream_index, 0u);
  EXPECT_EQ(c.limits.max_head_bytes, LimitsConfig{}.max_head_bytes);
  EXPECT_EQ(c.limits.head_timeout, LimitsConfig{}.head_timeout);
  EXPECT_EQ(client::format_socket_address(c.admin.address), "127.0.0.1:7462");
  // Nothing on disk: no state directory, no key file, no ban journal.
  EXPECT_TRUE(c.state_dir.empty());
  EXPECT_TRUE(c.secrets.key_file.empty());
  EXPECT_TRUE(c.bans.journal.empty());
  const RouteConfig* r = s->routes.match("anything", http::Method::Delete, "/x/y");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "default");
}

}  // namespace
}  // namespace gh::policy
