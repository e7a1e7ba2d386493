// The incident report: time parsing, defanging, the figures and inferences from synthetic minutes
// and events, Markdown safety of attacker-chosen text, and reading the state directory.
#include "observe/report.h"

#include <gtest/gtest.h>

#include "observe/events.h"
#include "observe/minutes.h"
#include "temp_dir.h"

namespace gh::observe {
namespace {

using nlohmann::json;

constexpr std::int64_t kT0 = 1'795'514'400'000;  // 2026-11-24T10:00:00Z
constexpr std::int64_t kMin = 60'000;

TEST(ParseTime, Rfc3339) {
  EXPECT_EQ(parse_time("2026-11-24T10:00:00Z", 0), kT0);
  EXPECT_EQ(parse_time("2026-11-24t10:00:00z", 0), kT0);
  EXPECT_EQ(parse_time("2026-11-24T10:00:00.5Z", 0), kT0 + 500);
  EXPECT_EQ(parse_time("2026-11-24T10:00:00.123456Z", 0), kT0 + 123);
  EXPECT_EQ(parse_time("2026-11-24T11:30:00+01:30", 0), kT0);
  EXPECT_EQ(parse_time("2026-11-24T08:00:00-02:00", 0), kT0);
  EXPECT_EQ(parse_time("1970-01-01T00:00:00Z", 0), 0);
  EXPECT_EQ(parse_time("2024-02-29T00:00:00Z", 0), 1'709'164'800'000);
}

TEST(ParseTime, DateAndTimeInUtc) {
  EXPECT_EQ(parse_time("2026-11-24 10:00", 0), kT0);
  EXPECT_EQ(parse_time("  2026-11-24 10:00:30 ", 0), kT0 + 30'000);
  EXPECT_EQ(parse_time("2026-11-24", 0), kT0 - 10 * 3'600'000);
}

TEST(ParseTime, RelativeCountsBackFromNow) {
  const std::int64_t now = kT0;
  EXPECT_EQ(parse_time("-2h", now), now - 2 * 3'600'000);
  EXPECT_EQ(parse_time("2h", now), now - 2 * 3'600'000);
  EXPECT_EQ(parse_time("30m ago", now), now - 30 * kMin);
  EXPECT_EQ(parse_time("30mago", now), now - 30 * kMin);
  EXPECT_EQ(parse_time("1h30m", now), now - 90 * kMin);
  EXPECT_EQ(parse_time("-1d", now), now - 86'400'000);
  EXPECT_EQ(parse_time("2w ago", now), now - 14 * 86'400'000LL);
  EXPECT_EQ(parse_time("45s", now), now - 45'000);
  EXPECT_EQ(parse_time("now", now), now);
}

TEST(ParseTime, RefusesWhatItCannotReadForSure) {
  for (const char* bad :
       {"", "yesterday", "2026-13-01", "2026-02-30", "2026-11-24T10:00:00", "2026-11-24T25:00:00Z",
        "2026-11-24 10", "2026-11-24T10:00:00+1", "2026-11-24T10:00:00Zjunk", "-2h ago", "2x", "h",
        "-", "ago", "1234567890h", "+2h", "2026-11-24T10:00:00.Z", "2023-02-29"}) {
    EXPECT_EQ(parse_time(bad, kT0), std::nullopt) << bad;
  }
}

TEST(Defang, AddressesAndPrefixes) {
  EXPECT_EQ(defang("203.0.113.7"), "203.0.113[.]7");
  EXPECT_EQ(defang("198.51.100.0/24"), "198.51.100[.]0/24");
  EXPECT_EQ(defang("2001:db8::1"), "2001:db8[:]:1");
  EXPECT_EQ(defang("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2:3:4:5[:]6");
  EXPECT_EQ(defang("2001:db8::/32"), "2001:db8[:]:/32");
  EXPECT_EQ(defang("AS64496"), "AS64496");
  EXPECT_EQ(defang("curl/8.0"), "curl/8.0");
  EXPECT_EQ(defang("1.2.3"), "1.2.3");
}

// A registration flood: 5 quiet minutes, 10 of flood from rotating prefixes, with credential
// stuffing on login; triggers move sign-up to queue, an operator bans a prefix.
ReportInput flood_input() {
  ReportInput in;
  in.since_ms = kT0;
  in.until_ms = kT0 + 15 * kMin;
  in.generated_at_ms = kT0 + 16 * kMin;
  for (int i = 0; i < 15; ++i) {
    Minute m;
    m.at_ms = kT0 + i * kMin;
    Figures& f = m.figures;
    const bool attack = i >= 5;
    f.verdict(Verdict::Passed) = 600;
    f.class_requests[3] = 300;  // residents
    f.class_served[3] = attack ? 297 : 300;
    f.class_requests[1] = attack ? 29'700 : 300;
    f.class_served[1] = 300;
    if (attack) {
      f.verdict(Verdict::RateLimited) = 20'000;
      f.verdict(Verdict::Queued) = 6'000;
      f.verdict(Verdict::Shed) = 3'000;
      f.verdict(Verdict::Banned) = 400;
      f.newcomers_admitted = 60;
      f.queue_length = 5'000 + static_cast<std::uint64_t>(i) * 100;
      f.login_requests = 2'000;
      f.login_failed = 1'500;
      f.login_limited = 300;
      m.peak_rps = 700 + static_cast<std::uint64_t>(i);
      m.distinct_prefixes = 1'000;
      m.routes = {{"signup", 25'000}, {"login", 5'000}};
      m.modes = {{"signup", i >= 6 ? "queue" : "open"}};
      m.top.prefixes = {{"203.0.113.0/24", 4'000, 10}, {"2001:db8::/48", 1'000, 5}};
      m.top.user_agents = {{"python-requests/2.31 | `evil` <b>", 9'000, 0}};
      m.top.accounts = {{"alice@example.com", 300, 0}};
    } else {
      f.login_requests = 50;
      f.login_failed = 2;
      m.peak_rps = 12;
      m.distinct_prefixes = 40;
      m.routes = {{"signup", 100}, {"login", 500}};
      m.modes = {{"signup", "open"}};
    }
    in.minutes.push_back(m);
  }
  in.events.push_back({kT0 + 6 * kMin + 5'000, "mode_change", "signup",
                       "open -> queue (request rate 650/s > 300)",
                       json{{"from", "open"}, {"to", "queue"}, {"by", "trigger"}}});
  in.events.push_back({kT0 + 7 * kMin, "ban", "", "203.0.113.0/24 for 1h (flood)",
                       json{{"cidr", "203.0.113.0/24"}, {"by", "admin"}}});
  in.events.push_back({kT0 + 8 * kMin, "reload", "", "config generation 4", nullptr});
  return in;
}

TEST(Report, SummaryFiguresAgreeWithTheInput) {
  const ReportSummary s = summarize(flood_input());
  EXPECT_EQ(s.requests, 5 * 600u + 10 * 30'000u);
  EXPECT_EQ(s.refused, 10 * (20'000u + 3'000u + 400u));
  EXPECT_EQ(s.totals.verdict(Verdict::Queued), 60'000u);
  EXPECT_EQ(s.totals.newcomers_admitted, 600u);
  EXPECT_EQ(s.totals.queue_length, 6'400u);
  EXPECT_EQ(s.peak_rps, 714u);
  EXPECT_EQ(s.peak_at_ms, kT0 + 14 * kMin);
  ASSERT_TRUE(s.residents_served_pct.has_value());
  EXPECT_NEAR(*s.residents_served_pct, 100.0 * (5 * 300 + 10 * 297) / (15 * 300), 1e-9);
  EXPECT_EQ(s.routes, (std::vector<std::string>{"signup", "login"}));
  EXPECT_TRUE(s.flood);
  EXPECT_TRUE(s.stuffing);
  EXPECT_FALSE(s.slow);
  EXPECT_TRUE(s.rotating);  // 40 -> 1000 prefixes a minute
  EXPECT_EQ(s.mode_changes, 1u);
  EXPECT_EQ(s.bans, 1u);
  EXPECT_EQ(s.automatic_actions, 1u);
  EXPECT_EQ(s.manual_actions, 1u);
}

TEST(Report, FleetFiguresAsTheNodeHeardThem) {
  ReportInput in = flood_input();
  EXPECT_EQ(write_report(in).find("| Fleet"), std::string::npos);  // alone: no fleet row
  in.minutes[3].fleet = Minute::Fleet{3, 3, 0, 1'200, 100};
  in.minutes[9].fleet = Minute::Fleet{3, 2, 1, 4'210, 3'900};
  const ReportSummary s = summarize(in);
  ASSERT_TRUE(s.fleet.has_value());
  EXPECT_EQ(s.fleet->live_max, 3u);
  EXPECT_EQ(s.fleet->live_min, 2u);
  EXPECT_EQ(s.fleet->gone_max, 1u);
  EXPECT_EQ(s.fleet->peak_rps, 4'210u);
  EXPECT_EQ(s.fleet->peak_refused, 3'900u);
  const std::string md = write_report(in);
  EXPECT_NE(md.find("| Fleet (nodes' heartbeats) | 2–3 nodes live, 1 gone at most; fleet peak "
                    "4,210 req/s, 3,900 refused/s"),
            std::string::npos)
      << md;
}

TEST(Report, QuietTrafficInfersNothing) {
  ReportInput in = flood_input();
  in.minutes.resize(5);
  const ReportSummary s = summarize(in);
  EXPECT_FALSE(s.flood);
  EXPECT_FALSE(s.stuffing);
  EXPECT_FALSE(s.rotating);
  EXPECT_NE(write_report(in).find("No attack pattern matched"), std::string::npos);
}

TEST(Report, SlowClientsRule) {
  ReportInput in = flood_input();
  in.minutes.resize(5);
  in.minutes[2].figures.head_timeouts = 200;
  EXPECT_TRUE(summarize(in).slow);
  in.rules.slow_min_timeouts = 500;
  EXPECT_FALSE(summarize(in).slow);
}

bool has(const std::string& md, const std::string& what) {
  return md.find(what) != std::string::npos;
}

TEST(Report, MarkdownHasTheSectionsAndFigures) {
  const std::string md = write_report(flood_input());
  for (const char* section :
       {"# Incident report: 2026-11-24 10:00 to 2026-11-24 10:15 UTC", "## Executive summary",
        "## Incident details", "## Timeline", "## Attack methodology (as observed)", "## Impact",
        "## Indicators", "## Response actions taken", "## Recommendations"}) {
    EXPECT_TRUE(has(md, section)) << section;
  }
  EXPECT_TRUE(has(md, "received 303,000 requests on `signup`, `login`"));
  EXPECT_TRUE(has(md, "peaking at 714 requests per second at 2026-11-24 10:14"));
  EXPECT_TRUE(has(md, "a volumetric flood, credential stuffing and rotating client addresses"));
  EXPECT_TRUE(has(md, "| Residents served | 99.3% |"));
  EXPECT_TRUE(has(md, "| Newcomers admitted (waiting room) | 600 |"));
  EXPECT_TRUE(has(md, "| Requests shed (503) | 30,000 |"));
  EXPECT_TRUE(has(md, "**Credential stuffing: yes.**"));
  EXPECT_TRUE(has(md, "2,000 login requests") == false);  // summed: 20,250
  EXPECT_TRUE(has(md, "20,250 login requests"));
  EXPECT_TRUE(has(md, "**Slow clients: no.**"));
  // Timeline and actions.
  EXPECT_TRUE(has(md, "| 2026-11-24T10:06:05.000Z | mode_change | `signup` |"));
  EXPECT_TRUE(has(
      md, "`signup`: open from 2026-11-24 10:00 (6 min) → queue from 2026-11-24 10:06 (9 min)"));
  EXPECT_TRUE(has(md, "**Automatic** (1)"));
  EXPECT_TRUE(has(md, "**By hand** (1)"));
  EXPECT_TRUE(has(md, "**Not attributed** (1)"));  // the reload says nothing of who
  // Indicators defanged, summed over minutes, attacker text unable to break the table.
  EXPECT_TRUE(has(md, "| `203.0.113[.]0/24` | 40,000 |"));
  EXPECT_TRUE(has(md, "| `2001:db8[:]:/48` | 10,000 |"));
  EXPECT_TRUE(has(md, "`python-requests/2.31 \\| 'evil' &lt;b&gt;`"));
  EXPECT_FALSE(has(md, "<b>"));
  EXPECT_FALSE(has(md, "203.0.113.0"));
  // Recommendations follow from what was seen.
  EXPECT_TRUE(has(md, "count_when"));
  EXPECT_TRUE(has(md, "Addresses rotated"));
  EXPECT_TRUE(has(md, "Requests were shed (30,000)"));
}

TEST(Report, LiveTopOffendersJoinTheIndicators) {
  ReportInput in = flood_input();
  in.top = Offenders{};
  in.top->asns = {{"AS64496", 77, 0}};
  EXPECT_TRUE(has(write_report(in), "| `AS64496` | 77 |"));
}

TEST(Report, EmptyWindowSaysSo) {
  ReportInput in;
  in.since_ms = kT0;
  in.until_ms = kT0 + kMin;
  const std::string md = write_report(in);
  EXPECT_TRUE(has(md, "No per-minute aggregates were recorded"));
  EXPECT_TRUE(has(md, "No events were recorded"));
}

TEST(Report, LoadsTheStateDirectoryAfterARestart) {
  testing::TempDir dir;
  const ReportInput made = flood_input();
  {
    std::string error;
    auto events = EventLog::open(dir.path(), EventLogOptions{}, &error);
    auto minutes = MinuteStore::open(dir.path(), RotateOptions{}, &error);
    ASSERT_NE(events, nullptr);
    ASSERT_NE(minutes, nullptr);
    for (const Minute& m : made.minutes) minutes->append(m);
    for (const Event& e : made.events) events->append(e);
    minutes->append(Minute{kT0 + 20 * kMin, {}, 0, 0, {}, {}, {}, {}});  // outside the window
  }
  ReportInput in = load_report_input(dir.path(), kT0, kT0 + 15 * kMin);
  EXPECT_EQ(in.minutes.size(), 15u);
  EXPECT_EQ(in.events.size(), 3u);
  const ReportSummary a = summarize(in), b = summarize(made);
  EXPECT_EQ(a.requests, b.requests);
  EXPECT_EQ(a.refused, b.refused);
  EXPECT_EQ(a.peak_rps, b.peak_rps);
  EXPECT_EQ(a.residents_served_pct, b.residents_served_pct);
  in.generated_at_ms = made.generated_at_ms;
  EXPECT_EQ(write_report(in), write_report(made));
}

}  // namespace
}  // namespace gh::observe

namespace gh::observe {
namespace {

TEST(Report, AddressesInEventMessagesAreDefanged) {
  ReportInput in;
  in.since_ms = kT0;
  in.until_ms = kT0 + kMin;
  in.events.push_back({kT0, "ban", "", "banned 198.51.100.7, then 2001:db8::1 (and 192.0.2.0/24).",
                       json{{"by", "admin"}}});
  const std::string md = write_report(in);
  EXPECT_TRUE(has(md, "banned 198.51.100[.]7, then 2001:db8[:]:1 (and 192.0.2[.]0/24)."));
  EXPECT_FALSE(has(md, "198.51.100.7"));
}

}  // namespace
}  // namespace gh::observe
