#include "demo/app.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>

#include <filesystem>
#include <latch>
#include <nlohmann/json.hpp>
#include <thread>

#include <httplib.h>

namespace gh::demo {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kForm = "application/x-www-form-urlencoded";
constexpr const char* kJson = "application/json";

fs::path make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "gh_demo_test_XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  return tmpl;
}

Options test_options(const fs::path& dir) {
  Options o;
  o.port = 0;
  o.db_path = (dir / "nested" / "demo.db").string();  // the parent does not exist yet
  o.workers = 4;
  o.pwhash_ops = crypto_pwhash_OPSLIMIT_MIN;
  o.pwhash_mem = crypto_pwhash_MEMLIMIT_MIN;
  return o;
}

// "demo_session=<token>; ..." -> "demo_session=<token>", ready for a Cookie header.
std::string session_cookie(const httplib::Result& r) {
  for (std::size_t i = 0, n = r->get_header_value_count("Set-Cookie"); i < n; ++i) {
    auto v = r->get_header_value("Set-Cookie", i);
    if (v.rfind("demo_session=", 0) == 0) return v.substr(0, v.find(';'));
  }
  return {};
}

class DemoApp : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    app_ = std::make_unique<App>(test_options(dir_));
    std::string error;
    ASSERT_TRUE(app_->start(&error)) << error;
    ASSERT_NE(app_->port(), 0);
  }
  void TearDown() override {
    app_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", app_->port());
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    return c;
  }
  httplib::Result post(const std::string& path, const std::string& body, const char* type,
                       httplib::Headers headers = {}) {
    return client().Post(path.c_str(), headers, body, type);
  }
  httplib::Result get(const std::string& path, httplib::Headers headers = {}) {
    return client().Get(path.c_str(), headers);
  }
  httplib::Result signup_json(const std::string& user, const std::string& email,
                              httplib::Headers headers = {}) {
    return post("/signup",
                json{{"username", user}, {"email", email}, {"password", "correct horse"}}.dump(),
                kJson, std::move(headers));
  }

  fs::path dir_;
  std::unique_ptr<App> app_;
};

TEST_F(DemoApp, HealthAndPages) {
  auto h = get("/api/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body), (json{{"ok", true}}));

  for (const char* path : {"/", "/signup", "/login"}) {
    auto r = get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos);
    EXPECT_NE(r->body.find("<main>"), std::string::npos) << path;
    EXPECT_NE(r->body.find("<h1>"), std::string::npos) << path;
  }
  auto s = get("/signup");
  EXPECT_NE(s->body.find("<label for=\"username\">"), std::string::npos);
  EXPECT_NE(s->body.find("<label for=\"email\">"), std::string::npos);
  EXPECT_NE(s->body.find("<label for=\"password\">"), std::string::npos);

  auto nf = get("/nope");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_FALSE(nf->body.empty());
}

TEST_F(DemoApp, SignupFormRedirectsWithSessionCookie) {
  auto r = post("/signup", "username=alice&email=alice%40example.com&password=s3cret-pass", kForm);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 303);
  EXPECT_EQ(r->get_header_value("Location"), "/account");
  auto set = r->get_header_value("Set-Cookie");
  EXPECT_NE(set.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set.find("SameSite=Lax"), std::string::npos);
  EXPECT_NE(set.find("Path=/"), std::string::npos);
  auto cookie = session_cookie(r);
  ASSERT_EQ(cookie.size(), std::string("demo_session=").size() + 64);

  auto page = get("/account", {{"Cookie", cookie}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("alice@example.com"), std::string::npos);
  EXPECT_NE(page->body.find("<time datetime="), std::string::npos);

  auto j = get("/account", {{"Cookie", "other=1; " + cookie}, {"Accept", kJson}});
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, 200);
  auto body = json::parse(j->body);
  EXPECT_EQ(body["username"], "alice");
  EXPECT_EQ(body["email"], "alice@example.com");
  EXPECT_TRUE(body["created_at"].is_string());

  auto home = get("/", {{"Cookie", cookie}});
  EXPECT_NE(home->body.find("href=\"/account\""), std::string::npos);
}

TEST_F(DemoApp, SignupJsonAndConflicts) {
  auto r = signup_json("bob", "bob@example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(json::parse(r->body), (json{{"ok", true}, {"username", "bob"}}));
  EXPECT_FALSE(session_cookie(r).empty());

  auto dup_user = signup_json("bob", "other@example.com");
  ASSERT_TRUE(dup_user);
  EXPECT_EQ(dup_user->status, 409);
  EXPECT_EQ(json::parse(dup_user->body)["field"], "username");

  auto dup_email = signup_json("bobby", "BOB@example.com");  // emails compare case-insensitively
  ASSERT_TRUE(dup_email);
  EXPECT_EQ(dup_email->status, 409);
  EXPECT_EQ(json::parse(dup_email->body)["field"], "email");

  auto dup_form = post("/signup", "username=bob&email=x%40example.com&password=12345678", kForm);
  ASSERT_TRUE(dup_form);
  EXPECT_EQ(dup_form->status, 409);
  EXPECT_NE(dup_form->body.find("That username is taken."), std::string::npos);
  EXPECT_NE(dup_form->body.find("aria-describedby=\"username-hint username-error\""),
            std::string::npos);

  // A form post from a client asking for JSON gets JSON.
  auto dup_accept = post("/signup", "username=bob&email=x%40example.com&password=12345678", kForm,
                         {{"Accept", kJson}});
  ASSERT_TRUE(dup_accept);
  EXPECT_EQ(dup_accept->status, 409);
  EXPECT_EQ(json::parse(dup_accept->body)["field"], "username");

  auto st = app_->stats();
  EXPECT_EQ(st.signups_ok, 1u);
  EXPECT_EQ(st.signups_failed, 4u);
}

TEST_F(DemoApp, InvalidSignups) {
  auto f = post("/signup", "username=%3Cscript%3E&email=nope&password=short", kForm);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 400);
  EXPECT_NE(f->body.find("id=\"username-error\""), std::string::npos);
  EXPECT_NE(f->body.find("id=\"email-error\""), std::string::npos);
  EXPECT_NE(f->body.find("id=\"password-error\""), std::string::npos);
  EXPECT_NE(f->body.find("aria-invalid=\"true\""), std::string::npos);
  EXPECT_NE(f->body.find("value=\"&lt;script&gt;\""), std::string::npos);  // re-shown, escaped
  EXPECT_EQ(f->body.find("<script>"), std::string::npos);
  EXPECT_EQ(f->body.find("short"), std::string::npos);  // the password is never echoed

  auto j = signup_json("ok_name", "not-an-email");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, 400);
  auto body = json::parse(j->body);
  EXPECT_EQ(body["ok"], false);
  EXPECT_EQ(body["field"], "email");

  for (const char* bad : {"{", "[1,2]", "\"str\"", "{\"username\": 5}"}) {
    auto r = post("/signup", bad, kJson);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(json::parse(r->body)["ok"], false) << bad;
  }

  auto unsupported = post("/signup", "x", "text/plain");
  ASSERT_TRUE(unsupported);
  EXPECT_EQ(unsupported->status, 415);

  auto big = post("/signup", std::string(20000, 'a'), kForm);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(app_->stats().accounts_total, 0u);
}

TEST_F(DemoApp, Login) {
  ASSERT_EQ(signup_json("carol", "carol@example.com")->status, 201);

  auto ok = post("/login", "username=carol&password=correct+horse", kForm);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 303);
  EXPECT_EQ(ok->get_header_value("Location"), "/account");
  auto cookie = session_cookie(ok);
  EXPECT_FALSE(cookie.empty());
  EXPECT_EQ(get("/account", {{"Cookie", cookie}})->status, 200);

  auto okj =
      post("/login", json{{"username", "carol"}, {"password", "correct horse"}}.dump(), kJson);
  ASSERT_TRUE(okj);
  EXPECT_EQ(okj->status, 200);
  EXPECT_EQ(json::parse(okj->body), (json{{"ok", true}, {"username", "carol"}}));
  EXPECT_NE(session_cookie(okj), cookie);  // a fresh session per login

  auto wrong =
      post("/login", json{{"username", "carol"}, {"password", "wrong horse"}}.dump(), kJson);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(json::parse(wrong->body)["ok"], false);
  EXPECT_TRUE(session_cookie(wrong).empty());

  auto unknown = post("/login", "username=nobody&password=whatever1", kForm);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401);
  EXPECT_NE(unknown->body.find("Wrong username or password."), std::string::npos);
  EXPECT_NE(unknown->body.find("value=\"nobody\""), std::string::npos);

  auto empty = post("/login", "username=&password=", kForm);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);

  auto st = app_->stats();
  EXPECT_EQ(st.logins_ok, 2u);
  EXPECT_EQ(st.logins_failed, 3u);
}

TEST_F(DemoApp, AccountNeedsSession) {
  auto html = get("/account");
  ASSERT_TRUE(html);
  EXPECT_EQ(html->status, 303);
  EXPECT_EQ(html->get_header_value("Location"), "/login");

  auto j = get("/account", {{"Accept", kJson}});
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, 401);
  EXPECT_EQ(json::parse(j->body)["ok"], false);

  auto forged = get("/account", {{"Cookie", "demo_session=" + std::string(64, 'a')}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 303);
}

TEST_F(DemoApp, LogoutEndsSession) {
  auto r = signup_json("dave", "dave@example.com");
  auto cookie = session_cookie(r);
  ASSERT_EQ(get("/account", {{"Cookie", cookie}})->status, 200);

  auto out = post("/logout", "", kForm, {{"Cookie", cookie}});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 303);
  EXPECT_EQ(out->get_header_value("Location"), "/");
  EXPECT_NE(out->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);

  // The server forgot the session: replaying the old cookie does not work.
  EXPECT_EQ(get("/account", {{"Cookie", cookie}})->status, 303);

  auto outj = post("/logout", "{}", kJson);
  ASSERT_TRUE(outj);
  EXPECT_EQ(outj->status, 200);
}

TEST_F(DemoApp, StatsCountAccountsByPopulation) {
  ASSERT_EQ(signup_json("u1", "u1@example.com")->status, 400);  // too short: not counted
  ASSERT_EQ(signup_json("user1", "u1@example.com")->status, 201);
  ASSERT_EQ(signup_json("user2", "u2@example.com", {{"X-Sim-Population", "bots-1"}})->status, 201);
  ASSERT_EQ(signup_json("user3", "u3@example.com", {{"X-Sim-Population", "bots-1"}})->status, 201);
  ASSERT_EQ(signup_json("user4", "u4@example.com", {{"X-Sim-Population", "Bad Token!"}})->status,
            201);

  auto st = app_->stats();
  EXPECT_EQ(st.accounts_total, 4u);
  EXPECT_EQ(st.accounts_by_population,
            (std::map<std::string, std::uint64_t>{{"bots-1", 2}, {"direct", 1}, {"unknown", 1}}));
  EXPECT_EQ(st.signups_ok, 4u);
  EXPECT_EQ(st.signups_failed, 1u);
  EXPECT_EQ(st.workers, 4u);
  EXPECT_GE(st.requests, 5u);

  auto r = get("/api/stats");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = json::parse(r->body);
  EXPECT_EQ(j["accounts_total"], 4);
  EXPECT_EQ(j["accounts_by_population"]["bots-1"], 2);
  EXPECT_EQ(j["workers"], 4);
  EXPECT_GE(j["busy_workers"].get<int>(), 1);  // the worker serving this very request
  EXPECT_GE(j["requests"].get<int>(), 6);
}

TEST_F(DemoApp, ConcurrentSignupsOfOneUsernameCreateOneAccount) {
  constexpr int kThreads = 8;
  std::latch go(kThreads);
  std::vector<int> status(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      auto r = signup_json("racer", "racer" + std::to_string(i) + "@example.com");
      status[i] = r ? r->status : -1;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(status.begin(), status.end(), 201), 1);
  EXPECT_EQ(std::count(status.begin(), status.end(), 409), kThreads - 1);
  EXPECT_EQ(app_->stats().accounts_total, 1u);
}

TEST_F(DemoApp, AccountsPersistAcrossRestart) {
  ASSERT_EQ(signup_json("erin", "erin@example.com", {{"X-Sim-Population", "sim"}})->status, 201);
  app_->stop();
  app_->stop();  // idempotent

  app_ = std::make_unique<App>(test_options(dir_));
  std::string error;
  ASSERT_TRUE(app_->start(&error)) << error;
  auto st = app_->stats();
  EXPECT_EQ(st.accounts_total, 1u);
  EXPECT_EQ(st.accounts_by_population["sim"], 1u);
  auto r = post("/login", json{{"username", "erin"}, {"password", "correct horse"}}.dump(), kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(signup_json("erin", "erin2@example.com")->status, 409);
}

TEST_F(DemoApp, StartFailsCleanly) {
  std::string error;
  EXPECT_FALSE(app_->start(&error));  // already started
  EXPECT_FALSE(error.empty());

  auto o = test_options(dir_);
  o.port = app_->port();  // taken: no SO_REUSEPORT sharing
  App second(o);
  error.clear();
  EXPECT_FALSE(second.start(&error));
  EXPECT_FALSE(error.empty());

  App never_started(test_options(dir_));
  never_started.stop();
}

}  // namespace
}  // namespace gh::demo
