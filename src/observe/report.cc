#include "observe/report.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "core/duration.h"
#include "observe/events.h"
#include "observe/jsonl.h"
#include "observe/minutes.h"
#include "observe/series.h"

namespace gh::observe {

namespace {

constexpr std::int64_t kMinuteMs = 60'000;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- Markdown -----------------------------------------------------------------------------

// Text from the data (user agents, accounts, route names) inside a table cell or code span:
// nothing in it may end the cell, the span or the line, or be read as HTML.
std::string cell(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else if (ch == '|') {
      out += "\\|";
    } else if (ch == '`') {
      out += '\'';
    } else if (ch == '<') {
      out += "&lt;";
    } else if (ch == '>') {
      out += "&gt;";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string code(std::string_view s) {
  return "`" + cell(s) + "`";
}

std::string num(std::uint64_t n) {
  // 1234567 -> 1,234,567: reports are read by people.
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string pct(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", x);
  return buf;
}

std::string share(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "n/a";
  return pct(100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::uint64_t refused_of(const Figures& f) {
  return f.verdict(Verdict::RateLimited) + f.verdict(Verdict::Shed) + f.verdict(Verdict::Banned) +
         f.verdict(Verdict::Denied) + f.verdict(Verdict::Closed);
}

std::string by_of(const Event& e) {
  if (e.data.is_object()) {
    if (auto by = get_string(e.data, "by")) return *by;
  }
  return "";
}

bool is_manual(const Event& e) {
  const std::string by = by_of(e);
  return by == "admin" || by == "operator" || by == "manual" || by == "ctl" || by == "dashboard";
}
bool is_automatic(const Event& e) {
  const std::string by = by_of(e);
  return e.kind == "trigger" || by == "auto" || by == "trigger" || by == "limit";
}
bool is_action(const Event& e) {
  return e.kind == "mode_change" || e.kind == "ban" || e.kind == "unban" || e.kind == "reload" ||
         e.kind == "trigger";
}

// Per-minute heavy-hitter lists summed over the window (each an over-estimate), heaviest first.
std::vector<TopItem> sum_top(const std::vector<Minute>& minutes,
                             const std::optional<Offenders>& live,
                             std::vector<TopItem> Offenders::*list, std::size_t n) {
  std::map<std::string, TopItem> sums;
  auto add = [&](const std::vector<TopItem>& items) {
    for (const TopItem& i : items) {
      TopItem& s = sums[i.key];
      s.key = i.key;
      s.count += i.count;
      s.error += i.error;
    }
  };
  for (const Minute& m : minutes) add(m.top.*list);
  if (live) add((*live).*list);
  std::vector<TopItem> out;
  for (auto& [k, v] : sums) out.push_back(std::move(v));
  std::sort(out.begin(), out.end(), [](const TopItem& a, const TopItem& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  if (out.size() > n) out.resize(n);
  return out;
}

// Free text (event messages) with every address or prefix in it defanged: a report is passed
// around, and a live address in it gets clicked or pasted.
std::string defang_words(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = std::min(text.find_first_of(" \t,;()[]\"'", i), text.size());
    if (end == i) {
      out += text[i++];
      continue;
    }
    // A sentence's full stop is not part of the address.
    std::size_t len = end - i;
    while (len > 0 && text[i + len - 1] == '.') --len;
    out += defang(text.substr(i, len));
    out += text.substr(i + len, end - i - len);
    i = end;
  }
  return out;
}

}  // namespace

std::string defang(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  unsigned char buf[16];
  std::string out;
  if (addr.find(':') == std::string::npos) {
    if (::inet_pton(AF_INET, addr.c_str(), buf) != 1) return std::string(text);
    const std::size_t dot = addr.rfind('.');
    out = addr.substr(0, dot) + "[.]" + addr.substr(dot + 1);
  } else {
    if (::inet_pton(AF_INET6, addr.c_str(), buf) != 1) return std::string(text);
    std::size_t colon = addr.find("::");
    if (colon == std::string::npos) colon = addr.rfind(':');
    out = addr.substr(0, colon) + "[:]" + addr.substr(colon + 1);
  }
  if (slash != std::string_view::npos) out += text.substr(slash);
  return out;
}

ReportInput load_report_input(const std::string& state_dir, std::int64_t since_ms,
                              std::int64_t until_ms) {
  ReportInput in;
  in.since_ms = since_ms;
  in.until_ms = until_ms;
  in.events = EventLog::read_range(state_dir, since_ms, until_ms);
  in.minutes = MinuteStore::read_range(state_dir, since_ms, until_ms);
  in.generated_at_ms = wall_ms();
  return in;
}

ReportSummary summarize(const ReportInput& in) {
  ReportSummary s;
  const ReportRules& rules = in.rules;
  std::map<std::string, std::uint64_t> routes;
  std::uint64_t quietest = UINT64_MAX, peak_minute_requests = 0, peak_minute_refused = 0;
  std::uint64_t first_prefixes = 0, max_prefixes = 0;
  for (const Minute& m : in.minutes) {
    const Figures& f = m.figures;
    accumulate(s.totals, f);
    const std::uint64_t n = f.requests();
    quietest = std::min(quietest, n);
    const std::uint64_t peak = std::max(m.peak_rps, (n + 59) / 60);
    if (&m == &in.minutes.front() || peak > s.peak_rps) {
      s.peak_rps = peak;
      s.peak_at_ms = m.at_ms;
      peak_minute_requests = n;
      peak_minute_refused = refused_of(f);
    }
    if (first_prefixes == 0 && n > 0) first_prefixes = m.distinct_prefixes;
    max_prefixes = std::max(max_prefixes, m.distinct_prefixes);
    for (const auto& [name, count] : m.routes) routes[name] += count;
    if (m.fleet) {
      if (!s.fleet) {
        s.fleet = *m.fleet;
      } else {
        s.fleet->live_max = std::max(s.fleet->live_max, m.fleet->live_max);
        s.fleet->live_min = std::min(s.fleet->live_min, m.fleet->live_min);
        s.fleet->gone_max = std::max(s.fleet->gone_max, m.fleet->gone_max);
        s.fleet->peak_rps = std::max(s.fleet->peak_rps, m.fleet->peak_rps);
        s.fleet->peak_refused = std::max(s.fleet->peak_refused, m.fleet->peak_refused);
      }
    }
  }
  s.requests = s.totals.requests();
  s.refused = refused_of(s.totals);
  const std::size_t resident = kClasses - 1;
  if (s.totals.class_requests[resident] > 0) {
    s.residents_served_pct = 100.0 * static_cast<double>(s.totals.class_served[resident]) /
                             static_cast<double>(s.totals.class_requests[resident]);
  }
  std::vector<std::pair<std::string, std::uint64_t>> by_count(routes.begin(), routes.end());
  std::stable_sort(by_count.begin(), by_count.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [name, count] : by_count) {
    if (count > 0) s.routes.push_back(name);
  }

  if (!in.minutes.empty()) {
    const double quiet_rate = static_cast<double>(quietest) / 60.0;
    const double peak_rate = static_cast<double>(peak_minute_requests) / 60.0;
    const bool surge = peak_rate >= rules.flood_factor * quiet_rate;
    const bool refused = peak_minute_requests > 0 &&
                         static_cast<double>(peak_minute_refused) >=
                             rules.flood_refused_share * static_cast<double>(peak_minute_requests);
    s.flood = s.peak_rps >= rules.flood_min_rps && (surge || refused);
  }
  const Figures& t = s.totals;
  s.stuffing = t.login_requests >= rules.stuffing_min_logins &&
               static_cast<double>(t.login_failed + t.login_limited) >=
                   rules.stuffing_fail_share * static_cast<double>(t.login_requests);
  s.slow = t.head_timeouts >= rules.slow_min_timeouts &&
           static_cast<double>(t.head_timeouts) >=
               rules.slow_share * static_cast<double>(std::max<std::uint64_t>(s.requests, 1));
  s.rotating =
      max_prefixes >= rules.rotating_min_prefixes &&
      static_cast<double>(max_prefixes) >=
          rules.rotating_growth * static_cast<double>(std::max<std::uint64_t>(first_prefixes, 1));

  for (const Event& e : in.events) {
    if (e.kind == "mode_change") ++s.mode_changes;
    if (e.kind == "ban") ++s.bans;
    if (e.kind == "unban") ++s.unbans;
    if (!is_action(e)) continue;
    if (is_manual(e)) {
      ++s.manual_actions;
    } else if (is_automatic(e)) {
      ++s.automatic_actions;
    }
  }
  return s;
}

std::string write_report(const ReportInput& in) {
  const ReportSummary s = summarize(in);
  const ReportRules& rules = in.rules;
  const Figures& t = s.totals;
  std::string md;
  auto line = [&](const std::string& text = "") {
    md += text;
    md += '\n';
  };

  line("# Incident report: " + format_minute(in.since_ms) + " to " + format_minute(in.until_ms) +
       " UTC");
  line();
  line("Generated " + format_time(in.generated_at_ms ? in.generated_at_ms : wall_ms()) + " by " +
       cell(in.generator) + " from " + num(in.minutes.size()) + " minutes of aggregates and " +
       num(in.events.size()) + " events. Times are UTC.");
  line();

  // -- Executive summary
  std::vector<std::string> kinds;
  if (s.flood) kinds.emplace_back("a volumetric flood");
  if (s.stuffing) kinds.emplace_back("credential stuffing");
  if (s.slow) kinds.emplace_back("slow clients");
  if (s.rotating) kinds.emplace_back("rotating client addresses");
  std::string kinds_text;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) kinds_text += i + 1 == kinds.size() ? " and " : ", ";
    kinds_text += kinds[i];
  }
  line("## Executive summary");
  line();
  if (in.minutes.empty()) {
    line(
        "No per-minute aggregates were recorded in this window: the proxy was not running, or "
        "the state directory holds no data for it. Only the events below are known.");
  } else {
    std::string surfaces;
    for (std::size_t i = 0; i < s.routes.size() && i < 5; ++i) {
      surfaces += (i ? ", " : "") + code(s.routes[i]);
    }
    std::string text = "Between " + format_minute(in.since_ms) + " and " +
                       format_minute(in.until_ms) + " Gatehouse received " + num(s.requests) +
                       " requests" + (surfaces.empty() ? "" : " on " + surfaces) + ", peaking at " +
                       num(s.peak_rps) + " requests per second at " + format_minute(s.peak_at_ms) +
                       ". ";
    if (kinds.empty()) {
      text += "No attack pattern matched the inference rules (see Attack methodology). ";
    } else {
      text += "The traffic shows " + kinds_text + ". ";
    }
    text += num(s.refused) + " requests (" + share(s.refused, s.requests) +
            ") were refused before reaching the application. ";
    if (s.residents_served_pct) {
      text += "Existing users (residents) had " + pct(*s.residents_served_pct) +
              " of their requests served. ";
    }
    text += num(t.newcomers_admitted) + " newcomers were admitted through the waiting room and " +
            num(t.verdict(Verdict::Queued)) + " waiting-room answers were given. ";
    text += "Response: " + num(s.mode_changes) + " sign-up mode changes, " + num(s.bans) +
            " bans and " + num(s.unbans) + " unbans (" + num(s.automatic_actions) + " automatic, " +
            num(s.manual_actions) + " by hand).";
    line(text);
  }
  line();

  // -- Incident details
  line("## Incident details");
  line();
  line("| | |");
  line("|---|---|");
  line("| Window | " + format_minute(in.since_ms) + " – " + format_minute(in.until_ms) + " UTC (" +
       core::format_duration(in.until_ms - in.since_ms, core::DurationStyle::Minutes) + ") |");
  if (!in.minutes.empty()) {
    line("| Data from | " + format_minute(in.minutes.front().at_ms) + " – " +
         format_minute(in.minutes.back().at_ms + kMinuteMs) + " UTC |");
  }
  std::string surfaces;
  for (const std::string& r : s.routes) surfaces += (surfaces.empty() ? "" : ", ") + code(r);
  line("| Affected surfaces (routes) | " +
       (surfaces.empty() ? std::string("none recorded") : surfaces) + " |");
  line("| Requests | " + num(s.requests) + " |");
  line("| Peak rate | " + num(s.peak_rps) + " req/s (minute of " + format_minute(s.peak_at_ms) +
       ") |");
  line("| Attack types inferred | " + (kinds.empty() ? std::string("none") : kinds_text) + " |");
  if (s.fleet) {
    // This node's own figures are the rows above; the fleet's come from the nodes' heartbeats.
    const Minute::Fleet& f = *s.fleet;
    const std::string live =
        f.live_min == f.live_max ? num(f.live_max) : num(f.live_min) + "–" + num(f.live_max);
    line("| Fleet (nodes' heartbeats) | " + live + " nodes live" +
         (f.gone_max > 0 ? ", " + num(f.gone_max) + " gone at most" : std::string()) +
         "; fleet peak " + num(f.peak_rps) + " req/s, " + num(f.peak_refused) +
         " refused/s (the figures above are this node's) |");
  }
  line();

  if (!s.routes.empty()) {
    std::map<std::string, std::uint64_t> per_route;
    for (const Minute& m : in.minutes) {
      for (const auto& [name, n] : m.routes) per_route[name] += n;
    }
    line("| Route | Requests | Share |");
    line("|---|---:|---:|");
    for (const std::string& r : s.routes) {
      line("| " + code(r) + " | " + num(per_route[r]) + " | " + share(per_route[r], s.requests) +
           " |");
    }
    line();
  }

  // -- Timeline
  line("## Timeline");
  line();
  if (in.events.empty()) {
    line("No events were recorded in this window.");
  } else {
    line("| Time (UTC) | Event | Route | Details | By |");
    line("|---|---|---|---|---|");
    constexpr std::size_t kMaxRows = 500;
    for (std::size_t i = 0; i < in.events.size() && i < kMaxRows; ++i) {
      const Event& e = in.events[i];
      const std::string by = by_of(e);
      line("| " + format_time(e.at_ms) + " | " + cell(e.kind) + " | " +
           (e.route.empty() ? std::string() : code(e.route)) + " | " +
           cell(defang_words(e.message)) + " | " + cell(by) + " |");
    }
    if (in.events.size() > kMaxRows) {
      line();
      line("(" + num(in.events.size() - kMaxRows) + " later events not shown.)");
    }
  }
  line();
  // Sign-up modes over time, from the minutes (also when no event was written for a change).
  std::map<std::string, std::vector<std::pair<std::int64_t, std::string>>> spans;
  for (const Minute& m : in.minutes) {
    for (const auto& [route, mode] : m.modes) {
      auto& v = spans[route];
      if (v.empty() || v.back().second != mode) v.emplace_back(m.at_ms, mode);
    }
  }
  if (!spans.empty()) {
    line("Sign-up modes over the window:");
    line();
    for (const auto& [route, v] : spans) {
      std::string text = "- " + code(route) + ": ";
      for (std::size_t i = 0; i < v.size(); ++i) {
        const std::int64_t end =
            i + 1 < v.size() ? v[i + 1].first : in.minutes.back().at_ms + kMinuteMs;
        text += (i ? " → " : "") + cell(v[i].second) + " from " + format_minute(v[i].first) + " (" +
                core::format_duration(end - v[i].first, core::DurationStyle::Minutes) + ")";
      }
      line(text);
    }
    line();
  }

  // -- Attack methodology
  line("## Attack methodology (as observed)");
  line();
  line(
      "Inferred from the per-minute figures with the rules stated; a rule that did not match is "
      "listed too, with the figures it saw.");
  line();
  {
    std::uint64_t quiet = UINT64_MAX, peak_n = 0, peak_refused = 0, first_p = 0, max_p = 0;
    for (const Minute& m : in.minutes) {
      const std::uint64_t n = m.figures.requests();
      quiet = std::min(quiet, n);
      if (m.at_ms == s.peak_at_ms) {
        peak_n = n;
        peak_refused = refused_of(m.figures);
      }
      if (first_p == 0 && n > 0) first_p = m.distinct_prefixes;
      max_p = std::max(max_p, m.distinct_prefixes);
    }
    if (quiet == UINT64_MAX) quiet = 0;
    char rule[256];
    std::snprintf(rule, sizeof rule,
                  "peak ≥ %llu req/s, and the peak minute ≥ %.0f× the quietest minute or ≥ %.0f%% "
                  "of it refused",
                  static_cast<unsigned long long>(rules.flood_min_rps), rules.flood_factor,
                  rules.flood_refused_share * 100);
    line(std::string("- **Volumetric flood: ") + (s.flood ? "yes" : "no") + ".** Rule: " + rule +
         ". Seen: peak " + num(s.peak_rps) + " req/s; peak minute " + num(peak_n) +
         " requests vs quietest " + num(quiet) + "; " + share(peak_refused, peak_n) +
         " of the peak minute refused.");
    std::snprintf(rule, sizeof rule, "≥ %llu login requests with ≥ %.0f%% answered 401/403 or 429",
                  static_cast<unsigned long long>(rules.stuffing_min_logins),
                  rules.stuffing_fail_share * 100);
    line(std::string("- **Credential stuffing: ") + (s.stuffing ? "yes" : "no") +
         ".** Rule: " + rule + ". Seen: " + num(t.login_requests) + " login requests, " +
         num(t.login_failed) + " failed (401/403, " + share(t.login_failed, t.login_requests) +
         "), " + num(t.login_limited) + " refused by limits (429, " +
         share(t.login_limited, t.login_requests) + ").");
    std::snprintf(rule, sizeof rule, "≥ %llu head timeouts and ≥ %.1f%% of requests",
                  static_cast<unsigned long long>(rules.slow_min_timeouts), rules.slow_share * 100);
    line(std::string("- **Slow clients: ") + (s.slow ? "yes" : "no") + ".** Rule: " + rule +
         ". Seen: " + num(t.head_timeouts) + " head timeouts (" +
         share(t.head_timeouts, s.requests) + " of requests).");
    std::snprintf(rule, sizeof rule,
                  "distinct client prefixes per minute reached ≥ %llu and ≥ %.0f× the first busy "
                  "minute's",
                  static_cast<unsigned long long>(rules.rotating_min_prefixes),
                  rules.rotating_growth);
    line(std::string("- **Rotating addresses: ") + (s.rotating ? "yes" : "no") +
         ".** Rule: " + rule + ". Seen: " + num(first_p) +
         " prefixes in the first busy minute, at most " + num(max_p) + ".");
  }
  line();

  // -- Impact
  line("## Impact");
  line();
  line("| Figure | Value |");
  line("|---|---:|");
  line("| Requests | " + num(s.requests) + " |");
  for (std::size_t i = 0; i < kVerdicts; ++i) {
    line("| " + std::string(kVerdictNames[i]) + " | " + num(t.verdicts[i]) + " (" +
         share(t.verdicts[i], s.requests) + ") |");
  }
  line("| Residents served | " +
       (s.residents_served_pct ? pct(*s.residents_served_pct)
                               : std::string("n/a (no resident requests)")) +
       " |");
  line("| Newcomers admitted (waiting room) | " + num(t.newcomers_admitted) + " |");
  line("| Waiting-room answers (queued) | " + num(t.verdict(Verdict::Queued)) + " |");
  line("| Longest queue | " + num(t.queue_length) + " |");
  line("| Requests shed (503) | " + num(t.verdict(Verdict::Shed)) + " |");
  line("| Peak rate | " + num(s.peak_rps) + " req/s |");
  line("| Upstream latency p99 (worst minute) | " + num(t.latency_p99_ms) + " ms |");
  {
    // What an account cost: the bots' price against a person's is the point of risk pricing.
    const std::uint64_t paid = t.signup_accounts[1] + t.signup_accounts[2];
    line("| Sign-ups accepted by the application | " + num(t.signup_accounts[0] + paid) + " (" +
         num(t.signup_accounts[0]) + " without a challenge, " + num(t.signup_accounts[1]) +
         " at the base price, " + num(t.signup_accounts[2]) + " with a risk surcharge) |");
    auto per = [](std::uint64_t hashes, std::uint64_t accounts) {
      return accounts == 0 ? std::string("n/a") : num(hashes / accounts);
    };
    line("| Work per account (expected hashes): base / surcharged | " +
         per(t.signup_hashes[0], t.signup_accounts[1]) + " / " +
         per(t.signup_hashes[1], t.signup_accounts[2]) + " |");
    line("| Solve time per paid account | " +
         (paid == 0 ? std::string("n/a") : num(t.signup_solve_ms / paid) + " ms") + " |");
  }
  line();
  line("| Class | Requests | Served | Served % |");
  line("|---|---:|---:|---:|");
  for (std::size_t i = kClasses; i-- > 0;) {
    line("| " + std::string(kClassNames[i]) + " | " + num(t.class_requests[i]) + " | " +
         num(t.class_served[i]) + " | " + share(t.class_served[i], t.class_requests[i]) + " |");
  }
  line();

  // -- Indicators
  line("## Indicators");
  line();
  line(
      "The heaviest clients, from the per-minute heavy-hitter lists summed over the window (each "
      "count is an upper bound). Addresses are defanged.");
  line();
  struct Dim {
    const char* title;
    std::vector<TopItem> Offenders::*list;
    bool address;
  };
  const Dim dims[] = {{"Client prefixes", &Offenders::prefixes, true},
                      {"Networks (ASN)", &Offenders::asns, false},
                      {"User agents", &Offenders::user_agents, false},
                      {"Accounts", &Offenders::accounts, false}};
  bool any_indicator = false;
  for (const Dim& d : dims) {
    const auto items = sum_top(in.minutes, in.top, d.list, 10);
    if (items.empty()) continue;
    any_indicator = true;
    line(std::string("**") + d.title + "**");
    line();
    line("| Indicator | Requests (≤) |");
    line("|---|---:|");
    for (const TopItem& i : items) {
      line("| " + code(d.address ? defang(i.key) : i.key) + " | " + num(i.count) + " |");
    }
    line();
  }
  if (!any_indicator) {
    line("No heavy hitters were recorded.");
    line();
  }

  // -- Response actions
  line("## Response actions taken");
  line();
  std::vector<const Event*> automatic, manual, other;
  for (const Event& e : in.events) {
    if (!is_action(e)) continue;
    (is_manual(e) ? manual : is_automatic(e) ? automatic : other).push_back(&e);
  }
  auto list_actions = [&](const char* title, const std::vector<const Event*>& v) {
    line(std::string("**") + title + "** (" + num(v.size()) + ")");
    line();
    if (v.empty()) {
      line("- none");
    }
    for (std::size_t i = 0; i < v.size() && i < 200; ++i) {
      const Event& e = *v[i];
      line("- " + format_minute(e.at_ms) + " " + cell(e.kind) +
           (e.route.empty() ? "" : " " + code(e.route)) + ": " + cell(defang_words(e.message)));
    }
    line();
  };
  list_actions("Automatic", automatic);
  list_actions("By hand", manual);
  if (!other.empty()) list_actions("Not attributed", other);

  // -- Recommendations
  line("## Recommendations");
  line();
  std::vector<std::string> recs;
  if (s.flood) {
    recs.emplace_back(
        "Keep per-prefix rate limits on the flooded routes and check that the "
        "sign-up triggers fire before the upstream slows (peak " +
        num(s.peak_rps) + " req/s). Consider a lower trigger threshold or a shorter `for` window.");
  }
  if (s.stuffing) {
    recs.emplace_back(
        "Limit failed logins per account (`count_when: [401, 403]`) with residents "
        "exempt, require a challenge on the login route during attacks, and "
        "check the listed accounts for compromise; notify their owners.");
  }
  if (s.slow) {
    recs.emplace_back(
        "Lower `limits.head_timeout` and the per-client connection cap: slow "
        "clients held connections open (" +
        num(t.head_timeouts) + " head timeouts).");
  }
  if (s.rotating) {
    recs.emplace_back(
        "Addresses rotated across many prefixes: per-address limits alone will not "
        "hold. Key limits on the account or e-mail domain, use reputation (ASN, "
        "hosting ranges) and the challenge, and consider banning the listed networks.");
  }
  if (s.residents_served_pct && *s.residents_served_pct < 99.0) {
    recs.emplace_back("Residents were served only " + pct(*s.residents_served_pct) +
                      " of the time: review which limits applied to them and exempt the resident "
                      "class where it is safe.");
  }
  if (t.verdict(Verdict::Shed) > 0) {
    recs.emplace_back("Requests were shed (" + num(t.verdict(Verdict::Shed)) +
                      "): check the "
                      "upstream's capacity and the admission settings.");
  }
  if (t.verdict(Verdict::Queued) > 0 && t.newcomers_admitted > 0) {
    recs.emplace_back(
        "The waiting room admitted " + num(t.newcomers_admitted) +
        " newcomers: if the application kept up, `new_users_per_minute` can be raised.");
  }
  if (s.manual_actions > 0 && s.automatic_actions == 0) {
    recs.emplace_back(
        "Every action was taken by hand: automate the ones that recur (triggers, ban "
        "actions on limits).");
  }
  if (recs.empty()) recs.emplace_back("No change is suggested by the figures of this window.");
  for (const std::string& r : recs) line("- " + r);
  return md;
}

}  // namespace gh::observe
