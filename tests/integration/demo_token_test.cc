// The demo app's API tokens are what the shield's JWT verifier accepts: the app's ES256 key,
// read from the public key file it writes beside its private key (what residents.app_token names),
// verifies a token from POST /api/login, with the demo's issuer and audience.
#include <gtest/gtest.h>
#include <httplib.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "demo/app.h"
#include "process.h"
#include "stages/residents/jwt.h"

namespace gh::test {
namespace {

TEST(DemoToken, TheShieldsVerifierAcceptsTheDemosTokens) {
  TempDir dir;
  demo::Options o;
  o.port = 0;
  o.db_path = dir.path() + "/demo.db";
  o.jwt_key_path = dir.path() + "/var/demo-jwt.pem";
  o.pwhash_ops = 1;  // crypto_pwhash_OPSLIMIT_MIN
  o.pwhash_mem = 8192;
  demo::App app(o);
  std::string error;
  ASSERT_TRUE(app.start(&error)) << error;
  ASSERT_EQ(app.jwt_public_path(), o.jwt_key_path + ".pub.pem");

  httplib::Client c("127.0.0.1", app.port());
  auto r = c.Post("/signup",
                  R"({"username":"alice","email":"alice@example.com","password":"correct horse"})",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  r = c.Post("/api/login", R"({"username":"alice","password":"correct horse"})",
             "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string token = nlohmann::json::parse(r->body)["token"];

  auto keys = residents::load_jwt_keys(app.jwt_public_path(), false, error);
  ASSERT_TRUE(keys.has_value()) << error;
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].alg, residents::JwtAlg::ES256);
  residents::JwtRules rules;
  rules.issuer = "gatehouse-demo";
  rules.audiences = {"gatehouse-demo-api"};
  residents::JwtVerifier verifier(std::move(*keys), rules);
  std::string subject;
  EXPECT_EQ(verifier.verify(token, std::time(nullptr), subject), residents::JwtCheck::Ok);
  EXPECT_EQ(subject, "alice");
  // The same token an hour and more later: expired for the shield too.
  EXPECT_EQ(verifier.verify(token, std::time(nullptr) + 3700, subject),
            residents::JwtCheck::Expired);

  // A shield configured for another API's audience refuses it.
  residents::JwtRules other = rules;
  other.audiences = {"another-api"};
  auto again = residents::load_jwt_keys(app.jwt_public_path(), false, error);
  ASSERT_TRUE(again.has_value()) << error;
  residents::JwtVerifier strict(std::move(*again), other);
  EXPECT_EQ(strict.verify(token, std::time(nullptr), subject), residents::JwtCheck::WrongAudience);

  // And the app itself takes it.
  r = c.Get("/api/me", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace gh::test
