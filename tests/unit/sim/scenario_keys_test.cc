// The scenario keys of client profiles, e-mail mixes, form filling, roaming, API residents and
// networks: what they read into, and the errors that name the place.
#include <gtest/gtest.h>

#include "sim/cli.h"
#include "sim/scenario.h"

namespace gh::sim {
namespace {

std::string error_of(const std::string& yaml) {
  std::string error;
  auto s = parse_scenario(yaml, "s.yaml", &error);
  EXPECT_FALSE(s.has_value()) << yaml;
  return error;
}

const char* kPop = "populations:\n  - name: p\n";

TEST(ScenarioKeys, ReadsProfilesMixesRoamingAndNetworks) {
  std::string error;
  auto s = parse_scenario(R"(
networks:
  - { cidr: 127.7.0.0/16, asn: 16509, org: "Amazon.com, Inc." }
  - { cidr: "2001:db8::/32", asn: 64502 }
populations:
  - name: people
    behaviour: newcomer
    arrival_rate: 1
    profile: browser
    form_fill: 3s..15s
    emails: { domains: {gmail.com: 5, outlook.com: 2}, plus_tags: 0.1 }
  - name: farm
    behaviour: signup-flood
    arrival_rate: 2
    profile: headless
    tells: [no-client-hints, field-order]
    page_view: true
    form_fill: 2s
    emails: { mailbox: bob@gmail.com, plus_tags: 1, dots: 0.5 }
  - name: phones
    behaviour: resident
    arrival_rate: 1
    accounts: 5
    sources: 127.5.0.0/16
    roam: connection
    roam_networks: 4
  - name: apps
    behaviour: api-resident
    arrival_rate: 1
    accounts: 5
    prior_login: true
    profile: app
    sources: 127.6.0.0/16
    roam: visit
  - name: stuffers
    behaviour: credential-stuffing
    arrival_rate: 5
    api_login: true
)",
                          "s.yaml", &error);
  ASSERT_TRUE(s.has_value()) << error;
  const auto& people = s->populations[0];
  EXPECT_EQ(people.profile, Profile::Browser);
  EXPECT_TRUE(people.page_view);  // a newcomer views the page unless told otherwise
  EXPECT_EQ(people.form_fill_min, 3 * kSec);
  EXPECT_EQ(people.form_fill_max, 15 * kSec);
  EXPECT_TRUE(people.emails.given);
  ASSERT_EQ(people.emails.domains.size(), 2u);
  EXPECT_EQ(people.emails.domains[0].first, "gmail.com");
  EXPECT_DOUBLE_EQ(people.emails.domains[0].second, 5);
  EXPECT_DOUBLE_EQ(people.emails.plus_tags, 0.1);
  const auto& farm = s->populations[1];
  EXPECT_EQ(farm.profile, Profile::Headless);
  EXPECT_EQ(farm.tells, kTellNoClientHints | kTellFieldOrder);
  EXPECT_TRUE(farm.page_view);
  EXPECT_EQ(farm.form_fill_min, 2 * kSec);
  EXPECT_EQ(farm.form_fill_max, 2 * kSec);
  EXPECT_EQ(farm.emails.mailbox, "bob@gmail.com");
  const auto& phones = s->populations[2];
  EXPECT_EQ(phones.roam, Roam::Connection);
  EXPECT_EQ(phones.roam_networks, 4u);
  EXPECT_EQ(phones.profile, Profile::Default);
  const auto& apps = s->populations[3];
  EXPECT_EQ(apps.behaviour, Behaviour::ApiResident);
  EXPECT_EQ(apps.roam, Roam::Visit);
  EXPECT_FALSE(apps.solve_challenges);  // an API client keeps no clearance cookie
  EXPECT_TRUE(s->populations[4].api_login);
  ASSERT_EQ(s->networks.size(), 2u);
  EXPECT_EQ(s->networks[0].asn, 16509u);
  EXPECT_EQ(s->networks[0].org, "Amazon.com, Inc.");
  EXPECT_EQ(s->networks[0].cidr.prefix, 16u);
  EXPECT_TRUE(s->networks[1].cidr.v6);
  // Floods post at once by default.
  auto flood = parse_scenario(
      "populations:\n  - {name: b, behaviour: signup-flood, arrival_rate: 1}\n", "s.yaml", &error);
  ASSERT_TRUE(flood.has_value()) << error;
  EXPECT_FALSE(flood->populations[0].page_view);
  EXPECT_EQ(flood->populations[0].form_fill_max, 0);
}

TEST(ScenarioKeys, ErrorsNameThePlace) {
  const std::string nc = std::string(kPop) + "    behaviour: newcomer\n    arrival_rate: 1\n";
  EXPECT_EQ(error_of(nc + "    profile: chrome\n"),
            "s.yaml:5:14: unknown profile 'chrome' (known: default, browser, scripted, headless, "
            "perfect, app)");
  EXPECT_EQ(error_of(nc + "    tells: [headless-ua]\n"),
            "s.yaml:5:12: population 'p': tells are for profile headless");
  EXPECT_EQ(error_of(nc + "    profile: headless\n    tells: [webdriver]\n"),
            "s.yaml:6:13: unknown tell 'webdriver' (known: headless-ua, no-client-hints, "
            "no-accept-language, language-early, field-order)");
  EXPECT_EQ(error_of(nc + "    form_fill: 15s..3s\n"),
            "s.yaml:5:16: form_fill's range must go from the shorter to the longer: 15s..3s");
  EXPECT_EQ(error_of(nc + "    form_fill: soon\n"),
            "s.yaml:5:16: form_fill must be a duration or a range like 3s..15s, not 'soon'");
  EXPECT_EQ(error_of(nc + "    form_fill: 11m\n"),
            "s.yaml:5:16: form_fill is longer than the cap of 600s");
  EXPECT_EQ(error_of(nc + "    emails: { domains: {Gmail.com: 1} }\n"),
            "s.yaml:5:25: 'Gmail.com' is not a lower-case domain like gmail.com");
  EXPECT_EQ(error_of(nc + "    emails: { domains: {gmail.com: 0} }\n"),
            "s.yaml:5:36: the weight of gmail.com must be between 0.001 and 1000000, not 0");
  EXPECT_EQ(error_of(nc + "    emails: { domain: {gmail.com: 1} }\n"),
            "s.yaml:5:15: unknown key 'domain' in emails (known: domains, disposable, "
            "plus_tags, dots, mailbox, disposable_domains)");
  EXPECT_EQ(error_of(nc + "    emails: { disposable: 1.5, domains: {a.com: 1} }\n"),
            "s.yaml:5:27: emails.disposable must be between 0 and 1, not 1.5");
  EXPECT_EQ(error_of(nc + "    emails: { plus_tags: 0.5 }\n"),
            "s.yaml:5:13: emails needs domains (or a mailbox) unless every address is "
            "disposable");
  EXPECT_EQ(error_of(nc + "    emails: { mailbox: bob }\n"),
            "s.yaml:5:24: emails.mailbox must be an address like someone@gmail.com");
  EXPECT_EQ(error_of(nc + "    roam: visit\n"),
            "s.yaml:5:11: population 'p': roam is for resident populations");
  EXPECT_EQ(error_of(nc + "    api_login: true\n"),
            "s.yaml:5:16: population 'p': api_login is for credential-stuffing");

  const std::string res =
      std::string(kPop) + "    behaviour: resident\n    arrival_rate: 1\n    accounts: 3\n";
  EXPECT_EQ(error_of(res + "    roam: sometimes\n"),
            "s.yaml:6:11: roam must be visit, connection or off, not 'sometimes'");
  EXPECT_EQ(error_of(res + "    sources: 127.5.0.0/24\n    roam: visit\n"),
            "s.yaml:6:14: population 'p': a roaming population needs IPv4 sources with at least "
            "roam_networks (3) /24s, like 127.5.0.0/16");
  EXPECT_EQ(error_of(res + "    roam: visit\n    roam_networks: 1\n"),
            "s.yaml:7:20: roam_networks must be between 2 and 64, not 1");
  EXPECT_EQ(error_of(res + "    page_view: false\n"),
            "s.yaml:6:16: population 'p': page_view is for newcomer and signup-flood");
  EXPECT_EQ(error_of(res + "    emails: { domains: {a.com: 1} }\n"),
            "s.yaml:6:13: population 'p': emails are for newcomer and signup-flood");

  const std::string api = std::string(kPop) + "    behaviour: api-resident\n    arrival_rate: 1\n";
  EXPECT_EQ(error_of(api),
            "s.yaml:2:5: population 'p': a resident population needs accounts (created at setup) "
            "or accounts_file");
  EXPECT_EQ(error_of(api + "    accounts: 2\n    solve_challenges: true\n"),
            "s.yaml:6:23: population 'p': an api-resident keeps no cookies, so it cannot use a "
            "clearance");
  EXPECT_EQ(error_of(api + "    accounts: 2\n    pages: 0\n"),
            "s.yaml:6:12: population 'p': an api-resident makes at least one call (pages)");

  const std::string tail = "populations:\n  - {name: a, behaviour: newcomer, arrival_rate: 1}\n";
  EXPECT_EQ(error_of("networks:\n  - { cidr: 127.7.0.1/16, asn: 1 }\n" + tail),
            "s.yaml:2:13: cidr must have zero host bits, like 127.7.0.0/16, not '127.7.0.1/16'");
  EXPECT_EQ(error_of("networks:\n  - { cidr: 127.7.0.0/16 }\n" + tail),
            "s.yaml:2:5: a network needs cidr and asn");
  EXPECT_EQ(error_of("networks:\n  - { cidr: 127.7.0.0/16, asn: 0 }\n" + tail),
            "s.yaml:2:32: asn must be between 1 and 4294967295, not 0");
  EXPECT_EQ(error_of("networks:\n  - { cidr: 127.7.0.0/16, asn: 1, name: x }\n" + tail),
            "s.yaml:2:35: unknown key 'name' in a network (known: cidr, asn, org)");
  EXPECT_EQ(error_of("networks:\n  - { cidr: 127.7.0.0/16, asn: 1 }\n"
                     "  - { cidr: 127.7.0.0/16, asn: 2 }\n" +
                     tail),
            "s.yaml:3:13: network 127.7.0.0/16 is listed twice");
  EXPECT_EQ(error_of("networks: {cidr: 127.7.0.0/16}\n" + tail),
            "s.yaml:1:11: networks must be a list of {cidr, asn, org}");
}

TEST(ScenarioKeys, OnlyKeepsTheNamedPopulations) {
  std::string error;
  auto s = parse_scenario(
      "populations:\n  - {name: a, behaviour: newcomer, arrival_rate: 1}\n"
      "  - {name: b, behaviour: signup-flood, arrival_rate: 1}\n"
      "  - {name: c, behaviour: newcomer, arrival_rate: 1}\n",
      "s.yaml", &error);
  ASSERT_TRUE(s.has_value()) << error;
  auto all = *s;
  ASSERT_TRUE(select_populations(all, {}, &error));
  EXPECT_EQ(all.populations.size(), 3u);
  ASSERT_TRUE(select_populations(*s, {"c", "a"}, &error)) << error;
  ASSERT_EQ(s->populations.size(), 2u);
  EXPECT_EQ(s->populations[0].name, "a");  // scenario order
  EXPECT_EQ(s->populations[1].name, "c");
  EXPECT_FALSE(select_populations(*s, {"zz"}, &error));
  EXPECT_EQ(error, "--only: no population 'zz' in the scenario (it has: a, c)");
}

// A browser that views the sign-up page spends at least 2 s on the form unless told otherwise
// (a shield's page-view check wants that of a person); a script posts at once.
TEST(ScenarioKeys, ABrowserFillsTheFormForAtLeastTwoSeconds) {
  std::string error;
  auto s = parse_scenario(
      "populations:\n"
      "  - {name: a, behaviour: newcomer, arrival_rate: 1, profile: browser}\n"
      "  - {name: b, behaviour: newcomer, arrival_rate: 1, profile: perfect}\n"
      "  - {name: c, behaviour: newcomer, arrival_rate: 1, profile: scripted}\n"
      "  - {name: d, behaviour: newcomer, arrival_rate: 1, profile: browser, form_fill: 0s}\n"
      "  - {name: e, behaviour: signup-flood, arrival_rate: 1, profile: browser}\n",
      "s.yaml", &error);
  ASSERT_TRUE(s.has_value()) << error;
  EXPECT_EQ(s->populations[0].form_fill_min, 2 * kSec);
  EXPECT_EQ(s->populations[0].form_fill_max, 6 * kSec);
  EXPECT_EQ(s->populations[1].form_fill_min, 2 * kSec);
  EXPECT_EQ(s->populations[2].form_fill_max, 0);  // scripted: no page, no wait
  EXPECT_EQ(s->populations[3].form_fill_max, 0);  // told so
  EXPECT_EQ(s->populations[4].form_fill_max, 0);  // a flood skips the page: nothing to read
}

TEST(ScenarioKeys, TheShippedScenariosLoad) {
  for (const char* name : {"baseline", "registration-flood", "launch-siege", "credential-stuffing",
                           "rotating-botnet", "slow-clients"}) {
    std::string error;
    const std::string path = std::string(GATEHOUSE_SOURCE_DIR) + "/sim/scenarios/" + name + ".yaml";
    auto s = load_scenario(path, &error);
    ASSERT_TRUE(s.has_value()) << error;
    EXPECT_TRUE(check_sources(*s, false, &error)) << name << ": " << error;
  }
}

}  // namespace
}  // namespace gh::sim
