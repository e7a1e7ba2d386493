// Residents who are not where they were: a device token from another network, and the
// application's own login token (API and mobile clients), end to end through the proxy.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include "stages/challenge/sha256.h"
#include "stages/residents/jwt.h"
#include "support.h"

namespace gh::test {
namespace {

const std::string kSecret(48, 'k');

// An HS256 JWT signed here with Nettle's HMAC; Gatehouse checks it with OpenSSL's.
std::string jwt(const std::string& claims, const std::string& secret = kSecret) {
  using residents::base64url;
  const std::string input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims);
  const challenge::HmacSha256 mac(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()));
  const challenge::Digest d = mac.mac(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(input.data()), input.size()));
  return input + "." + base64url({reinterpret_cast<const char*>(d.data()), d.size()});
}

std::string claims(const std::string& sub, long exp_from_now, const std::string& aud = "api") {
  const long now = static_cast<long>(std::time(nullptr));
  return R"({"sub":")" + sub + R"(","aud":")" + aud + R"(","iat":)" + std::to_string(now - 5) +
         R"(,"exp":)" + std::to_string(now + exp_from_now) + "}";
}

struct AppTokens : ::testing::Test {
  Origin origin{[](const OriginRequest&) { return OriginReply{}; }};
  std::string dir = [] {
    char tmpl[] = "/tmp/gatehouse-apptoken-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  ~AppTokens() override { std::filesystem::remove_all(dir); }
  // Anonymous clients get one API call a minute; residents are not limited here.
  std::string config() {
    std::ofstream(dir + "/app.secret") << kSecret << "\n";
    return basic_config(origin.port(),
                        "residents:\n"
                        "  app_token: { from: bearer, secret_file: " +
                            dir +
                            "/app.secret, audience: api }\n"
                            "routes:\n"
                            "  - name: api\n"
                            "    match: { path_prefix: /api/ }\n"
                            "    limits:\n"
                            "      - { name: per-ip, key: [client.ip], rate: 1/min, burst: 1,\n"
                            "          classes: [anonymous, suspect, verified] }\n"
                            "  - name: app\n");
  }
  int call(Shield& s, const std::string& token, const char* from = "127.0.0.1") {
    const std::string auth = token.empty() ? "" : "Authorization: Bearer " + token + "\r\n";
    return roundtrip(s.port(), request("GET", "/api/items", auth), from).status;
  }
};

TEST_F(AppTokens, AValidTokenMakesAResidentFromAnyNetwork) {
  Shield shield(config());
  const std::string alice = jwt(claims("alice", 600));
  // Five networks, five calls: all served; an anonymous client gets one.
  for (const char* from : {"127.0.0.1", "127.1.0.1", "127.2.0.1", "127.3.0.1", "127.4.0.1"}) {
    EXPECT_EQ(call(shield, alice, from), 200) << from;
  }
  EXPECT_EQ(call(shield, "", "127.9.0.1"), 200);
  EXPECT_EQ(call(shield, "", "127.9.0.1"), 429);
  EXPECT_GE(shield.server().stats().app_token_residents, 5u);
}

TEST_F(AppTokens, FlawedTokensAreNoProof) {
  Shield shield(config());
  const char* from = "127.0.0.2";
  EXPECT_EQ(call(shield, "", from), 200);  // the one anonymous call
  const std::string flawed[] = {
      jwt(claims("alice", -120)),                       // expired (beyond the 30 s leeway)
      jwt(claims("alice", 600, "web")),                 // wrong audience
      jwt(claims("alice", 600), std::string(48, 'x')),  // another key
      residents::base64url(R"({"alg":"none"})") + "." + residents::base64url(claims("alice", 600)) +
          ".",  // alg none
      "not-a-jwt",
  };
  for (const std::string& t : flawed) EXPECT_EQ(call(shield, t, from), 429) << t;
  EXPECT_EQ(shield.server().stats().app_token_residents, 0u);
}

TEST_F(AppTokens, AMissingKeyFileIsAClearError) {
  const std::string yaml =
      basic_config(origin.port(), "residents:\n  app_token: { from: bearer, key_file: " + dir +
                                      "/missing.pem }\n");
  try {
    Shield shield(yaml);
    ADD_FAILURE() << "started without its key file";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("residents.app_token.key_file"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gh::test
