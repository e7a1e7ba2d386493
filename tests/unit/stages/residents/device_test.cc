// When a login earns a device token, and who a token makes a resident.
#include "stages/residents/device.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "http/parser.h"
#include "client/address.h"
#include "stages/challenge/binding.h"

namespace gh::residents {
namespace {

struct Resp {
  std::string raw;
  http::ResponseHead head;
};

std::unique_ptr<Resp> resp(const std::string& status_and_fields) {
  auto r = std::make_unique<Resp>();
  r->raw = "HTTP/1.1 " + status_and_fields + "Content-Length: 0\r\n\r\n";
  EXPECT_EQ(http::parse_response(r->raw, {}, http::Method::Post, r->head).status,
            http::ParseStatus::Complete)
      << r->raw;
  return r;
}

policy::ResidentsConfig config(std::string cookie, std::string location) {
  policy::ResidentsConfig c;
  c.success_cookie = std::move(cookie);
  c.success_location = std::move(location);
  return c;
}

TEST(LoginSucceeded, TheAppsOwnSignalNotABareStatus) {
  const auto by_cookie = config("sid", "");
  EXPECT_FALSE(login_succeeded(by_cookie, resp("200 OK\r\n")->head));
  EXPECT_TRUE(login_succeeded(by_cookie, resp("200 OK\r\nSet-Cookie: sid=abc; Path=/\r\n")->head));
  EXPECT_TRUE(login_succeeded(by_cookie, resp("303 See\r\nSet-Cookie: sid=abc\r\n")->head));
  EXPECT_FALSE(login_succeeded(by_cookie, resp("401 No\r\nSet-Cookie: sid=abc\r\n")->head));
  EXPECT_FALSE(login_succeeded(by_cookie, resp("200 OK\r\nSet-Cookie: sidx=abc\r\n")->head));
  EXPECT_FALSE(login_succeeded(by_cookie, resp("200 OK\r\nSet-Cookie: sid=\r\n")->head));
  EXPECT_FALSE(login_succeeded(by_cookie, resp("200 OK\r\nSet-Cookie: sid=\"\"\r\n")->head));
  EXPECT_FALSE(
      login_succeeded(by_cookie, resp("200 OK\r\nSet-Cookie: sid=x; Max-Age=0\r\n")->head));
  EXPECT_FALSE(
      login_succeeded(by_cookie, resp("200 OK\r\nSet-Cookie: sid=x; max-age=-1\r\n")->head));
  EXPECT_TRUE(login_succeeded(
      by_cookie, resp("200 OK\r\nSet-Cookie: csrf=1\r\nSet-Cookie: sid=x; Max-Age=60\r\n")->head));

  const auto by_location = config("", "/account");
  EXPECT_TRUE(login_succeeded(by_location, resp("303 See\r\nLocation: /account\r\n")->head));
  EXPECT_TRUE(login_succeeded(
      by_location, resp("302 Found\r\nLocation: https://example.com/account/home\r\n")->head));
  EXPECT_FALSE(login_succeeded(by_location, resp("303 See\r\nLocation: /login?e=1\r\n")->head));
  EXPECT_FALSE(
      login_succeeded(by_location, resp("303 See\r\nLocation: //evil.test/account\r\n")->head));
  EXPECT_FALSE(login_succeeded(by_location, resp("200 OK\r\n")->head));

  const auto both = config("sid", "/account");
  EXPECT_TRUE(login_succeeded(both, resp("200 OK\r\nSet-Cookie: sid=1\r\n")->head));  // JSON login
  EXPECT_FALSE(login_succeeded(both, resp("303 See\r\nLocation: /account\r\n")->head));
  EXPECT_FALSE(
      login_succeeded(both, resp("303 See\r\nSet-Cookie: sid=1\r\nLocation: /login\r\n")->head));

  EXPECT_FALSE(login_succeeded(config("", ""), resp("200 OK\r\nSet-Cookie: sid=1\r\n")->head));
}

TEST(Recognise, AValidTokenWithinItsLimits) {
  const std::vector<std::uint8_t> key(32, 7);
  const auto codec = challenge::TokenCodec::create(key);
  ASSERT_TRUE(codec.has_value());
  DeviceGuardConfig gc;
  gc.concurrency = 1;
  auto guard = DeviceGuard::create(gc);
  const client::Cidr prefix = client::prefix_of(*client::parse_ip("192.0.2.7"), 24, 64);
  const policy::ResidentsConfig cfg = config("sid", "");
  char line[512];
  const std::int64_t wall = 1'760'000'000'000;
  const std::size_t n = issue(*codec, cfg, 42, prefix, wall, line, sizeof line);
  ASSERT_GT(n, 0u);
  const std::string set(line, n);
  const std::size_t eq = set.find('=');
  const std::string token = set.substr(eq + 1, set.find(';') - eq - 1);
  const Recognition r = recognise(*codec, guard.get(), token, prefix, wall, 1'000);
  ASSERT_EQ(r.kind, Recognition::Kind::Resident);
  EXPECT_EQ(r.subject, 42u);
  // The one in-flight place is taken: the next concurrent use is demoted.
  EXPECT_EQ(recognise(*codec, guard.get(), token, prefix, wall, 1'000).kind,
            Recognition::Kind::Demoted);
  guard->release(r.id);
  EXPECT_EQ(recognise(*codec, guard.get(), token, prefix, wall, 1'000).kind,
            Recognition::Kind::Resident);
  const client::Cidr other = client::prefix_of(*client::parse_ip("198.51.100.7"), 24, 64);
  EXPECT_EQ(recognise(*codec, guard.get(), token, other, wall, 1'000).kind,
            Recognition::Kind::None);
  EXPECT_EQ(recognise(*codec, guard.get(), "x" + token.substr(1), prefix, wall, 1'000).kind,
            Recognition::Kind::None);
}

}  // namespace
}  // namespace gh::residents
