#include "control/metrics.h"

#include <charconv>
#include <cmath>

#include "gate/stats.h"
#include "proxy/server.h"

namespace gh::control {

namespace {

// Where each per-worker counter goes: X(stat, family, label value). A counter missing here is
// exposed in a family of its own (gatehouse_<stat>_total), and the docs test asks for it to be
// placed.
#define GH_WORKER_SERIES(X)                                                             \
  X(connections_accepted, "gatehouse_connections_accepted_total", "")                   \
  X(connections_refused_total, "gatehouse_connections_refused_total", "connection_cap") \
  X(connections_refused_client, "gatehouse_connections_refused_total", "client_cap")    \
  X(connections_refused_banned, "gatehouse_connections_refused_total", "banned")        \
  X(requests, "gatehouse_request_heads_total", "")                                      \
  X(requests_refused_parse, "gatehouse_requests_refused_total", "malformed")            \
  X(requests_denied_list, "gatehouse_requests_refused_total", "deny_list")              \
  X(requests_banned, "gatehouse_requests_refused_total", "banned")                      \
  X(reputation_denied, "gatehouse_requests_refused_total", "reputation")                \
  X(responses_local, "gatehouse_responses_total", "gatehouse")                          \
  X(responses_proxied, "gatehouse_responses_total", "upstream")                         \
  X(upstream_connect_failures, "gatehouse_upstream_errors_total", "connect")            \
  X(upstream_busy, "gatehouse_upstream_errors_total", "pool_full")                      \
  X(upstream_timeouts, "gatehouse_upstream_errors_total", "timeout")                    \
  X(upstream_unavailable, "gatehouse_upstream_errors_total", "unavailable")             \
  X(upstream_retries, "gatehouse_upstream_retries_total", "")                           \
  X(upstream_retried_elsewhere, "gatehouse_upstream_failovers_total", "")               \
  X(upstream_ejections, "gatehouse_upstream_ejections_total", "")                       \
  X(client_timeouts, "gatehouse_client_timeouts_total", "")                             \
  X(ratelimit_passed, "gatehouse_ratelimit_requests_total", "passed")                   \
  X(ratelimit_rejected, "gatehouse_ratelimit_requests_total", "rejected")               \
  X(ratelimit_delayed, "gatehouse_ratelimit_requests_total", "delayed")                 \
  X(ratelimit_tarpitted, "gatehouse_ratelimit_requests_total", "tarpitted")             \
  X(ratelimit_dropped, "gatehouse_ratelimit_requests_total", "dropped")                 \
  X(ratelimit_dry_run, "gatehouse_ratelimit_dry_run_total", "")                         \
  X(bans_requested, "gatehouse_ban_requests_total", "")                                 \
  X(class_suspect, "gatehouse_requests_classified_total", "suspect")                    \
  X(class_anonymous, "gatehouse_requests_classified_total", "anonymous")                \
  X(class_verified, "gatehouse_requests_classified_total", "verified")                  \
  X(class_resident, "gatehouse_requests_classified_total", "resident")                  \
  X(resident_answers_ok, "gatehouse_resident_answers_total", "ok")                      \
  X(resident_answers_failed, "gatehouse_resident_answers_total", "failed")              \
  X(reputation_allowed, "gatehouse_reputation_allowed_total", "")                       \
  X(challenges_issued, "gatehouse_challenges_issued_total", "")                         \
  X(challenges_solved, "gatehouse_challenge_answers_total", "solved")                   \
  X(challenges_failed, "gatehouse_challenge_answers_total", "failed")                   \
  X(challenges_risk_raised, "gatehouse_challenges_risk_raised_total", "")               \
  X(challenge_hashes_clean, "gatehouse_challenge_work_hashes_total", "base")            \
  X(challenge_hashes_risky, "gatehouse_challenge_work_hashes_total", "surcharged")      \
  X(signup_clearances_reused, "gatehouse_signup_clearances_reused_total", "")           \
  X(signup_accounts_unpaid, "gatehouse_signup_accounts_total", "none")                  \
  X(signup_accounts_base, "gatehouse_signup_accounts_total", "base")                    \
  X(signup_accounts_surcharged, "gatehouse_signup_accounts_total", "surcharged")        \
  X(signup_pow_hashes_clean, "gatehouse_signup_work_hashes_total", "base")              \
  X(signup_pow_hashes_risky, "gatehouse_signup_work_hashes_total", "surcharged")        \
  X(device_tokens_issued, "gatehouse_device_tokens_issued_total", "")                   \
  X(device_tokens_demoted, "gatehouse_device_tokens_demoted_total", "")                 \
  X(device_tokens_roaming, "gatehouse_device_tokens_roaming_total", "")                 \
  X(app_token_residents, "gatehouse_app_token_residents_total", "")                     \
  X(signup_closed, "gatehouse_signup_requests_total", "closed")                         \
  X(waitroom_queued, "gatehouse_signup_requests_total", "queued")                       \
  X(waitroom_admitted, "gatehouse_signup_requests_total", "admitted")                   \
  X(waitroom_full, "gatehouse_signup_requests_total", "full")                           \
  X(admission_queued, "gatehouse_admission_queued_total", "")                           \
  X(admission_shed, "gatehouse_admission_shed_total", "")                               \
  X(h2_connections, "gatehouse_h2_connections_total", "")                               \
  X(h2_streams, "gatehouse_h2_streams_total", "")                                       \
  X(h2_client_resets, "gatehouse_h2_resets_total", "client")                            \
  X(h2_server_resets, "gatehouse_h2_resets_total", "server")                            \
  X(h2_cut_rapid_reset, "gatehouse_h2_connections_cut_total", "rapid_reset")            \
  X(h2_cut_server_resets, "gatehouse_h2_connections_cut_total", "server_resets")        \
  X(h2_cut_control_flood, "gatehouse_h2_connections_cut_total", "control_flood")        \
  X(h2_cut_stream_burst, "gatehouse_h2_connections_cut_total", "stream_burst")          \
  X(h2_cut_protocol_error, "gatehouse_h2_connections_cut_total", "protocol_error")      \
  X(tls_handshakes_refused, "gatehouse_connections_refused_total", "handshake_cap")     \
  X(tls_handshakes_started, "gatehouse_tls_handshakes_started_total", "")               \
  X(tls_handshakes_ok, "gatehouse_tls_handshakes_total", "ok")                          \
  X(tls_handshakes_failed, "gatehouse_tls_handshakes_total", "failed")                  \
  X(tls_handshakes_timed_out, "gatehouse_tls_handshakes_total", "timed_out")            \
  X(tls_resumed, "gatehouse_tls_resumed_total", "")                                     \
  X(tls_ktls_send, "gatehouse_tls_ktls_connections_total", "")                          \
  X(upgrade_splices, "gatehouse_upgrade_splices_total", "")                             \
  X(upgrade_ended_closed, "gatehouse_upgrade_splices_ended_total", "closed")            \
  X(upgrade_ended_idle, "gatehouse_upgrade_splices_ended_total", "idle")                \
  X(upgrade_ended_limit, "gatehouse_upgrade_splices_ended_total", "byte_limit")         \
  X(upgrade_ended_error, "gatehouse_upgrade_splices_ended_total", "error")              \
  X(upgrade_ended_shutdown, "gatehouse_upgrade_splices_ended_total", "shutdown")        \
  X(upgrade_bytes_to_upstream, "gatehouse_upgrade_bytes_total", "to_upstream")          \
  X(upgrade_bytes_to_client, "gatehouse_upgrade_bytes_total", "to_client")              \
  X(fleet_awaits_answered, "gatehouse_fleet_awaits_total", "answered")                  \
  X(fleet_awaits_timed_out, "gatehouse_fleet_awaits_total", "timeout")                  \
  X(fleet_awaits_failed, "gatehouse_fleet_awaits_total", "failed")                      \
  X(fleet_await_fail_static, "gatehouse_fleet_await_fail_static_total", "")             \
  X(fleet_replays_refused, "gatehouse_fleet_await_refusals_total", "challenge")         \
  X(fleet_exact_refused, "gatehouse_fleet_await_refusals_total", "limit")               \
  X(fleet_signups_refused, "gatehouse_fleet_await_refusals_total", "signup")

struct Placed {
  std::uint64_t proxy::StatsTotals::*field;
  std::string_view stat;
  std::string_view family;
  std::string_view label_value;
  double scale = 1;
};

constexpr Placed kPlaced[] = {
#define GH_PLACE(stat, family, value) {&proxy::StatsTotals::stat, #stat, family, value},
    GH_WORKER_SERIES(GH_PLACE)
#undef GH_PLACE
    // Counted in ms on the request path, exposed in the base unit.
    {&proxy::StatsTotals::signup_solve_ms, "signup_solve_ms",
     "gatehouse_signup_solve_seconds_total", "", 0.001},
    {&proxy::StatsTotals::fleet_await_us, "fleet_await_us", "gatehouse_fleet_await_seconds_total",
     "", 0.000001},
};

// Built once: the declared families, then one for each counter not placed.
struct Tables {
  std::vector<MetricFamily> families;
  std::vector<WorkerSeries> series;
  std::vector<std::string> own_names;  // storage of the names of the unplaced counters' families
};

const Tables& tables() {
  static const Tables kTables = [] {
    Tables t;
#define GH_FAMILY(name, type, labels, help) t.families.push_back({#name, type, help, labels});
    GH_METRIC_FAMILIES(GH_FAMILY)
#undef GH_FAMILY
    struct Stat {
      std::uint64_t proxy::StatsTotals::*field;
      std::string_view name;
      std::string_view help;
    };
    static constexpr Stat kStats[] = {
#define GH_STAT(name, help) {&proxy::StatsTotals::name, #name, help},
        GH_WORKER_STATS(GH_STAT)
#undef GH_STAT
    };
    t.own_names.reserve(std::size(kStats));
    for (const Stat& s : kStats) {
      const Placed* placed = nullptr;
      for (const Placed& p : kPlaced) {
        if (p.stat == s.name) placed = &p;
      }
      if (placed != nullptr) {
        t.series.push_back({s.field, s.name, placed->family, placed->label_value, placed->scale});
        continue;
      }
      t.own_names.push_back("gatehouse_" + std::string(s.name) + "_total");
      t.families.push_back({t.own_names.back(), "counter", s.help, ""});
      t.series.push_back({s.field, s.name, t.own_names.back(), ""});
    }
    return t;
  }();
  return kTables;
}

// HELP text escapes backslash and line feed.
void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

const std::vector<MetricFamily>& metric_families() {
  return tables().families;
}

const MetricFamily* find_metric_family(std::string_view name) {
  for (const MetricFamily& f : metric_families()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const std::vector<WorkerSeries>& worker_series() {
  return tables().series;
}

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0);
}

bool Exposition::family(std::string_view name) {
  const MetricFamily* f = find_metric_family(name);
  if (f == nullptr || written_.count(name) != 0) {
    current_.clear();
    return false;
  }
  written_.emplace(name);
  current_ = f->name;
  out_.append("# HELP ").append(f->name).append(" ");
  append_help(out_, f->help);
  out_.append("\n# TYPE ").append(f->name).append(" ").append(f->type).append("\n");
  return true;
}

void Exposition::series(std::string_view suffix, std::initializer_list<Label> labels,
                        const Label* extra) {
  out_.append(current_).append(suffix);
  if (labels.size() != 0 || extra != nullptr) {
    out_ += '{';
    bool first = true;
    auto one = [&](const Label& l) {
      if (!first) out_ += ',';
      first = false;
      out_.append(l.first).append("=\"");
      append_label_value(out_, l.second);
      out_ += '"';
    };
    for (const Label& l : labels) one(l);
    if (extra != nullptr) one(*extra);
    out_ += '}';
  }
  out_ += ' ';
}

void Exposition::write_u64(std::initializer_list<Label> labels, std::uint64_t value) {
  if (current_.empty()) return;
  series("", labels);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, static_cast<std::size_t>(end - buf)).append("\n");
}

void Exposition::write_double(std::initializer_list<Label> labels, double value) {
  if (current_.empty()) return;
  series("", labels);
  append_value(out_, value);
  out_ += '\n';
}

void Exposition::histogram(std::initializer_list<Label> labels, std::span<const double> bounds,
                           std::span<const std::uint64_t> counts, double sum) {
  if (current_.empty()) return;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += i < counts.size() ? counts[i] : 0;
    std::string le;
    if (i < bounds.size()) {
      append_value(le, bounds[i]);
    } else {
      le = "+Inf";
    }
    const Label bucket{"le", le};
    series("_bucket", labels, &bucket);
    out_.append(std::to_string(cumulative)).append("\n");
  }
  series("_sum", labels);
  append_value(out_, sum);
  out_ += '\n';
  series("_count", labels);
  out_.append(std::to_string(cumulative)).append("\n");
}

}  // namespace gh::control
