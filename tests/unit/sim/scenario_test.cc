#include "sim/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "sim/cli.h"

namespace gh::sim {
namespace {

std::string error_of(const std::string& yaml) {
  std::string error;
  auto s = parse_scenario(yaml, "s.yaml", &error);
  EXPECT_FALSE(s.has_value()) << yaml;
  return error;
}

TEST(Scenario, ParsesAFullPopulation) {
  std::string error;
  auto s = parse_scenario(R"(
name: test
duration: 2m
drain: 500ms
seed: 9
populations:
  - name: bots
    behaviour: signup-flood
    arrival_rate: 250.5
    sources: 127.3.0.0/16
    rotate: true
    solve_challenges: false
    start_after: 5s
  - name: slow
    behaviour: slow-client
    connections: 10
    slow_mode: body
    trickle_interval: 2s
)",
                          "s.yaml", &error);
  ASSERT_TRUE(s.has_value()) << error;
  EXPECT_EQ(s->duration, 120 * kSec);
  EXPECT_EQ(s->drain, 500 * kMs);
  ASSERT_EQ(s->populations.size(), 2u);
  const auto& b = s->populations[0];
  EXPECT_EQ(b.behaviour, Behaviour::SignupFlood);
  EXPECT_DOUBLE_EQ(b.arrival_rate, 250.5);
  EXPECT_EQ(b.sources.prefix, 16u);
  EXPECT_TRUE(b.rotate);
  EXPECT_FALSE(b.solve_challenges);
  EXPECT_EQ(b.start_after, 5 * kSec);
  EXPECT_EQ(s->populations[1].slow_mode, SlowMode::Body);
  EXPECT_EQ(s->populations[1].connections, 10u);
}

TEST(Scenario, ErrorsNameThePlaceAndTheFix) {
  EXPECT_EQ(error_of("populations:\n  - name: a\n    behaviour: newcomer\n    arival_rate: 3\n"),
            "s.yaml:4:5: unknown key 'arival_rate' in population 'a' (known: name, behaviour, "
            "arrival_rate, connections, sources, rotate, spread, max_in_flight, start_after, "
            "request_timeout, accounts, accounts_file, pages, prior_login, solve_challenges, "
            "wait_in_queue, "
            "hashes_per_second, max_bits, max_retry_wait, give_up_after, max_rounds, list_size, "
            "known_user_ratio, valid_ratio, slow_mode, trickle_interval, body_bytes, profile, "
            "tells, roam, roam_networks, page_view, form_fill, emails, api_login)");
  EXPECT_EQ(error_of("populations:\n  - name: a\n    behaviour: robot\n    arrival_rate: 1\n"),
            "s.yaml:3:16: unknown behaviour 'robot' (known: resident, api-resident, newcomer, "
            "signup-flood, credential-stuffing, slow-client)");
  EXPECT_EQ(error_of("populations:\n  - name: a\n    behaviour: newcomer\n"),
            "s.yaml:2:5: population 'a' needs exactly one of arrival_rate (open loop) or "
            "connections (closed loop)");
  EXPECT_EQ(
      error_of("populations:\n  - name: a\n    behaviour: newcomer\n    arrival_rate: fast\n"),
      "s.yaml:4:19: arrival_rate must be a number, not 'fast'");
  EXPECT_EQ(error_of("duration: 11m\npopulations: []\n"),
            "s.yaml:1:11: duration is longer than the cap of 600s");
  EXPECT_EQ(error_of("duration: soon\n"),
            "s.yaml:1:11: duration must be a duration like 30s, 500ms or 2m, not 'soon'");
  EXPECT_EQ(error_of("populations: []\n"),
            "s.yaml:1:14: the scenario needs a non-empty list of populations");
  EXPECT_EQ(error_of("populations:\n  - name: Bad Name\n    behaviour: newcomer\n"),
            "s.yaml:2:11: population name 'Bad Name' must be 1-24 characters of [a-z0-9_-]");
  EXPECT_EQ(error_of("populations:\n  - name: r\n    behaviour: resident\n    arrival_rate: 1\n"),
            "s.yaml:2:5: population 'r': a resident population needs accounts (created at setup) "
            "or accounts_file");
  EXPECT_EQ(error_of("populations:\n  - name: a\n    behaviour: newcomer\n    arrival_rate: 1\n"
                     "    sources: 127.1.0.1/16\n"),
            "s.yaml:5:14: sources must be a CIDR with zero host bits, like 127.1.0.0/16, not "
            "'127.1.0.1/16'");
  EXPECT_EQ(error_of("populations:\n  - name: a\n    behaviour: newcomer\n    arrival_rate: 1\n"
                     "  - name: a\n    behaviour: newcomer\n    arrival_rate: 1\n"),
            "s.yaml:5:11: duplicate population name 'a'");
  EXPECT_EQ(
      error_of("populations:\n  - name: s\n    behaviour: slow-client\n    arrival_rate: 1\n"),
      "s.yaml:2:5: population 's': slow-client takes connections, not arrival_rate");
  EXPECT_EQ(error_of("populations: [\n"), "s.yaml:2:1: end of sequence flow not found");
  EXPECT_EQ(error_of("- 1\n"), "s.yaml: a scenario must be a YAML mapping");
}

TEST(Scenario, SourcesOutsideLoopbackNeedXff) {
  std::string error;
  auto s = parse_scenario(
      "populations:\n  - name: v6\n    behaviour: signup-flood\n    arrival_rate: 1\n"
      "    sources: 2001:db8::/64\n",
      "s.yaml", &error);
  ASSERT_TRUE(s.has_value()) << error;
  EXPECT_FALSE(check_sources(*s, false, &error));
  EXPECT_EQ(error,
            "population 'v6': sources 2001:db8::/64 are not inside 127.0.0.0/8 and cannot be "
            "bound; use --via-xff to send them as X-Forwarded-For through a trusted-proxy "
            "listener");
  EXPECT_TRUE(check_sources(*s, true, &error));
}

TEST(Target, OnlyLoopbackIsAccepted) {
  std::string error;
  for (const char* ok : {"http://127.0.0.1:8080", "http://127.9.8.7:1/", "http://[::1]:3000",
                         "http://localhost:80"}) {
    EXPECT_TRUE(parse_target(ok, &error).has_value()) << ok << ": " << error;
  }
  auto t = parse_target("http://[::1]:3000", &error);
  EXPECT_TRUE(t->v6);
  EXPECT_EQ(t->authority, "[::1]:3000");
  for (const char* bad :
       {"http://10.0.0.1:80", "http://192.168.1.1:8080", "http://[::2]:80", "http://example.com:80",
        "http://0.0.0.0:80", "http://[::ffff:127.0.0.1]:80"}) {
    EXPECT_FALSE(parse_target(bad, &error).has_value()) << bad;
  }
  parse_target("http://10.0.0.1:80", &error);
  EXPECT_EQ(error,
            "target 'http://10.0.0.1:80': not a loopback address; the simulator only targets "
            "127.0.0.0/8 or ::1");
  parse_target("https://127.0.0.1:443", &error);
  EXPECT_EQ(error,
            "target 'https://127.0.0.1:443': must start with http:// (no TLS in the simulator)");
  EXPECT_FALSE(parse_target("http://127.0.0.1", &error).has_value());
  EXPECT_FALSE(parse_target("http://127.0.0.1:0", &error).has_value());
  EXPECT_FALSE(parse_target("http://127.0.0.1:8080/path", &error).has_value());
}

TEST(Target, RunSimRefusesANonLoopbackTargetBeforeSendingAnything) {
  SimOptions o;
  o.scenario_path = std::string(GATEHOUSE_SOURCE_DIR) + "/sim/scenarios/baseline.yaml";
  o.target = "http://10.1.2.3:80";
  o.quiet = true;
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_sim(o), 2);
  auto err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("not a loopback address"), std::string::npos) << err;
}

TEST(Cidr, AddressesSkipNetworkAndBroadcastOctets) {
  auto c = parse_cidr("127.1.0.0/16");
  ASSERT_TRUE(c.has_value());
  sockaddr_storage a;
  socklen_t len;
  cidr_address(*c, 0, &a, &len);
  EXPECT_EQ(address_text(a), "127.1.0.1");
  cidr_address(*c, 253, &a, &len);
  EXPECT_EQ(address_text(a), "127.1.0.254");
  cidr_address(*c, 254, &a, &len);
  EXPECT_EQ(address_text(a), "127.1.1.1");
  cidr_address(*c, 256 * 254, &a, &len);  // wraps
  EXPECT_EQ(address_text(a), "127.1.0.1");
  auto one = parse_cidr("127.0.0.5");
  cidr_address(*one, 77, &a, &len);
  EXPECT_EQ(address_text(a), "127.0.0.5");
  auto v6 = parse_cidr("2001:db8::/64");
  cidr_address(*v6, 0x1ff, &a, &len);
  EXPECT_EQ(address_text(a), "2001:db8::1ff");
  EXPECT_TRUE(inside_loopback4(*c));
  EXPECT_FALSE(inside_loopback4(*parse_cidr("10.0.0.0/8")));
  EXPECT_FALSE(inside_loopback4(*parse_cidr("0.0.0.0/0")));
}

TEST(Duration, Units) {
  EXPECT_EQ(parse_duration("1.5s"), 1500 * kMs);
  EXPECT_EQ(parse_duration("250ms"), 250 * kMs);
  EXPECT_EQ(parse_duration("2m"), 120 * kSec);
  EXPECT_EQ(parse_duration("3"), 3 * kSec);
  EXPECT_FALSE(parse_duration("-1s").has_value());
  EXPECT_FALSE(parse_duration("1h").has_value());
  EXPECT_FALSE(parse_duration("").has_value());
}

}  // namespace
}  // namespace gh::sim
