// The defence sections: residents, challenge ladder, reputation, upstream admission, sign-up
// modes and triggers — every field parsed, defaults, and the errors an operator would hit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/config.h"
#include "test_util.h"

namespace gh::policy {
namespace {

using test::errors_of;
using test::kBase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

Config load_ok(std::string_view more) {
  LoadResult r = load_config_string(std::string(kBase) + std::string(more), "test.yaml");
  for (const ConfigError& e : r.errors) ADD_FAILURE() << e.to_string();
  return r.snapshot ? r.snapshot->config : Config{};
}

std::vector<std::string> with_base(std::string_view more) {
  return errors_of(std::string(kBase) + std::string(more));
}

TEST(DefenceConfig, Defaults) {
  Config c = load_ok("");
  EXPECT_EQ(c.secrets.key_file, "var/secret.key");
  EXPECT_TRUE(c.residents.enabled);
  EXPECT_EQ(c.residents.cookie, "gh_device");
  EXPECT_EQ(c.residents.account.kind, KeyPartKind::BodyField);
  EXPECT_EQ(c.residents.account.name, "username");
  EXPECT_EQ(c.challenge.levels.size(), 3u);
  EXPECT_EQ(c.challenge.cookie, "gh_clearance");
  EXPECT_EQ(c.challenge.spent_max, 100'000u);
  EXPECT_EQ(c.challenge.spent_per_prefix, 64u);
  EXPECT_TRUE(c.reputation.rules.empty());
  EXPECT_FALSE(c.upstreams[0].admission.enabled);
  EXPECT_EQ(c.routes[0].signup.mode, SignupMode::Open);
  EXPECT_EQ(c.state_dir, "var");
}

TEST(DefenceConfig, FullExample) {
  Config c = load_ok(
      R"(    admission: { min_limit: 2, max_limit: 64, resident_share: 25%, queue_timeout: 1s }
secrets: { key_file: /etc/gatehouse/secret.key }
state_dir: /var/lib/gatehouse
access_log: { enabled: false, refusals_keep_per_s: 50, refusals_sample_one_in: 10, max_file_size: 16MiB, max_files: 2 }
residents:
  cookie: dev
  lifetime: 90d
  account: body.email
  success_status: [200, 303]
  success_location: /account
challenge:
  levels: [{rate: 0, bits: 12}, {rate: 100/s, bits: 16}]
  max_bits: 20
  refresh_wait: 3s
  signup_clearance_lifetime: 5m
  spent_max: 200000
  spent_per_prefix: 500
reputation:
  suspect_score: 25
  rules:
    - { name: curl, user_agent: "(?i)^curl/", weight: 40 }
    - { name: ok, cidrs: [10.0.0.0/8], action: allow }
    - { name: no-lang, headers_missing: [Accept-Language], weight: -5 }
  thresholds:
    - { score: 20, action: challenge, level: 0 }
    - { score: 80, action: deny }
routes:
  - name: signup
    match: { path_prefix: /signup }
    class: signup
    require_clearance: true
    signup:
      mode: queue
      closed_retry_after: 10m
      waiting_room: { new_users_per_minute: 30, max_active: 50, max_per_prefix: 3 }
      triggers:
        - { metric: request_rate, above: 500/s, below: 200, mode: challenge, for: 5s, hold: 1m }
        - { metric: upstream_latency, above: 800ms, mode: queue }
    limits:
      - { name: l, key: [clearance.id], rate: 5/min, action: {challenge: 2}, classes: [anonymous, suspect] }
)");
  const AdmissionConfig& a = c.upstreams[0].admission;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.min_limit, 2u);
  EXPECT_EQ(a.max_limit, 64u);
  EXPECT_EQ(a.resident_percent, 25u);
  EXPECT_EQ(a.queue_timeout, 1000u);
  EXPECT_EQ(c.secrets.key_file, "/etc/gatehouse/secret.key");
  EXPECT_EQ(c.state_dir, "/var/lib/gatehouse");
  EXPECT_FALSE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.refusals_keep_per_s, 50u);
  EXPECT_EQ(c.access_log.refusals_sample_one_in, 10u);
  EXPECT_EQ(c.access_log.max_file_bytes, 16u << 20);
  EXPECT_EQ(c.access_log.max_files, 2u);
  EXPECT_EQ(c.residents.cookie, "dev");
  EXPECT_EQ(c.residents.account.name, "email");
  EXPECT_THAT(c.residents.success_status, ElementsAre(200, 303));
  EXPECT_EQ(c.residents.success_location, "/account");
  ASSERT_EQ(c.challenge.levels.size(), 2u);
  EXPECT_EQ(c.challenge.levels[1].rate, 100u);
  EXPECT_EQ(c.challenge.levels[1].bits, 16);
  EXPECT_EQ(c.challenge.refresh_wait, 3000u);
  EXPECT_EQ(c.challenge.signup_clearance_lifetime, 300'000u);
  EXPECT_EQ(c.challenge.spent_max, 200'000u);
  EXPECT_EQ(c.challenge.spent_per_prefix, 500u);
  ASSERT_EQ(c.reputation.rules.size(), 3u);
  EXPECT_EQ(c.reputation.rules[0].weight, 40);
  EXPECT_EQ(c.reputation.rules[1].action, ReputationAction::Allow);
  EXPECT_EQ(c.reputation.rules[2].weight, -5);
  EXPECT_THAT(c.reputation.rules[2].headers_missing, ElementsAre("accept-language"));
  ASSERT_EQ(c.reputation.thresholds.size(), 2u);
  EXPECT_EQ(c.reputation.thresholds[0].score, 80);  // highest first
  EXPECT_EQ(c.reputation.thresholds[0].action, ReputationAction::Deny);
  const RouteConfig& r = c.routes[0];
  EXPECT_TRUE(r.require_clearance);
  EXPECT_EQ(r.signup.mode, SignupMode::Queue);
  EXPECT_EQ(r.signup.closed_retry_after_s, 600u);
  EXPECT_EQ(r.signup.waiting_room.new_users_per_minute, 30u);
  EXPECT_EQ(r.signup.waiting_room.max_per_prefix, 3u);
  ASSERT_EQ(r.signup.triggers.size(), 2u);
  EXPECT_EQ(r.signup.triggers[0].metric, TriggerMetric::RequestRate);
  EXPECT_DOUBLE_EQ(r.signup.triggers[0].above, 500);
  EXPECT_DOUBLE_EQ(r.signup.triggers[0].below, 200);
  EXPECT_EQ(r.signup.triggers[0].for_ms, 5000u);
  EXPECT_EQ(r.signup.triggers[0].hold_ms, 60'000u);
  EXPECT_DOUBLE_EQ(r.signup.triggers[1].below, 400);  // default: half of above
  ASSERT_EQ(r.limits.size(), 1u);
  EXPECT_EQ(r.limits[0].action.kind, ActionKind::Challenge);
  EXPECT_EQ(r.limits[0].action.level, 2);
  EXPECT_EQ(r.limits[0].classes, 0b0011);
  EXPECT_EQ(r.limits[0].key[0].kind, KeyPartKind::Clearance);
}

TEST(DefenceConfig, SignupOnlyOnSignupRoutes) {
  EXPECT_THAT(with_base("routes:\n  - name: a\n    signup: { mode: queue }\n"),
              ElementsAre("test.yaml:8:5: routes[0].signup: only a route of class signup has a "
                          "sign-up mode"));
  // `class` after `signup` in the file still counts.
  EXPECT_THAT(with_base("routes:\n  - name: a\n    signup: { mode: queue }\n    class: signup\n"),
              IsEmpty());
}

TEST(DefenceConfig, Errors) {
  auto route = [](std::string_view lines) {
    return with_base("routes:\n  - name: s\n    class: signup\n" + std::string(lines));
  };
  EXPECT_THAT(route("    signup: { mode: queu }\n"),
              ElementsAre("test.yaml:9:21: routes[0].signup.mode: unknown sign-up mode 'queu': "
                          "use open, challenge, queue or closed (did you mean 'queue'?)"));
  EXPECT_THAT(
      route("    signup:\n      triggers:\n        - { metric: rps, above: 5, mode: queue }\n"),
      UnorderedElementsAre(HasSubstr("unknown metric 'rps'"),
                           HasSubstr("missing required key 'metric'")));
  EXPECT_THAT(
      route("    signup:\n      triggers:\n        - { metric: error_rate, above: 5%, below: 9, "
            "mode: closed }\n"),
      ElementsAre(HasSubstr("'below' must not exceed 'above'")));
  EXPECT_THAT(with_base("reputation:\n  rules:\n    - { name: x, weight: 5 }\n"),
              ElementsAre(HasSubstr("a rule needs at least one condition")));
  EXPECT_THAT(with_base("reputation:\n  rules:\n    - { name: x, user_agent: \"(\" }\n"),
              UnorderedElementsAre(HasSubstr("invalid pattern '('"),
                                   HasSubstr("a rule that weighs needs a 'weight'")));
  EXPECT_THAT(
      with_base("reputation:\n  rules:\n    - { name: x, asns: [AS64500], action: deny }\n"),
      ElementsAre(HasSubstr("matches AS numbers, but no asn_database is set")));
  EXPECT_THAT(with_base("challenge:\n  levels: [{rate: 5, bits: 12}, {rate: 1, bits: 14}]\n"),
              ElementsAre(HasSubstr("levels must be in rising order of rate")));
  EXPECT_THAT(with_base("challenge:\n  max_bits: 10\n"),
              ElementsAre(HasSubstr("above max_bits (10)")));
  EXPECT_THAT(with_base("challenge:\n  spent_per_prefix: 0\n"),
              ElementsAre("test.yaml:7:21: challenge.spent_per_prefix: must be between 1 and "
                          "50000000, got 0"));
  EXPECT_THAT(with_base("challenge:\n  spent_per_prefix: 50000001\n"),
              ElementsAre(HasSubstr("challenge.spent_per_prefix: must be between 1 and")));
  EXPECT_THAT(with_base("challenge:\n  spent_per_prefx: 10\n"),
              ElementsAre("test.yaml:7:3: unknown key 'spent_per_prefx' in challenge (did you mean "
                          "'spent_per_prefix'?)"));
  EXPECT_THAT(with_base("residents:\n  account: client.ip\n"),
              ElementsAre(HasSubstr("the account comes from body.NAME")));
  EXPECT_THAT(with_base("residents:\n  cookie: \"a b\"\n"),
              ElementsAre(HasSubstr("invalid cookie name 'a b'")));
  EXPECT_THAT(with_base("    admission: { min_limit: 9, max_limit: 3 }\n"),
              ElementsAre(HasSubstr("min_limit (9) must not exceed max_limit (3)")));
  EXPECT_THAT(with_base("    admission: { resident_share: 95% }\n"),
              ElementsAre(HasSubstr("expected a percentage from 0% to 90%")));
  EXPECT_THAT(with_base("routes:\n  - name: r\n    limits:\n      - { name: l, rate: 1/s, "
                        "classes: [residents] }\n"),
              ElementsAre(HasSubstr("unknown client class 'residents'")));
}

// A bare status is no login: a config with a login route must name the application's signal.
TEST(DefenceConfig, LoginRoutesNeedASuccessSignal) {
  const std::string login =
      "routes:\n  - name: login\n    match: { path: /login }\n"
      "    class: login\n";
  EXPECT_THAT(with_base(login),
              ElementsAre(HasSubstr("route 'login' is a login route, but no login success "
                                    "signal is named: set residents.success_cookie")));
  EXPECT_THAT(with_base("residents: { success_cookie: sid }\n" + login), IsEmpty());
  EXPECT_THAT(with_base("residents: { success_location: /home }\n" + login), IsEmpty());
  EXPECT_THAT(with_base("residents: { enabled: false }\n" + login), IsEmpty());
  EXPECT_THAT(with_base("routes:\n  - name: other\n"), IsEmpty());
}

TEST(DefenceConfig, DeviceLimits) {
  Config d = load_ok("");
  EXPECT_EQ(d.residents.device_rate, 10u);
  EXPECT_EQ(d.residents.device_period, 1000u);
  EXPECT_EQ(d.residents.device_burst, 100u);
  EXPECT_EQ(d.residents.device_concurrency, 16u);
  EXPECT_TRUE(d.residents.success_cookie.empty());
  Config c = load_ok(
      "residents: { success_cookie: sid, device_rate: 30/min, device_burst: 20, "
      "device_concurrency: 4 }\n");
  EXPECT_EQ(c.residents.success_cookie, "sid");
  EXPECT_EQ(c.residents.device_rate, 30u);
  EXPECT_EQ(c.residents.device_period, 60'000u);
  EXPECT_EQ(c.residents.device_burst, 20u);
  EXPECT_EQ(c.residents.device_concurrency, 4u);
  EXPECT_THAT(with_base("residents: { device_rate: fast }\n"),
              ElementsAre(HasSubstr("residents.device_rate: invalid rate 'fast'")));
  EXPECT_THAT(with_base("residents: { device_concurrency: 0 }\n"),
              ElementsAre(HasSubstr("residents.device_concurrency")));
  EXPECT_THAT(with_base("residents: { success_cookie: \"a;b\" }\n"),
              ElementsAre(HasSubstr("invalid cookie name")));
  EXPECT_EQ(d.residents.device_networks, 8u);
  EXPECT_EQ(d.residents.device_demote, 3'600'000u);
  Config n = load_ok("residents: { device_networks: 3, device_demote: 20m }\n");
  EXPECT_EQ(n.residents.device_networks, 3u);
  EXPECT_EQ(n.residents.device_demote, 1'200'000u);
  EXPECT_THAT(with_base("residents: { device_networks: 17 }\n"),
              ElementsAre(HasSubstr("residents.device_networks")));
  EXPECT_THAT(with_base("residents: { device_demote: 10s }\n"),
              ElementsAre(HasSubstr("residents.device_demote")));
}

TEST(DefenceConfig, AppToken) {
  EXPECT_EQ(load_ok("").residents.app_token.from, AppTokenConfig::From::None);
  Config b = load_ok(
      "residents:\n  app_token: { from: bearer, key_file: app.pem, issuer: https://app, "
      "audience: [api, web], leeway: 5s }\n");
  const AppTokenConfig& t = b.residents.app_token;
  EXPECT_EQ(t.from, AppTokenConfig::From::Bearer);
  EXPECT_EQ(t.key_file, "app.pem");
  EXPECT_FALSE(t.secret);
  EXPECT_EQ(t.issuer, "https://app");
  EXPECT_THAT(t.audiences, ElementsAre("api", "web"));
  EXPECT_EQ(t.leeway, 5'000u);
  Config c = load_ok(
      "residents:\n  app_token: { from: cookie.session, secret_file: s.key, audience: api }\n");
  EXPECT_EQ(c.residents.app_token.from, AppTokenConfig::From::Cookie);
  EXPECT_EQ(c.residents.app_token.cookie, "session");
  EXPECT_TRUE(c.residents.app_token.secret);
  EXPECT_THAT(c.residents.app_token.audiences, ElementsAre("api"));
  EXPECT_THAT(with_base("residents:\n  app_token: { key_file: a.pem }\n"),
              ElementsAre(HasSubstr("residents.app_token: missing required key 'from'")));
  EXPECT_THAT(with_base("residents:\n  app_token: { from: bearer }\n"),
              ElementsAre(HasSubstr("name the keys that check the tokens")));
  EXPECT_THAT(with_base("residents:\n  app_token: { from: bearer, key_file: a, secret_file: b }\n"),
              ElementsAre(HasSubstr("key_file and secret_file exclude each other")));
  EXPECT_THAT(with_base("residents:\n  app_token: { from: header.x, key_file: a }\n"),
              ElementsAre(HasSubstr("residents.app_token.from: expected 'bearer'")));
  EXPECT_THAT(with_base("residents:\n  app_token: { from: bearer, key_file: a, alg: none }\n"),
              ElementsAre(HasSubstr("unknown key 'alg'")));
}

TEST(DefenceConfig, SignupsPerTicket) {
  const std::string route =
      "routes:\n  - name: s\n    class: signup\n    signup:\n"
      "      waiting_room: { max_signups_per_ticket: ";
  EXPECT_EQ(load_ok("routes:\n  - name: s\n    class: signup\n")
                .routes[0]
                .signup.waiting_room.max_signups_per_ticket,
            3u);
  EXPECT_EQ(load_ok(route + "1 }\n").routes[0].signup.waiting_room.max_signups_per_ticket, 1u);
  EXPECT_THAT(with_base(route + "5000 }\n"), ElementsAre(HasSubstr("max_signups_per_ticket")));
}

TEST(DecideConfig, ListenersAndWhatADecisionServiceCannotDo) {
  const std::string decide =
      "listen:\n  - address: 127.0.0.1:9100\n    decide: envoy\n"
      "upstreams:\n  app:\n    servers: [127.0.0.1:3000]\n";
  EXPECT_THAT(errors_of(decide),
              ElementsAre(HasSubstr("a decide listener believes the original request only from "
                                    "the proxy in front: name it in clients.trusted_proxies")));
  const std::string trusted = decide + "clients: { trusted_proxies: [127.0.0.1/32] }\n";
  LoadResult ok = load_config_string(trusted, "t.yaml");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.snapshot->config.listen[0].decide, DecideFor::Envoy);
  EXPECT_THAT(
      errors_of("listen:\n  - { address: 127.0.0.1:9100, decide: haproxy }\n"
                "upstreams:\n  app:\n    servers: [127.0.0.1:3000]\n"),
      ElementsAre(HasSubstr("unknown proxy 'haproxy': use nginx, envoy, traefik or caddy")));
  // Without an inline listener, what needs the body or the answer is refused with the way out.
  EXPECT_THAT(errors_of(trusted + "residents: { success_cookie: sid }\nroutes:\n"
                                  "  - name: login\n    class: login\n    limits:\n"
                                  "      - { name: acct, key: [body.username], rate: 5/min }\n"
                                  "      - { name: fails, key: [client.ip], rate: 5/min, "
                                  "count_when: { status: [401] } }\n"),
              UnorderedElementsAre(
                  HasSubstr("limit 'acct' keys on the request body: a decision service "
                            "sees neither the request body nor the application's answer"),
                  HasSubstr("limit 'fails' counts on the answer (count_when)"),
                  HasSubstr("route 'login': device tokens are set on a successful login")));
  // With one, the inline listener takes those routes (docs/DECIDE.md).
  EXPECT_THAT(errors_of("listen:\n  - address: 127.0.0.1:8080\n"
                        "  - { address: 127.0.0.1:9100, decide: nginx }\n"
                        "upstreams:\n  app:\n    servers: [127.0.0.1:3000]\n"
                        "clients: { trusted_proxies: [127.0.0.1/32] }\n"
                        "residents: { success_cookie: sid }\nroutes:\n"
                        "  - name: login\n    class: login\n    limits:\n"
                        "      - { name: acct, key: [body.username], rate: 5/min }\n"),
              IsEmpty());
}

}  // namespace
}  // namespace gh::policy

namespace gh::policy {
namespace {

TEST(DefenceConfig, RiskPricingAndSignupSingleUse) {
  Config d = load_ok("");
  EXPECT_EQ(d.challenge.risk_score_per_bit, 10u);
  EXPECT_EQ(d.challenge.risk_max_extra_bits, 8u);
  EXPECT_TRUE(d.challenge.signup_single_use);
  Config c = load_ok(
      "challenge:\n  risk: { score_per_bit: 0, max_extra_bits: 12 }\n  signup_single_use: false\n");
  EXPECT_EQ(c.challenge.risk_score_per_bit, 0u);
  EXPECT_EQ(c.challenge.risk_max_extra_bits, 12u);
  EXPECT_FALSE(c.challenge.signup_single_use);
  EXPECT_THAT(with_base("challenge:\n  risk: { max_extra_bits: 17 }\n"),
              ElementsAre(HasSubstr("challenge.risk.max_extra_bits")));
  EXPECT_THAT(with_base("challenge:\n  risk: { per_bit: 3 }\n"),
              ElementsAre(HasSubstr("unknown key 'per_bit'")));
}

TEST(DefenceConfig, RiskSignals) {
  Config d = load_ok("");
  EXPECT_EQ(d.reputation.page_view.cookie, "gh_view");
  EXPECT_EQ(d.reputation.page_view.min_age, 2'000u);
  EXPECT_EQ(d.reputation.email_field, "email");
  Config c = load_ok(
      "reputation:\n  page_view: { cookie: seen, min_age: 4s, lifetime: 2h }\n"
      "  email_field: mail\n  disposable_domains_file: extra.txt\n  rules:\n"
      "    - { name: fake, browser_mismatch: true, weight: 40 }\n"
      "    - { name: fast, page_view: skipped, methods: [POST], weight: 30 }\n"
      "    - { name: throwaway, disposable_email: true, weight: 30 }\n");
  EXPECT_EQ(c.reputation.page_view.cookie, "seen");
  EXPECT_EQ(c.reputation.page_view.min_age, 4'000u);
  EXPECT_EQ(c.reputation.page_view.lifetime, 7'200'000u);
  EXPECT_EQ(c.reputation.email_field, "mail");
  EXPECT_EQ(c.reputation.disposable_domains_file, "extra.txt");
  ASSERT_EQ(c.reputation.rules.size(), 3u);
  EXPECT_TRUE(c.reputation.rules[0].browser_mismatch);
  EXPECT_TRUE(c.reputation.rules[1].page_view_skipped);
  EXPECT_TRUE(c.reputation.rules[2].disposable_email);
  EXPECT_THAT(with_base("reputation:\n  rules:\n    - { name: r, page_view: seen, weight: 1 }\n"),
              ElementsAre(HasSubstr("unknown page view state 'seen'")));
  // A condition switched off is no condition.
  EXPECT_THAT(
      with_base("reputation:\n  rules:\n    - { name: r, browser_mismatch: false, weight: 1 }\n"),
      ElementsAre(HasSubstr("a rule needs at least one condition")));
  EXPECT_THAT(with_base("reputation:\n  rules:\n    - { name: r, asns_file: h.txt, weight: 1 }\n"),
              ElementsAre(HasSubstr("matches AS numbers, but no asn_database is set")));
}

TEST(DefenceConfig, Ja4Conditions) {
  Config c = load_ok(
      "reputation:\n  browser_ja4: [t13d*_8daaf6152771_*, t13d1717h2_5b57614c22b0_3cbfd9057e0d]\n"
      "  rules:\n"
      "    - { name: fake, ja4_mismatch: true, weight: 40 }\n"
      "    - { name: tools, ja4: [t13d3112h2_e8f1e7e78f70_b26ce05bbdd6, 't12*'], weight: 30 }\n");
  EXPECT_THAT(c.reputation.browser_ja4,
              ElementsAre("t13d*_8daaf6152771_*", "t13d1717h2_5b57614c22b0_3cbfd9057e0d"));
  ASSERT_EQ(c.reputation.rules.size(), 2u);
  EXPECT_TRUE(c.reputation.rules[0].ja4_mismatch);
  EXPECT_THAT(c.reputation.rules[1].ja4,
              ElementsAre("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6", "t12*"));
  EXPECT_THAT(
      with_base("reputation:\n  rules:\n    - { name: r, ja4: ['t13 d', ''], weight: 1 }\n"),
      ElementsAre(
          "test.yaml:8:24: reputation.rules[0].ja4[0]: expected a JA4 fingerprint (e.g. "
          "t13d1516h2_8daaf6152771_e5627efa2ab1, '*' for any characters), got 't13 d'",
          HasSubstr("test.yaml:8:33: reputation.rules[0].ja4[1]: expected a JA4 fingerprint")));
  EXPECT_THAT(
      with_base("reputation:\n  rules:\n    - { name: r, ja4_mismatch: true, weight: 1 }\n"),
      ElementsAre(HasSubstr("has ja4_mismatch, but no browser_ja4")));
  EXPECT_THAT(
      with_base("reputation:\n  rules:\n    - { name: r, ja4_mismatch: false, weight: 1 }\n"),
      ElementsAre(HasSubstr("a rule needs at least one condition")));
  EXPECT_THAT(
      with_base("reputation:\n  browser_ja4: t13d\n"),
      ElementsAre(HasSubstr("reputation.browser_ja4: expected a list of JA4 fingerprints")));
}

}  // namespace
}  // namespace gh::policy
