// Every metric family /metrics exposes, declared once, and the writer of the Prometheus text
// format. The exposition takes each family's HELP and TYPE from this table, and a test checks
// that the table, the exposition and docs/ADMIN.md agree (so the three cannot drift); another
// runs `promtool check metrics` on a live exposition.
//
// Naming follows Prometheus's conventions: one family per name, label values rather than
// names that carry them (class, verdict, route, reason, ...), base units (seconds, bytes),
// counters ending in _total.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace gh::proxy {
struct StatsTotals;
}

namespace gh::control {

struct MetricFamily {
  std::string name;  // the full name: gatehouse_..., process_...
  std::string_view type;
  std::string_view help;
  std::string_view labels;  // comma-separated label names, empty when none
};

// The families, in exposition order: GH_METRIC_FAMILIES, then a family of its own for any
// per-worker counter that GH_WORKER_SERIES does not place (so a new counter is never lost; the
// docs test then asks for it to be placed and documented).
const std::vector<MetricFamily>& metric_families();
// Nullptr when `name` is not a family.
const MetricFamily* find_metric_family(std::string_view name);

// Where a per-worker counter (gate/stats.h, GH_WORKER_STATS; its name is also its /v1/status
// key) is exposed: a family, and the value of the family's one label (empty when it has none).
struct WorkerSeries {
  std::uint64_t proxy::StatsTotals::*field;
  std::string_view stat;
  std::string_view family;
  std::string_view label_value;
  double scale = 1;  // the exposed value is the counter times this (ms counted, seconds shown)
};
// Every counter of GH_WORKER_STATS, placed or in a family of its own.
const std::vector<WorkerSeries>& worker_series();

// One label: name and value (escaped when written).
using Label = std::pair<std::string_view, std::string_view>;

// Writes the text format (version 0.0.4). Each family is started once with family(), which
// writes its HELP and TYPE from the table; the samples written after it are that family's.
class Exposition {
 public:
  // False (and nothing written) when `name` is not in the table or was already written: a
  // family is never declared twice.
  bool family(std::string_view name);
  // A sample of the current family: integers exactly, floating point as shortest round trip.
  template <typename T>
  requires std::is_arithmetic_v<T>
  void sample(std::initializer_list<Label> labels, T value) {
    if constexpr (std::is_floating_point_v<T>) {
      write_double(labels, static_cast<double>(value));
    } else if constexpr (std::is_signed_v<T>) {
      if (value < 0) {
        write_double(labels, static_cast<double>(value));
      } else {
        write_u64(labels, static_cast<std::uint64_t>(value));
      }
    } else {
      write_u64(labels, static_cast<std::uint64_t>(value));
    }
  }
  template <typename T>
  requires std::is_arithmetic_v<T>
  void sample(T value) { sample({}, value); }
  // A histogram's _bucket (cumulative, `bounds` in seconds, then +Inf), _sum and _count.
  // `counts` has one more entry than `bounds` (the +Inf bucket); not cumulative.
  void histogram(std::initializer_list<Label> labels, std::span<const double> bounds,
                 std::span<const std::uint64_t> counts, double sum);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void write_u64(std::initializer_list<Label> labels, std::uint64_t value);
  void write_double(std::initializer_list<Label> labels, double value);
  void series(std::string_view suffix, std::initializer_list<Label> labels,
              const Label* extra = nullptr);

  std::string out_;
  std::string current_;
  std::set<std::string, std::less<>> written_;
};

// A label value as the text format wants it: backslash, double quote and line feed escaped.
void append_label_value(std::string& out, std::string_view value);
// A sample value: integers exactly, others in the shortest form that reads back the same;
// NaN and infinities as Prometheus spells them.
void append_value(std::string& out, double value);

// The families: X(name, type, labels, help). Per-worker counters are placed in them by
// GH_WORKER_SERIES (metrics.cc).
#define GH_METRIC_FAMILIES(X)                                                                      \
  X(gatehouse_build_info, "gauge", "version,commit,build_type",                                    \
    "always 1; the labels name the build")                                                         \
  X(gatehouse_config_generation, "gauge", "", "config generation: increases with each reload")     \
  X(gatehouse_connections_accepted_total, "counter", "", "client connections accepted")            \
  X(gatehouse_connections_refused_total, "counter", "reason",                                      \
    "client connections closed at accept: connection_cap (the process cap), client_cap (the "      \
    "per-client cap), banned (the peer address is banned), handshake_cap (a TLS listener's "       \
    "tls.max_handshakes in progress on the worker)")                                               \
  X(gatehouse_tls_handshakes_started_total, "counter", "",                                         \
    "TLS handshakes begun: connections accepted on TLS listeners")                                 \
  X(gatehouse_tls_handshakes_total, "counter", "result",                                           \
    "TLS handshakes ended: ok, failed (not TLS, no common protocol or cipher, peer gone), "        \
    "timed_out (cut at tls.handshake_timeout)")                                                    \
  X(gatehouse_tls_handshakes_in_progress, "gauge", "", "TLS handshakes begun and not yet ended")   \
  X(gatehouse_tls_resumed_total, "counter", "",                                                    \
    "TLS handshakes that resumed a session with a ticket (no certificate work)")                   \
  X(gatehouse_tls_ktls_connections_total, "counter", "",                                           \
    "TLS connections whose sends go through kernel TLS (0 while the kernel offers none)")          \
  X(gatehouse_upgrade_splices_total, "counter", "",                                                \
    "upgraded connections (WebSocket) spliced to their upstream after its 101")                    \
  X(gatehouse_upgrade_splices_ended_total, "counter", "reason",                                    \
    "splices ended: closed (a side closed, its bytes delivered), idle (upgrade_idle_timeout), "    \
    "byte_limit (upgrade_max_size in one direction), error (socket error or reset), shutdown")     \
  X(gatehouse_upgrade_bytes_total, "counter", "direction",                                         \
    "bytes spliced on upgraded connections: to_upstream, to_client")                               \
  X(gatehouse_fleet_awaits_total, "counter", "outcome",                                            \
    "requests that waited for Redis (a solved challenge's claim, an exact limit): answered, "      \
    "timeout (cluster.request_timeout passed), failed (connection lost, refused)")                 \
  X(gatehouse_fleet_await_seconds_total, "counter", "",                                            \
    "seconds requests waited for Redis, summed (divide by the awaits for the mean)")               \
  X(gatehouse_fleet_await_fail_static_total, "counter", "",                                        \
    "decisions made by this node alone where the fleet's was due: Redis away, timed out or "       \
    "failed")                                                                                      \
  X(gatehouse_fleet_await_refusals_total, "counter", "kind",                                       \
    "requests Redis refused that this node alone would have let pass: challenge (claimed first "   \
    "by another node), limit (an exact limit), signup (its clearance opened one on another node "  \
    "first)")                                                                                      \
  X(gatehouse_request_heads_total, "counter", "", "request heads parsed")                          \
  X(gatehouse_requests_refused_total, "counter", "reason",                                         \
    "requests refused before the route's limits: malformed (400, 414, 431, 501, 505), "            \
    "deny_list, banned, reputation")                                                               \
  X(gatehouse_responses_total, "counter", "source",                                                \
    "responses: written by gatehouse itself, or relayed from an upstream")                         \
  X(gatehouse_upstream_errors_total, "counter", "reason",                                          \
    "upstream failures: connect (502), pool_full (503, max_connections reached), timeout (504 "    \
    "or a cut response), unavailable (503, no server of the upstream admitted)")                   \
  X(gatehouse_upstream_retries_total, "counter", "",                                               \
    "idempotent requests retried on a fresh connection")                                           \
  X(gatehouse_upstream_failovers_total, "counter", "",                                             \
    "requests sent to another server of their upstream after a failed connect")                    \
  X(gatehouse_upstream_ejections_total, "counter", "",                                             \
    "upstream server addresses ejected after failures (per address: "                              \
    "gatehouse_upstream_server_ejections_total)")                                                  \
  X(gatehouse_client_timeouts_total, "counter", "",                                                \
    "client head, body, send and keep-alive timeouts")                                             \
  X(gatehouse_ratelimit_requests_total, "counter", "outcome",                                      \
    "requests checked by rate limits: passed every limit, or rejected, delayed, tarpitted, "       \
    "dropped by one")                                                                              \
  X(gatehouse_ratelimit_dry_run_total, "counter", "",                                              \
    "requests a dry-run limit would have refused")                                                 \
  X(gatehouse_ban_requests_total, "counter", "", "bans requested by ban actions")                  \
  X(gatehouse_requests_classified_total, "counter", "class",                                       \
    "requests by client class: suspect, anonymous, verified (challenge clearance), resident "      \
    "(device token)")                                                                              \
  X(gatehouse_resident_answers_total, "counter", "outcome",                                        \
    "answers to residents: ok (below 500), failed (500 and above, or shed)")                       \
  X(gatehouse_reputation_allowed_total, "counter", "",                                             \
    "requests let through by a reputation allow rule")                                             \
  X(gatehouse_challenges_issued_total, "counter", "", "challenges answered (page or JSON)")        \
  X(gatehouse_challenge_answers_total, "counter", "outcome",                                       \
    "challenge answers: solved (clearance issued), failed (bad, expired, moved, replayed, early)") \
  X(gatehouse_challenge_spent_ids, "gauge", "",                                                    \
    "solved challenges remembered against replay (the spent set)")                                 \
  X(gatehouse_challenge_spent_capacity, "gauge", "",                                               \
    "the spent set's size: when full, solves are refused with 503")                                \
  X(gatehouse_challenges_risk_raised_total, "counter", "",                                         \
    "challenges made harder by the client's reputation score (challenge.risk)")                    \
  X(gatehouse_challenge_work_hashes_total, "counter", "risk",                                      \
    "expected hashes of the proof-of-work challenges issued: base (the route's pressure only) or " \
    "surcharged (bits added for the client's risk)")                                               \
  X(gatehouse_signup_clearances_reused_total, "counter", "",                                       \
    "sign-up submissions whose clearance had opened one already: challenged again")                \
  X(gatehouse_signup_accounts_total, "counter", "proof",                                           \
    "sign-up submissions the application accepted (below 400), by what they paid: none, base "     \
    "(a challenge without surcharge), surcharged")                                                 \
  X(gatehouse_signup_work_hashes_total, "counter", "risk",                                         \
    "expected hashes paid for accepted sign-ups: base or surcharged (risk bits added)")            \
  X(gatehouse_signup_solve_seconds_total, "counter", "",                                           \
    "seconds from challenge to answer, summed over accepted sign-ups that paid one")               \
  X(gatehouse_device_tokens_issued_total, "counter", "",                                           \
    "device tokens set after a successful login")                                                  \
  X(gatehouse_device_tokens_demoted_total, "counter", "",                                          \
    "requests with a valid device token served as anonymous: over its rate, in-flight or "         \
    "network cap")                                                                                 \
  X(gatehouse_device_tokens_roaming_total, "counter", "",                                          \
    "device tokens demoted for coming from too many networks within an hour")                      \
  X(gatehouse_app_token_residents_total, "counter", "",                                            \
    "requests made residents by the application's own login token (residents.app_token)")          \
  X(gatehouse_signup_requests_total, "counter", "outcome",                                         \
    "sign-up requests met by a mode: closed (registrations paused), queued (a place in the "       \
    "waiting room), admitted (an admitted newcomer forwarded), full (queue or network share "      \
    "full)")                                                                                       \
  X(gatehouse_admission_queued_total, "counter", "", "requests that waited for an upstream slot")  \
  X(gatehouse_admission_shed_total, "counter", "", "requests shed with 503 by admission control")  \
  X(gatehouse_h2_connections_total, "counter", "", "HTTP/2 connections started")                   \
  X(gatehouse_h2_streams_total, "counter", "", "HTTP/2 streams that reached the pipeline")         \
  X(gatehouse_h2_resets_total, "counter", "by",                                                    \
    "HTTP/2 streams reset: by the client (RST_STREAM received), or by the server with an error "   \
    "(malformed or refused streams; the MadeYouReset budget counts these)")                        \
  X(gatehouse_h2_connections_cut_total, "counter", "reason",                                       \
    "HTTP/2 connections closed with GOAWAY for a flood: rapid_reset, server_resets, "              \
    "control_flood (SETTINGS, PING, PRIORITY, WINDOW_UPDATE, empty frames), stream_burst (new "    \
    "streams in one read), protocol_error (incl. CONTINUATION floods)")                            \
  X(gatehouse_bans_live, "gauge", "", "bans held now (expired ones not yet swept included)")       \
  X(gatehouse_bans_capacity, "gauge", "", "bans.max_entries")                                      \
  X(gatehouse_bans_total, "counter", "", "bans that took effect")                                  \
  X(gatehouse_bans_evicted_full_total, "counter", "", "bans dropped because the table was full")   \
  X(gatehouse_ban_requests_dropped_total, "counter", "",                                           \
    "ban actions dropped because the housekeeping queue was full")                                 \
  X(gatehouse_kernel_drop_enabled, "gauge", "",                                                   \
    "1 when bans.kernel_drop is on and the nftables table is in place")                           \
  X(gatehouse_kernel_drop_elements_total, "counter", "op",                                        \
    "kernel drop set elements: added (or refreshed), removed (a ban lifted early), failed (the "  \
    "kernel refused an add: set full, overlapping prefix)")                                       \
  X(gatehouse_kernel_drop_packets_total, "counter", "",                                           \
    "packets the kernel dropped for banned clients (the drop rules' counters)")                   \
  X(gatehouse_fleet_configured, "gauge", "",                                                       \
    "1 when a cluster: section is set (a fleet on Redis)")                                         \
  X(gatehouse_fleet_up, "gauge", "",                                                               \
    "1 while Redis answers; 0 alone or fail-static (bans and modes kept as last known)")           \
  X(gatehouse_fleet_down_seconds, "gauge", "",                                                     \
    "seconds since Redis last answered; 0 while it does")                                          \
  X(gatehouse_fleet_breaker, "gauge", "state",                                                     \
    "the Redis circuit breaker: 1 for its state (closed, open, half_open)")                        \
  X(gatehouse_fleet_connects_total, "counter", "", "connections to Redis attempted")               \
  X(gatehouse_fleet_failures_total, "counter", "",                                                 \
    "Redis failures: refused or timed-out connects, commands past command_timeout, lost "          \
    "connections")                                                                                 \
  X(gatehouse_fleet_breaker_opens_total, "counter", "", "times the circuit breaker opened")        \
  X(gatehouse_fleet_published_total, "counter", "",                                                \
    "bans, removals and modes written to Redis and published")                                     \
  X(gatehouse_fleet_pending, "gauge", "", "changes of this node waiting for Redis")                \
  X(gatehouse_fleet_dropped_total, "counter", "",                                                  \
    "changes dropped, oldest first, from a full queue (max_pending)")                              \
  X(gatehouse_fleet_received_total, "counter", "",                                                 \
    "changes of other nodes received (messages and reads of the shared state)")                    \
  X(gatehouse_fleet_malformed_total, "counter", "",                                                \
    "replies and messages from Redis refused as malformed")                                        \
  X(gatehouse_fleet_resyncs_total, "counter", "",                                                  \
    "reads of the shared bans and modes (on connect and periodically)")                            \
  X(gatehouse_fleet_spent_conflicts_total, "counter", "",                                          \
    "challenge ids claimed here that another node had claimed first (a replay faster than the "    \
    "news)")                                                                                       \
  X(gatehouse_fleet_cluster, "gauge", "",                                                          \
    "1 when the shared store is a Redis Cluster (0 standalone, or alone)")                         \
  X(gatehouse_fleet_redirects_total, "counter", "kind",                                            \
    "Redis Cluster redirections followed: moved (the slot map was stale), ask (a slot being "      \
    "migrated)")                                                                                   \
  X(gatehouse_fleet_map_refreshes_total, "counter", "",                                            \
    "Redis Cluster slot maps read again (after a redirection, a lost master, CLUSTERDOWN or "      \
    "TRYAGAIN)")                                                                                   \
  X(gatehouse_fleet_limit_syncs_total, "counter", "",                                              \
    "rounds of shared-limit deltas pushed to Redis (a call per shard, per 256 of its keys)")       \
  X(gatehouse_fleet_limit_keys_synced_total, "counter", "",                                        \
    "shared-limit keys pushed and answered with their global figure")                              \
  X(gatehouse_fleet_limit_keys_dropped_total, "counter", "",                                       \
    "changes of keys beyond max_sync_keys in one sync, kept local")                                \
  X(gatehouse_fleet_limit_deltas_dropped_total, "counter", "",                                     \
    "changes of shared-limit keys the workers could not hand over (buffers full)")                 \
  X(gatehouse_fleet_limit_calls_failed_total, "counter", "",                                       \
    "shard calls of a sync without a usable answer (their deltas stay local)")                     \
  X(gatehouse_fleet_limit_noscript_total, "counter", "",                                           \
    "EVALSHA answered NOSCRIPT (Redis restarted or failed over): the script sent again")           \
  X(gatehouse_fleet_limit_local_share, "gauge", "",                                                \
    "1 while Redis is away: shared limits admit rate / live nodes on this node")                   \
  X(gatehouse_fleet_limit_local_rounds_total, "counter", "",                                       \
    "syncs made while Redis was away (local share charged)")                                       \
  X(gatehouse_fleet_limit_live_nodes, "gauge", "",                                                 \
    "live nodes as last seen (the local share divides by it); 0 alone")                            \
  X(gatehouse_fleet_limit_sync_seconds, "gauge", "",                                               \
    "the last sync's time, from its push to its last answer")                                      \
  X(gatehouse_fleet_nodes, "gauge", "state",                                                       \
    "nodes of the fleet by their heartbeats: live (one in the last 5 s; this node always), gone")  \
  X(gatehouse_fleet_requests_per_second, "gauge", "", "requests per second, live nodes summed")    \
  X(gatehouse_fleet_refusals_per_second, "gauge", "",                                              \
    "refusals per second (limits, bans, deny list, shed, closed), live nodes summed")              \
  X(gatehouse_fleet_signups, "gauge", "",                                                          \
    "requests passed to sign-up routes since each live node started, summed")                      \
  X(gatehouse_fleet_in_flight, "gauge", "", "admission slots held, live nodes summed")             \
  X(gatehouse_fleet_queue_length, "gauge", "",                                                     \
    "waiting rooms' places plus requests waiting for a slot, live nodes summed")                   \
  X(gatehouse_fleet_waitroom_queued, "gauge", "route",                                             \
    "places in a sign-up route's waiting line, live nodes summed (the fleet's one line)")          \
  X(gatehouse_fleet_waitroom_active, "gauge", "route",                                             \
    "admitted newcomer sessions of a sign-up route, live nodes summed")                            \
  X(gatehouse_fleet_heartbeats_malformed_total, "counter", "",                                     \
    "other nodes' heartbeats refused as malformed")                                                \
  X(gatehouse_limit_keys_tracked, "gauge", "route,limit", "keys a limit's table holds")            \
  X(gatehouse_limit_keys_capacity, "gauge", "route,limit",                                         \
    "a limit's table size (max_keys, rounded up)")                                                 \
  X(gatehouse_limit_evictions_total, "counter", "route,limit,reason",                              \
    "keys evicted from a limit's table: expired, or least_limited (to make room)")                 \
  X(gatehouse_limit_table_full_total, "counter", "route,limit",                                    \
    "new keys not tracked because every slot was protected")                                       \
  X(gatehouse_requests_total, "counter", "route,class,verdict",                                    \
    "requests by route, client class and verdict (passed, rate_limited, challenged, queued, "      \
    "shed, banned, denied, closed)")                                                               \
  X(gatehouse_request_duration_seconds, "histogram", "",                                           \
    "client side: request head received to answer written (local) or response head relayed")       \
  X(gatehouse_upstream_latency_seconds, "histogram", "",                                           \
    "upstream: request sent to response head")                                                     \
  X(gatehouse_queue_length, "gauge", "",                                                           \
    "newcomers in the waiting rooms plus requests waiting for a slot")                             \
  X(gatehouse_waitroom_queued, "gauge", "route", "places in a sign-up route's waiting room")       \
  X(gatehouse_waitroom_active, "gauge", "route", "admitted newcomer sessions alive")               \
  X(gatehouse_newcomers_admitted_total, "counter", "route",                                        \
    "newcomers admitted by a waiting room")                                                        \
  X(gatehouse_upstream_concurrency_limit, "gauge", "upstream", "adaptive concurrency limit now")   \
  X(gatehouse_upstream_in_flight, "gauge", "upstream", "requests holding a slot of the limit")     \
  X(gatehouse_upstream_server_up, "gauge", "upstream,server,address",                              \
    "1 when an upstream server's address is admitted (not down by health checks, not ejected)")    \
  X(gatehouse_upstream_server_requests_total, "counter", "upstream,server,address",                \
    "requests sent to an upstream server's address (each try)")                                    \
  X(gatehouse_upstream_server_failures_total, "counter", "upstream,server,address",                \
    "failures requests met at an upstream server's address (connect, timeout, bad answer)")        \
  X(gatehouse_upstream_server_ejections_total, "counter", "upstream,server,address",               \
    "times an upstream server's address was ejected after failures")                               \
  X(gatehouse_signup_mode, "gauge", "route,mode",                                                  \
    "1 for a sign-up route's current mode, 0 for the others")                                      \
  X(gatehouse_signup_mode_manual, "gauge", "route", "1 when the mode was set by hand")             \
  X(gatehouse_signup_mode_changes_total, "counter", "route,by",                                    \
    "sign-up mode changes: by a trigger, or manual (admin API, ctl, dashboard)")                   \
  X(gatehouse_events_total, "counter", "",                                                         \
    "events recorded since start (mode changes, bans, reloads, ...)")                              \
  X(gatehouse_incident_reports_total, "counter", "", "incident reports written automatically")     \
  X(gatehouse_access_log_records_total, "counter", "outcome",                                      \
    "access log records: written, dropped (a worker's ring was full), sampled_out (refusals left " \
    "out under a flood)")                                                                          \
  X(gatehouse_access_log_write_errors_total, "counter", "", "access log writes that failed")       \
  X(process_cpu_seconds_total, "counter", "", "user and system CPU time spent, in seconds")        \
  X(process_resident_memory_bytes, "gauge", "", "resident memory size, in bytes")                  \
  X(process_virtual_memory_bytes, "gauge", "", "virtual memory size, in bytes")                    \
  X(process_open_fds, "gauge", "", "open file descriptors")                                        \
  X(process_max_fds, "gauge", "", "the limit on open file descriptors (RLIMIT_NOFILE)")            \
  X(process_start_time_seconds, "gauge", "", "start time of the process since the Unix epoch")

}  // namespace gh::control
