// When a login earns a device token, and who a token makes a resident.
#include "stages/residents/device.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/address.h"
#include "http/parser.h"
#include "stages/challenge/binding.h"
#include "stages/challenge/sha256.h"

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

struct Tokens {
  Tokens() {
    const std::vector<std::uint8_t> key(32, 7);
    codec = challenge::TokenCodec::create(key);
    DeviceGuardConfig gc;
    gc.concurrency = 1;
    gc.networks = 3;
    guard = DeviceGuard::create(gc);
  }
  std::string mint(std::uint64_t account, std::int64_t at) {
    char line[512];
    const std::size_t n = issue(*codec, cfg, account, at, false, line, sizeof line);
    EXPECT_GT(n, 0u);
    const std::string set(line, n);
    const std::size_t eq = set.find('=');
    return set.substr(eq + 1, set.find(';') - eq - 1);
  }
  Recognition see(const std::string& token, const char* ip, std::int64_t at,
                  const Revocations* revoked = nullptr) {
    const client::Cidr prefix = client::prefix_of(*client::parse_ip(ip), 24, 64);
    Recognition r = recognise(*codec, guard.get(), revoked, token, prefix, at, 1'000, cfg.lifetime);
    if (r.kind == Recognition::Kind::Resident) guard->release(r.token.id);
    return r;
  }
  std::optional<challenge::TokenCodec> codec;
  std::unique_ptr<DeviceGuard> guard;
  policy::ResidentsConfig cfg = config("sid", "");
};

constexpr std::int64_t kWall = 1'760'000'000'000;

TEST(Recognise, ATokenRoamsAcrossNetworks) {
  Tokens t;
  const std::string token = t.mint(42, kWall);
  for (const char* ip : {"192.0.2.7", "198.51.100.9", "203.0.113.200", "192.0.2.8"}) {
    const Recognition r = t.see(token, ip, kWall);
    EXPECT_EQ(r.kind, Recognition::Kind::Resident) << ip;
    EXPECT_EQ(r.token.subject, 42u);
  }
  // A fourth network within the hour is one too many (cap 3): demoted, and said so once.
  const Recognition over = t.see(token, "100.64.1.1", kWall);
  EXPECT_EQ(over.kind, Recognition::Kind::Demoted);
  EXPECT_TRUE(over.roaming_cap);
  const Recognition after = t.see(token, "192.0.2.7", kWall);
  EXPECT_EQ(after.kind, Recognition::Kind::Demoted);
  EXPECT_FALSE(after.roaming_cap);
  EXPECT_EQ(t.see("x" + token.substr(1), "192.0.2.7", kWall).kind, Recognition::Kind::None);
}

TEST(Recognise, InFlightCapAndSlidingRenewal) {
  Tokens t;
  const std::string token = t.mint(42, kWall);
  const client::Cidr prefix = client::prefix_of(*client::parse_ip("192.0.2.7"), 24, 64);
  const Recognition held =
      recognise(*t.codec, t.guard.get(), nullptr, token, prefix, kWall, 1'000, t.cfg.lifetime);
  ASSERT_EQ(held.kind, Recognition::Kind::Resident);
  EXPECT_FALSE(held.renew);
  EXPECT_EQ(t.see(token, "192.0.2.7", kWall).kind, Recognition::Kind::Demoted) << "cap 1";
  t.guard->release(held.token.id);
  // A quarter of its life later it asks to be renewed; the renewal keeps the device id.
  const std::int64_t later = kWall + t.cfg.lifetime / 4 + 1;
  const Recognition old = t.see(token, "192.0.2.7", later);
  ASSERT_TRUE(old.renew);
  char line[512];
  const std::string set(line, renew(*t.codec, t.cfg, old.token, later, true, line, sizeof line));
  EXPECT_NE(set.find("; Secure"), std::string::npos);
  const std::size_t eq = set.find('=');
  const std::string fresh = set.substr(eq + 1, set.find(';') - eq - 1);
  const Recognition r = t.see(fresh, "192.0.2.7", later);
  ASSERT_EQ(r.kind, Recognition::Kind::Resident);
  EXPECT_EQ(r.token.id, old.token.id);
  EXPECT_FALSE(r.renew);
}

TEST(Recognise, RevokedByAccountOrDevice) {
  Tokens t;
  const std::string before = t.mint(42, kWall);
  const std::string other = t.mint(7, kWall);
  Revocations revoked;
  ASSERT_EQ(revoked.revoke_account(42, kWall + 1, kWall), Revocations::Result::Ok);
  EXPECT_EQ(t.see(before, "192.0.2.7", kWall + 2, &revoked).kind, Recognition::Kind::None);
  EXPECT_EQ(t.see(other, "192.0.2.7", kWall + 2, &revoked).kind, Recognition::Kind::Resident);
  const std::string after = t.mint(42, kWall + 5);  // logged in again: a new epoch
  EXPECT_EQ(t.see(after, "192.0.2.7", kWall + 6, &revoked).kind, Recognition::Kind::Resident);
  const Recognition r = t.see(other, "192.0.2.7", kWall + 6);
  ASSERT_EQ(revoked.revoke_device(r.token.id, kWall + 3'600'000, kWall + 6),
            Revocations::Result::Ok);
  EXPECT_EQ(t.see(other, "192.0.2.7", kWall + 7, &revoked).kind, Recognition::Kind::None);
}

// An HS256 JWT for the app-token tests, signed with challenge's HMAC (what the verifier checks
// is OpenSSL's, so the two implementations check each other).
std::string hs256(const std::string& secret, const std::string& claims) {
  const std::string input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims);
  const challenge::HmacSha256 mac(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()));
  const challenge::Digest d = mac.mac(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(input.data()), input.size()));
  return input + "." + base64url({reinterpret_cast<const char*>(d.data()), d.size()});
}

TEST(RecogniseAppToken, TheApplicationsOwnJwtMakesAResident) {
  Tokens t;
  const std::string secret(40, 's');
  std::string error;
  auto keys = parse_jwt_keys(secret, true, error);
  ASSERT_TRUE(keys) << error;
  JwtRules rules;
  rules.audiences = {"api"};
  const JwtVerifier v(std::move(*keys), rules);
  const std::int64_t now_s = kWall / 1000;
  auto claims = [&](const std::string& sub, std::int64_t exp, const std::string& aud) {
    return R"({"sub":")" + sub + R"(","aud":")" + aud + R"(","iat":)" + std::to_string(now_s - 10) +
           R"(,"exp":)" + std::to_string(exp) + "}";
  };
  const client::Cidr prefix = client::prefix_of(*client::parse_ip("192.0.2.7"), 24, 64);
  auto see = [&](const std::string& token, const Revocations* revoked = nullptr) {
    Recognition r = recognise_app_token(v, t.guard.get(), revoked, token, prefix, kWall, 1'000);
    if (r.kind == Recognition::Kind::Resident) t.guard->release(r.token.id);
    return r;
  };
  const std::string good = hs256(secret, claims("Alice", now_s + 600, "api"));
  const Recognition r = see(good);
  ASSERT_EQ(r.kind, Recognition::Kind::Resident);
  EXPECT_EQ(r.token.subject, challenge::account_hash("alice"));  // as a device token names it
  EXPECT_FALSE(r.renew);
  EXPECT_EQ(see(hs256(secret, claims("alice", now_s + 600, "api"))).token.id, r.token.id);
  EXPECT_NE(see(hs256(secret, claims("bob", now_s + 600, "api"))).token.id, r.token.id);
  EXPECT_EQ(see(hs256(secret, claims("alice", now_s - 600, "api"))).kind, Recognition::Kind::None);
  EXPECT_EQ(see(hs256(secret, claims("alice", now_s + 600, "web"))).kind, Recognition::Kind::None);
  EXPECT_EQ(see(hs256(std::string(40, 'x'), claims("alice", now_s + 600, "api"))).kind,
            Recognition::Kind::None);
  EXPECT_EQ(see("").kind, Recognition::Kind::None);
  // "Log out everywhere" reaches the application's tokens issued before it.
  Revocations revoked;
  ASSERT_EQ(revoked.revoke_account(challenge::account_hash("alice"), kWall, kWall),
            Revocations::Result::Ok);
  EXPECT_EQ(see(good, &revoked).kind, Recognition::Kind::None);
  // One account's token shared by a crowd: the per-device guard (in flight 1 here) demotes it.
  const Recognition held =
      recognise_app_token(v, t.guard.get(), nullptr, good, prefix, kWall, 1'000);
  ASSERT_EQ(held.kind, Recognition::Kind::Resident);
  EXPECT_EQ(see(good).kind, Recognition::Kind::Demoted);
  t.guard->release(held.token.id);
}

TEST(BearerToken, SchemeAndSpaces) {
  auto head_with = [](const std::string& fields) {
    auto raw = std::make_unique<std::string>("GET / HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n");
    auto head = std::make_unique<http::RequestHead>();
    EXPECT_EQ(http::parse_request(*raw, {}, *head).status, http::ParseStatus::Complete) << *raw;
    return std::make_pair(std::move(raw), std::move(head));
  };
  EXPECT_EQ(bearer_token(*head_with("Authorization: Bearer abc.def.ghi\r\n").second),
            "abc.def.ghi");
  EXPECT_EQ(bearer_token(*head_with("authorization: bearer   abc \r\n").second), "abc");
  EXPECT_EQ(bearer_token(*head_with("Authorization: Basic dXNlcjpwdw==\r\n").second), "");
  EXPECT_EQ(bearer_token(*head_with("X-Other: Bearer abc\r\n").second), "");
}

TEST(Revocations, BoundedAndKeptAsText) {
  Revocations r(2, 1'000);
  challenge::TokenId a{}, b{}, c{};
  a[0] = 1;
  b[0] = 2;
  c[0] = 3;
  EXPECT_EQ(r.revoke_device(a, 500, 0), Revocations::Result::Ok);
  EXPECT_EQ(r.revoke_device(b, 5'000, 0), Revocations::Result::Ok);
  EXPECT_EQ(r.revoke_device(c, 5'000, 100), Revocations::Result::Full);
  EXPECT_EQ(r.revoke_device(c, 5'000, 600), Revocations::Result::Ok) << "a's revocation ended";
  EXPECT_EQ(r.revoke_account(9, 100, 600), Revocations::Result::Ok);
  Revocations copy(10, 1'000);
  for (const std::string& line : r.lines(600)) EXPECT_TRUE(copy.apply(line, 600)) << line;
  EXPECT_EQ(copy.devices(), 2u);
  EXPECT_EQ(copy.accounts(), 1u);
  EXPECT_FALSE(copy.apply("device zz 1", 600));
  EXPECT_FALSE(copy.apply("account 12 x", 600));
  EXPECT_FALSE(copy.apply("nonsense", 600));
}

}  // namespace
}  // namespace gh::residents
