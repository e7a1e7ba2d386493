// The decision pipeline without sockets: request heads parsed from text, a fake clock, and the
// Decision asserted for each stage and for their order.
#include "gate/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "client/address.h"
#include "gate/runtime.h"
#include "http/parser.h"
#include "policy/config.h"
#include "stages/admission/limiter.h"
#include "stages/challenge/pow.h"
#include "stages/lists/bans.h"
#include "stages/ratelimit/stage.h"

namespace gh::gate {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kT0 = 1'000'000;             // monotonic ms
constexpr std::int64_t kWall0 = 1'760'000'000'000;  // wall ms

// A request that owns its bytes (the head's views point into them).
struct Req {
  std::string raw;
  http::RequestHead head;
};

std::unique_ptr<Req> parse(std::string raw) {
  auto r = std::make_unique<Req>();
  r->raw = std::move(raw);
  const http::ParseResult p = http::parse_request(r->raw, {}, r->head);
  EXPECT_EQ(p.status, http::ParseStatus::Complete) << r->raw;
  return r;
}

std::unique_ptr<Req> get(const std::string& target, const std::string& fields = "") {
  return parse("GET " + target + " HTTP/1.1\r\nHost: a\r\nUser-Agent: Test/1\r\n" + fields +
               "\r\n");
}

std::unique_ptr<Req> post(const std::string& target, const std::string& body,
                          const std::string& fields = "") {
  return parse("POST " + target + " HTTP/1.1\r\nHost: a\r\nUser-Agent: Test/1\r\n" + fields +
               "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n");
}

client::IpAddress ip(const char* text) {
  return *client::parse_ip(text);
}

// A runtime built from YAML as the server builds it, and a pipeline with a fake host.
struct Fixture {
  // `shared`: the limits take part in a fleet (Registry::share), as with `cluster:`.
  explicit Fixture(const std::string& yaml, bool shared = false) {
    if (shared) registry.share([] {});
    policy::LoadResult r = policy::load_config_string(
        "listen:\n  - address: 127.0.0.1:8080\n"
        "upstreams:\n  app:\n    servers: [127.0.0.1:3000]\n" +
            yaml,
        "t.yaml");
    for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
    std::string why;
    policy::Config keyless = r.snapshot->config;
    keyless.secrets.key_file.clear();  // a random signing key for this test, no file
    EXPECT_TRUE(state.init(keyless, &why)) << why;
    std::vector<std::string> errors;
    rt = build_runtime(r.snapshot, registry, state, &errors);
    EXPECT_NE(rt, nullptr) << (errors.empty() ? "" : errors[0]);
    bans = lists::BanTable::create(lists::BansConfig{});
    pipeline = std::make_unique<Pipeline>(Host{
        &stats, bans.get(),
        [this](const client::IpAddress& c, std::int64_t ms, std::int64_t, std::string_view rule) {
          banned.push_back({c, ms, std::string(rule)});
        }});
  }
  Decision begin(const Req& r, const char* from = "192.0.2.10") {
    return pipeline->begin(x, *rt, r.head, ip(from), now);
  }
  // The whole request through the pipeline: the body when asked, until a final decision.
  Decision run(const Req& r, std::string_view body = {}, const char* from = "192.0.2.10") {
    Decision d = begin(r, from);
    if (d.step == Step::NeedBody) d = pipeline->body(x, body, true, now);
    return d;
  }
  void finish(int status) { pipeline->end(x, status, now); }

  struct Ban {
    client::IpAddress client;
    std::int64_t ms;
    std::string rule;
  };
  ratelimit::Registry registry;
  DefenceState state;
  RuntimePtr rt;
  std::unique_ptr<lists::BanTable> bans;
  WorkerStats stats;
  std::vector<Ban> banned;
  std::unique_ptr<Pipeline> pipeline;
  Exchange x;
  Clock now = Clock::at_ms(kT0, kWall0);
};

http::ResponseHead response(const std::string& raw) {
  static std::vector<std::unique_ptr<std::string>> keep;  // the head's views point into it
  keep.push_back(std::make_unique<std::string>(raw));
  http::ResponseHead h;
  EXPECT_EQ(http::parse_response(*keep.back(), {}, http::Method::Post, h).status,
            http::ParseStatus::Complete);
  return h;
}

// ---- order: the cheapest refusals first ------------------------------------------------------

TEST(Pipeline, TunnelsAreRefusedFirst) {
  Fixture f("lists: { deny: [192.0.2.0/24] }\n");
  auto r = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  const Decision d = f.begin(*r);
  ASSERT_EQ(d.step, Step::Respond);
  EXPECT_EQ(d.answer.status, 501);
  EXPECT_TRUE(d.answer.close);
}

// A route that opts into WebSocket: the upgrade is an ordinary request of it for every stage, and
// the exchange names the protocol the transport may splice; elsewhere it is still 501.
TEST(Pipeline, UpgradesPassOnlyOnRoutesThatOptIn) {
  Fixture f(
      "lists: { deny: [192.0.2.0/24] }\n"
      "routes:\n"
      "  - name: chat\n"
      "    match: { path_prefix: /ws/ }\n"
      "    upgrade: [websocket]\n"
      "    limits: [{ name: handshakes, key: [client.ip], rate: 1/min }]\n"
      "  - name: rest\n");
  const std::string ws = "Connection: Upgrade\r\nUpgrade: WebSocket\r\n";
  const auto up = get("/ws/room", ws);  // x.upgrade points into it
  Decision d = f.begin(*up, "198.51.100.1");
  ASSERT_EQ(d.step, Step::Forward);
  EXPECT_EQ(f.x.upgrade, "WebSocket");
  f.finish(101);
  // The route's limit applies to upgrades like any request.
  EXPECT_EQ(f.begin(*get("/ws/room", ws), "198.51.100.1").answer.status, 429);
  // Lists come first, as for any request.
  EXPECT_EQ(f.begin(*get("/ws/room", ws)).answer.status, 403);
  // Another route, another protocol, several protocols, a body, HTTP/1.0: 501 and close.
  for (const auto& r :
       {get("/other", ws), get("/ws/a", "Connection: upgrade\r\nUpgrade: h2c\r\n"),
        get("/ws/b", "Connection: upgrade\r\nUpgrade: websocket, foo\r\n"),
        parse("POST /ws/c HTTP/1.1\r\nHost: a\r\n" + ws + "Content-Length: 1\r\n\r\n"),
        parse("GET /ws/d HTTP/1.0\r\nHost: a\r\n" + ws + "\r\n")}) {
    d = f.begin(*r, "198.51.100.2");
    EXPECT_EQ(d.answer.status, 501) << r->raw;
    EXPECT_TRUE(d.answer.close);
    EXPECT_TRUE(f.x.upgrade.empty());
  }
  // A plain request on the opted-in route carries no upgrade.
  const auto plain = get("/ws/plain");
  ASSERT_EQ(f.begin(*plain, "198.51.100.3").step, Step::Forward);
  EXPECT_TRUE(f.x.upgrade.empty());
}

TEST(Pipeline, DenyListAndBansComeBeforePathsAndRoutes) {
  Fixture f("lists: { deny: [192.0.2.0/24] }\nroutes:\n  - name: only\n    match: { path: /x }\n");
  auto bad_path = get("/%u0073ignup");
  EXPECT_EQ(f.begin(*bad_path).answer.status, 403);  // denied before the path is read
  EXPECT_EQ(f.stats.requests_denied_list.get(), 1u);
  EXPECT_EQ(f.begin(*bad_path, "198.51.100.1").answer.status, 400);  // not denied: the path
  EXPECT_EQ(f.begin(*get("/nowhere"), "198.51.100.1").answer.status, 404);
  lists::BanDuration sixty;
  sixty.base = 60;
  f.bans->ban(client::Cidr{ip("198.51.100.7"), 32}, sixty, "test", "t", kWall0 / 1000);
  const Decision banned = f.begin(*get("/x"), "198.51.100.7");
  EXPECT_EQ(banned.answer.status, 403);
  EXPECT_GE(banned.answer.retry_after_s, 59u);
  EXPECT_EQ(f.begin(*get("/x"), "198.51.100.8").step, Step::Forward);
}

TEST(Pipeline, TrustedProxiesNameTheClient) {
  Fixture f(
      "clients: { trusted_proxies: [10.0.0.0/8] }\n"
      "lists: { deny: [203.0.113.0/24] }\n");
  auto r = get("/", "X-Forwarded-For: 203.0.113.9\r\n");
  EXPECT_EQ(f.begin(*r, "10.1.1.1").answer.status, 403);       // the client behind the proxy
  EXPECT_EQ(f.begin(*r, "198.51.100.1").step, Step::Forward);  // an untrusted claim
  EXPECT_FALSE(f.x.peer_trusted);
}

// ---- rate limits -----------------------------------------------------------------------------

TEST(Pipeline, LimitRefusesWithRetryAfterAndRateLimitFieldsThenRefills) {
  Fixture f(
      "routes:\n  - name: r\n    limits:\n"
      "      - { name: per-ip, key: [client.ip], rate: 1/s, burst: 2 }\n");
  auto r = get("/");
  EXPECT_EQ(f.run(*r).step, Step::Forward);
  f.finish(200);
  EXPECT_EQ(f.run(*r).step, Step::Forward);
  f.finish(200);
  const Decision no = f.run(*r);
  ASSERT_EQ(no.step, Step::Respond);
  EXPECT_EQ(no.answer.status, 429);
  EXPECT_EQ(no.answer.retry_after_s, 1u);
  EXPECT_THAT(std::string(no.answer.fields), HasSubstr("RateLimit-Policy: \"per-ip\";q=2;w=2"));
  EXPECT_EQ(f.x.limit_verdict.action, stages::Action::Reject);
  f.now.mono_ms += 1'000;  // one more per second
  EXPECT_EQ(f.run(*r).step, Step::Forward);
}

// The transport puts the connection's JA4 on the exchange; begin() keeps it for every request.
TEST(Pipeline, TheConnectionsJa4KeysLimitsAndFeedsReputation) {
  Fixture f(
      "reputation:\n  browser_ja4: ['t13d*_8daaf6152771_*']\n  rules:\n"
      "    - { name: curl-tls, ja4: [t13d3112h2_e8f1e7e78f70_b26ce05bbdd6], action: deny }\n"
      "    - { name: fake-browser, ja4_mismatch: true, weight: 50 }\n"
      "  thresholds:\n    - { score: 50, action: challenge, level: 0 }\n"
      "routes:\n  - name: r\n    limits:\n"
      "      - { name: per-ja4, key: [tls.ja4], rate: 1/min, burst: 1 }\n");
  const std::string chrome_ua =
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 "
      "Safari/537.36";
  auto browser = parse("GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: " + chrome_ua + "\r\n\r\n");
  // Clear text: no fingerprint, so no ja4 rule and no tls.ja4 limit applies.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(f.run(*browser).step, Step::Forward) << i;
    f.finish(200);
  }
  // Chromium's own hello: one request per minute per fingerprint, then 429.
  f.x.ja4 = "t13d1517h2_8daaf6152771_cb7bf5808d99";
  EXPECT_EQ(f.run(*browser).step, Step::Forward);
  f.finish(200);
  EXPECT_EQ(f.x.ja4, "t13d1517h2_8daaf6152771_cb7bf5808d99");  // kept across requests
  EXPECT_EQ(f.run(*browser).answer.status, 429);
  f.finish(429);
  // Another fingerprint has its own bucket; claiming Chrome with it earns the challenge.
  f.x.ja4 = "t13d1715h2_5b57614c22b0_3d5424432f57";
  const Decision fake = f.run(*browser);
  EXPECT_EQ(f.x.score, 50);
  EXPECT_TRUE(f.x.want_challenge);
  EXPECT_NE(fake.answer.status, 429);
  f.finish(200);
  // A listed tool's fingerprint is refused, whatever its user agent says.
  f.x.ja4 = "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6";
  EXPECT_EQ(f.run(*browser).answer.status, 403);
  EXPECT_EQ(f.run(*get("/")).answer.status, 403);
}

TEST(Pipeline, DelayHoldsThenForwardsAndTarpitHoldsThenRefuses) {
  Fixture f(
      "routes:\n"
      "  - name: slow\n    match: { path: /slow }\n    limits:\n"
      "      - { name: d, key: [], rate: 1/s, burst: 1, action: { delay: 5s } }\n"
      "  - name: pit\n    match: { path: /pit }\n    limits:\n"
      "      - { name: t, key: [], rate: 1/min, burst: 1, action: { tarpit: 3s } }\n");
  EXPECT_EQ(f.run(*get("/slow")).step, Step::Forward);
  const Decision held = f.run(*get("/slow"));
  ASSERT_EQ(held.step, Step::Hold);
  EXPECT_EQ(held.until_ms, kT0 + 1'000);
  EXPECT_EQ(f.pipeline->hold_over(f.x, f.now).step, Step::Forward);
  EXPECT_EQ(f.run(*get("/pit")).step, Step::Forward);
  const Decision pit = f.run(*get("/pit"));
  ASSERT_EQ(pit.step, Step::Hold);
  EXPECT_EQ(pit.until_ms, kT0 + 3'000);
  const Decision after = f.pipeline->hold_over(f.x, f.now);
  ASSERT_EQ(after.step, Step::Respond);
  EXPECT_EQ(after.answer.status, 429);
  EXPECT_TRUE(after.answer.close);
}

TEST(Pipeline, BodyKeyedLimitsAskForTheBodyFirst) {
  Fixture f(
      "routes:\n  - name: login\n    match: { path: /login }\n    limits:\n"
      "      - { name: acct, key: [body.username], rate: 1/hour, burst: 1 }\n");
  auto r = post("/login", "username=alice&password=x");
  const Decision ask = f.begin(*r);
  ASSERT_EQ(ask.step, Step::NeedBody);
  EXPECT_EQ(ask.body_bytes, 4096u);
  EXPECT_EQ(f.pipeline->body(f.x, "username=alice&password=x", true, f.now).step, Step::Forward);
  f.begin(*r);
  EXPECT_EQ(f.pipeline->body(f.x, "username=ALICE&password=y", true, f.now).answer.status, 429);
  f.begin(*r);
  EXPECT_EQ(f.pipeline->body(f.x, "username=bob&password=y", true, f.now).step, Step::Forward);
}

TEST(Pipeline, CountWhenIsChargedOnArrivalAndSettledByTheAnswer) {
  Fixture f(
      "residents: { enabled: false }\n"
      "routes:\n  - name: login\n    match: { path: /login }\n    class: login\n    limits:\n"
      "      - { name: fails, key: [body.username], rate: 2/hour, "
      "count_when: { status: [401] } }\n");
  auto r = post("/login", "username=alice");
  const http::ResponseHead ok = response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  const http::ResponseHead no = response("HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n");
  for (int i = 0; i < 5; ++i) {  // successes are refunded: never counted
    ASSERT_EQ(f.run(*r, "username=alice").step, Step::Forward) << i;
    f.pipeline->settle(f.x, ok, 1'000, f.now);
    f.finish(200);
  }
  // While two are in flight, a third is refused: the charge is taken on arrival.
  ASSERT_EQ(f.run(*r, "username=alice").step, Step::Forward);
  Exchange first = f.x;
  ASSERT_EQ(f.run(*r, "username=alice").step, Step::Forward);
  EXPECT_EQ(f.run(*r, "username=alice").answer.status, 429);
  // Gatehouse's own 503 for one of them is no failed login: refunded at the end.
  f.pipeline->end(first, 503, f.now);
  EXPECT_EQ(f.run(*r, "username=alice").step, Step::Forward);
  f.pipeline->settle(f.x, no, 1'000, f.now);
  f.finish(401);
  EXPECT_EQ(f.run(*r, "username=alice").answer.status, 429);
  EXPECT_EQ(f.run(*r, "username=bob").step, Step::Forward);
}

TEST(Pipeline, BanActionAsksTheHostForABan) {
  Fixture f(
      "routes:\n  - name: r\n    limits:\n"
      "      - { name: flood, key: [client.ip], rate: 2/hour, burst: 2, "
      "action: { ban: 10m } }\n");
  auto r = get("/");
  f.run(*r);
  f.run(*r);
  EXPECT_TRUE(f.banned.empty());
  EXPECT_EQ(f.run(*r).answer.status, 429);
  ASSERT_EQ(f.banned.size(), 1u);
  EXPECT_EQ(f.banned[0].ms, 600'000);
  EXPECT_EQ(f.banned[0].rule, "flood");
  EXPECT_EQ(f.banned[0].client, ip("192.0.2.10"));
}

// ---- sign-up modes, challenge, waiting room ---------------------------------------------------

constexpr const char* kSignup =
    "challenge: { levels: [{ rate: 0, bits: 4 }], refresh_wait: 2s }\n"
    "routes:\n  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
    "    signup: { mode: MODE }\n  - name: app\n";

std::string signup(const std::string& mode) {
  std::string s = kSignup;
  s.replace(s.find("MODE"), 4, mode);
  return s;
}

// "name=value" of the Set-Cookie line for `name` in `fields`.
std::string cookie_in(std::string_view fields, const std::string& name) {
  const std::size_t at = fields.find("Set-Cookie: " + name + "=");
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + 12;
  return std::string(fields.substr(start, fields.find(';', start) - start));
}

TEST(Pipeline, ClosedSignupAnswersPageOrJson) {
  Fixture f(signup("closed"));
  const Decision page = f.run(*get("/signup"));
  ASSERT_EQ(page.step, Step::Respond);
  EXPECT_EQ(page.answer.status, 503);
  EXPECT_EQ(page.answer.content_type, stages::kHtml);
  EXPECT_EQ(page.answer.retry_after_s, 1'800u);
  const Decision json = f.run(*get("/signup", "Accept: application/json\r\n"));
  EXPECT_EQ(json.answer.content_type, stages::kJson);
  EXPECT_THAT(std::string(json.answer.body), HasSubstr("signup_closed"));
  EXPECT_EQ(f.run(*get("/other")).step, Step::Forward);
  EXPECT_EQ(f.stats.signup_closed.get(), 2u);
}

TEST(Pipeline, ChallengeThenTheWaitAnswerThenAClearancePasses) {
  Fixture f(signup("challenge"));
  const Decision c = f.run(*get("/signup?x=1"));
  ASSERT_EQ(c.step, Step::Respond);
  EXPECT_EQ(c.answer.status, 403);
  // The no-JavaScript answer: the wait page names the URL to come back to.
  const std::string body(c.answer.body);
  const std::size_t at = body.find("/.gatehouse/challenge?token=");
  ASSERT_NE(at, std::string::npos);
  std::string url = body.substr(at, body.find('"', at) - at);
  for (std::size_t p; (p = url.find("&amp;")) != std::string::npos;) url.replace(p, 5, "&");
  EXPECT_EQ(f.run(*get(url)).answer.status, 429);  // too early
  f.now.wall_us += (2'000 * 2 + 1) * 1'000;        // level 1: refresh_wait x 2
  const Decision solved = f.run(*get(url));
  ASSERT_EQ(solved.step, Step::Respond) << solved.answer.detail;
  EXPECT_EQ(solved.answer.status, 303);
  EXPECT_THAT(std::string(solved.answer.fields), HasSubstr("Location: /signup?x=1\r\n"));
  const std::string clearance = cookie_in(solved.answer.fields, "gh_clearance");
  ASSERT_FALSE(clearance.empty());
  EXPECT_EQ(f.run(*get(url)).answer.status, 403) << "single use";
  EXPECT_EQ(f.run(*get("/signup", "Cookie: " + clearance + "\r\n")).step, Step::Forward);
  EXPECT_EQ(f.x.cls, policy::ClientClass::Verified);
  EXPECT_EQ(f.x.clearance_len, 32);
  // Moved to another network or browser: worth nothing.
  EXPECT_EQ(
      f.run(*get("/signup", "Cookie: " + clearance + "\r\n"), {}, "198.51.100.1").answer.status,
      403);
  EXPECT_EQ(f.stats.challenges_solved.get(), 1u);
}

TEST(Pipeline, ProofOfWorkAnswerIsCheckedAndGranted) {
  Fixture f(signup("challenge"));
  const Decision c = f.run(*get("/signup", "Accept: application/json\r\n"));
  const std::string json(c.answer.body);
  const std::size_t t = json.find("\"token\":\"") + 9;
  const std::string token = json.substr(t, json.find('"', t) - t);
  const std::optional<std::string> nonce = challenge::pow_solve(token, 4, 1'000'000);
  ASSERT_TRUE(nonce.has_value());
  const std::string form = "token=" + token + "&nonce=" + *nonce;
  auto answer = post("/.gatehouse/challenge", form);  // the head outlives its exchange
  const Decision ask = f.begin(*answer);
  ASSERT_EQ(ask.step, Step::NeedBody);
  const Decision solved = f.pipeline->body(f.x, form, true, f.now);
  EXPECT_EQ(solved.answer.status, 303);  // back to the page, with the clearance
  EXPECT_NE(cookie_in(solved.answer.fields, "gh_clearance"), "");
  f.begin(*answer);
  EXPECT_EQ(f.pipeline->body(f.x, form, true, f.now).answer.status, 403) << "replayed";
  f.begin(*answer);
  EXPECT_EQ(f.pipeline->body(f.x, "token=" + token + "&nonce=x", true, f.now).answer.status, 400);
}

// ---- a fleet: waiting for the shared store (Step::Await) ------------------------------------

// The fleet's store as the pipeline sees it: asks are recorded, never answered by itself (the
// test plays the reply, as a transport hands it back).
struct FakeStore final : SharedStore {
  bool up = true;
  std::vector<StoreQuery> asked;
  bool ready() const override { return up; }
  std::int64_t timeout_ms() const override { return 5; }
  bool ask(const StoreQuery& q, Done) override {
    asked.push_back(q);
    return true;
  }
};

// A solved proof of work, posted: the decision the answer's body gets.
struct Solve {
  std::unique_ptr<Req> answer;  // the head outlives its exchange
  std::string form;
};
Solve solve(Fixture& f) {
  const Decision c = f.run(*get("/signup", "Accept: application/json\r\n"));
  const std::string json(c.answer.body);
  const std::size_t t = json.find("\"token\":\"") + 9;
  const std::string token = json.substr(t, json.find('"', t) - t);
  const std::optional<std::string> nonce = challenge::pow_solve(token, 4, 1'000'000);
  EXPECT_TRUE(nonce.has_value());
  Solve s;
  s.form = "token=" + token + "&nonce=" + nonce.value_or("");
  s.answer = post("/.gatehouse/challenge", s.form);
  return s;
}
Decision answer(Fixture& f, const Solve& s) {
  EXPECT_EQ(f.begin(*s.answer).step, Step::NeedBody);
  return f.pipeline->body(f.x, s.form, true, f.now);
}

TEST(PipelineAwait, ASolvedChallengeWaitsForItsClaimInTheFleet) {
  Fixture f(signup("challenge"));
  FakeStore store;
  f.state.set_store(&store);
  const Solve s = solve(f);
  const Decision d = answer(f, s);
  ASSERT_EQ(d.step, Step::Await);
  EXPECT_EQ(d.store, &store);
  ASSERT_EQ(store.asked.size(), 0u) << "the transport asks, not the pipeline";
  ASSERT_NE(d.query, nullptr);
  EXPECT_EQ(d.query->kind, StoreQuery::Kind::Claim);
  EXPECT_NE(d.query->id, challenge::TokenId{});
  EXPECT_GT(d.query->expiry_ms, f.now.wall_ms());
  EXPECT_EQ(d.until_ms, f.now.mono_ms + 5 + 20) << "the timeout and the transport's backstop";
  EXPECT_EQ(f.stats.challenges_solved.get(), 0u) << "not before the fleet agrees";
  StoreReply yes;
  yes.answer = StoreAnswer::Yes;
  yes.waited_us = 300;
  const Decision solved = f.pipeline->awaited(f.x, yes, f.now);
  ASSERT_EQ(solved.step, Step::Respond);
  EXPECT_EQ(solved.answer.status, 303);
  EXPECT_NE(cookie_in(solved.answer.fields, "gh_clearance"), "");
  EXPECT_EQ(f.stats.challenges_solved.get(), 1u);
  EXPECT_EQ(f.stats.fleet_awaits_answered.get(), 1u);
  EXPECT_EQ(f.stats.fleet_await_us.get(), 300u);
  // Replayed here: refused by the local set at once, no question asked.
  EXPECT_EQ(answer(f, s).answer.status, 403);
}

TEST(PipelineAwait, AClaimAnotherNodeMadeFirstIsRefused) {
  Fixture f(signup("challenge"));
  FakeStore store;
  f.state.set_store(&store);
  const Solve s = solve(f);
  ASSERT_EQ(answer(f, s).step, Step::Await);
  StoreReply no;
  no.answer = StoreAnswer::No;
  const Decision d = f.pipeline->awaited(f.x, no, f.now);
  ASSERT_EQ(d.step, Step::Respond);
  EXPECT_EQ(d.answer.status, 403);
  EXPECT_THAT(std::string(d.answer.detail), HasSubstr("already used"));
  EXPECT_EQ(cookie_in(d.answer.fields, "gh_clearance"), "") << "no clearance for a replay";
  EXPECT_EQ(f.stats.fleet_replays_refused.get(), 1u);
  EXPECT_EQ(f.stats.challenges_failed.get(), 1u);
  EXPECT_EQ(f.stats.challenges_solved.get(), 0u);
}

TEST(PipelineAwait, NoAnswerInTimeIsTheLocalDecision) {
  Fixture f(signup("challenge"));
  FakeStore store;
  f.state.set_store(&store);
  for (StoreAnswer a : {StoreAnswer::TimedOut, StoreAnswer::Failed}) {
    const Solve s = solve(f);
    ASSERT_EQ(answer(f, s).step, Step::Await);
    StoreReply r;
    r.answer = a;
    const Decision d = f.pipeline->awaited(f.x, r, f.now);
    EXPECT_EQ(d.answer.status, 303) << "fail-static: the local claim stands";
    EXPECT_NE(cookie_in(d.answer.fields, "gh_clearance"), "");
  }
  EXPECT_EQ(f.stats.fleet_awaits_timed_out.get(), 1u);
  EXPECT_EQ(f.stats.fleet_awaits_failed.get(), 1u);
  EXPECT_EQ(f.stats.fleet_await_fail_static.get(), 2u);
  EXPECT_EQ(f.stats.challenges_solved.get(), 2u);
}

TEST(PipelineAwait, StoreAwayOrAbsentNeverWaits) {
  Fixture f(signup("challenge"));
  FakeStore store;
  store.up = false;  // breaker open, Redis gone
  f.state.set_store(&store);
  Decision d = answer(f, solve(f));
  ASSERT_EQ(d.step, Step::Respond);
  EXPECT_EQ(d.answer.status, 303);
  EXPECT_EQ(f.stats.fleet_await_fail_static.get(), 1u);
  f.state.set_store(nullptr);  // no cluster: section, today's single node
  d = answer(f, solve(f));
  EXPECT_EQ(d.step, Step::Respond);
  EXPECT_EQ(f.stats.fleet_await_fail_static.get(), 1u) << "nothing was due without a fleet";
  EXPECT_EQ(f.stats.challenges_solved.get(), 2u);
}

const char* kExact =
    "routes:\n  - name: join\n    match: { path_prefix: /join }\n    limits:\n"
    "      - { name: joins, key: [client.ip], rate: 2/h, exact: true }\n"
    "      - { name: any, key: [client.ip], rate: 100/s }\n";

TEST(PipelineAwait, AnExactLimitPassedHereIsCheckedInTheFleet) {
  Fixture f(kExact, /*shared=*/true);
  FakeStore store;
  f.state.set_store(&store);
  Decision d = f.run(*get("/join"));
  ASSERT_EQ(d.step, Step::Await);
  ASSERT_EQ(d.query->kind, StoreQuery::Kind::Limits);
  ASSERT_EQ(d.query->limit_count, 1) << "only the exact limit";
  const StoreQuery::Limit l = d.query->limits[0];
  EXPECT_NE(l.limit, 0u);
  EXPECT_NE(l.lo | l.hi, 0u);
  EXPECT_EQ(l.interval_us, 1'800'000'000) << "2/h";
  EXPECT_EQ(l.burst_us, 1'800'000'000) << "burst 2: one interval of tolerance";
  StoreReply yes;
  yes.answer = StoreAnswer::Yes;
  EXPECT_EQ(f.pipeline->awaited(f.x, yes, f.now).step, Step::Forward);
  EXPECT_EQ(f.stats.ratelimit_passed.get(), 1u);
  f.finish(200);

  // Refused by the fleet's figure: the limit's refusal, and the local charge given back.
  d = f.run(*get("/join"));
  ASSERT_EQ(d.step, Step::Await);
  StoreReply no;
  no.answer = StoreAnswer::No;
  no.which = 0;
  no.retry_ms = 90'000;
  d = f.pipeline->awaited(f.x, no, f.now);
  ASSERT_EQ(d.step, Step::Respond);
  EXPECT_EQ(d.answer.status, 429);
  EXPECT_EQ(d.answer.retry_after_s, 90u);
  EXPECT_THAT(std::string(d.answer.fields), HasSubstr("joins"));
  EXPECT_EQ(f.stats.fleet_exact_refused.get(), 1u);
  EXPECT_EQ(f.stats.ratelimit_rejected.get(), 1u);
  f.finish(429);
  // Given back: the node's own table still has room for the second of its 2.
  EXPECT_EQ(f.run(*get("/join")).step, Step::Await);
  StoreReply lost;  // and a reply that never comes: the local decision, which passes
  lost.answer = StoreAnswer::TimedOut;
  EXPECT_EQ(f.pipeline->awaited(f.x, lost, f.now).step, Step::Forward);
  f.finish(200);
  // Now the node's own table refuses: no question for the fleet.
  d = f.run(*get("/join"));
  EXPECT_EQ(d.step, Step::Respond);
  EXPECT_EQ(d.answer.status, 429);
  EXPECT_EQ(f.stats.fleet_await_fail_static.get(), 1u);
}

TEST(PipelineAwait, WithoutAFleetExactLimitsDecideLocally) {
  Fixture f(kExact, /*shared=*/true);  // no store: no cluster
  EXPECT_EQ(f.run(*get("/join")).step, Step::Forward);
  EXPECT_EQ(f.run(*get("/join")).step, Step::Forward);
  EXPECT_EQ(f.run(*get("/join")).answer.status, 429);
}

// A queue route's question to the fleet's line is made at load from its room's config.
TEST(Pipeline, TheFleetLineFiguresAreMadeOncePerRouteAtLoad) {
  Fixture f(
      "routes:\n"
      "  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
      "    signup:\n      mode: queue\n"
      "      waiting_room: { new_users_per_minute: 120, refresh: 1s, max_queue: 500 }\n"
      "  - name: join\n    match: { path_prefix: /join }\n    class: signup\n"
      "    signup:\n      mode: queue\n"
      "      waiting_room: { new_users_per_minute: 6000, refresh: 5m, ticket_lifetime: 1m }\n"
      "  - name: app\n");
  const policy::RouteConfig* signup = f.rt->policy->routes.match("a", http::Method::Get, "/signup");
  const policy::RouteConfig* join = f.rt->policy->routes.match("a", http::Method::Get, "/join");
  ASSERT_NE(signup, nullptr);
  ASSERT_NE(join, nullptr);
  const StoreQuery::Line& a = f.rt->defence.routes[f.rt->route_index(signup)].line;
  EXPECT_EQ(a.scope, challenge::scope_of("signup"));
  EXPECT_EQ(a.interval_us, 500'000) << "120 a minute";
  EXPECT_EQ(a.burst, 10u) << "5 s of the rate";
  EXPECT_EQ(a.hold, 10u) << "a calm room's burst: more than a refresh (1 s) and 1 s of the rate";
  EXPECT_EQ(a.max_queue, 500u);
  EXPECT_EQ(a.gone_ms, 3 * 1'000 + 30'000) << "three refreshes and the grace";
  EXPECT_EQ(a.back_ms, 1'000 + 2'000) << "a refresh and 2 s";
  const StoreQuery::Line& b = f.rt->defence.routes[f.rt->route_index(join)].line;
  EXPECT_EQ(b.scope, challenge::scope_of("join"));
  EXPECT_EQ(b.interval_us, 10'000);
  EXPECT_EQ(b.burst, 500u);
  EXPECT_EQ(b.hold, 30'100u) << "a refresh (5 min) and 1 s of the rate";
  EXPECT_EQ(b.max_queue, 100'000u) << "the default";
  EXPECT_EQ(b.gone_ms, 60'000) << "the ticket's lifetime, under three refreshes and the grace";
  EXPECT_EQ(b.back_ms, 60'000) << "at most gone_ms";
}

TEST(Pipeline, QueueAdmitsWithATicketAndKeepsTheNextInLine) {
  Fixture f(
      "routes:\n  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
      "    signup:\n      mode: queue\n"
      "      waiting_room: { new_users_per_minute: 1, max_active: 10 }\n");
  // Calm: the first newcomer goes straight in, its ticket added to the upstream's answer.
  EXPECT_EQ(f.run(*get("/signup")).step, Step::Forward);
  const std::string ticket = cookie_in(f.x.response_fields(), "gh_ticket");
  ASSERT_FALSE(ticket.empty());
  EXPECT_EQ(f.run(*get("/signup", "Cookie: " + ticket + "\r\n")).step, Step::Forward);
  // The next one waits: a page with its place, and a ticket of its own.
  const Decision wait = f.run(*get("/signup"), {}, "198.51.100.1");
  ASSERT_EQ(wait.step, Step::Respond);
  EXPECT_EQ(wait.answer.status, 200);
  EXPECT_NE(cookie_in(wait.answer.fields, "gh_ticket"), "");
  EXPECT_EQ(f.stats.waitroom_queued.get(), 1u);
}

// ---- admission -------------------------------------------------------------------------------

TEST(Pipeline, AdmissionReservesResidentsAndQueuesTheRest) {
  Fixture f(
      "    admission: { min_limit: 2, max_limit: 2, initial_limit: 2, resident_share: 50% }\n");
  ASSERT_EQ(f.run(*get("/a")).step, Step::Forward);  // one anonymous slot
  Exchange holder = f.x;
  ASSERT_NE(holder.slot, nullptr);
  const Decision wait = f.run(*get("/b"));
  ASSERT_EQ(wait.step, Step::AwaitSlot);  // the other slot is the residents'
  EXPECT_EQ(wait.limiter, holder.slot);
  EXPECT_EQ(f.pipeline->shed(f.x, f.now).answer.status, 503);
  f.pipeline->end(holder, 200, f.now);  // gives the slot back
  EXPECT_EQ(f.run(*get("/c")).step, Step::Forward);
}

// ---- residents -------------------------------------------------------------------------------

TEST(Pipeline, ALoginTheAppConfirmsMakesAResidentButNotOnSignup) {
  Fixture f(
      "residents: { success_cookie: sid }\n"
      "routes:\n  - name: login\n    match: { path: /login }\n    class: login\n"
      "  - name: signup\n    match: { path: /signup }\n    class: signup\n"
      "    signup: { mode: closed }\n  - name: app\n");
  auto login = post("/login", "username=alice&password=x");
  ASSERT_EQ(f.run(*login, "username=alice&password=x").step, Step::Forward);
  f.pipeline->settle(f.x, response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 1'000, f.now);
  EXPECT_EQ(f.x.response_fields(), "") << "a bare 200 is no login";
  f.finish(200);
  ASSERT_EQ(f.run(*login, "username=alice&password=x").step, Step::Forward);
  f.pipeline->settle(
      f.x, response("HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; Path=/\r\nContent-Length: 0\r\n\r\n"),
      1'000, f.now);
  const std::string device = cookie_in(f.x.response_fields(), "gh_device");
  ASSERT_FALSE(device.empty());
  f.finish(200);
  EXPECT_EQ(f.run(*get("/home", "Cookie: " + device + "\r\n")).step, Step::Forward);
  EXPECT_EQ(f.x.cls, policy::ClientClass::Resident);
  f.finish(200);
  const Decision closed = f.run(*get("/signup", "Cookie: " + device + "\r\n"));
  EXPECT_EQ(closed.answer.status, 503);
  EXPECT_EQ(f.x.cls, policy::ClientClass::Anonymous);
}

TEST(Pipeline, DeviceCookiesAreSecureWhenTheClientCameOverTls) {
  Fixture f(
      "clients: { trusted_proxies: [10.0.0.0/8] }\n"
      "residents: { success_cookie: sid }\n"
      "routes:\n  - name: login\n    match: { path: /login }\n    class: login\n  - name: app\n");
  const auto login_from = [&](const std::string& fields, const char* peer) {
    auto login = post("/login", "username=alice&password=x", fields);
    EXPECT_EQ(f.run(*login, "username=alice&password=x", peer).step, Step::Forward);
    f.pipeline->settle(
        f.x, response("HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; Path=/\r\nContent-Length: 0\r\n\r\n"),
        1'000, f.now);
    std::string fields_out(f.x.response_fields());
    f.finish(200);
    return fields_out;
  };
  const std::string tls =
      login_from("X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n", "10.1.1.1");
  ASSERT_NE(tls.find("gh_device="), std::string::npos) << tls;
  EXPECT_NE(tls.find("; Secure"), std::string::npos) << tls;
  // Clear text, or a claim of https from a peer that is not a trusted proxy: no Secure.
  const std::string plain = login_from("", "192.0.2.10");
  ASSERT_NE(plain.find("gh_device="), std::string::npos) << plain;
  EXPECT_EQ(plain.find("; Secure"), std::string::npos) << plain;
  const std::string claimed = login_from("X-Forwarded-Proto: https\r\n", "198.51.100.7");
  EXPECT_EQ(claimed.find("; Secure"), std::string::npos) << claimed;
}

// ---- bots pay by reputation ------------------------------------------------------------------

// The bits of a JSON challenge answer.
int bits_in(const Decision& d) {
  const std::string json(d.answer.body);
  const std::size_t at = json.find("\"bits\":");
  return at == std::string::npos ? -1 : std::stoi(json.substr(at + 7));
}

// Solves the JSON challenge `c` (a few bits) and returns the clearance cookie pair.
std::string solve(Fixture& f, const Decision& c) {
  const std::string json(c.answer.body);
  const std::size_t t = json.find("\"token\":\"") + 9;
  const std::string token = json.substr(t, json.find('"', t) - t);
  const std::optional<std::string> nonce =
      challenge::pow_solve(token, static_cast<std::uint8_t>(bits_in(c)), 100'000'000);
  EXPECT_TRUE(nonce.has_value());
  const std::string form = "token=" + token + "&nonce=" + nonce.value_or("");
  auto answer = post("/.gatehouse/challenge", form);
  f.begin(*answer);
  const Decision solved = f.pipeline->body(f.x, form, true, f.now);
  EXPECT_EQ(solved.answer.status, 303) << solved.answer.detail;
  return cookie_in(solved.answer.fields, "gh_clearance");
}

// A sign-up route in `mode`, with a challenge section of its own and more sections.
std::string signup_with(const std::string& mode, const std::string& more) {
  return "routes:\n  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
         "    signup: { mode: " +
         mode + " }\n  - name: app\n" + more;
}

const char* kRisky =
    "challenge:\n  levels: [{rate: 0, bits: 4}]\n  risk: { score_per_bit: 10, max_extra_bits: 4 }\n"
    "reputation:\n  rules:\n    - { name: scripted, user_agent: '^Test/', weight: 25 }\n";

TEST(Pipeline, RiskyClientsPayMoreBits) {
  Fixture f(signup_with("challenge", kRisky));
  const Decision risky = f.run(*get("/signup", "Accept: application/json\r\n"));
  EXPECT_EQ(bits_in(risky), 4 + 2);  // 25 points: two bits more, 4x the work
  EXPECT_EQ(f.x.risk_bits, 2);
  auto clean = parse(
      "GET /signup HTTP/1.1\r\nHost: a\r\nUser-Agent: Browser/1\r\n"
      "Accept: application/json\r\n\r\n");
  EXPECT_EQ(bits_in(f.run(*clean)), 4);
  EXPECT_EQ(f.stats.challenges_risk_raised.get(), 1u);
  EXPECT_EQ(f.stats.challenge_hashes_risky.get(), 64u);
  EXPECT_EQ(f.stats.challenge_hashes_clean.get(), 16u);
}

TEST(Pipeline, ASignupClearanceOpensOneSignupAndItsCostIsCounted) {
  Fixture f(signup_with("challenge", kRisky));
  const std::string clearance = solve(f, f.run(*get("/signup", "Accept: application/json\r\n")));
  ASSERT_FALSE(clearance.empty());
  const std::string with = "Cookie: " + clearance + "\r\n";
  // Browsing the sign-up page with it is free; the first submission is let through ...
  EXPECT_EQ(f.run(*get("/signup", with)).step, Step::Forward);
  auto first = post("/signup", "u=a", with);
  EXPECT_EQ(f.run(*first, "u=a").step, Step::Forward);
  f.pipeline->settle(f.x, response("HTTP/1.1 303 See Other\r\nLocation: /welcome\r\n\r\n"), 1000,
                     f.now);
  f.finish(303);
  EXPECT_EQ(f.stats.signup_accounts_unpaid.get(), 0u);
  EXPECT_EQ(f.stats.signup_accounts_base.get(), 0u);
  EXPECT_EQ(f.stats.signup_accounts_surcharged.get(), 1u);
  EXPECT_EQ(f.stats.signup_pow_hashes_risky.get(), 64u);  // 6 bits
  // ... and the second one with the same clearance solves again.
  auto second = post("/signup", "u=b", with);
  const Decision again = f.run(*second, "u=b");
  ASSERT_EQ(again.step, Step::Respond);
  EXPECT_EQ(again.answer.status, 403);
  EXPECT_EQ(f.stats.signup_clearances_reused.get(), 1u);
}

// In a fleet the sign-up a clearance opens is claimed in Redis too (after the node's own set),
// so that the same clearance sent to several nodes at once opens one sign-up.
TEST(PipelineAwait, ASignupClearanceWaitsForItsClaimInTheFleet) {
  Fixture f(signup_with("challenge", "challenge:\n  levels: [{rate: 0, bits: 2}]\n"));
  // Solved before the store is set: the answer's own claim is another test's.
  std::vector<std::string> clearances;
  for (int i = 0; i < 4; ++i) {
    clearances.push_back(solve(f, f.run(*get("/signup", "Accept: application/json\r\n"))));
    ASSERT_FALSE(clearances.back().empty());
  }
  FakeStore store;
  f.state.set_store(&store);
  auto signup_post = [&](const std::string& clearance) {
    return post("/signup", "u=a", "Cookie: " + clearance + "\r\n");
  };
  // Yes: the sign-up goes on, its clearance id asked under the Signup kind.
  auto first = signup_post(clearances[0]);
  Decision d = f.run(*first, "u=a");
  ASSERT_EQ(d.step, Step::Await);
  ASSERT_NE(d.query, nullptr);
  EXPECT_EQ(d.query->kind, StoreQuery::Kind::Signup);
  EXPECT_EQ(d.query->id, f.x.clearance.id);
  EXPECT_NE(d.query->id, challenge::TokenId{});
  EXPECT_EQ(d.query->expiry_ms, f.x.clearance.expiry_ms);
  StoreReply reply;
  reply.answer = StoreAnswer::Yes;
  EXPECT_EQ(f.pipeline->awaited(f.x, reply, f.now).step, Step::Forward);
  EXPECT_EQ(f.x.cls, policy::ClientClass::Verified);
  f.finish(200);
  // Again on this node: its own set refuses at once, no question asked.
  auto again = signup_post(clearances[0]);
  d = f.run(*again, "u=a");
  ASSERT_EQ(d.step, Step::Respond);
  EXPECT_EQ(d.answer.status, 403);
  EXPECT_EQ(f.stats.signup_clearances_reused.get(), 1u);

  // No: another node let a sign-up through on it first, a reuse as if seen here.
  auto second = signup_post(clearances[1]);
  ASSERT_EQ(f.run(*second, "u=a").step, Step::Await);
  reply.answer = StoreAnswer::No;
  d = f.pipeline->awaited(f.x, reply, f.now);
  ASSERT_EQ(d.step, Step::Respond);
  EXPECT_EQ(d.answer.status, 403) << "challenged again";
  EXPECT_EQ(f.x.cls, policy::ClientClass::Anonymous);
  EXPECT_EQ(f.x.clearance_len, 0);
  EXPECT_EQ(f.stats.signup_clearances_reused.get(), 2u);
  EXPECT_EQ(f.stats.fleet_signups_refused.get(), 1u);
  f.finish(403);

  // No answer in time: the node's own claim stands.
  auto third = signup_post(clearances[2]);
  ASSERT_EQ(f.run(*third, "u=a").step, Step::Await);
  reply.answer = StoreAnswer::TimedOut;
  EXPECT_EQ(f.pipeline->awaited(f.x, reply, f.now).step, Step::Forward);
  EXPECT_EQ(f.stats.fleet_await_fail_static.get(), 1u);
  f.finish(200);

  // The store away: not asked, decided locally at once and counted.
  store.up = false;
  auto fourth = signup_post(clearances[3]);
  EXPECT_EQ(f.run(*fourth, "u=a").step, Step::Forward);
  EXPECT_EQ(f.stats.fleet_await_fail_static.get(), 2u);
  EXPECT_EQ(f.stats.fleet_signups_refused.get(), 1u);
  EXPECT_EQ(f.stats.signup_clearances_reused.get(), 2u);
  // A page view with a clearance claims nothing, here or in the fleet.
  store.up = true;
  EXPECT_EQ(f.run(*get("/signup", "Cookie: " + clearances[3] + "\r\n")).step, Step::Forward);
}

TEST(Pipeline, ReusableSignupClearanceWhenSingleUseIsOff) {
  Fixture f(signup_with(
      "challenge", "challenge:\n  levels: [{rate: 0, bits: 2}]\n  signup_single_use: false\n"));
  const std::string clearance = solve(f, f.run(*get("/signup", "Accept: application/json\r\n")));
  const std::string with = "Cookie: " + clearance + "\r\n";
  for (const char* body : {"u=a", "u=b", "u=c"}) {
    auto p = post("/signup", body, with);
    EXPECT_EQ(f.run(*p, body).step, Step::Forward) << body;
  }
}

TEST(Pipeline, ADisposableAddressIsScoredOnceTheBodyIsRead) {
  Fixture f(signup_with(
      "challenge",
      "challenge:\n  levels: [{rate: 0, bits: 4}]\n"
      "reputation:\n  rules:\n    - { name: throwaway, disposable_email: true, weight: 30 }\n"));
  auto throwaway = post("/signup", "email=x%40mailinator.com", "Accept: application/json\r\n");
  const Decision ask = f.begin(*throwaway);
  ASSERT_EQ(ask.step, Step::NeedBody);  // the score waits for the address
  const Decision d = f.pipeline->body(f.x, "email=x%40mailinator.com", true, f.now);
  EXPECT_EQ(f.x.score, 30);
  EXPECT_EQ(bits_in(d), 4 + 3);
  auto clean = post("/signup", "email=x%40example.com", "Accept: application/json\r\n");
  EXPECT_EQ(bits_in(f.run(*clean, "email=x%40example.com")), 4);
  EXPECT_EQ(f.x.score, 0);
}

TEST(Pipeline, APageViewCookieStartsTheFormClock) {
  Fixture f(signup_with(
      "open",
      "reputation:\n  page_view: { min_age: 3s }\n"
      "  rules:\n    - { name: skipped, page_view: skipped, methods: [POST], weight: 40 }\n"));
  // The page is served: its answer carries the page-view cookie.
  EXPECT_EQ(f.run(*get("/signup")).step, Step::Forward);
  f.pipeline->settle(f.x, response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 100, f.now);
  const std::string view = cookie_in(f.x.response_fields(), "gh_view");
  ASSERT_FALSE(view.empty());
  f.finish(200);
  const std::string with = "Cookie: " + view + "\r\n";
  auto p = post("/signup", "u=a", with);
  f.run(*p, "u=a");
  EXPECT_EQ(f.x.score, 40) << "posted a second after the page";
  f.now.wall_us += 3'000'000;
  f.run(*p, "u=a");
  EXPECT_EQ(f.x.score, 0);
  auto bare = post("/signup", "u=a");
  f.run(*bare, "u=a");
  EXPECT_EQ(f.x.score, 40) << "never shown the page";
}

}  // namespace
}  // namespace gh::gate
