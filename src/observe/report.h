// The incident report (`gatehouse report --since TIME [--until TIME]`): Markdown in the shape
// incident responders use, written from the events and per-minute aggregates kept on disk.
//
// Attack methodology is INFERRED from the figures with the rules below (ReportRules); the report
// states each rule next to what it found, so a reader can judge it:
//   volumetric flood   peak rate >= flood_min_rps, and the peak minute's rate >= flood_factor x
//                      the quietest minute's, or >= flood_refused_share of the peak minute refused
//   credential stuffing  >= stuffing_min_logins login requests and >= stuffing_fail_share of them
//                      answered 401/403 by the app or 429 by a limit
//   slow clients       >= slow_min_timeouts head timeouts (408) and >= slow_share of requests
//   rotating addresses distinct client prefixes per minute reached >= rotating_min_prefixes and
//                      >= rotating_growth x the first busy minute's
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "observe/observe-t.h"

namespace gh::observe {

struct ReportRules {
  std::uint64_t flood_min_rps = 50;
  double flood_factor = 5.0;
  double flood_refused_share = 0.5;
  std::uint64_t stuffing_min_logins = 100;
  double stuffing_fail_share = 0.5;
  std::uint64_t slow_min_timeouts = 100;
  double slow_share = 0.01;
  std::uint64_t rotating_min_prefixes = 200;
  double rotating_growth = 4.0;
};

struct ReportInput {
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;
  std::vector<Event> events;     // in [since, until), oldest first
  std::vector<Minute> minutes;   // in [since, until), oldest first
  std::optional<Offenders> top;  // the live heavy hitters, when the proxy is running
  std::int64_t generated_at_ms = 0;
  std::string generator = "gatehouse";  // named in the header (version, host)
  ReportRules rules;
};

// Reads <state_dir>/events.jsonl and minutes.jsonl (rotated files too) for [since, until).
ReportInput load_report_input(const std::string& state_dir, std::int64_t since_ms,
                              std::int64_t until_ms);

// The figures the report states, computed once (tests check them against known input).
struct ReportSummary {
  Figures totals;  // counters summed over the minutes; queue_length: the largest
  std::uint64_t requests = 0;
  std::uint64_t refused = 0;  // rate limited + shed + banned + denied + closed
  std::uint64_t peak_rps = 0;
  std::int64_t peak_at_ms = 0;                 // the minute of the peak
  std::optional<double> residents_served_pct;  // none when residents sent nothing
  std::vector<std::string> routes;             // affected surfaces, busiest first
  bool flood = false, stuffing = false, slow = false, rotating = false;
  std::uint64_t mode_changes = 0;
  std::uint64_t bans = 0, unbans = 0;
  std::uint64_t manual_actions = 0, automatic_actions = 0;
  // With cluster:, the fleet over the window as this node heard it: live nodes (most, fewest),
  // gone nodes at most, the fleet's peak summed requests and refusals per second.
  std::optional<Minute::Fleet> fleet;
};
ReportSummary summarize(const ReportInput& input);

std::string write_report(const ReportInput& input);

// 203.0.113.7 -> 203.0.113[.]7, 198.51.100.0/24 -> 198.51.100[.]0/24, 2001:db8::1 -> 2001:db8[:]:1
// (the first colon of "::", else the last colon). Anything that is not an address is returned as
// it is.
std::string defang(std::string_view text);

// Times for --since / --until, all UTC, in ms since the epoch:
//   RFC 3339           2026-11-24T10:00:00Z, 2026-11-24T10:00:00.5+01:00 ('t', 'z', ' ' allowed)
//   date and time      2026-11-24 10:00, 2026-11-24 10:00:30 (UTC)
//   date               2026-11-24 (midnight UTC)
//   relative, back from now: -2h, 2h, 30m ago, 1h30m, -1d, 45s, 2w ago (units s m h d w); "now"
std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now_ms);
std::optional<std::int64_t> parse_time(std::string_view text);  // now = the wall clock

}  // namespace gh::observe
