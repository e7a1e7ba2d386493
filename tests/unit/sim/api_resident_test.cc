// API residents against the real demo app (in-process): a login at POST /api/login gives a
// bearer token, the token opens the API (200), a bad one does not (401), and an api-resident
// population lives on its token without a cookie.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "demo/app.h"
#include "sim/cli.h"
#include "sim/engine.h"
#include "sim/scenario.h"
#include "sim/setup.h"
#include "unit/sim/temp_dir.h"

namespace gh::sim {
namespace {

namespace fs = std::filesystem;

using simtest::TempDir;

class ApiResident : public ::testing::Test {
 protected:
  void SetUp() override {
    demo::Options opt;
    opt.port = 0;
    opt.db_path = (dir_.path / "demo.db").string();
    opt.jwt_key_path = (dir_.path / "jwt.pem").string();
    opt.workers = 4;
    opt.pwhash_ops = 1;     // crypto_pwhash_OPSLIMIT_MIN
    opt.pwhash_mem = 8192;  // crypto_pwhash_MEMLIMIT_MIN
    app_ = std::make_unique<demo::App>(opt);
    std::string error;
    ASSERT_TRUE(app_->start(&error)) << error;
    auto t = parse_target("http://127.0.0.1:" + std::to_string(app_->port()), &error);
    ASSERT_TRUE(t.has_value()) << error;
    target_ = *t;
  }

  Response request(const std::string& raw) {
    std::string error;
    auto r = blocking_request(target_, raw, 10 * kSec, &error);
    EXPECT_TRUE(r.has_value()) << error;
    return r ? *r : Response{};
  }

  Response get(const std::string& path, const std::string& auth) {
    return request("GET " + path + " HTTP/1.1\r\nHost: " + target_.authority +
                   "\r\nAccept-Encoding: gzip, br\r\n" +
                   (auth.empty() ? "" : "Authorization: " + auth + "\r\n") +
                   "Connection: close\r\n\r\n");
  }

  TempDir dir_;
  std::unique_ptr<demo::App> app_;
  Target target_;
};

TEST_F(ApiResident, LoginBearerThenTheApiAndABadTokenIsRefused) {
  std::string error;
  auto accounts = create_accounts(target_, "api", 2, 2, &error);
  ASSERT_TRUE(accounts.has_value()) << error;
  PopulationConfig pop;
  pop.name = "api";
  pop.behaviour = Behaviour::ApiResident;
  pop.profile = Profile::Browser;  // accepts br and gzip: the token is read through the encoding
  pop.sources = *parse_cidr("127.6.0.0/16");
  auto tokens = prior_api_logins(target_, false, pop, *accounts, 2, &error);
  ASSERT_TRUE(tokens.has_value()) << error;
  ASSERT_EQ(tokens->size(), 2u);
  const std::string& token = (*tokens)[0];
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2);

  Response me = get("/api/me", "Bearer " + token);
  EXPECT_EQ(me.status, 200) << me.body;
  auto body = nlohmann::json::parse(*decoded_body(me));
  EXPECT_EQ(body["username"], (*accounts)[0].username);
  EXPECT_EQ(get("/api/items", "Bearer " + (*tokens)[1]).status, 200);

  // Refused: no token, a tampered one, another scheme, garbage.
  std::string tampered = token;
  tampered[tampered.find('.') + 3] ^= 1;
  for (const std::string& auth :
       {std::string(), "Bearer " + tampered, "Basic " + token, std::string("Bearer x.y.z")}) {
    Response r = get("/api/me", auth);
    EXPECT_EQ(r.status, 401) << auth;
    const std::string* www = r.header("www-authenticate");
    ASSERT_NE(www, nullptr) << auth;
    EXPECT_EQ(www->rfind("Bearer realm=\"gatehouse-demo\"", 0), 0u) << *www;
  }
  EXPECT_EQ(get("/api/items", "").status, 401);

  // A wrong password gets no token.
  PopulationConfig p2 = pop;
  std::vector<Account> wrong{{(*accounts)[0].username, "not-the-password"}};
  EXPECT_FALSE(prior_api_logins(target_, false, p2, wrong, 1, &error).has_value());
  EXPECT_NE(error.find("status 401"), std::string::npos) << error;

  const auto st = app_->stats();
  EXPECT_EQ(st.api_logins_ok, 2u);
  EXPECT_EQ(st.api_logins_failed, 1u);
  EXPECT_EQ(st.api_requests, 2u);
  EXPECT_EQ(st.api_unauthorized, 5u);
  EXPECT_EQ(st.logins_by_population.at("sim-setup"), 3u);
}

TEST_F(ApiResident, APopulationLogsInOnceAndLivesOnItsToken) {
  for (const bool prior : {false, true}) {
    SCOPED_TRACE(prior ? "prior_login" : "login at the first visit");
    const fs::path scenario = dir_.path / "api.yaml";
    std::ofstream(scenario) << "duration: 1500ms\ndrain: 5s\npopulations:\n"
                               "  - name: apps\n    behaviour: api-resident\n"
                               "    arrival_rate: 8\n    accounts: 3\n    pages: 3\n"
                               "    sources: 127.6.0.0/16\n    roam: visit\n    profile: app\n"
                               "    prior_login: "
                            << (prior ? "true" : "false") << "\n";
    const auto before = app_->stats();
    SimOptions o;
    o.scenario_path = scenario.string();
    o.target = "http://127.0.0.1:" + std::to_string(app_->port());
    o.quiet = true;
    o.report_path = (dir_.path / "report.json").string();
    testing::internal::CaptureStdout();
    ASSERT_EQ(run_sim(o), 0);
    testing::internal::GetCapturedStdout();
    const auto after = app_->stats();
    auto rep = nlohmann::json::parse(std::ifstream(o.report_path));
    const auto& p = rep["populations"][0];
    EXPECT_EQ(p["behaviour"], "api-resident");
    const auto users = p["arrivals"].get<std::uint64_t>();
    ASSERT_GT(users, 3u);
    EXPECT_EQ(p["users_ok"], users);
    EXPECT_EQ(p["api_calls"], users * 3);
    // One API login per account for the whole run: at setup, or at its first visit.
    EXPECT_EQ(after.api_logins_ok - before.api_logins_ok, 3u);
    EXPECT_EQ(p["logged_in"], prior ? 0u : 3u);
    EXPECT_EQ(after.api_requests - before.api_requests, users * 3);
    EXPECT_EQ(after.api_unauthorized, before.api_unauthorized);
    // Logins the app counted for the population itself (the setup's are "sim-setup").
    EXPECT_EQ(p["logins_at_app"], prior ? 0 : 3);
  }
}

}  // namespace
}  // namespace gh::sim
