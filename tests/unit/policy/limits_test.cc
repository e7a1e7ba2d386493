// Per-route rate limits, address lists and bans: every field parsed, defaults, and exact errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "client/address.h"
#include "policy/config.h"
#include "test_util.h"

namespace gh::policy {
namespace {

using test::errors_of;
using test::kBase;
using ::testing::ElementsAre;

std::vector<std::string> with_base(std::string_view more) {
  return errors_of(std::string(kBase) + std::string(more));
}

// kBase is 5 lines; "routes:" is line 6, the route's name line 7, "limits:" line 8, the first
// limit's first key line 9.
std::vector<std::string> with_limit(std::string_view limit_lines) {
  return with_base("routes:\n  - name: r\n    limits:\n" + std::string(limit_lines));
}

constexpr std::string_view kLimits = R"(listen:
  - address: 127.0.0.1:8080
upstreams:
  app:
    servers: [127.0.0.1:3000]
routes:
  - name: signup
    match: { path_prefix: /signup }
    class: signup
    upstream: app
    body_key_bytes: 8KiB
    limits:
      - name: per-prefix
        key: [client.prefix]
        rate: 5/min
        burst: 10
        action: reject
        dry_run: true
        max_keys: 16
      - name: everyone
        rate: 100/15min
        action: {reject: 503}
      - name: tuple
        key: [client.ip, route, method, header.X-Api-Key, cookie.sid, query.q, body.email,
              email_domain.email]
        rate: 1000/day
        action: {delay: 2s}
        max_keys: 50000000
      - name: slow
        key: []
        rate: 50/s
        action: {tarpit: 5s}
      - name: banned
        rate: 3/10sec
        action: {ban: 10m, max: 24h}
      - name: banned-default-max
        rate: 1/second
        action: {ban: 30d}
      - name: dropped
        rate: 1000000/s
        action: drop
  - name: login
    match: { path: /login }
    limits:
      - name: per-account-on-failure
        key: [body.username]
        rate: 5/15m
        count_when: { status: [401, 403] }
lists:
  allow: [10.0.0.0/8, "2001:db8::/32"]
  deny: [192.0.2.0/24]
bans:
  journal: /var/lib/gatehouse/bans.journal
  max_entries: 5000
  escalation_window: 365d
)";

TEST(RouteLimits, EveryFieldParsed) {
  auto r = load_config_string(kLimits, "limits.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  const Config& c = r.snapshot->config;
  ASSERT_EQ(c.routes.size(), 2u);
  const RouteConfig& signup = c.routes[0];
  EXPECT_EQ(signup.body_key_bytes, 8u * 1024);
  ASSERT_EQ(signup.limits.size(), 7u);

  const LimitConfig& prefix = signup.limits[0];
  EXPECT_EQ(prefix.name, "per-prefix");
  ASSERT_EQ(prefix.key.size(), 1u);
  EXPECT_EQ(prefix.key[0].kind, KeyPartKind::ClientPrefix);
  EXPECT_EQ(prefix.rate, 5u);
  EXPECT_EQ(prefix.period, 60'000u);
  EXPECT_EQ(prefix.burst, 10u);
  EXPECT_EQ(prefix.action.kind, ActionKind::Reject);
  EXPECT_EQ(prefix.action.status, 429);
  EXPECT_TRUE(prefix.dry_run);
  EXPECT_EQ(prefix.max_keys, 16u);
  EXPECT_TRUE(prefix.count_when_status.empty());
  EXPECT_EQ(prefix.mark.file, "limits.yaml");
  EXPECT_EQ(prefix.mark.line, 13);
  EXPECT_EQ(prefix.mark.column, 9);

  const LimitConfig& everyone = signup.limits[1];
  EXPECT_TRUE(everyone.key.empty());
  EXPECT_EQ(everyone.rate, 100u);
  EXPECT_EQ(everyone.period, 15u * 60'000);
  EXPECT_EQ(everyone.burst, 100u);  // default: the rate's count
  EXPECT_EQ(everyone.action.kind, ActionKind::Reject);
  EXPECT_EQ(everyone.action.status, 503);
  EXPECT_FALSE(everyone.dry_run);
  EXPECT_EQ(everyone.max_keys, 100'000u);

  const LimitConfig& tuple = signup.limits[2];
  ASSERT_EQ(tuple.key.size(), 8u);
  EXPECT_EQ(tuple.key[0].kind, KeyPartKind::ClientIp);
  EXPECT_EQ(tuple.key[1].kind, KeyPartKind::Route);
  EXPECT_EQ(tuple.key[2].kind, KeyPartKind::Method);
  EXPECT_EQ(tuple.key[3].kind, KeyPartKind::Header);
  EXPECT_EQ(tuple.key[3].name, "x-api-key");  // lowercased: field names ignore case
  EXPECT_EQ(tuple.key[4].kind, KeyPartKind::Cookie);
  EXPECT_EQ(tuple.key[4].name, "sid");
  EXPECT_EQ(tuple.key[5].kind, KeyPartKind::Query);
  EXPECT_EQ(tuple.key[5].name, "q");
  EXPECT_EQ(tuple.key[6].kind, KeyPartKind::BodyField);
  EXPECT_EQ(tuple.key[6].name, "email");
  EXPECT_EQ(tuple.key[7].kind, KeyPartKind::EmailDomain);
  EXPECT_EQ(tuple.key[7].name, "email");
  EXPECT_EQ(tuple.period, 86'400'000u);
  EXPECT_EQ(tuple.action.kind, ActionKind::Delay);
  EXPECT_EQ(tuple.action.delay_max, 2000u);
  EXPECT_EQ(tuple.max_keys, 50'000'000u);

  const LimitConfig& slow = signup.limits[3];
  EXPECT_TRUE(slow.key.empty());
  EXPECT_EQ(slow.rate, 50u);
  EXPECT_EQ(slow.period, 1000u);
  EXPECT_EQ(slow.action.kind, ActionKind::Tarpit);
  EXPECT_EQ(slow.action.hold, 5000u);
  EXPECT_EQ(slow.action.status, 429);

  const LimitConfig& banned = signup.limits[4];
  EXPECT_EQ(banned.period, 10'000u);
  EXPECT_EQ(banned.action.kind, ActionKind::Ban);
  EXPECT_EQ(banned.action.ban_duration, 600'000u);
  EXPECT_EQ(banned.action.ban_max, 86'400'000u);
  const LimitConfig& banned_default = signup.limits[5];
  EXPECT_EQ(banned_default.action.ban_duration, 30u * 86'400'000);
  EXPECT_EQ(banned_default.action.ban_max, 365ull * 86'400'000);  // 64 × 30d, capped

  const LimitConfig& dropped = signup.limits[6];
  EXPECT_EQ(dropped.action.kind, ActionKind::Drop);
  EXPECT_EQ(dropped.rate, 1'000'000u);
  EXPECT_EQ(dropped.burst, 1'000'000u);

  const RouteConfig& login = c.routes[1];
  EXPECT_EQ(login.body_key_bytes, 4096u);  // default
  ASSERT_EQ(login.limits.size(), 1u);
  const LimitConfig& failures = login.limits[0];
  ASSERT_EQ(failures.key.size(), 1u);
  EXPECT_EQ(failures.key[0].kind, KeyPartKind::BodyField);
  EXPECT_EQ(failures.key[0].name, "username");
  EXPECT_EQ(failures.period, 15u * 60'000);
  EXPECT_EQ(failures.burst, 5u);
  EXPECT_EQ(failures.count_when_status, (std::vector<std::uint16_t>{401, 403}));

  ASSERT_EQ(c.lists.allow.size(), 2u);
  EXPECT_EQ(client::format_cidr(c.lists.allow[1]), "2001:db8::/32");
  ASSERT_EQ(c.lists.deny.size(), 1u);
  EXPECT_EQ(client::format_cidr(c.lists.deny[0]), "192.0.2.0/24");
  EXPECT_TRUE(c.lists.allow_files.empty());
  EXPECT_EQ(c.bans.journal, "/var/lib/gatehouse/bans.journal");
  EXPECT_EQ(c.bans.max_entries, 5000u);
  EXPECT_EQ(c.bans.escalation_window, 365ull * 86'400'000);
}

TEST(RouteLimits, Defaults) {
  auto r = load_config_string(std::string(kBase) + "routes:\n  - name: r\n", "t.yaml");
  ASSERT_TRUE(r.ok());
  const Config& c = r.snapshot->config;
  EXPECT_TRUE(c.routes[0].limits.empty());
  EXPECT_EQ(c.routes[0].body_key_bytes, 4096u);
  EXPECT_TRUE(c.lists.allow.empty());
  EXPECT_TRUE(c.lists.deny.empty());
  EXPECT_EQ(c.bans.journal, "var/bans.journal");
  EXPECT_EQ(c.bans.max_entries, 100'000u);
  EXPECT_EQ(c.bans.escalation_window, 86'400'000u);
}

TEST(RouteLimits, RateSyntax) {
  struct Case {
    const char* rate;
    std::uint32_t count;
    std::uint32_t period_ms;
    std::uint32_t burst;  // the default: the count, at most 1000000
  } cases[] = {
      {"50/s", 50, 1000, 50},
      {"5/min", 5, 60'000, 5},
      {"100/15min", 100, 900'000, 100},
      {"1000/day", 1000, 86'400'000, 1000},
      {"1/ms", 1, 1, 1},
      {"3/sec", 3, 1000, 3},
      {"3/second", 3, 1000, 3},
      {"7/m", 7, 60'000, 7},
      {"7/minute", 7, 60'000, 7},
      {"2/h", 2, 3'600'000, 2},
      {"2/2hour", 2, 7'200'000, 2},
      {"9/d", 9, 86'400'000, 9},
      {"1/7d", 1, 7 * 86'400'000, 1},
      {"250/250ms", 250, 250, 250},
      {"1000000000/7day", 1'000'000'000, 7 * 86'400'000, 1'000'000},
  };
  for (const Case& c : cases) {
    auto r = load_config_string(std::string(kBase) + "routes:\n  - name: r\n    limits:\n" +
                                    "      - {name: l, rate: " + c.rate + "}\n",
                                "t.yaml");
    ASSERT_TRUE(r.ok()) << c.rate << ": " << r.errors[0].to_string();
    const LimitConfig& l = r.snapshot->config.routes[0].limits[0];
    EXPECT_EQ(l.rate, c.count) << c.rate;
    EXPECT_EQ(l.period, c.period_ms) << c.rate;
    EXPECT_EQ(l.burst, c.burst) << c.rate;
  }
}

TEST(RouteLimitErrors, Rate) {
  auto rate_error = [](std::string_view rate) {
    auto errs = with_limit("      - name: l\n        rate: " + std::string(rate) + "\n");
    return errs.size() == 1 ? errs[0] : "<" + std::to_string(errs.size()) + " errors>";
  };
  const std::string usage =
      ": use N/UNIT or N/<k>UNIT with UNIT ms, s, m (min), h or d (day) (e.g. 50/s, 5/min, "
      "100/15min, 1000/day)";
  EXPECT_EQ(rate_error("5"), "test.yaml:10:15: routes[0].limits[0].rate: invalid rate '5'" + usage);
  EXPECT_EQ(rate_error("5/mn"), "test.yaml:10:15: routes[0].limits[0].rate: invalid rate '5/mn'" +
                                    usage + " (did you mean 'min'?)");
  EXPECT_EQ(rate_error("5/minutes"),
            "test.yaml:10:15: routes[0].limits[0].rate: invalid rate '5/minutes'" + usage +
                " (did you mean 'minute'?)");
  EXPECT_EQ(rate_error("1.5/s"),
            "test.yaml:10:15: routes[0].limits[0].rate: invalid rate '1.5/s'" + usage);
  EXPECT_EQ(rate_error("x/s"),
            "test.yaml:10:15: routes[0].limits[0].rate: invalid rate 'x/s'" + usage);
  EXPECT_EQ(rate_error("0/s"),
            "test.yaml:10:15: routes[0].limits[0].rate: the count must be between 1 and "
            "1000000000, got '0/s'");
  EXPECT_EQ(rate_error("1000000001/7d"),
            "test.yaml:10:15: routes[0].limits[0].rate: the count must be between 1 and "
            "1000000000, got '1000000001/7d'");
  EXPECT_EQ(rate_error("5/0s"),
            "test.yaml:10:15: routes[0].limits[0].rate: the period must be between 1ms and 7d, "
            "got '5/0s'");
  EXPECT_EQ(rate_error("5/8d"),
            "test.yaml:10:15: routes[0].limits[0].rate: the period must be between 1ms and 7d, "
            "got '5/8d'");
  EXPECT_EQ(
      rate_error("5/99999999999999999999d"),
      "test.yaml:10:15: routes[0].limits[0].rate: invalid rate '5/99999999999999999999d'" + usage);
  EXPECT_EQ(rate_error("1001/ms"),
            "test.yaml:10:15: routes[0].limits[0].rate: '1001/ms' is more than 1000000 per second");
  EXPECT_EQ(rate_error("[5/s]"),
            "test.yaml:10:15: routes[0].limits[0].rate: expected a single value, got a list");
}

TEST(RouteLimitErrors, RequiredAndUnknownKeys) {
  EXPECT_THAT(with_limit("      - key: [client.ip]\n"),
              ElementsAre("test.yaml:9:9: routes[0].limits[0]: missing required key 'name'",
                          "test.yaml:9:9: routes[0].limits[0]: missing required key 'rate'"));
  EXPECT_THAT(
      with_limit("      - name: l\n        rate: 1/s\n        brust: 3\n"),
      ElementsAre("test.yaml:11:9: unknown key 'brust' in routes[0].limits[0] (did you mean "
                  "'burst'?)"));
  EXPECT_THAT(
      with_base("routes:\n  - name: r\n    limit: []\n"),
      ElementsAre("test.yaml:8:5: unknown key 'limit' in routes[0] (did you mean 'limits'?)"));
  EXPECT_THAT(with_limit("      - 5/s\n"),
              ElementsAre("test.yaml:9:9: routes[0].limits[0]: expected a map with 'name' and "
                          "'rate', got a value"));
  EXPECT_THAT(
      with_base("routes:\n  - name: r\n    limits: {name: x}\n"),
      ElementsAre("test.yaml:8:13: routes[0].limits: expected a list of limits, got a map"));
}

TEST(RouteLimitErrors, NamesUniqueWithinARoute) {
  EXPECT_THAT(
      with_limit("      - {name: a, rate: 1/s}\n      - {name: b, rate: 1/s}\n"
                 "      - {name: a, rate: 2/s}\n"),
      ElementsAre("test.yaml:11:16: routes[0].limits[2].name: duplicate limit name 'a' in this "
                  "route (first at line 9)"));
  // The same name in two routes is fine.
  EXPECT_TRUE(with_base("routes:\n  - name: r\n    limits: [{name: a, rate: 1/s}]\n"
                        "  - name: s\n    limits: [{name: a, rate: 1/s}]\n")
                  .empty());
  EXPECT_THAT(with_limit("      - {name: 'a b', rate: 1/s}\n"),
              ElementsAre("test.yaml:9:16: routes[0].limits[0].name: invalid name 'a b': use 1-64 "
                          "letters, digits, '_', '-' or '.'"));
}

TEST(RouteLimits, TlsJa4KeyPart) {
  auto r =
      load_config_string(std::string(kBase) + "routes:\n  - name: r\n    limits:\n" +
                             "      - {name: per-ja4, key: [tls.ja4, client.prefix], rate: 5/s}\n",
                         "test.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  const auto& key = r.snapshot->config.routes[0].limits[0].key;
  ASSERT_EQ(key.size(), 2u);
  EXPECT_EQ(key[0].kind, KeyPartKind::TlsJa4);
  EXPECT_EQ(key[1].kind, KeyPartKind::ClientPrefix);
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, key: [tls.ja3]}\n"),
              ElementsAre(testing::HasSubstr("unknown key part 'tls.ja3'")));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, key: [tls.ja3]}\n"),
              ElementsAre(testing::HasSubstr("(did you mean 'tls.ja4'?)")));
}

TEST(RouteLimitErrors, KeyParts) {
  EXPECT_THAT(
      with_limit("      - name: l\n        rate: 1/s\n"
                 "        key: [client.ip, header.a b, header., cookie., body.\"x y\", host,\n"
                 "              client.pi, headers.x-user]\n"
                 "      - name: m\n        rate: 1/s\n"
                 "        key: [header, client.ip, header.X-A, header.x-a, query.q, cookie.q,\n"
                 "              client.ip]\n"),
      ElementsAre(
          "test.yaml:11:26: routes[0].limits[0].key[1]: invalid header name 'a b': use 1-64 "
          "token characters (letters, digits, !#$%&'*+-.^_`|~)",
          "test.yaml:11:38: routes[0].limits[0].key[2]: key part 'header.' needs a name: "
          "header.NAME",
          "test.yaml:11:47: routes[0].limits[0].key[3]: key part 'cookie.' needs a name: "
          "cookie.NAME",
          "test.yaml:11:56: routes[0].limits[0].key[4]: invalid body name '\"x y\"': use 1-64 "
          "printable characters without spaces",
          "test.yaml:11:68: routes[0].limits[0].key[5]: unknown key part 'host': use client.ip, "
          "client.prefix, route, method, clearance.id, device.id, tls.ja4, h2.fingerprint, header.NAME, cookie.NAME, query.NAME, "
          "body.NAME, email.NAME or email_domain.NAME",
          "test.yaml:12:15: routes[0].limits[0].key[6]: unknown key part 'client.pi': use "
          "client.ip, client.prefix, route, method, clearance.id, device.id, tls.ja4, h2.fingerprint, header.NAME, cookie.NAME, query.NAME, "
          "body.NAME, email.NAME or email_domain.NAME (did you mean 'client.ip'?)",
          "test.yaml:12:26: routes[0].limits[0].key[7]: unknown key part 'headers.x-user': use "
          "client.ip, client.prefix, route, method, clearance.id, device.id, tls.ja4, h2.fingerprint, header.NAME, cookie.NAME, query.NAME, "
          "body.NAME, email.NAME or email_domain.NAME (did you mean 'header.x-user'?)",
          "test.yaml:15:15: routes[0].limits[1].key[0]: key part 'header' needs a name: "
          "header.NAME",
          "test.yaml:15:46: routes[0].limits[1].key[3]: duplicate key part 'header.x-a'",
          "test.yaml:16:15: routes[0].limits[1].key[6]: duplicate key part 'client.ip'"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, key: client.ip}\n"),
              ElementsAre("test.yaml:9:35: routes[0].limits[0].key: expected a list of key parts "
                          "(e.g. [client.ip]), got a value"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, key: [a, b, c, d, e, f, g, h, i]}\n"),
              ElementsAre("test.yaml:9:35: routes[0].limits[0].key: at most 8 key parts"));
  const std::string long_name(65, 'a');
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, key: [cookie." + long_name + "]}\n"),
              ElementsAre("test.yaml:9:36: routes[0].limits[0].key[0]: invalid cookie name '" +
                          long_name + "': use 1-64 printable characters without spaces"));
}

TEST(RouteLimitErrors, Actions) {
  auto action_errors = [](std::string_view action) {
    return with_limit("      - name: l\n        rate: 1/s\n        action: " + std::string(action) +
                      "\n");
  };
  EXPECT_THAT(action_errors("challenge"), testing::IsEmpty());
  EXPECT_THAT(action_errors("{challenge: 2}"), testing::IsEmpty());
  EXPECT_THAT(action_errors("{challenge: 9}"),
              ElementsAre("test.yaml:11:29: routes[0].limits[0].action.challenge: must be between "
                          "0 and 8, got 9"));
  EXPECT_THAT(action_errors("queue"),
              ElementsAre("test.yaml:11:17: routes[0].limits[0].action: a limit cannot queue; give "
                          "the sign-up route a waiting room instead (signup: {mode: queue})"));
  EXPECT_THAT(action_errors("rejct"),
              ElementsAre("test.yaml:11:17: routes[0].limits[0].action: unknown action 'rejct': "
                          "use reject, drop, {reject: STATUS}, {delay: D}, {tarpit: D} or {ban: D} "
                          "(did you mean 'reject'?)"));
  EXPECT_THAT(action_errors("delay"),
              ElementsAre("test.yaml:11:17: routes[0].limits[0].action: action 'delay' needs a "
                          "duration: write {delay: 2s}"));
  EXPECT_THAT(action_errors("ban"),
              ElementsAre("test.yaml:11:17: routes[0].limits[0].action: action 'ban' needs a "
                          "duration: write {ban: 10m}"));
  EXPECT_THAT(action_errors("{reject: 302}"),
              ElementsAre("test.yaml:11:26: routes[0].limits[0].action.reject: must be between 400 "
                          "and 599, got 302"));
  EXPECT_THAT(action_errors("{delay: 61s}"),
              ElementsAre("test.yaml:11:25: routes[0].limits[0].action.delay: must be between 1ms "
                          "and 1m, got 61s"));
  EXPECT_THAT(action_errors("{tarpit: 0ms}"),
              ElementsAre("test.yaml:11:26: routes[0].limits[0].action.tarpit: must be between "
                          "1ms and 2m, got 0ms"));
  EXPECT_THAT(action_errors("{ban: 500ms}"),
              ElementsAre("test.yaml:11:23: routes[0].limits[0].action.ban: must be between 1s "
                          "and 30d, got 500ms"));
  EXPECT_THAT(action_errors("{ban: 1h, max: 366d}"),
              ElementsAre("test.yaml:11:32: routes[0].limits[0].action.max: must be between 1s "
                          "and 365d, got 366d"));
  EXPECT_THAT(action_errors("{ban: 1h, max: 30m}"),
              ElementsAre("test.yaml:11:32: routes[0].limits[0].action.max (30m) must not be "
                          "below the ban (1h)"));
  EXPECT_THAT(action_errors("{delay: 1s, max: 2s}"),
              ElementsAre("test.yaml:11:29: routes[0].limits[0].action.max: only a ban has a "
                          "maximum"));
  EXPECT_THAT(action_errors("{delay: 1s, tarpit: 2s}"),
              ElementsAre("test.yaml:11:17: routes[0].limits[0].action: set only one action"));
  EXPECT_THAT(action_errors("{}"),
              ElementsAre("test.yaml:11:17: routes[0].limits[0].action: expected one of reject, "
                          "delay, tarpit or ban as the key"));
  EXPECT_THAT(action_errors("{drop: 1}"),
              ElementsAre("test.yaml:11:18: routes[0].limits[0].action: 'drop' takes no value: "
                          "write action: drop"));
  EXPECT_THAT(action_errors("{deny: 403}"),
              ElementsAre("test.yaml:11:17: routes[0].limits[0].action: expected one of reject, "
                          "delay, tarpit or ban as the key",
                          "test.yaml:11:18: unknown key 'deny' in routes[0].limits[0].action "
                          "(did you mean 'delay'?)"));
  EXPECT_THAT(action_errors("[reject]"),
              ElementsAre("test.yaml:11:17: routes[0].limits[0].action: expected a map, got a "
                          "list"));
}

TEST(RouteLimitErrors, BurstCountWhenMaxKeys) {
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, burst: 0}\n"),
              ElementsAre("test.yaml:9:37: routes[0].limits[0].burst: must be between 1 and "
                          "1000000, got 0"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/7d, burst: 1000000}\n"),
              ElementsAre("test.yaml:9:38: routes[0].limits[0]: a burst of 1000000 at 1 per 7d "
                          "takes more than 36 years to refill: lower the burst or shorten the "
                          "period"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, max_keys: 15}\n"),
              ElementsAre("test.yaml:9:40: routes[0].limits[0].max_keys: must be between 16 and "
                          "50000000, got 15"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, dry_run: maybe}\n"),
              ElementsAre("test.yaml:9:39: routes[0].limits[0].dry_run: expected true or false, "
                          "got 'maybe'"));
  EXPECT_THAT(
      with_limit("      - name: l\n        rate: 1/s\n"
                 "        count_when: { status: [401, 99, 600, 401, x] }\n"),
      ElementsAre(
          "test.yaml:11:37: routes[0].limits[0].count_when.status[1]: expected a status code "
          "from 100 to 599, got '99'",
          "test.yaml:11:41: routes[0].limits[0].count_when.status[2]: expected a status code "
          "from 100 to 599, got '600'",
          "test.yaml:11:46: routes[0].limits[0].count_when.status[3]: duplicate status 401",
          "test.yaml:11:51: routes[0].limits[0].count_when.status[4]: expected a status code "
          "from 100 to 599, got 'x'"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, count_when: {status: []}}\n"),
              ElementsAre("test.yaml:9:51: routes[0].limits[0].count_when.status: must not be "
                          "empty (leave count_when out to count every request)"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, count_when: {status: 401}}\n"),
              ElementsAre("test.yaml:9:51: routes[0].limits[0].count_when.status: expected a list "
                          "of status codes (e.g. [401, 403]), got a value"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, count_when: {}}\n"),
              ElementsAre("test.yaml:9:42: routes[0].limits[0].count_when: missing required key "
                          "'status'"));
  EXPECT_THAT(with_limit("      - {name: l, rate: 1/s, count_when: {statuses: [401]}}\n"),
              ElementsAre("test.yaml:9:42: routes[0].limits[0].count_when: missing required key "
                          "'status'",
                          "test.yaml:9:43: unknown key 'statuses' in "
                          "routes[0].limits[0].count_when (did you mean 'status'?)"));
}

TEST(RouteLimitErrors, BodyKeyBytesAndLimitCount) {
  EXPECT_THAT(with_base("routes:\n  - name: r\n    body_key_bytes: 128\n"),
              ElementsAre("test.yaml:8:21: routes[0].body_key_bytes: must be between 256B and "
                          "64KiB, got 128"));
  EXPECT_THAT(with_base("routes:\n  - name: r\n    body_key_bytes: 65KiB\n"),
              ElementsAre("test.yaml:8:21: routes[0].body_key_bytes: must be between 256B and "
                          "64KiB, got 65KiB"));
  std::string many = "routes:\n  - name: r\n    limits:\n";
  for (int i = 0; i < 17; ++i) many += "      - {name: l" + std::to_string(i) + ", rate: 1/s}\n";
  EXPECT_THAT(with_base(many), ElementsAre("test.yaml:9:7: routes[0].limits: at most 16 limits"));
}

TEST(ListsAndBans, Errors) {
  EXPECT_THAT(
      with_base("lists:\n  allow: [10.0.0.0/33]\n  deny: 1.2.3.4\n  alow: []\n"),
      ElementsAre("test.yaml:7:11: lists.allow[0]: invalid address or CIDR '10.0.0.0/33'",
                  "test.yaml:8:9: lists.deny: expected a list of addresses or CIDRs, got a value",
                  "test.yaml:9:3: unknown key 'alow' in lists (did you mean 'allow'?)"));
  EXPECT_THAT(
      with_base("bans:\n  journal: ''\n  max_entries: 15\n  escalation_window: 366d\n"),
      ElementsAre("test.yaml:7:12: bans.journal: must not be empty",
                  "test.yaml:8:16: bans.max_entries: must be between 16 and 10000000, got 15",
                  "test.yaml:9:22: bans.escalation_window: must be between 1s and 365d, got 366d"));
  EXPECT_THAT(with_base("bans:\n  escalation_window: 500ms\n"),
              ElementsAre("test.yaml:7:22: bans.escalation_window: must be between 1s and 365d, "
                          "got 500ms"));
  EXPECT_THAT(with_base("lists:\n  allow_files: [\"\"]\n  deny_files: x.txt\n"),
              ElementsAre("test.yaml:7:17: lists.allow_files[0]: must not be empty",
                          "test.yaml:8:15: lists.deny_files: expected a list of file names, got a "
                          "value"));
}

class ListFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gh_lists_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "conf");
    std::ofstream(dir_ / "conf" / "allow.txt") << "10.0.0.0/8\n";
    std::ofstream(dir_ / "deny.txt") << "192.0.2.1\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, std::string_view text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  std::filesystem::path dir_;
};

TEST_F(ListFiles, ResolvedAgainstTheConfigFileAndChecked) {
  std::string path = write("conf/g.yaml", std::string(kBase) +
                                              "lists:\n"
                                              "  allow_files: [allow.txt, ./allow.txt]\n"
                                              "  deny_files: [../deny.txt, " +
                                              (dir_ / "deny.txt").string() + "]\n");
  auto r = load_config_file(path);
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  const ListsConfig& l = r.snapshot->config.lists;
  EXPECT_THAT(l.allow_files, ElementsAre((dir_ / "conf" / "allow.txt").string(),
                                         (dir_ / "conf" / "allow.txt").string()));
  // ".." is kept: the kernel resolves it (after any symbolic link).
  EXPECT_THAT(l.deny_files, ElementsAre((dir_ / "conf" / ".." / "deny.txt").string(),
                                        (dir_ / "deny.txt").string()));

  path = write("conf/bad.yaml", std::string(kBase) +
                                    "lists:\n"
                                    "  allow_files: [missing.txt, ..]\n"
                                    "  deny_files: [/dev/null]\n");
  r = load_config_file(path);
  std::vector<std::string> errs;
  for (const auto& e : r.errors) errs.push_back(e.to_string());
  EXPECT_THAT(errs, ElementsAre(path + ":7:17: lists.allow_files[0]: cannot read '" +
                                    (dir_ / "conf" / "missing.txt").string() +
                                    "': No such file or directory",
                                path + ":7:30: lists.allow_files[1]: cannot read '" +
                                    (dir_ / "conf" / "..").string() + "': it is a directory",
                                path + ":8:16: lists.deny_files[0]: cannot read '/dev/null': it "
                                       "is not a regular file"));
}

TEST(ListsAndBans, KernelDrop) {
  {
    auto r = load_config_string(std::string(kBase) +
                                    "bans:\n  kernel_drop: { enabled: true, from_ban: 3, "
                                    "table: gh_edge }\n",
                                "t.yaml");
    ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
    const auto& k = r.snapshot->config.bans.kernel_drop;
    EXPECT_TRUE(k.enabled);
    EXPECT_EQ(k.from_ban, 3u);
    EXPECT_EQ(k.table, "gh_edge");
  }
  {
    auto r = load_config_string(std::string(kBase) + "routes:\n  - name: r\n", "t.yaml");
    ASSERT_TRUE(r.ok());
    const auto& k = r.snapshot->config.bans.kernel_drop;
    EXPECT_FALSE(k.enabled);  // off by default
    EXPECT_EQ(k.from_ban, 2u);
    EXPECT_EQ(k.table, "gatehouse");
  }
  EXPECT_THAT(
      with_base("bans:\n  kernel_drop:\n    enabled: maybe\n    from_ban: 0\n    table: 'a b'\n"
                "    tabel: x\n"),
      ElementsAre("test.yaml:8:14: bans.kernel_drop.enabled: expected true or false, got 'maybe'",
                  "test.yaml:9:15: bans.kernel_drop.from_ban: must be between 1 and 64, got 0",
                  "test.yaml:10:12: bans.kernel_drop.table: expected an nftables table name (1 to "
                  "32 letters, digits, '_' or '-'), got 'a b'",
                  "test.yaml:11:5: unknown key 'tabel' in bans.kernel_drop (did you mean "
                  "'table'?)"));
}

}  // namespace
}  // namespace gh::policy
