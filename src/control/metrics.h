// Every metric family /metrics exposes, declared once: the exposition writes each family's HELP
// and TYPE from this table, and a test checks that the table, the exposition and docs/ADMIN.md
// agree (so the three cannot drift).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gh::control {

struct MetricFamily {
  std::string name;  // without the "gatehouse_" prefix
  std::string_view type;
  std::string_view help;
  std::string_view labels;  // comma-separated label names, empty when none
};

// The families, in exposition order: the per-worker counters (GH_WORKER_STATS, as <name>_total)
// first, then GH_ADMIN_METRICS.
const std::vector<MetricFamily>& metric_families();
// Nullptr when `name` is not a family.
const MetricFamily* find_metric_family(std::string_view name);

// Appends "# HELP" and "# TYPE" for `name` (which must be in the table).
void metric_header(std::string& out, std::string_view name);

// The families other than the worker counters: X(name, type, labels, help).
#define GH_ADMIN_METRICS(X)                                                                        \
  X(bans_live, "gauge", "", "bans held now (expired ones not yet swept included)")                 \
  X(bans_capacity, "gauge", "", "bans.max_entries")                                                \
  X(bans_total, "counter", "", "bans that took effect")                                            \
  X(bans_evicted_full_total, "counter", "", "bans dropped because the table was full")             \
  X(ban_requests_dropped_total, "counter", "",                                                     \
    "ban actions dropped because the housekeeping queue was full")                                 \
  X(limit_keys_tracked, "gauge", "route,limit", "keys a limit's table holds")                      \
  X(limit_keys_capacity, "gauge", "route,limit", "a limit's table size (max_keys, rounded up)")    \
  X(limit_evictions_expired_total, "counter", "route,limit",                                       \
    "keys evicted because they had expired")                                                       \
  X(limit_evictions_least_limited_total, "counter", "route,limit", "keys evicted to make room")    \
  X(limit_table_full_total, "counter", "route,limit",                                              \
    "new keys not tracked because every slot was protected")                                       \
  X(requests_total, "counter", "route,class,verdict",                                              \
    "requests by route, client class and verdict (passed, rate_limited, challenged, queued, "      \
    "shed, banned, denied, closed)")                                                               \
  X(request_duration_seconds, "histogram", "",                                                     \
    "client side: request head received to answer written (local) or response head relayed")       \
  X(upstream_latency_seconds, "histogram", "", "upstream: request sent to response head")          \
  X(queue_length, "gauge", "", "newcomers in the waiting rooms plus requests waiting for a slot")  \
  X(waitroom_queued, "gauge", "route", "places in a sign-up route's waiting room")                 \
  X(waitroom_active, "gauge", "route", "admitted newcomer sessions alive")                         \
  X(admission_rate, "gauge", "", "newcomers admitted per second (average of the last minute)")     \
  X(newcomers_admitted_total, "counter", "route", "newcomers admitted by a waiting room")          \
  X(upstream_concurrency_limit, "gauge", "upstream", "adaptive concurrency limit now")             \
  X(upstream_in_flight, "gauge", "upstream", "requests holding a slot of the limit")               \
  X(upstream_server_up, "gauge", "upstream,server,address",                                        \
    "1 when an upstream server's address is admitted (not down by health checks, not ejected)")    \
  X(upstream_server_requests_total, "counter", "upstream,server,address",                          \
    "requests sent to an upstream server's address (each try)")                                    \
  X(upstream_server_failures_total, "counter", "upstream,server,address",                          \
    "failures requests met at an upstream server's address (connect, timeout, bad answer)")        \
  X(upstream_server_ejections_total, "counter", "upstream,server,address",                         \
    "times an upstream server's address was ejected after failures")                               \
  X(signup_mode, "gauge", "route,mode", "1 for a sign-up route's current mode, 0 for the others")  \
  X(signup_mode_manual, "gauge", "route", "1 when the mode was set by hand")                       \
  X(events_total, "counter", "", "events recorded since start (mode changes, bans, reloads, ...)") \
  X(incident_reports_total, "counter", "", "incident reports written automatically")               \
  X(access_log_written_total, "counter", "", "access log lines written")                           \
  X(access_log_dropped_total, "counter", "", "access records dropped: a worker's ring was full")   \
  X(access_log_sampled_out_total, "counter", "",                                                   \
    "refused requests left out of the access log by sampling")

}  // namespace gh::control
