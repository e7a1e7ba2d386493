#include "policy/config.h"

#include <fcntl.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <system_error>
#include <tuple>
#include <unordered_set>

#include "client/address.h"
#include "policy/route_table.h"
#include "policy/units.h"

namespace gh::policy {
namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;
constexpr std::uint64_t kSecond = 1000;
constexpr std::uint64_t kMinute = 60 * kSecond;
constexpr std::uint64_t kHour = 60 * kMinute;
constexpr std::uint64_t kDay = 24 * kHour;
constexpr std::uint64_t kMaxTimeout = 24 * kHour;

constexpr std::size_t kMaxListeners = 64;
constexpr std::size_t kMaxTrustedProxies = 1024;
constexpr std::size_t kMaxUpstreams = 256;
constexpr std::size_t kMaxServers = 256;
constexpr std::size_t kMaxRoutes = 1024;
constexpr std::size_t kMaxRegexBytes = 1024;
constexpr std::size_t kMaxLimitsPerRoute = 16;
constexpr std::size_t kMaxKeyParts = 8;
constexpr std::size_t kMaxKeyPartName = 64;
constexpr std::size_t kMaxStatuses = 64;
constexpr std::size_t kMaxListEntries = 100'000;
constexpr std::size_t kMaxListFiles = 64;
constexpr std::size_t kMaxIncludeDepth = 8;  // the main file is depth 0
constexpr std::size_t kMaxConfigFiles = 64;  // the main file included
constexpr std::uint64_t kMaxRateCount = 1'000'000'000;
constexpr std::uint64_t kMaxRatePerSecond = 1'000'000;
constexpr std::uint64_t kMaxBurst = 1'000'000;
constexpr std::uint64_t kMaxBucketSpanNs = std::uint64_t{1} << 60;  // ratelimit::kMaxSpan

constexpr std::string_view kTopKeys[] = {
    "include",   "server",     "listen",    "admin",      "clients", "limits",
    "upstreams", "routes",     "lists",     "bans",       "secrets", "residents",
    "challenge", "reputation", "state_dir", "access_log", "routing"};
// Sections that are one value (not lists to append to): at most one file may set each.
constexpr std::string_view kSingleSections[] = {
    "server",    "admin",     "clients",    "limits",    "bans",       "secrets",
    "residents", "challenge", "reputation", "state_dir", "access_log", "routing"};
constexpr std::string_view kSecretsKeys[] = {"key_file"};
constexpr std::string_view kRoutingKeys[] = {"case_sensitive", "encoded_slashes"};
constexpr std::string_view kEncodedSlashes[] = {"refuse", "keep"};
constexpr std::string_view kAccessLogKeys[] = {
    "enabled",       "path",     "refusals_keep_per_s", "refusals_sample_one_in",
    "max_file_size", "max_files"};
constexpr std::string_view kResidentsKeys[] = {
    "enabled",          "cookie",         "lifetime",    "account",      "success_status",
    "success_location", "success_cookie", "device_rate", "device_burst", "device_concurrency"};
constexpr std::string_view kChallengeKeys[] = {"levels",
                                               "max_bits",
                                               "refresh_wait",
                                               "lifetime",
                                               "cookie",
                                               "clearance_lifetime",
                                               "signup_clearance_lifetime",
                                               "spent_max",
                                               "spent_per_prefix",
                                               "theme_css_file"};
constexpr std::string_view kLevelKeys[] = {"rate", "bits"};
constexpr std::string_view kReputationKeys[] = {"rules", "thresholds", "suspect_score",
                                                "asn_database"};
constexpr std::string_view kRuleKeys[] = {
    "name",  "user_agent", "path_prefix",     "methods", "headers_present", "headers_missing",
    "cidrs", "asns",       "recent_refusals", "action",  "weight",          "level"};
constexpr std::string_view kThresholdKeys[] = {"score", "action", "level"};
constexpr std::string_view kReputationActions[] = {"weigh", "allow", "deny", "challenge"};
constexpr ReputationAction kReputationActionKinds[] = {
    ReputationAction::Weigh, ReputationAction::Allow, ReputationAction::Deny,
    ReputationAction::Challenge};
constexpr std::string_view kAdmissionKeys[] = {
    "enabled",   "min_limit",     "max_limit",    "initial_limit",  "resident_share",
    "queue_max", "queue_timeout", "codel_target", "codel_interval", "retry_after"};
constexpr std::string_view kSignupKeys[] = {"mode", "waiting_room", "closed_retry_after",
                                            "triggers"};
constexpr std::string_view kWaitingRoomKeys[] = {"new_users_per_minute",
                                                 "max_active",
                                                 "session_idle",
                                                 "max_per_prefix",
                                                 "max_queue",
                                                 "refresh",
                                                 "ticket_lifetime",
                                                 "max_signups_per_ticket"};
constexpr std::string_view kTriggerKeys[] = {"metric", "above", "below", "mode", "for", "hold"};
constexpr std::string_view kTriggerMetrics[] = {"upstream_latency", "error_rate", "shed_rate",
                                                "request_rate"};
constexpr TriggerMetric kTriggerMetricKinds[] = {TriggerMetric::UpstreamLatency,
                                                 TriggerMetric::ErrorRate, TriggerMetric::ShedRate,
                                                 TriggerMetric::RequestRate};
constexpr std::string_view kSignupModes[] = {"open", "challenge", "queue", "closed"};
constexpr std::string_view kClientClassNames[] = {"suspect", "anonymous", "verified", "resident"};
constexpr std::size_t kMaxRules = 1'000;
constexpr std::size_t kMaxThresholds = 16;
constexpr std::size_t kMaxTriggers = 8;
constexpr std::size_t kMaxLevels = 16;
constexpr std::string_view kServerKeys[] = {"workers"};
constexpr std::string_view kListenKeys[] = {"address", "proxy_protocol", "decide"};
constexpr std::string_view kDecideHosts[] = {"nginx", "envoy", "traefik", "caddy"};
constexpr std::string_view kAdminKeys[] = {"address", "token_file", "enabled"};
constexpr std::string_view kClientsKeys[] = {"trusted_proxies", "ipv4_prefix", "ipv6_prefix"};
constexpr std::string_view kLimitsKeys[] = {
    "max_head_size",   "max_header_fields",          "max_target_size",   "max_body_size",
    "head_timeout",    "body_idle_timeout",          "keepalive_timeout", "send_timeout",
    "max_connections", "max_connections_per_client", "shutdown_grace"};
constexpr std::string_view kUpstreamKeys[] = {
    "servers",           "max_connections",    "max_idle_connections",
    "connect_timeout",   "first_byte_timeout", "idle_timeout",
    "keepalive_timeout", "admission"};
constexpr std::string_view kRouteKeys[] = {
    "name",          "match",          "class",  "upstream",
    "max_body_size", "body_key_bytes", "limits", "require_clearance",
    "signup"};
constexpr std::string_view kLimitKeys[] = {"name",    "key",        "rate",     "burst",  "action",
                                           "dry_run", "count_when", "max_keys", "classes"};
constexpr std::string_view kActionKeys[] = {"reject", "delay", "tarpit",    "ban",
                                            "max",    "drop",  "challenge", "queue"};
constexpr std::string_view kActionNames[] = {"reject", "drop",   "challenge", "queue",
                                             "delay",  "tarpit", "ban"};
constexpr std::string_view kCountWhenKeys[] = {"status"};
constexpr std::string_view kListsKeys[] = {"allow", "deny", "allow_files", "deny_files"};
constexpr std::string_view kBansKeys[] = {"journal", "max_entries", "escalation_window"};
constexpr std::string_view kFixedKeyParts[] = {"client.ip", "client.prefix", "route", "method",
                                               "clearance.id"};
constexpr KeyPartKind kFixedKeyKinds[] = {KeyPartKind::ClientIp, KeyPartKind::ClientPrefix,
                                          KeyPartKind::Route, KeyPartKind::Method,
                                          KeyPartKind::Clearance};
// Parts that take a name after the dot.
constexpr std::string_view kNamedKeyParts[] = {"header", "cookie", "query", "body", "email_domain"};
constexpr KeyPartKind kNamedKeyKinds[] = {KeyPartKind::Header, KeyPartKind::Cookie,
                                          KeyPartKind::Query, KeyPartKind::BodyField,
                                          KeyPartKind::EmailDomain};
constexpr std::string_view kMatchKeys[] = {"host", "methods", "path", "path_prefix", "path_regex"};
constexpr std::string_view kClassNames[] = {"login", "signup", "api", "static", "other"};
constexpr RouteClass kClasses[] = {RouteClass::Login, RouteClass::Signup, RouteClass::Api,
                                   RouteClass::Static, RouteClass::Other};
constexpr std::string_view kMethodNames[] = {"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                             "OPTIONS", "PATCH", "TRACE", "CONNECT"};
constexpr http::Method kMethods[] = {
    http::Method::Get,   http::Method::Head,   http::Method::Post,
    http::Method::Put,   http::Method::Delete, http::Method::Options,
    http::Method::Patch, http::Method::Trace,  http::Method::Connect};

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  if (a.size() > 64 || b.size() > 64) {
    return std::numeric_limits<std::size_t>::max();
  }
  std::size_t row[65] = {};
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

// The closest candidate within a couple of edits, else "".
std::string_view closest(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  std::size_t allowed = best.size() <= 4 ? 1 : 2;
  if (best.empty() || best_distance > allowed) {
    return "";
  }
  return best;
}

// " (did you mean 'x'?)" for the closest candidate, else "".
std::string suggest(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best = closest(word, candidates);
  return best.empty() ? std::string() : " (did you mean '" + std::string(best) + "'?)";
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 80;  // keep messages one line even for pasted junk
  std::string out = "'";
  for (char c : s.substr(0, kMax)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (s.size() > kMax) {
    out += "...";
  }
  out += "'";
  return out;
}

// A unit of sizes or durations; a value is written in the first unit of a table (largest
// first) that divides it and that it exceeds `above` of.
struct Unit {
  std::uint64_t scale;
  std::string_view name;
  std::uint64_t above = 0;
};

constexpr Unit kSizeUnits[] = {{kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}, {1, "B"}};
// "24h" stays "24h"; "720h" reads better as "30d".
constexpr Unit kDurationUnits[] = {
    {kDay, "d", kDay}, {kHour, "h"}, {kMinute, "m"}, {kSecond, "s"}, {1, "ms"}};

std::string format_units(std::uint64_t n, std::span<const Unit> units) {
  for (const Unit& u : units) {
    if (n > u.above && n % u.scale == 0) {
      return std::to_string(n / u.scale) + std::string(u.name);
    }
  }
  return std::to_string(n) + std::string(units.back().name);  // 0
}

std::string format_size(std::uint64_t n) {
  return format_units(n, kSizeUnits);
}

std::string format_duration(std::uint64_t ms) {
  return format_units(ms, kDurationUnits);
}

// The scale of the unit spelled `name`; 0 when there is none.
std::uint64_t unit_scale(std::string_view name, std::span<const Unit> units) {
  auto it = std::find_if(units.begin(), units.end(), [&](const Unit& u) { return u.name == name; });
  return it == units.end() ? 0 : it->scale;
}

// n × scale; nullopt and "<what> 'text' is too large" when n is missing or the product overflows.
std::optional<std::uint64_t> scaled(std::optional<std::uint64_t> n, std::uint64_t scale,
                                    const char* what, std::string_view text, std::string& why) {
  if (!n || *n > std::numeric_limits<std::uint64_t>::max() / scale) {
    why = what + (" " + quote(text)) + " is too large";
    return std::nullopt;
  }
  return *n * scale;
}

std::string format_count(std::uint64_t n) {
  return std::to_string(n);
}

// Leading decimal digits of `s` as a number; nullopt on no digits or overflow.
std::optional<std::uint64_t> leading_number(std::string_view s, std::size_t& digits) {
  digits = 0;
  std::uint64_t value = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
    unsigned d = unsigned(s[digits] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return std::nullopt;
    }
    value = value * 10 + d;
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint64_t> parse_integer(std::string_view s) {
  std::size_t digits = 0;
  auto v = leading_number(s, digits);
  if (!v || digits != s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& why) {
  std::size_t digits = 0;
  auto n = leading_number(text, digits);
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') {
    unit.remove_prefix(1);
  }
  const std::uint64_t scale = unit_scale(unit.empty() ? "B" : unit, kSizeUnits);
  if (digits == 0 || scale == 0) {
    why = "invalid size " + quote(text) +
          ": use bytes or a whole number with B, KiB, MiB or GiB (1KiB = 1024 bytes)";
    // Decimal and shorthand units are refused rather than guessed: name the IEC one meant.
    std::string u;
    for (char c : unit) {
      u += lower(c);
    }
    if (digits > 0 && (u == "k" || u == "kb" || u == "kib")) {
      why += " (did you mean 'KiB'?)";
    }
    if (digits > 0 && (u == "m" || u == "mb" || u == "mib")) {
      why += " (did you mean 'MiB'?)";
    }
    if (digits > 0 && (u == "g" || u == "gb" || u == "gib")) {
      why += " (did you mean 'GiB'?)";
    }
    return std::nullopt;
  }
  return scaled(n, scale, "size", text, why);
}

std::optional<std::uint64_t> parse_duration(std::string_view text, std::string& why) {
  std::size_t digits = 0;
  auto n = leading_number(text, digits);
  std::string_view unit = text.substr(digits);
  const std::uint64_t scale = unit_scale(unit, kDurationUnits);
  if (digits > 0 && unit.empty()) {
    why = "invalid duration " + quote(text) + ": add a unit (ms, s, m, h, d)";
    return std::nullopt;
  }
  if (digits == 0 || scale == 0) {
    why = "invalid duration " + quote(text) +
          ": use a whole number with ms, s, m, h or d (e.g. 500ms, 10s, 2m)";
    return std::nullopt;
  }
  return scaled(n, scale, "duration", text, why);
}

struct Rate {
  std::uint64_t count = 0;
  std::uint64_t period_ms = 0;
};

// "min" first: the closest-spelling hint for a typo like "mn" should not be "ms".
constexpr std::string_view kRateUnits[] = {"min",    "minute", "m",    "ms", "s",  "sec",
                                           "second", "h",      "hour", "d",  "day"};
constexpr std::uint64_t kRateUnitMs[] = {kMinute, kMinute, kMinute, 1,    kSecond, kSecond,
                                         kSecond, kHour,   kHour,   kDay, kDay};

// "N/UNIT" or "N/<k>UNIT": 5/min, 100/15min, 1000/day. Ranges are the caller's.
std::optional<Rate> parse_rate(std::string_view text, std::string& why) {
  const std::string usage =
      ": use N/UNIT or N/<k>UNIT with UNIT ms, s, m (min), h or d (day)"
      " (e.g. 50/s, 5/min, 100/15min, 1000/day)";
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    why = "invalid rate " + quote(text) + usage;
    return std::nullopt;
  }
  auto count = parse_integer(text.substr(0, slash));
  std::string_view per = text.substr(slash + 1);
  std::size_t digits = 0;
  auto k = leading_number(per, digits);
  std::string_view unit = per.substr(digits);
  auto it = std::find(std::begin(kRateUnits), std::end(kRateUnits), unit);
  if (!count || (digits > 0 && !k) || it == std::end(kRateUnits)) {
    why = "invalid rate " + quote(text) + usage;
    if (count && (digits == 0 || k) && it == std::end(kRateUnits) && !unit.empty()) {
      why += suggest(unit, kRateUnits);
    }
    return std::nullopt;
  }
  Rate r;
  r.count = *count;
  const std::uint64_t scale = kRateUnitMs[it - std::begin(kRateUnits)];
  const std::uint64_t multiple = digits > 0 ? *k : 1;
  // Periods above 7 days are refused by the caller; the cap only keeps the product in range.
  r.period_ms = multiple > 366 * kDay ? 366 * kDay : multiple * scale;
  return r;
}

// A field name as HTTP spells it: a token (RFC 9110 5.6.2).
bool valid_token(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// One element of a limit's `key` list; `why` says what is wrong otherwise.
std::optional<KeyPart> parse_key_part(std::string_view text, std::string& why) {
  auto fixed = std::find(std::begin(kFixedKeyParts), std::end(kFixedKeyParts), text);
  if (fixed != std::end(kFixedKeyParts)) {
    return KeyPart{kFixedKeyKinds[fixed - std::begin(kFixedKeyParts)], ""};
  }
  const std::size_t dot = text.find('.');
  const std::string_view head = text.substr(0, dot);
  auto named = std::find(std::begin(kNamedKeyParts), std::end(kNamedKeyParts), head);
  if (named != std::end(kNamedKeyParts)) {
    const std::string_view name = dot == std::string_view::npos ? "" : text.substr(dot + 1);
    const KeyPartKind kind = kNamedKeyKinds[named - std::begin(kNamedKeyParts)];
    if (name.empty()) {
      why = "key part " + quote(text) + " needs a name: " + std::string(head) + ".NAME";
      return std::nullopt;
    }
    if (kind == KeyPartKind::Header) {
      if (!valid_token(name) || name.size() > kMaxKeyPartName) {
        why = "invalid header name " + quote(name) +
              ": use 1-64 token characters (letters, digits, !#$%&'*+-.^_`|~)";
        return std::nullopt;
      }
      std::string lowered(name);
      for (char& c : lowered) {
        c = lower(c);  // field names are case-insensitive
      }
      return KeyPart{kind, std::move(lowered)};
    }
    if (!printable(name) || name.size() > kMaxKeyPartName) {
      why = "invalid " + std::string(head) + " name " + quote(name) +
            ": use 1-64 printable characters without spaces";
      return std::nullopt;
    }
    return KeyPart{kind, std::string(name)};
  }
  why = "unknown key part " + quote(text) +
        ": use client.ip, client.prefix, route, method, clearance.id, header.NAME, cookie.NAME, "
        "query.NAME, "
        "body.NAME or email_domain.NAME";
  std::string_view best = closest(head, kNamedKeyParts);
  if (dot != std::string_view::npos && !best.empty()) {
    // "headers.x" -> "header.x": name the whole part, not just the word before the dot.
    why += " (did you mean '" + std::string(best) + std::string(text.substr(dot)) + "'?)";
  } else {
    why += suggest(text, kFixedKeyParts);
  }
  return std::nullopt;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// A Host to match: a DNS name (letters, digits, '-', '_', '.') or a bracketed IPv6 literal, no
// port.
bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 4) {
      return false;
    }
    std::string_view inner = host.substr(1, host.size() - 2);
    return inner.find(':') != std::string_view::npos && client::parse_ip(inner).has_value();
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return host.front() != '.' && host.find("..") == std::string_view::npos;
}

// Printable ASCII without space, '?' or '#': a path as the parser hands it to the router.
bool valid_path(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return false;
  }
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '?' || c == '#') {
      return false;
    }
  }
  return true;
}

const char* type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a value";
  }
}

// YAML::Node's operator= writes into the document instead of rebinding, so Fields are never
// assigned (no sorting or partitioning of them).
struct Field {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;

  Field(std::string k, const YAML::Node& kn, const YAML::Node& v)
      : key(std::move(k)), key_node(kn), value(v) {}
  Field(const Field&) = default;
  Field& operator=(const Field&) = delete;
};

// Counts documents without building them. yaml-cpp 0.7 never consumes a stray flow token at the
// document level ("," or "[a],"): LoadAll() then loops forever, each pass starting a new empty
// document at the same position. Such a repeat is reported as a syntax error instead.
struct DocumentScan {
  int documents = 0;
  bool stuck = false;
  YAML::Mark second;  // where the second document (or the stuck token) starts
};

class DocumentCounter : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

DocumentScan scan_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (counter.starts.size() < 3 && parser.HandleNextDocument(counter)) {
  }
  DocumentScan scan;
  scan.documents = static_cast<int>(counter.starts.size());
  if (scan.documents >= 2) {
    scan.second = counter.starts[1];
    for (std::size_t i = 1; i < counter.starts.size(); ++i) {
      if (counter.starts[i].pos == counter.starts[i - 1].pos) {
        scan.stuck = true;
        scan.second = counter.starts[i];
        break;
      }
    }
  }
  return scan;
}

// A file's identity, so that two spellings of one path are one file (include cycles).
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  friend bool operator==(const FileId&, const FileId&) = default;
};

struct FileText {
  std::string text;  // at most kMaxConfigBytes + 1 bytes: enough to refuse a larger file
  FileId id;
};

// Reads a configuration file; the reason ("No such file or directory", "it is a directory")
// on failure. `regular_only` refuses FIFOs and devices before opening them: an included name
// must not block the loader or touch a device.
std::optional<std::string> read_text(const std::string& path, bool regular_only, FileText& out) {
  struct stat st {};
  if (regular_only) {
    if (::stat(path.c_str(), &st) != 0) {
      return std::generic_category().message(errno);
    }
    if (S_ISDIR(st.st_mode)) {
      return "it is a directory";
    }
    if (!S_ISREG(st.st_mode)) {
      return "it is not a regular file";
    }
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) {
    return std::generic_category().message(errno);
  }
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return "it is a directory";
  }
  out.id = FileId{st.st_dev, st.st_ino};
  char buf[16384];
  int read_errno = 0;
  while (out.text.size() <= kMaxConfigBytes) {  // one byte past the cap is enough to refuse it
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      read_errno = errno;
    }
    if (n <= 0) {
      break;
    }
    out.text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (read_errno != 0) {
    return std::generic_category().message(read_errno);
  }
  return std::nullopt;
}

// `name` as written in a file, relative to that file's directory unless absolute.
std::string relative_to(const std::string& including_file, const std::string& name) {
  if (!name.empty() && name.front() == '/') {
    return name;
  }
  std::string_view rest = name;
  while (rest.starts_with("./")) {
    rest.remove_prefix(2);
  }
  const std::size_t slash = including_file.rfind('/');
  if (slash == std::string::npos) {
    return std::string(rest);
  }
  return including_file.substr(0, slash + 1) + std::string(rest);
}

// An absolute form of `path` (relative to the current directory). ".." is left to the kernel:
// dropping it by hand would be wrong after a symbolic link.
std::string absolute_path(const std::string& path) {
  if (!path.empty() && path.front() == '/') {
    return path;
  }
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.string();
}

class Loader {
 public:
  Loader(std::string file, std::string source_path) : file_(std::move(file)) {
    config_.source_path = std::move(source_path);
  }

  // `id` is set when `yaml` was read from the file named file_.
  LoadResult run(std::string_view yaml, std::optional<FileId> id);

 private:
  struct LoadedFile {
    std::string name;
    std::optional<FileId> id;
    SourceMark included_at;  // the include entry naming it; empty for the main file
  };
  struct Include {
    std::string path;  // "include[1]"
    std::string name;  // as written
    SourceMark at;
  };
  struct RouteRef {
    std::string path;  // "routes[2]", counted within its own file
    SourceMark upstream_mark;
  };

  SourceMark mark(const YAML::Mark& m) const {
    if (m.line < 0) {
      return SourceMark{file_, 1, 1};  // yaml-cpp's null mark: an empty document
    }
    return SourceMark{file_, m.line + 1, m.column + 1};
  }
  SourceMark key_mark(const Field& f) const { return mark(f.key_node.Mark()); }
  // An empty value ("key:") carries the position of whatever follows it: point at the key.
  SourceMark value_mark(const Field& f) const {
    return f.value.IsNull() ? key_mark(f) : mark(f.value.Mark());
  }

  SourceMark mark_of(const std::string& path, const SourceMark& fallback) const {
    auto it = marks_.find(path);
    return it != marks_.end() ? it->second : fallback;
  }

  // "other.yaml:7:5"
  static std::string position(const SourceMark& m) {
    return m.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
  }
  // "first at line 7" within the file being read, "first at other.yaml:7:5" across files.
  std::string first_at(const SourceMark& m) const {
    if (m.file == file_) {
      return "first at line " + std::to_string(m.line);
    }
    return "first at " + position(m);
  }
  // `path` of something at `m`, with m's file when that differs from `here`'s.
  static std::string place(const std::string& path, const SourceMark& m, const SourceMark& here) {
    if (m.file == here.file) {
      return path;
    }
    return path + " (" + position(m) + ")";
  }

  void error(const SourceMark& at, std::string message) {
    if (errors_.size() == kMaxConfigErrors) {
      errors_.push_back(ConfigError{at, "too many errors; stopping here"});
    }
    if (errors_.size() > kMaxConfigErrors) {
      return;
    }
    errors_.push_back(ConfigError{at, std::move(message)});
  }

  std::vector<Field> fields(const YAML::Node& map, std::span<const std::string_view> known,
                            const std::string& section);
  // fn(field, "<path>.<key>") for each known key of `map`.
  template <class Fn>
  void each_field(const YAML::Node& map, std::span<const std::string_view> known,
                  const std::string& path, Fn fn);
  // The same for a section that must be a map; false when it is not one (or is empty).
  template <class Fn>
  bool each_section_field(const Field& f, std::span<const std::string_view> known,
                          const std::string& path, Fn fn);
  // A section that must be a map; a null value counts as an empty map.
  bool section_map(const Field& f, const std::string& path);
  std::optional<std::string> scalar(const Field& f, const std::string& path);
  std::optional<std::string> scalar_node(const YAML::Node& n, const SourceMark& at,
                                         const std::string& path);
  // A scalar naming a file: not empty, no NUL byte.
  std::optional<std::string> file_name(const YAML::Node& n, const SourceMark& at,
                                       const std::string& path);

  void read_bool(const Field& f, const std::string& path, bool& out);
  // A scalar parsed by `parse` (nullopt and a reason on failure) and kept within [lo, hi].
  template <class T, class Parse, class Format>
  bool read_number(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                   T& out, Parse parse, Format format);
  template <class T>
  bool read_uint(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                 T& out);
  template <class T>
  bool read_size(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                 T& out);
  template <class T>
  bool read_duration(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                     T& out);
  struct Timeout {
    std::string_view key;
    Millis* out;
  };
  // The timeout (1ms to 24h) among `timeouts` that f names; false when f names none.
  bool read_timeout(const Field& f, const std::string& path, std::span<const Timeout> timeouts);
  bool read_socket_address(const YAML::Node& n, const SourceMark& at, const std::string& path,
                           bool allow_port0, client::SocketAddress& out);
  void read_cidrs(const Field& f, const std::string& path, std::size_t max,
                  std::vector<client::Cidr>& out);
  // Whether f's value is a list ("<path>: expected <what>, got ..."), not empty when `if_empty`
  // says why it must not be, and of at most `max` items counting `held` already taken.
  bool check_list(const Field& f, const std::string& path, std::string_view what, std::size_t held,
                  std::size_t max, std::string_view unit, std::string_view if_empty = {});
  // fn(item, "<path>[i]", item mark) for each item of a list.
  template <class Fn>
  void for_each_item(const YAML::Node& list, const std::string& path, Fn fn);
  // fn(text, "<path>[i]", item mark) for each item that is a single value.
  template <class Fn>
  void for_each_scalar(const YAML::Node& list, const std::string& path, Fn fn);
  // Appends `value` unless `same` finds it in `list` ("<path>: duplicate <what>").
  template <class T, class Same = std::equal_to<>>
  bool add_unique(std::vector<T>& list, T value, const SourceMark& at, const std::string& path,
                  const std::string& what, Same same = {});
  // "<prefix>.<key> (v) must not exceed <cap_key> (c)" when value > cap, at the key's value, else
  // the cap's, else `fallback`.
  template <class Format>
  void not_above(const std::string& prefix, std::string_view key, std::uint64_t value,
                 std::string_view cap_key, std::uint64_t cap, const SourceMark& fallback,
                 Format format);
  // "<path>: A is already used by listen[j]" for each listener on `address`; one on port 0
  // counts only when `port0_clashes`.
  void check_not_listened(const client::SocketAddress& address, const SourceMark& at,
                          const std::string& path, bool port0_clashes);
  // A name: 1-64 letters, digits, '_', '-' or '.'.
  bool check_name(const std::string& name, const SourceMark& at, const std::string& path);
  // False (and an error per match) when an earlier sibling has `name`:
  // "<path>: duplicate <what> 'x'<extra> (first at ...)".
  template <class T>
  bool first_use(const std::vector<T>& siblings, const std::string& name, const SourceMark& at,
                 const std::string& path, std::string_view what, std::string_view extra);
  // A `name` field: a valid name, reported when an earlier sibling has it too.
  template <class T>
  void read_unique_name(const Field& f, const std::string& path, const std::vector<T>& siblings,
                        std::string_view what, std::string_view extra, std::string& out);

  // One file's text (the main one or an included one, named file_).
  void load_text(std::string_view yaml, bool main);
  void load_document(const YAML::Node& root, bool main);
  bool claim_section(const Field& f);
  void collect_includes(const Field& f, std::vector<Include>& out);
  void load_include(const Include& inc);
  void load_server(const Field& f);
  void load_listen(const Field& f);
  void load_admin(const Field& f);
  void load_clients(const Field& f);
  void load_limits(const Field& f);
  void load_upstreams(const Field& f);
  void load_upstream(const std::string& name, const YAML::Node& node, const SourceMark& at);
  void load_routes(const Field& f);
  void load_route(const YAML::Node& node, const std::string& path);
  void load_match(const Field& f, const std::string& path, RouteConfig& route);
  void load_route_limits(const Field& f, const std::string& path, RouteConfig& route);
  void load_route_limit(const YAML::Node& node, const std::string& path, RouteConfig& route);
  void load_key(const Field& f, const std::string& path, LimitConfig& limit);
  void load_action(const Field& f, const std::string& path, LimitAction& action);
  void load_count_when(const Field& f, const std::string& path, LimitConfig& limit);
  void load_lists(const Field& f);
  void load_list_files(const Field& f, const std::string& path, std::vector<std::string>& out);
  void load_bans(const Field& f);
  void load_secrets(const Field& f);
  void load_state_dir(const Field& f);
  void load_access_log(const Field& f);
  void load_routing(const Field& f);
  void check_decide();
  void load_residents(const Field& f);
  void load_challenge(const Field& f);
  void load_levels(const Field& f, const std::string& path);
  void load_reputation(const Field& f);
  void load_rule(const YAML::Node& node, const std::string& path);
  void load_threshold(const YAML::Node& node, const std::string& path);
  void load_admission(const Field& f, const std::string& path, AdmissionConfig& a);
  void load_signup(const Field& f, const std::string& path, RouteConfig& route);
  void load_trigger(const YAML::Node& node, const std::string& path, SignupConfig& signup);
  void load_classes(const Field& f, const std::string& path, LimitConfig& limit);
  void read_statuses(const Field& f, const std::string& path, std::vector<std::uint16_t>& out);
  // A list of HTTP methods, upper case as on the wire, without duplicates.
  void read_methods(const Field& f, const std::string& path, std::vector<http::Method>& out);
  void read_cookie_name(const Field& f, const std::string& path, std::string& out);
  void read_header_names(const Field& f, const std::string& path, std::vector<std::string>& out);
  // One of `names` (index into it), or nullopt with "unknown <what>".
  std::optional<std::size_t> read_choice(const Field& f, const std::string& path,
                                         std::span<const std::string_view> names,
                                         std::string_view what);
  void check_all();
  void finish();

  std::string file_;  // the file being read; error marks name it
  Config config_;
  std::vector<ConfigError> errors_;
  std::map<std::string, SourceMark> marks_;  // value position by path, for cross-field checks
  std::vector<RouteRef> route_refs_;         // parallel to config_.routes
  std::vector<std::string> listen_paths_;    // parallel to config_.listen: "listen[0]"
  SourceMark upstreams_mark_;
  SourceMark root_mark_;
  std::vector<LoadedFile> files_;           // every file read, in order; [0] is the main one
  std::vector<std::size_t> include_stack_;  // indexes into files_, main file first
  std::map<std::string, SourceMark> section_owner_;  // single sections: where each was set
  bool root_ok_ = false;                             // the main file is a map of sections
  bool incomplete_ = false;  // some file could not be read or parsed: skip whole-config checks
  bool has_listen_ = false;
  bool has_upstreams_ = false;
  bool routes_given_ = false;
  std::vector<std::string> route_paths_;  // parallel to config_.routes: "routes[2]"
};

std::vector<Field> Loader::fields(const YAML::Node& map, std::span<const std::string_view> known,
                                  const std::string& section) {
  std::vector<Field> out;
  std::unordered_set<std::string> seen;  // a hostile file may hold thousands of keys
  const std::string where = section.empty() ? "at top level" : "in " + section;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      error(mark(k.Mark()), "keys must be plain names " + where);
      continue;
    }
    std::string key = k.Scalar();
    if (!seen.insert(key).second) {
      error(mark(k.Mark()), "duplicate key " + quote(key) + " " + where);
      continue;
    }
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      error(mark(k.Mark()), "unknown key " + quote(key) + " " + where + suggest(key, known));
      continue;
    }
    const YAML::Node v = it->second;
    out.push_back(Field{std::move(key), k, v});
  }
  return out;
}

template <class Fn>
void Loader::each_field(const YAML::Node& map, std::span<const std::string_view> known,
                        const std::string& path, Fn fn) {
  for (const Field& e : fields(map, known, path)) {
    fn(e, path + "." + e.key);
  }
}

template <class Fn>
bool Loader::each_section_field(const Field& f, std::span<const std::string_view> known,
                                const std::string& path, Fn fn) {
  if (!section_map(f, path)) {
    return false;
  }
  each_field(f.value, known, path, fn);
  return true;
}

bool Loader::section_map(const Field& f, const std::string& path) {
  if (f.value.IsNull()) {
    return false;
  }
  if (!f.value.IsMap()) {
    error(value_mark(f), path + ": expected a map, got " + type_name(f.value));
    return false;
  }
  return true;
}

std::optional<std::string> Loader::scalar_node(const YAML::Node& n, const SourceMark& at,
                                               const std::string& path) {
  if (n.IsNull()) {
    error(at, path + ": missing value");
    return std::nullopt;
  }
  if (!n.IsScalar()) {
    error(at, path + ": expected a single value, got " + type_name(n));
    return std::nullopt;
  }
  marks_[path] = at;
  return n.Scalar();
}

std::optional<std::string> Loader::scalar(const Field& f, const std::string& path) {
  return scalar_node(f.value, value_mark(f), path);
}

std::optional<std::string> Loader::file_name(const YAML::Node& n, const SourceMark& at,
                                             const std::string& path) {
  auto text = scalar_node(n, at, path);
  if (!text) {
    return std::nullopt;
  }
  if (text->empty()) {
    error(at, path + ": must not be empty");
    return std::nullopt;
  }
  if (text->find('\0') != std::string::npos) {
    error(at, path + ": a file name must not hold a NUL byte");
    return std::nullopt;
  }
  return text;
}

void Loader::read_bool(const Field& f, const std::string& path, bool& out) {
  auto text = scalar(f, path);
  if (!text) {
    return;
  }
  if (*text == "true" || *text == "True" || *text == "TRUE") {
    out = true;
  } else if (*text == "false" || *text == "False" || *text == "FALSE") {
    out = false;
  } else {
    error(value_mark(f), path + ": expected true or false, got " + quote(*text));
  }
}

template <class T, class Parse, class Format>
bool Loader::read_number(const Field& f, const std::string& path, std::uint64_t lo,
                         std::uint64_t hi, T& out, Parse parse, Format format) {
  auto text = scalar(f, path);
  if (!text) {
    return false;
  }
  std::string why;
  auto n = parse(*text, why);
  if (!n) {
    error(value_mark(f), path + ": " + why);
    return false;
  }
  if (*n < lo || *n > hi) {
    error(value_mark(f),
          path + ": must be between " + format(lo) + " and " + format(hi) + ", got " + *text);
    return false;
  }
  out = static_cast<T>(*n);
  return true;
}

template <class T>
bool Loader::read_uint(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                       T& out) {
  auto parse = [](std::string_view text, std::string& why) {
    auto n = parse_integer(text);
    if (!n) {
      why = "expected a whole number, got " + quote(text);
    }
    return n;
  };
  return read_number(f, path, lo, hi, out, parse, format_count);
}

template <class T>
bool Loader::read_size(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                       T& out) {
  return read_number(f, path, lo, hi, out, parse_size, format_size);
}

template <class T>
bool Loader::read_duration(const Field& f, const std::string& path, std::uint64_t lo,
                           std::uint64_t hi, T& out) {
  return read_number(f, path, lo, hi, out, parse_duration, format_duration);
}

bool Loader::read_timeout(const Field& f, const std::string& path,
                          std::span<const Timeout> timeouts) {
  for (const Timeout& t : timeouts) {
    if (f.key == t.key) {
      read_duration(f, path, 1, kMaxTimeout, *t.out);
      return true;
    }
  }
  return false;
}

bool Loader::read_socket_address(const YAML::Node& n, const SourceMark& at, const std::string& path,
                                 bool allow_port0, client::SocketAddress& out) {
  auto text = scalar_node(n, at, path);
  if (!text) {
    return false;
  }
  auto addr = client::parse_socket_address(*text);
  if (!addr) {
    error(at, path + ": invalid address " + quote(*text) +
                  ": expected IPv4:port, [IPv6]:port or localhost:port");
    return false;
  }
  if (!allow_port0 && addr->port == 0) {
    error(at, path + ": port 0 is not allowed here");
    return false;
  }
  out = *addr;
  return true;
}

void Loader::load_server(const Field& f) {
  each_section_field(f, kServerKeys, "server", [&](const Field& e, const std::string& key_path) {
    if (e.key == "workers") {
      read_uint(e, key_path, 0, 256, config_.server.workers);
    }
  });
}

void Loader::load_listen(const Field& f) {
  has_listen_ = true;
  if (f.value.IsNull() || (f.value.IsSequence() && f.value.size() == 0)) {
    error(key_mark(f), "listen: at least one listener is required");
    return;
  }
  if (!check_list(f, "listen", "a list of listeners", config_.listen.size(), kMaxListeners,
                  "listeners")) {
    return;
  }
  for_each_item(
      f.value, "listen",
      [&](const YAML::Node& item, const std::string& path, const SourceMark& at) {
        if (!item.IsMap()) {
          error(at, path + ": expected a map with 'address', got " + type_name(item));
          return;
        }
        ListenConfig listen;
        listen.mark = at;
        bool has_address = false;
        bool address_ok = false;
        SourceMark address_mark = at;
        each_field(item, kListenKeys, path, [&](const Field& e, const std::string& key_path) {
          if (e.key == "address") {
            has_address = true;
            address_mark = value_mark(e);
            address_ok =
                read_socket_address(e.value, address_mark, path + ".address", true, listen.address);
          } else if (e.key == "proxy_protocol") {
            read_bool(e, path + ".proxy_protocol", listen.proxy_protocol);
          } else if (e.key == "decide") {
            if (auto i = read_choice(e, path + ".decide", kDecideHosts, "proxy")) {
              listen.decide = static_cast<DecideFor>(*i + 1);
            }
          }
        });
        if (!has_address) {
          error(at, path + ": missing required key 'address'");
        }
        if (address_ok) {
          check_not_listened(listen.address, address_mark, path + ".address", false);
        }
        config_.listen.push_back(std::move(listen));
        listen_paths_.push_back(path);
      });
}

void Loader::load_admin(const Field& f) {
  each_section_field(f, kAdminKeys, "admin", [&](const Field& e, const std::string& key_path) {
    if (e.key == "address") {
      read_socket_address(e.value, value_mark(e), key_path, true, config_.admin.address);
    } else if (e.key == "token_file") {
      if (auto text = scalar(e, key_path)) {
        if (text->empty()) {
          error(value_mark(e),
                "admin.token_file: must not be empty (leave the key out to disable admin changes)");
        } else {
          config_.admin.token_file = *text;
        }
      }
    } else if (e.key == "enabled") {
      read_bool(e, key_path, config_.admin.enabled);
    }
  });
}

void Loader::load_clients(const Field& f) {
  each_section_field(f, kClientsKeys, "clients", [&](const Field& e, const std::string& key_path) {
    if (e.key == "ipv4_prefix") {
      read_uint(e, key_path, 8, 32, config_.clients.ipv4_prefix);
    } else if (e.key == "ipv6_prefix") {
      read_uint(e, key_path, 16, 128, config_.clients.ipv6_prefix);
    } else if (e.key == "trusted_proxies") {
      read_cidrs(e, key_path, kMaxTrustedProxies, config_.clients.trusted_proxies);
    }
  });
}

void Loader::read_cidrs(const Field& f, const std::string& path, std::size_t max,
                        std::vector<client::Cidr>& out) {
  if (f.value.IsNull() ||
      !check_list(f, path, "a list of addresses or CIDRs", out.size(), max, "entries")) {
    return;
  }
  for_each_scalar(f.value, path,
                  [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
                    auto cidr = client::parse_cidr(text);
                    if (!cidr) {
                      error(at, item_path + ": invalid address or CIDR " + quote(text));
                      return;
                    }
                    out.push_back(*cidr);
                  });
}

bool Loader::check_list(const Field& f, const std::string& path, std::string_view what,
                        std::size_t held, std::size_t max, std::string_view unit,
                        std::string_view if_empty) {
  if (!f.value.IsSequence()) {
    error(value_mark(f), path + ": expected " + std::string(what) + ", got " + type_name(f.value));
    return false;
  }
  if (!if_empty.empty() && f.value.size() == 0) {
    error(value_mark(f), path + ": " + std::string(if_empty));
    return false;
  }
  if (held + f.value.size() > max) {
    error(value_mark(f), path + ": at most " + std::to_string(max) + " " + std::string(unit));
    return false;
  }
  return true;
}

template <class Fn>
void Loader::for_each_item(const YAML::Node& list, const std::string& path, Fn fn) {
  std::size_t i = 0;
  for (const YAML::Node& item : list) {
    const std::string item_path = path + "[" + std::to_string(i++) + "]";
    fn(item, item_path, mark(item.Mark()));
  }
}

template <class Fn>
void Loader::for_each_scalar(const YAML::Node& list, const std::string& path, Fn fn) {
  for_each_item(list, path,
                [&](const YAML::Node& item, const std::string& item_path, const SourceMark& at) {
                  if (auto text = scalar_node(item, at, item_path)) {
                    fn(*text, item_path, at);
                  }
                });
}

template <class T, class Same>
bool Loader::add_unique(std::vector<T>& list, T value, const SourceMark& at,
                        const std::string& path, const std::string& what, Same same) {
  auto is_value = [&](const T& x) { return same(x, value); };
  if (std::any_of(list.begin(), list.end(), is_value)) {
    error(at, path + ": duplicate " + what);
    return false;
  }
  list.push_back(std::move(value));
  return true;
}

template <class Format>
void Loader::not_above(const std::string& prefix, std::string_view key, std::uint64_t value,
                       std::string_view cap_key, std::uint64_t cap, const SourceMark& fallback,
                       Format format) {
  if (value <= cap) {
    return;
  }
  const std::string path = prefix + "." + std::string(key);
  error(mark_of(path, mark_of(prefix + "." + std::string(cap_key), fallback)),
        path + " (" + format(value) + ") must not exceed " + std::string(cap_key) + " (" +
            format(cap) + ")");
}

void Loader::check_not_listened(const client::SocketAddress& address, const SourceMark& at,
                                const std::string& path, bool port0_clashes) {
  for (std::size_t j = 0; j < config_.listen.size(); ++j) {
    const ListenConfig& other = config_.listen[j];
    if (other.address == address && (port0_clashes || other.address.port != 0)) {
      error(at, path + ": " + client::format_socket_address(address) + " is already used by " +
                    place(listen_paths_[j], other.mark, at));
    }
  }
}

bool Loader::check_name(const std::string& name, const SourceMark& at, const std::string& path) {
  if (!valid_name(name)) {
    error(at,
          path + ": invalid name " + quote(name) + ": use 1-64 letters, digits, '_', '-' or '.'");
    return false;
  }
  return true;
}

template <class T>
bool Loader::first_use(const std::vector<T>& siblings, const std::string& name,
                       const SourceMark& at, const std::string& path, std::string_view what,
                       std::string_view extra) {
  bool first = true;
  for (const T& other : siblings) {
    if (other.name == name) {
      error(at, path + ": duplicate " + std::string(what) + " " + quote(name) + std::string(extra) +
                    " (" + first_at(other.mark) + ")");
      first = false;
    }
  }
  return first;
}

template <class T>
void Loader::read_unique_name(const Field& f, const std::string& path,
                              const std::vector<T>& siblings, std::string_view what,
                              std::string_view extra, std::string& out) {
  auto text = scalar(f, path);
  if (!text || !check_name(*text, value_mark(f), path)) {
    return;
  }
  first_use(siblings, *text, value_mark(f), path, what, extra);
  out = *text;
}

void Loader::load_limits(const Field& f) {
  LimitsConfig& l = config_.limits;
  const Timeout timeouts[] = {{"head_timeout", &l.head_timeout},
                              {"body_idle_timeout", &l.body_idle_timeout},
                              {"keepalive_timeout", &l.keepalive_timeout},
                              {"send_timeout", &l.send_timeout}};
  if (!each_section_field(f, kLimitsKeys, "limits", [&](const Field& e, const std::string& path) {
        if (read_timeout(e, path, timeouts)) {
          return;
        }
        if (e.key == "max_head_size") {
          read_size(e, path, kKiB, kMiB, l.max_head_bytes);
        } else if (e.key == "max_header_fields") {
          read_uint(e, path, 1, http::kMaxHeaderFields, l.max_header_fields);
        } else if (e.key == "max_target_size") {
          read_size(e, path, 64, kMiB, l.max_target_bytes);
        } else if (e.key == "max_body_size") {
          read_size(e, path, 0, 16 * kGiB, l.max_body_bytes);
        } else if (e.key == "max_connections") {
          read_uint(e, path, 1, 10'000'000, l.max_connections);
        } else if (e.key == "max_connections_per_client") {
          read_uint(e, path, 1, 10'000'000, l.max_connections_per_client);
        } else if (e.key == "shutdown_grace") {
          read_duration(e, path, 0, kMaxTimeout, l.shutdown_grace);
        }
      })) {
    return;
  }
  const SourceMark section = key_mark(f);
  not_above("limits", "max_target_size", l.max_target_bytes, "max_head_size", l.max_head_bytes,
            section, format_size);
  not_above("limits", "max_connections_per_client", l.max_connections_per_client, "max_connections",
            l.max_connections, section, format_count);
}

void Loader::load_upstreams(const Field& f) {
  if (!has_upstreams_) {
    upstreams_mark_ = key_mark(f);
  }
  has_upstreams_ = true;
  if (f.value.IsNull() || (f.value.IsMap() && f.value.size() == 0)) {
    error(key_mark(f), "upstreams: at least one upstream is required");
    return;
  }
  if (!f.value.IsMap()) {
    error(value_mark(f),
          std::string("upstreams: expected a map of name to upstream, got ") + type_name(f.value));
    return;
  }
  if (config_.upstreams.size() + f.value.size() > kMaxUpstreams) {
    error(value_mark(f), "upstreams: at most " + std::to_string(kMaxUpstreams) + " upstreams");
    return;
  }
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    const SourceMark at = mark(key.Mark());
    if (!key.IsScalar()) {
      error(at, "upstreams: names must be plain strings");
      continue;
    }
    const std::string& name = key.Scalar();
    if (!check_name(name, at, "upstreams") ||
        !first_use(config_.upstreams, name, at, "upstreams", "upstream", "")) {
      continue;
    }
    load_upstream(name, value, at);
  }
}

void Loader::load_upstream(const std::string& name, const YAML::Node& node, const SourceMark& at) {
  const std::string path = "upstreams." + name;
  UpstreamConfig u;
  u.name = name;
  u.mark = at;
  if (!node.IsMap()) {
    error(node.IsNull() ? at : mark(node.Mark()),
          path + ": expected a map with 'servers', got " + type_name(node));
    config_.upstreams.push_back(std::move(u));
    return;
  }
  bool has_servers = false;
  const Timeout timeouts[] = {{"connect_timeout", &u.connect_timeout},
                              {"first_byte_timeout", &u.first_byte_timeout},
                              {"idle_timeout", &u.idle_timeout},
                              {"keepalive_timeout", &u.keepalive_timeout}};
  each_field(node, kUpstreamKeys, path, [&](const Field& e, const std::string& key_path) {
    if (read_timeout(e, key_path, timeouts)) {
      return;
    }
    if (e.key == "servers") {
      has_servers = true;
      if (e.value.IsNull() || (e.value.IsSequence() && e.value.size() == 0)) {
        error(value_mark(e), key_path + ": at least one server is required");
        return;
      }
      if (!check_list(e, key_path, "a list of addresses", 0, kMaxServers, "servers")) {
        return;
      }
      for_each_item(
          e.value, key_path,
          [&](const YAML::Node& item, const std::string& item_path, const SourceMark& at) {
            client::SocketAddress addr;
            if (read_socket_address(item, at, item_path, false, addr)) {
              add_unique(u.servers, addr, at, item_path,
                         "server " + client::format_socket_address(addr));
            }
          });
    } else if (e.key == "max_connections") {
      read_uint(e, key_path, 1, 100'000, u.max_connections);
    } else if (e.key == "max_idle_connections") {
      read_uint(e, key_path, 0, 100'000, u.max_idle_connections);
    } else if (e.key == "admission") {
      load_admission(e, key_path, u.admission);
    }
  });
  if (!has_servers) {
    error(at, path + ": missing required key 'servers'");
  }
  not_above(path, "max_idle_connections", u.max_idle_connections, "max_connections",
            u.max_connections, at, format_count);
  config_.upstreams.push_back(std::move(u));
}

void Loader::load_routes(const Field& f) {
  if (f.value.IsNull()) {
    return;
  }
  if (f.value.IsSequence() && f.value.size() > 0) {
    routes_given_ = true;
  }
  if (!check_list(f, "routes", "a list of routes", config_.routes.size(), kMaxRoutes, "routes")) {
    return;
  }
  for_each_item(f.value, "routes",
                [&](const YAML::Node& item, const std::string& path, const SourceMark&) {
                  load_route(item, path);
                });
}

void Loader::load_route(const YAML::Node& node, const std::string& path) {
  RouteConfig route;
  route.mark = mark(node.Mark());
  SourceMark upstream_mark = route.mark;
  if (!node.IsMap()) {
    error(route.mark, path + ": expected a map with 'name', got " + type_name(node));
    return;
  }
  bool has_name = false;
  const Field* signup = nullptr;  // read after `class`, whatever the order in the file
  const std::vector<Field> route_fields = fields(node, kRouteKeys, path);
  for (const Field& e : route_fields) {
    const std::string key_path = path + "." + e.key;
    [&] {
      if (e.key == "name") {
        has_name = true;
        read_unique_name(e, key_path, config_.routes, "route name", "", route.name);
      } else if (e.key == "match") {
        load_match(e, key_path, route);
      } else if (e.key == "class") {
        auto text = scalar(e, key_path);
        if (!text) {
          return;
        }
        auto it = std::find(std::begin(kClassNames), std::end(kClassNames), *text);
        if (it == std::end(kClassNames)) {
          error(value_mark(e), key_path + ": unknown class " + quote(*text) +
                                   ": use login, signup, api, static or other" +
                                   suggest(*text, kClassNames));
          return;
        }
        route.route_class = kClasses[it - std::begin(kClassNames)];
      } else if (e.key == "upstream") {
        auto text = scalar(e, key_path);
        if (!text) {
          return;
        }
        route.upstream = *text;
        upstream_mark = value_mark(e);
        if (text->empty()) {
          error(upstream_mark, key_path + ": must not be empty");
        }
      } else if (e.key == "max_body_size") {
        read_size(e, key_path, 1, 16 * kGiB, route.max_body_bytes);
      } else if (e.key == "body_key_bytes") {
        read_size(e, key_path, 256, 64 * kKiB, route.body_key_bytes);
      } else if (e.key == "limits") {
        load_route_limits(e, key_path, route);
      } else if (e.key == "require_clearance") {
        read_bool(e, key_path, route.require_clearance);
      } else if (e.key == "signup") {
        signup = &e;
      }
    }();
  }
  if (signup != nullptr) {
    if (route.route_class != RouteClass::Signup) {
      error(key_mark(*signup), path + ".signup: only a route of class signup has a sign-up mode");
    } else {
      load_signup(*signup, path + ".signup", route);
    }
  }
  if (!has_name) {
    error(route.mark, path + ": missing required key 'name'");
  }
  route_paths_.push_back(path);
  config_.routes.push_back(std::move(route));
  route_refs_.push_back(RouteRef{path, upstream_mark});
}

void Loader::load_match(const Field& f, const std::string& path, RouteConfig& route) {
  if (!section_map(f, path)) {
    return;
  }
  RouteMatch& m = route.match;
  int path_kinds = 0;
  each_field(f.value, kMatchKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "methods") {
      read_methods(e, key_path, m.methods);
      return;
    }
    auto text = scalar(e, key_path);
    if (!text) {
      return;
    }
    const SourceMark at = value_mark(e);
    if (e.key == "host") {
      std::string host = *text;
      for (char& c : host) {
        c = lower(c);
      }
      if (!host.empty() && host.front() != '[' && host.back() == '.') {
        host.pop_back();
      }
      if (!valid_host(host)) {
        std::string why = host.find(':') != std::string::npos && host.front() != '['
                              ? ": leave out the port (the request's port is ignored)"
                              : ": expected a host name or [IPv6] literal";
        error(at, key_path + ": invalid host " + quote(*text) + why);
        return;
      }
      m.host = host;
    } else if (e.key == "path" || e.key == "path_prefix") {
      ++path_kinds;
      if (!valid_path(*text)) {
        error(at, key_path +
                      ": must start with '/' and hold no spaces, control characters, '?' or '#'");
        return;
      }
      // Requests are matched on their canonical path: a spelling it never takes never matches.
      // Case is left alone here: the route table folds both sides when routing ignores case.
      std::string scratch(text->size(), '\0');
      http::PathOptions options;
      options.fold_case = false;
      options.keep_encoded_slashes = true;
      const http::PathResult canon =
          http::canonical_path(*text, options, scratch.data(), scratch.size());
      if (canon.error != http::PathError::None) {
        error(at, key_path + ": " + quote(*text) + " never matches: requests with " +
                      std::string(http::describe(canon.error)) + " are refused");
        return;
      }
      const std::string_view normal = canon.path;
      if (normal != *text) {
        error(at, key_path + ": " + quote(*text) +
                      " never matches: request paths are normalised before matching (write " +
                      quote(normal) + ")");
        return;
      }
      (e.key == "path" ? m.path : m.path_prefix) = *text;
    } else if (e.key == "path_regex") {
      ++path_kinds;
      if (text->empty() || text->size() > kMaxRegexBytes) {
        error(at, key_path + ": must be 1 to " + std::to_string(kMaxRegexBytes) + " characters");
        return;
      }
      if (auto why = check_path_regex(*text)) {
        error(at, key_path + ": invalid regex: " + *why);
        return;
      }
      m.path_regex = *text;
    }
  });
  if (path_kinds > 1) {
    error(value_mark(f), path + ": set only one of path, path_prefix, path_regex");
  }
}

void Loader::load_route_limits(const Field& f, const std::string& path, RouteConfig& route) {
  if (f.value.IsNull() ||
      !check_list(f, path, "a list of limits", 0, kMaxLimitsPerRoute, "limits")) {
    return;
  }
  for_each_item(f.value, path,
                [&](const YAML::Node& item, const std::string& item_path, const SourceMark&) {
                  load_route_limit(item, item_path, route);
                });
}

void Loader::load_route_limit(const YAML::Node& node, const std::string& path, RouteConfig& route) {
  LimitConfig limit;
  limit.mark = mark(node.Mark());
  if (!node.IsMap()) {
    error(limit.mark, path + ": expected a map with 'name' and 'rate', got " + type_name(node));
    return;
  }
  bool has_name = false;
  bool has_rate = false;
  bool rate_ok = false;
  bool has_burst = false;
  SourceMark rate_mark = limit.mark;
  SourceMark burst_mark = limit.mark;
  each_field(node, kLimitKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "name") {
      has_name = true;
      read_unique_name(e, key_path, route.limits, "limit name", " in this route", limit.name);
    } else if (e.key == "key") {
      load_key(e, key_path, limit);
    } else if (e.key == "rate") {
      has_rate = true;
      rate_mark = value_mark(e);
      auto text = scalar(e, key_path);
      if (!text) {
        return;
      }
      std::string why;
      auto rate = parse_rate(*text, why);
      if (!rate) {
        error(rate_mark, key_path + ": " + why);
      } else if (rate->count < 1 || rate->count > kMaxRateCount) {
        error(rate_mark, key_path + ": the count must be between 1 and " +
                             std::to_string(kMaxRateCount) + ", got " + quote(*text));
      } else if (rate->period_ms < 1 || rate->period_ms > 7 * kDay) {
        error(rate_mark, key_path + ": the period must be between 1ms and 7d, got " + quote(*text));
      } else if (rate->count * kSecond > kMaxRatePerSecond * rate->period_ms) {
        error(rate_mark, key_path + ": " + quote(*text) + " is more than " +
                             std::to_string(kMaxRatePerSecond) + " per second");
      } else {
        limit.rate = static_cast<std::uint32_t>(rate->count);
        limit.period = static_cast<Millis>(rate->period_ms);
        rate_ok = true;
      }
    } else if (e.key == "burst") {
      burst_mark = value_mark(e);
      const std::uint32_t before = limit.burst;
      read_uint(e, key_path, 1, kMaxBurst, limit.burst);
      has_burst = limit.burst != before;
    } else if (e.key == "action") {
      load_action(e, key_path, limit.action);
    } else if (e.key == "dry_run") {
      read_bool(e, key_path, limit.dry_run);
    } else if (e.key == "count_when") {
      load_count_when(e, key_path, limit);
    } else if (e.key == "max_keys") {
      read_uint(e, key_path, 16, 50'000'000, limit.max_keys);
    } else if (e.key == "classes") {
      load_classes(e, key_path, limit);
    }
  });
  if (!has_name) {
    error(limit.mark, path + ": missing required key 'name'");
  }
  if (!has_rate) {
    error(limit.mark, path + ": missing required key 'rate'");
  }
  if (rate_ok) {
    if (limit.burst == 0) {
      limit.burst = static_cast<std::uint32_t>(std::min<std::uint64_t>(limit.rate, kMaxBurst));
    }
    // The rate limiter refuses buckets whose emission interval × burst exceeds 2^60 ns (36 years).
    const std::uint64_t period_ns = std::uint64_t{limit.period} * 1'000'000;
    const std::uint64_t interval = (period_ns + limit.rate - 1) / limit.rate;
    if (interval > kMaxBucketSpanNs / limit.burst) {
      error(has_burst ? burst_mark : rate_mark,
            path + ": a burst of " + std::to_string(limit.burst) + " at " +
                std::to_string(limit.rate) + " per " + format_duration(limit.period) +
                " takes more than 36 years to refill: lower the burst or shorten the period");
    }
  }
  route.limits.push_back(std::move(limit));
}

void Loader::load_key(const Field& f, const std::string& path, LimitConfig& limit) {
  if (f.value.IsNull()) {
    return;  // one bucket for the route
  }
  if (!check_list(f, path, "a list of key parts (e.g. [client.ip])", 0, kMaxKeyParts,
                  "key parts")) {
    return;
  }
  auto same = [](const KeyPart& a, const KeyPart& b) {
    return a.kind == b.kind && a.name == b.name;
  };
  for_each_scalar(f.value, path,
                  [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
                    std::string why;
                    auto part = parse_key_part(text, why);
                    if (!part) {
                      error(at, item_path + ": " + why);
                      return;
                    }
                    add_unique(limit.key, std::move(*part), at, item_path,
                               "key part " + quote(text), same);
                  });
}

void Loader::load_action(const Field& f, const std::string& path, LimitAction& action) {
  auto unavailable = [&](const SourceMark& at, std::string_view) {
    error(at, path +
                  ": a limit cannot queue; give the sign-up route a waiting room instead "
                  "(signup: {mode: queue})");
  };
  if (f.value.IsScalar()) {
    const std::string text = *scalar(f, path);
    const SourceMark at = value_mark(f);
    if (text == "reject") {
      action = LimitAction{};
    } else if (text == "drop") {
      action = LimitAction{};
      action.kind = ActionKind::Drop;
    } else if (text == "challenge") {
      action = LimitAction{};
      action.kind = ActionKind::Challenge;
      action.status = 403;
    } else if (text == "queue") {
      unavailable(at, text);
    } else if (text == "delay" || text == "tarpit" || text == "ban") {
      const char* example = text == "delay"    ? "{delay: 2s}"
                            : text == "tarpit" ? "{tarpit: 5s}"
                                               : "{ban: 10m}";
      error(at, path + ": action " + quote(text) + " needs a duration: write " + example);
    } else {
      error(at, path + ": unknown action " + quote(text) +
                    ": use reject, drop, {reject: STATUS}, {delay: D}, {tarpit: D} or {ban: D}" +
                    suggest(text, kActionNames));
    }
    return;
  }
  if (!section_map(f, path)) {
    if (f.value.IsNull()) {
      error(key_mark(f), path + ": missing value");
    }
    return;
  }
  const std::vector<Field> entries = fields(f.value, kActionKeys, path);
  const Field* kind = nullptr;
  const Field* max = nullptr;
  int kinds = 0;
  for (const Field& e : entries) {
    if (e.key == "max") {
      max = &e;
    } else {
      ++kinds;
      if (kind == nullptr) {
        kind = &e;
      }
    }
  }
  if (kinds == 0) {
    error(value_mark(f), path + ": expected one of reject, delay, tarpit or ban as the key");
    return;
  }
  if (kinds > 1) {
    error(value_mark(f), path + ": set only one action");
    return;
  }
  const std::string key_path = path + "." + kind->key;
  LimitAction out;
  bool ok = false;
  if (kind->key == "reject") {
    std::uint16_t status = 0;  // stays 0 when the value is refused
    read_uint(*kind, key_path, 400, 599, status);
    ok = status != 0;
    out.status = ok ? status : out.status;
  } else if (kind->key == "delay") {
    out.kind = ActionKind::Delay;
    ok = read_duration(*kind, key_path, 1, 60 * kSecond, out.delay_max);
  } else if (kind->key == "tarpit") {
    out.kind = ActionKind::Tarpit;
    ok = read_duration(*kind, key_path, 1, 120 * kSecond, out.hold);
  } else if (kind->key == "ban") {
    out.kind = ActionKind::Ban;
    ok = read_duration(*kind, key_path, kSecond, 30 * kDay, out.ban_duration);
  } else if (kind->key == "challenge") {
    out.kind = ActionKind::Challenge;
    out.status = 403;
    ok = read_uint(*kind, key_path, 0, 8, out.level);
  } else if (kind->key == "drop") {
    error(key_mark(*kind), path + ": 'drop' takes no value: write action: drop");
  } else {
    unavailable(key_mark(*kind), kind->key);
  }
  if (max != nullptr) {
    if (out.kind != ActionKind::Ban) {
      error(key_mark(*max), path + ".max: only a ban has a maximum");
      ok = false;
    } else if (read_duration(*max, path + ".max", kSecond, 365 * kDay, out.ban_max) && ok &&
               out.ban_max < out.ban_duration) {
      error(value_mark(*max), path + ".max (" + format_duration(out.ban_max) +
                                  ") must not be below the ban (" +
                                  format_duration(out.ban_duration) + ")");
      ok = false;
    }
  } else if (ok && out.kind == ActionKind::Ban) {
    // Spelled out rather than left 0 ("64 × ban"), capped like an explicit max.
    out.ban_max = std::min<std::uint64_t>(std::uint64_t{out.ban_duration} * 64, 365 * kDay);
  }
  if (ok) {
    action = out;
  }
}

void Loader::load_count_when(const Field& f, const std::string& path, LimitConfig& limit) {
  if (!section_map(f, path)) {
    if (f.value.IsNull()) {
      error(key_mark(f), path + ": missing value (e.g. {status: [401]})");
    }
    return;
  }
  bool has_status = false;
  each_field(f.value, kCountWhenKeys, path, [&](const Field& e, const std::string& key_path) {
    has_status = true;
    if (!check_list(e, key_path, "a list of status codes (e.g. [401, 403])", 0, kMaxStatuses,
                    "statuses",
                    "must not be empty (leave count_when out to count every request)")) {
      return;
    }
    for_each_scalar(
        e.value, key_path,
        [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
          auto n = parse_integer(text);
          if (!n || *n < 100 || *n > 599) {
            error(at, item_path + ": expected a status code from 100 to 599, got " + quote(text));
            return;
          }
          add_unique(limit.count_when_status, static_cast<std::uint16_t>(*n), at, item_path,
                     "status " + text);
        });
  });
  if (!has_status) {
    error(value_mark(f), path + ": missing required key 'status'");
  }
}

void Loader::load_lists(const Field& f) {
  ListsConfig& l = config_.lists;
  each_section_field(f, kListsKeys, "lists", [&](const Field& e, const std::string& path) {
    if (e.key == "allow") {
      read_cidrs(e, path, kMaxListEntries, l.allow);
    } else if (e.key == "deny") {
      read_cidrs(e, path, kMaxListEntries, l.deny);
    } else if (e.key == "allow_files") {
      load_list_files(e, path, l.allow_files);
    } else if (e.key == "deny_files") {
      load_list_files(e, path, l.deny_files);
    }
  });
}

// List files are parsed by the lists stage; here they are only resolved and checked readable,
// so a typo fails the load instead of leaving a list silently empty.
void Loader::load_list_files(const Field& f, const std::string& path,
                             std::vector<std::string>& out) {
  if (f.value.IsNull() ||
      !check_list(f, path, "a list of file names", out.size(), kMaxListFiles, "files")) {
    return;
  }
  for_each_item(f.value, path,
                [&](const YAML::Node& item, const std::string& item_path, const SourceMark& at) {
                  auto name = file_name(item, at, item_path);
                  if (!name) {
                    return;
                  }
                  const std::string resolved = absolute_path(relative_to(file_, *name));
                  struct stat st {};
                  std::string why;
                  if (::stat(resolved.c_str(), &st) != 0) {
                    why = std::generic_category().message(errno);
                  } else if (S_ISDIR(st.st_mode)) {
                    why = "it is a directory";
                  } else if (!S_ISREG(st.st_mode)) {
                    why = "it is not a regular file";
                  } else {
                    int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
                    if (fd < 0) {
                      why = std::generic_category().message(errno);
                    } else {
                      ::close(fd);
                    }
                  }
                  if (!why.empty()) {
                    error(at, item_path + ": cannot read " + quote(resolved) + ": " + why);
                    return;
                  }
                  out.push_back(resolved);
                });
}

void Loader::load_bans(const Field& f) {
  BansConfig& b = config_.bans;
  each_section_field(f, kBansKeys, "bans", [&](const Field& e, const std::string& path) {
    if (e.key == "journal") {
      if (auto name = file_name(e.value, value_mark(e), path)) {
        b.journal = *name;
      }
    } else if (e.key == "max_entries") {
      read_uint(e, path, 16, 10'000'000, b.max_entries);
    } else if (e.key == "escalation_window") {
      read_duration(e, path, kSecond, 365 * kDay, b.escalation_window);
    }
  });
}

void Loader::read_methods(const Field& e, const std::string& key_path,
                          std::vector<http::Method>& out) {
  if (!check_list(e, key_path, "a list of methods", 0, std::numeric_limits<std::size_t>::max(), "",
                  "an empty list matches nothing; leave the key out to match any method")) {
    return;
  }
  if (e.value.size() > 64) {
    error(value_mark(e), key_path + ": too many methods");
    return;
  }
  for_each_scalar(
      e.value, key_path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        auto it = std::find(std::begin(kMethodNames), std::end(kMethodNames), text);
        if (it == std::end(kMethodNames)) {
          error(at, item_path + ": unknown method " + quote(text) + suggest(text, kMethodNames));
          return;
        }
        add_unique(out, kMethods[it - std::begin(kMethodNames)], at, item_path,
                   "method " + quote(text));
      });
}

std::optional<std::size_t> Loader::read_choice(const Field& f, const std::string& path,
                                               std::span<const std::string_view> names,
                                               std::string_view what) {
  auto text = scalar(f, path);
  if (!text) {
    return std::nullopt;
  }
  auto it = std::find(names.begin(), names.end(), *text);
  if (it == names.end()) {
    std::string list;
    for (std::size_t i = 0; i < names.size(); ++i) {
      list += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
      list += names[i];
    }
    error(value_mark(f), path + ": unknown " + std::string(what) + " " + quote(*text) + ": use " +
                             list + suggest(*text, names));
    return std::nullopt;
  }
  return static_cast<std::size_t>(it - names.begin());
}

void Loader::read_statuses(const Field& f, const std::string& path,
                           std::vector<std::uint16_t>& out) {
  if (!check_list(f, path, "a list of status codes", 0, kMaxStatuses, "statuses",
                  "an empty list never matches")) {
    return;
  }
  out.clear();
  for_each_scalar(
      f.value, path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        auto n = parse_integer(text);
        if (!n || *n < 100 || *n > 599) {
          error(at, item_path + ": expected a status code (100-599), got " + quote(text));
          return;
        }
        add_unique(out, static_cast<std::uint16_t>(*n), at, item_path, "status " + text);
      });
}

void Loader::read_cookie_name(const Field& f, const std::string& path, std::string& out) {
  auto text = scalar(f, path);
  if (!text) {
    return;
  }
  if (text->empty() || text->size() > 64 || !valid_token(*text)) {
    error(value_mark(f), path + ": invalid cookie name " + quote(*text) +
                             ": use 1-64 token characters (letters, digits, !#$%&'*+-.^_`|~)");
    return;
  }
  out = *text;
}

void Loader::read_header_names(const Field& f, const std::string& path,
                               std::vector<std::string>& out) {
  if (!check_list(f, path, "a list of header names", 0, 64, "headers")) {
    return;
  }
  for_each_scalar(f.value, path,
                  [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
                    if (text.empty() || text.size() > kMaxKeyPartName || !valid_token(text)) {
                      error(at, item_path + ": invalid header name " + quote(text));
                      return;
                    }
                    std::string lowered(text);
                    for (char& c : lowered) {
                      c = lower(c);
                    }
                    add_unique(out, std::move(lowered), at, item_path, "header " + quote(text));
                  });
}

void Loader::load_classes(const Field& f, const std::string& path, LimitConfig& limit) {
  if (!check_list(f, path, "a list of client classes (suspect, anonymous, verified, resident)", 0,
                  kClientClasses, "classes", "an empty list applies to nobody")) {
    return;
  }
  std::uint8_t mask = 0;
  for_each_scalar(
      f.value, path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        auto it = std::find(std::begin(kClientClassNames), std::end(kClientClassNames), text);
        if (it == std::end(kClientClassNames)) {
          error(at, item_path + ": unknown client class " + quote(text) +
                        ": use suspect, anonymous, verified or resident" +
                        suggest(text, kClientClassNames));
          return;
        }
        mask = static_cast<std::uint8_t>(mask | (1u << (it - std::begin(kClientClassNames))));
      });
  if (mask != 0) {
    limit.classes = mask;
  }
}

void Loader::load_secrets(const Field& f) {
  each_section_field(f, kSecretsKeys, "secrets", [&](const Field& e, const std::string& path) {
    if (auto name = file_name(e.value, value_mark(e), path)) {
      config_.secrets.key_file = *name;
    }
  });
}

void Loader::load_state_dir(const Field& f) {
  if (auto name = file_name(f.value, value_mark(f), "state_dir")) {
    config_.state_dir = *name;
  }
}

void Loader::load_routing(const Field& f) {
  RoutingConfig& r = config_.routing;
  each_section_field(f, kRoutingKeys, "routing", [&](const Field& e, const std::string& path) {
    if (e.key == "case_sensitive") {
      read_bool(e, path, r.case_sensitive);
    } else if (e.key == "encoded_slashes") {
      if (auto i = read_choice(e, path, kEncodedSlashes, "setting"))
        r.keep_encoded_slashes = *i == 1;
    }
  });
}

void Loader::load_access_log(const Field& f) {
  AccessLogConfig& a = config_.access_log;
  each_section_field(f, kAccessLogKeys, "access_log", [&](const Field& e, const std::string& path) {
    if (e.key == "enabled") {
      read_bool(e, path, a.enabled);
    } else if (e.key == "path") {
      if (auto name = file_name(e.value, value_mark(e), path)) a.path = *name;
    } else if (e.key == "refusals_keep_per_s") {
      read_uint(e, path, 0, 1'000'000, a.refusals_keep_per_s);
    } else if (e.key == "refusals_sample_one_in") {
      read_uint(e, path, 1, 1'000'000, a.refusals_sample_one_in);
    } else if (e.key == "max_file_size") {
      read_size(e, path, kMiB, 16 * kGiB, a.max_file_bytes);
    } else if (e.key == "max_files") {
      read_uint(e, path, 1, 100, a.max_files);
    }
  });
}

void Loader::load_residents(const Field& f) {
  ResidentsConfig& r = config_.residents;
  each_section_field(f, kResidentsKeys, "residents", [&](const Field& e, const std::string& path) {
    if (e.key == "enabled") {
      read_bool(e, path, r.enabled);
    } else if (e.key == "cookie") {
      read_cookie_name(e, path, r.cookie);
    } else if (e.key == "lifetime") {
      read_duration(e, path, kMinute, 400 * kDay, r.lifetime);
    } else if (e.key == "account") {
      auto text = scalar(e, path);
      if (!text) {
        return;
      }
      std::string why;
      auto part = parse_key_part(*text, why);
      if (!part) {
        error(value_mark(e), path + ": " + why);
      } else if (part->kind != KeyPartKind::BodyField && part->kind != KeyPartKind::Header &&
                 part->kind != KeyPartKind::Query && part->kind != KeyPartKind::Cookie) {
        error(value_mark(e), path +
                                 ": the account comes from body.NAME, header.NAME, query.NAME "
                                 "or cookie.NAME, got " +
                                 quote(*text));
      } else {
        r.account = *part;
      }
    } else if (e.key == "success_status") {
      read_statuses(e, path, r.success_status);
    } else if (e.key == "success_location") {
      if (auto text = scalar(e, path)) {
        if (!valid_path(*text)) {
          error(value_mark(e), path + ": expected a path starting with '/', got " + quote(*text));
        } else {
          r.success_location = *text;
        }
      }
    } else if (e.key == "success_cookie") {
      read_cookie_name(e, path, r.success_cookie);
    } else if (e.key == "device_rate") {
      auto text = scalar(e, path);
      if (!text) return;
      std::string why;
      auto rate = parse_rate(*text, why);
      if (!rate) {
        error(value_mark(e), path + ": " + why);
      } else if (rate->count < 1 || rate->count > 1'000'000 || rate->period_ms < 1 ||
                 rate->period_ms > kDay) {
        error(value_mark(e),
              path + ": between 1 and 1000000 per period of 1ms to 1d, got " + quote(*text));
      } else {
        r.device_rate = static_cast<std::uint32_t>(rate->count);
        r.device_period = static_cast<Millis>(rate->period_ms);
      }
    } else if (e.key == "device_burst") {
      read_uint(e, path, 1, 1'000'000, r.device_burst);
    } else if (e.key == "device_concurrency") {
      read_uint(e, path, 1, 10'000, r.device_concurrency);
    }
  });
}

void Loader::load_levels(const Field& f, const std::string& path) {
  ChallengeConfig& c = config_.challenge;
  if (!check_list(f, path, "a list of {rate, bits}", 0, kMaxLevels, "levels",
                  "at least one level is needed")) {
    return;
  }
  c.levels.clear();
  for_each_item(
      f.value, path,
      [&](const YAML::Node& item, const std::string& item_path, const SourceMark& at) {
        if (!item.IsMap()) {
          error(at, item_path + ": expected a map with 'rate' and 'bits', got " + type_name(item));
          return;
        }
        ChallengeLevel level;
        bool has_bits = false;
        each_field(item, kLevelKeys, item_path, [&](const Field& e, const std::string& key_path) {
          if (e.key == "bits") {
            has_bits = read_uint(e, key_path, 1, 32, level.bits);
          } else if (e.key == "rate") {
            auto text = scalar(e, key_path);
            if (!text) {
              return;
            }
            std::string why;
            auto rate = text->find('/') == std::string::npos
                            ? std::optional<Rate>(parse_integer(*text)
                                                      ? Rate{*parse_integer(*text), kSecond}
                                                      : Rate{})
                            : parse_rate(*text, why);
            if (!rate || rate->period_ms == 0) {
              error(value_mark(e), key_path +
                                       ": expected requests per second (e.g. 50 or "
                                       "50/s), got " +
                                       quote(*text));
              return;
            }
            level.rate = static_cast<std::uint32_t>(rate->count * kSecond / rate->period_ms);
          }
        });
        if (!has_bits) {
          error(at, item_path + ": missing required key 'bits'");
          return;
        }
        if (!c.levels.empty() && level.rate <= c.levels.back().rate) {
          error(at, item_path + ": levels must be in rising order of rate");
          return;
        }
        c.levels.push_back(level);
      });
}

void Loader::load_challenge(const Field& f) {
  ChallengeConfig& c = config_.challenge;
  each_section_field(f, kChallengeKeys, "challenge", [&](const Field& e, const std::string& path) {
    if (e.key == "levels") {
      load_levels(e, path);
    } else if (e.key == "max_bits") {
      read_uint(e, path, 1, 32, c.max_bits);
    } else if (e.key == "refresh_wait") {
      read_duration(e, path, kSecond, 5 * kMinute, c.refresh_wait);
    } else if (e.key == "lifetime") {
      read_duration(e, path, 10 * kSecond, kHour, c.challenge_lifetime);
    } else if (e.key == "cookie") {
      read_cookie_name(e, path, c.cookie);
    } else if (e.key == "clearance_lifetime") {
      read_duration(e, path, kMinute, 30 * kDay, c.clearance_lifetime);
    } else if (e.key == "signup_clearance_lifetime") {
      read_duration(e, path, kMinute, kDay, c.signup_clearance_lifetime);
    } else if (e.key == "spent_max") {
      read_uint(e, path, 1'000, 50'000'000, c.spent_max);
    } else if (e.key == "spent_per_prefix") {
      read_uint(e, path, 1, 50'000'000, c.spent_per_prefix);
    } else if (e.key == "theme_css_file") {
      if (auto name = file_name(e.value, value_mark(e), path)) {
        c.theme_css_file = *name;
      }
    }
  });
  for (const ChallengeLevel& l : c.levels) {
    if (l.bits > c.max_bits) {
      error(key_mark(f), "challenge.levels: a level asks " + std::to_string(l.bits) +
                             " bits, above max_bits (" + std::to_string(c.max_bits) + ")");
      break;
    }
  }
}

void Loader::load_rule(const YAML::Node& node, const std::string& path) {
  ReputationConfig& r = config_.reputation;
  ReputationRule rule;
  rule.mark = mark(node.Mark());
  if (!node.IsMap()) {
    error(rule.mark, path + ": expected a map with 'name', got " + type_name(node));
    return;
  }
  bool has_name = false;
  bool has_condition = false;
  bool has_weight = false;
  each_field(node, kRuleKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "name") {
      has_name = true;
      read_unique_name(e, key_path, r.rules, "rule name", "", rule.name);
      return;
    }
    if (e.key == "action") {
      if (auto i = read_choice(e, key_path, kReputationActions, "action")) {
        rule.action = kReputationActionKinds[*i];
      }
      return;
    }
    if (e.key == "weight") {
      has_weight = true;
      auto text = scalar(e, key_path);
      if (!text) {
        return;
      }
      const bool negative = !text->empty() && (*text)[0] == '-';
      auto n = parse_integer(negative ? std::string_view(*text).substr(1) : *text);
      if (!n || *n > 1'000'000) {
        error(value_mark(e), key_path +
                                 ": expected a whole number between -1000000 and 1000000, "
                                 "got " +
                                 quote(*text));
        return;
      }
      rule.weight = static_cast<std::int32_t>(negative ? -static_cast<std::int64_t>(*n)
                                                       : static_cast<std::int64_t>(*n));
      return;
    }
    if (e.key == "level") {
      read_uint(e, key_path, 0, 8, rule.level);
      return;
    }
    has_condition = true;
    if (e.key == "user_agent") {
      if (auto text = scalar(e, key_path)) {
        RE2 re(*text, RE2::Quiet);
        if (text->size() > kMaxRegexBytes || !re.ok()) {
          error(value_mark(e), key_path + ": invalid pattern " + quote(*text) +
                                   (re.ok() ? ": too long" : ": " + re.error()));
        } else {
          rule.user_agent = *text;
        }
      }
    } else if (e.key == "path_prefix") {
      if (auto text = scalar(e, key_path)) {
        if (!valid_path(*text)) {
          error(value_mark(e),
                key_path + ": expected a path starting with '/', got " + quote(*text));
        } else {
          rule.path_prefix = *text;
        }
      }
    } else if (e.key == "methods") {
      read_methods(e, key_path, rule.methods);
    } else if (e.key == "headers_present") {
      read_header_names(e, key_path, rule.headers_present);
    } else if (e.key == "headers_missing") {
      read_header_names(e, key_path, rule.headers_missing);
    } else if (e.key == "cidrs") {
      read_cidrs(e, key_path, kMaxListEntries, rule.cidrs);
    } else if (e.key == "asns") {
      if (!check_list(e, key_path, "a list of AS numbers", 0, 10'000, "AS numbers")) {
        return;
      }
      for_each_scalar(
          e.value, key_path,
          [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
            std::string_view digits = text;
            if (digits.size() > 2 && (digits.substr(0, 2) == "AS" || digits.substr(0, 2) == "as")) {
              digits.remove_prefix(2);
            }
            auto n = parse_integer(digits);
            if (!n || *n > 0xffffffffu) {
              error(at, item_path + ": expected an AS number (e.g. 64500 or AS64500), got " +
                            quote(text));
              return;
            }
            rule.asns.push_back(static_cast<std::uint32_t>(*n));
          });
    } else if (e.key == "recent_refusals") {
      read_uint(e, key_path, 1, 1'000'000, rule.recent_refusals);
    }
  });
  if (!has_name) {
    error(rule.mark, path + ": missing required key 'name'");
  }
  if (!has_condition) {
    error(rule.mark, path +
                         ": a rule needs at least one condition (user_agent, path_prefix, "
                         "methods, headers_present, headers_missing, cidrs, asns or "
                         "recent_refusals)");
  }
  if (rule.action == ReputationAction::Weigh && !has_weight) {
    error(rule.mark, path +
                         ": a rule that weighs needs a 'weight' (or an action: allow, deny, "
                         "challenge)");
  }
  r.rules.push_back(std::move(rule));
}

void Loader::load_threshold(const YAML::Node& node, const std::string& path) {
  ReputationThreshold t;
  const SourceMark at = mark(node.Mark());
  if (!node.IsMap()) {
    error(at, path + ": expected a map with 'score' and 'action', got " + type_name(node));
    return;
  }
  bool has_score = false;
  bool has_action = false;
  each_field(node, kThresholdKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "score") {
      has_score = read_uint(e, key_path, 1, 1'000'000, t.score);
    } else if (e.key == "action") {
      if (auto i = read_choice(e, key_path, kReputationActions, "action")) {
        has_action = true;
        t.action = kReputationActionKinds[*i];
        if (t.action == ReputationAction::Weigh) {
          error(value_mark(e), key_path + ": a threshold maps to allow, deny or challenge");
        }
      }
    } else if (e.key == "level") {
      read_uint(e, key_path, 0, 8, t.level);
    }
  });
  if (!has_score) {
    error(at, path + ": missing required key 'score'");
  }
  if (!has_action) {
    error(at, path + ": missing required key 'action'");
  }
  config_.reputation.thresholds.push_back(t);
}

void Loader::load_reputation(const Field& f) {
  ReputationConfig& r = config_.reputation;
  SourceMark asn_rule_mark;
  each_section_field(
      f, kReputationKeys, "reputation", [&](const Field& e, const std::string& path) {
        if (e.key == "rules") {
          if (!check_list(e, path, "a list of rules", r.rules.size(), kMaxRules, "rules")) {
            return;
          }
          for_each_item(e.value, path,
                        [&](const YAML::Node& item, const std::string& item_path,
                            const SourceMark&) { load_rule(item, item_path); });
        } else if (e.key == "thresholds") {
          if (!check_list(e, path, "a list of thresholds", 0, kMaxThresholds, "thresholds")) {
            return;
          }
          for_each_item(e.value, path,
                        [&](const YAML::Node& item, const std::string& item_path,
                            const SourceMark&) { load_threshold(item, item_path); });
        } else if (e.key == "suspect_score") {
          read_uint(e, path, 1, 1'000'000, r.suspect_score);
        } else if (e.key == "asn_database") {
          if (auto name = file_name(e.value, value_mark(e), path)) {
            r.asn_database = *name;
          }
        }
      });
  for (const ReputationRule& rule : r.rules) {
    if (!rule.asns.empty() && r.asn_database.empty()) {
      error(rule.mark, "reputation: rule " + quote(rule.name) +
                           " matches AS numbers, but no asn_database is set");
    }
  }
  std::stable_sort(
      r.thresholds.begin(), r.thresholds.end(),
      [](const ReputationThreshold& a, const ReputationThreshold& b) { return a.score > b.score; });
}

void Loader::load_admission(const Field& f, const std::string& path, AdmissionConfig& a) {
  if (!section_map(f, path)) {
    return;
  }
  a.enabled = true;  // a section means: on, unless it says enabled: false
  each_field(f.value, kAdmissionKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "enabled") {
      read_bool(e, key_path, a.enabled);
    } else if (e.key == "min_limit") {
      read_uint(e, key_path, 1, 100'000, a.min_limit);
    } else if (e.key == "max_limit") {
      read_uint(e, key_path, 1, 100'000, a.max_limit);
    } else if (e.key == "initial_limit") {
      read_uint(e, key_path, 1, 100'000, a.initial_limit);
    } else if (e.key == "resident_share") {
      auto text = scalar(e, key_path);
      if (!text) {
        return;
      }
      std::string_view v = *text;
      if (!v.empty() && v.back() == '%') {
        v.remove_suffix(1);
      }
      auto n = parse_integer(v);
      if (!n || *n > 90) {
        error(value_mark(e),
              key_path + ": expected a percentage from 0% to 90%, got " + quote(*text));
        return;
      }
      a.resident_percent = static_cast<std::uint32_t>(*n);
    } else if (e.key == "queue_max") {
      read_uint(e, key_path, 0, 1'000'000, a.queue_max);
    } else if (e.key == "queue_timeout") {
      read_duration(e, key_path, 1, 60 * kSecond, a.queue_timeout);
    } else if (e.key == "codel_target") {
      read_duration(e, key_path, 1, 10 * kSecond, a.codel_target);
    } else if (e.key == "codel_interval") {
      read_duration(e, key_path, 1, 60 * kSecond, a.codel_interval);
    } else if (e.key == "retry_after") {
      std::uint64_t ms = 0;
      if (read_duration(e, key_path, kSecond, kHour, ms)) {
        a.retry_after_s = static_cast<std::uint32_t>(ms / kSecond);
      }
    }
  });
  if (a.min_limit > a.max_limit) {
    error(value_mark(f), path + ": min_limit (" + std::to_string(a.min_limit) +
                             ") must not exceed max_limit (" + std::to_string(a.max_limit) + ")");
  }
  a.initial_limit = std::clamp(a.initial_limit, a.min_limit, std::max(a.min_limit, a.max_limit));
  if (a.codel_target > a.queue_timeout) {
    a.codel_target = a.queue_timeout;
  }
}

void Loader::load_trigger(const YAML::Node& node, const std::string& path, SignupConfig& signup) {
  TriggerConfig t;
  t.mark = mark(node.Mark());
  if (!node.IsMap()) {
    error(t.mark,
          path + ": expected a map with 'metric', 'above' and 'mode', got " + type_name(node));
    return;
  }
  bool has_metric = false;
  bool has_above = false;
  bool has_below = false;
  bool has_mode = false;
  auto read_level = [&](const Field& e, const std::string& key_path, double& out) {
    auto text = scalar(e, key_path);
    if (!text) {
      return false;
    }
    std::string_view v = *text;
    while (!v.empty() &&
           (v.back() == '%' || v.back() == 's' || v.back() == '/' || v.back() == 'm')) {
      v.remove_suffix(1);  // "5%", "500/s", "800ms": the unit is the metric's
    }
    char* end = nullptr;
    const std::string digits(v);
    const double d = std::strtod(digits.c_str(), &end);
    if (digits.empty() || end != digits.c_str() + digits.size() || !(d >= 0) || d > 1e9) {
      error(value_mark(e), key_path +
                               ": expected a number (ms for upstream_latency, percent for "
                               "error_rate and shed_rate, per second for request_rate), "
                               "got " +
                               quote(*text));
      return false;
    }
    out = d;
    return true;
  };
  each_field(node, kTriggerKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "metric") {
      if (auto i = read_choice(e, key_path, kTriggerMetrics, "metric")) {
        has_metric = true;
        t.metric = kTriggerMetricKinds[*i];
      }
    } else if (e.key == "above") {
      has_above = read_level(e, key_path, t.above);
    } else if (e.key == "below") {
      has_below = read_level(e, key_path, t.below);
    } else if (e.key == "mode") {
      if (auto i = read_choice(e, key_path, kSignupModes, "sign-up mode")) {
        has_mode = true;
        t.mode = static_cast<SignupMode>(*i);
      }
    } else if (e.key == "for") {
      read_duration(e, key_path, 0, kHour, t.for_ms);
    } else if (e.key == "hold") {
      read_duration(e, key_path, kSecond, 24 * kHour, t.hold_ms);
    }
  });
  if (!has_metric) {
    error(t.mark, path + ": missing required key 'metric'");
  }
  if (!has_above) {
    error(t.mark, path + ": missing required key 'above'");
  }
  if (!has_mode) {
    error(t.mark, path + ": missing required key 'mode'");
  }
  if (!has_below) {
    t.below = t.above / 2;
  } else if (t.below > t.above) {
    error(t.mark, path + ": 'below' must not exceed 'above' (it is the level to come back under)");
  }
  signup.triggers.push_back(t);
}

void Loader::load_signup(const Field& f, const std::string& path, RouteConfig& route) {
  SignupConfig& s = route.signup;
  each_section_field(f, kSignupKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "mode") {
      if (auto i = read_choice(e, key_path, kSignupModes, "sign-up mode")) {
        s.mode = static_cast<SignupMode>(*i);
      }
    } else if (e.key == "closed_retry_after") {
      std::uint64_t ms = 0;
      if (read_duration(e, key_path, kSecond, kDay, ms)) {
        s.closed_retry_after_s = static_cast<std::uint32_t>(ms / kSecond);
      }
    } else if (e.key == "waiting_room") {
      WaitingRoomConfig& w = s.waiting_room;
      each_section_field(e, kWaitingRoomKeys, key_path,
                         [&](const Field& w_e, const std::string& w_path) {
                           if (w_e.key == "new_users_per_minute") {
                             read_uint(w_e, w_path, 1, 1'000'000, w.new_users_per_minute);
                           } else if (w_e.key == "max_active") {
                             read_uint(w_e, w_path, 1, 10'000'000, w.max_active);
                           } else if (w_e.key == "session_idle") {
                             read_duration(w_e, w_path, 10 * kSecond, 24 * kHour, w.session_idle);
                           } else if (w_e.key == "max_per_prefix") {
                             read_uint(w_e, w_path, 1, 1'000'000, w.max_per_prefix);
                           } else if (w_e.key == "max_queue") {
                             read_uint(w_e, w_path, 1, 10'000'000, w.max_queue);
                           } else if (w_e.key == "refresh") {
                             read_duration(w_e, w_path, kSecond, 5 * kMinute, w.refresh);
                           } else if (w_e.key == "ticket_lifetime") {
                             read_duration(w_e, w_path, kMinute, 7 * kDay, w.ticket_lifetime);
                           } else if (w_e.key == "max_signups_per_ticket") {
                             read_uint(w_e, w_path, 0, 1'000, w.max_signups_per_ticket);
                           }
                         });
    } else if (e.key == "triggers") {
      if (!check_list(e, key_path, "a list of triggers", 0, kMaxTriggers, "triggers")) {
        return;
      }
      for_each_item(e.value, key_path,
                    [&](const YAML::Node& item, const std::string& item_path, const SourceMark&) {
                      load_trigger(item, item_path, s);
                    });
    }
  });
}

void Loader::finish() {
  if (!config_.routing.case_sensitive) {
    // Rules compare the canonical path, lowercased when routing ignores case.
    for (ReputationRule& rule : config_.reputation.rules) {
      for (char& c : rule.path_prefix) c = lower(c);
    }
  }
  const auto& ups = config_.upstreams;
  std::vector<std::string_view> names;
  for (const UpstreamConfig& u : ups) {
    names.push_back(u.name);
  }
  if (!routes_given_) {
    if (ups.size() == 1) {
      RouteConfig route;
      route.name = "default";
      route.upstream = ups[0].name;
      route.mark = ups[0].mark;
      config_.routes.push_back(std::move(route));
    } else if (ups.size() > 1) {
      error(upstreams_mark_, "routes: required when there is more than one upstream");
    }
    return;
  }
  for (std::size_t i = 0; i < config_.routes.size() && i < route_refs_.size(); ++i) {
    RouteConfig& r = config_.routes[i];
    const std::string& path = route_refs_[i].path;
    if (r.upstream.empty()) {
      if (ups.size() == 1) {
        r.upstream = ups[0].name;
        r.upstream_index = 0;
      } else if (ups.size() > 1) {
        error(r.mark,
              path + ": missing 'upstream' (required when there is more than one upstream)");
      }
      continue;
    }
    auto it = std::find(names.begin(), names.end(), r.upstream);
    if (it == names.end()) {
      if (!ups.empty()) {
        error(route_refs_[i].upstream_mark, path + ".upstream: unknown upstream " +
                                                quote(r.upstream) + suggest(r.upstream, names));
      }
      continue;
    }
    r.upstream_index = static_cast<std::size_t>(it - names.begin());
  }
}

// Checks over the whole configuration, once every file is read.
void Loader::check_all() {
  if (!has_listen_) {
    error(root_mark_, "missing required key 'listen'");
  }
  if (!has_upstreams_) {
    error(root_mark_, "missing required key 'upstreams'");
  }
  if (config_.admin.enabled) {
    check_not_listened(config_.admin.address, mark_of("admin.address", root_mark_), "admin.address",
                       true);
  }
  check_decide();
  const ResidentsConfig& res = config_.residents;
  if (res.enabled && res.success_cookie.empty() && res.success_location.empty()) {
    for (const RouteConfig& r : config_.routes) {
      if (r.route_class != RouteClass::Login) continue;
      // A bare status is no proof of a login (a 200 may be the form again): without the
      // application's own signal, device tokens would be handed to whoever asks.
      error(mark_of("residents", r.mark),
            "residents: route " + quote(r.name) +
                " is a login route, but no login success signal is named: set "
                "residents.success_cookie (the session cookie the application sets on login) "
                "and/or residents.success_location (where a successful login redirects), or "
                "residents.enabled: false");
      break;
    }
  }
  finish();
}

// What a decision service cannot do, refused with the way out: it sees no request body (nginx
// auth_request, forward_auth) and no answer of the application, so body-keyed limits, count_when
// and device tokens need an inline listener for the routes that use them.
void Loader::check_decide() {
  bool decide = false;
  bool inline_listener = false;
  SourceMark first;
  for (const ListenConfig& l : config_.listen) {
    if (l.decide != DecideFor::None && !decide) first = l.mark;
    (l.decide != DecideFor::None ? decide : inline_listener) = true;
  }
  if (!decide) return;
  if (config_.clients.trusted_proxies.empty()) {
    error(first,
          "listen: a decide listener believes the original request only from the proxy "
          "in front: name it in clients.trusted_proxies");
  }
  if (inline_listener) return;
  for (const RouteConfig& r : config_.routes) {
    const std::string route = "routes: route " + quote(r.name) + ": ";
    const std::string way_out =
        ": a decision service sees neither the request body nor the application's answer; add "
        "an inline listener and send this route's path through it (docs/DECIDE.md)";
    for (const LimitConfig& l : r.limits) {
      bool body = false;
      for (const KeyPart& p : l.key) {
        body = body || p.kind == KeyPartKind::BodyField || p.kind == KeyPartKind::EmailDomain;
      }
      if (body || !l.count_when_status.empty()) {
        error(l.mark,
              route + "limit " + quote(l.name) +
                  (body ? " keys on the request body" : " counts on the answer (count_when)") +
                  way_out);
      }
    }
    if (r.route_class == RouteClass::Login && config_.residents.enabled) {
      error(r.mark, route + "device tokens are set on a successful login" + way_out);
    }
  }
}

// Sections that hold one value may be set by one file only; false (and an error) for a second.
bool Loader::claim_section(const Field& f) {
  auto single = std::find(std::begin(kSingleSections), std::end(kSingleSections), f.key);
  if (single == std::end(kSingleSections)) {
    return true;
  }
  const SourceMark at = key_mark(f);
  auto [it, inserted] = section_owner_.emplace(f.key, at);
  if (!inserted) {
    const SourceMark& first = it->second;
    error(at, f.key + ": already set in " + position(first) +
                  " (each section that holds one value may appear in one file only)");
    return false;
  }
  return true;
}

void Loader::load_document(const YAML::Node& root, bool main) {
  const SourceMark root_mark = mark(root.Mark());
  if (root.IsNull()) {
    if (main) {
      error(root_mark, "empty configuration: 'listen' and 'upstreams' are required");
    }
    return;  // an empty included file adds nothing
  }
  if (!root.IsMap()) {
    error(root_mark,
          std::string("expected a map of sections at top level, got ") + type_name(root));
    incomplete_ = true;
    return;
  }
  if (main) {
    root_ok_ = true;
  }
  std::vector<Include> includes;
  // Upstreams first, so routes can name them whatever the order in the file.
  const std::vector<Field> top = fields(root, kTopKeys, "");
  constexpr std::pair<std::string_view, void (Loader::*)(const Field&)> loaders[] = {
      {"server", &Loader::load_server},         {"listen", &Loader::load_listen},
      {"admin", &Loader::load_admin},           {"clients", &Loader::load_clients},
      {"limits", &Loader::load_limits},         {"routes", &Loader::load_routes},
      {"lists", &Loader::load_lists},           {"bans", &Loader::load_bans},
      {"secrets", &Loader::load_secrets},       {"state_dir", &Loader::load_state_dir},
      {"residents", &Loader::load_residents},   {"challenge", &Loader::load_challenge},
      {"reputation", &Loader::load_reputation}, {"access_log", &Loader::load_access_log},
      {"routing", &Loader::load_routing}};
  for (const Field& f : top) {
    if (f.key == "upstreams") {
      load_upstreams(f);
    }
  }
  for (const Field& f : top) {
    if (!claim_section(f)) {
      continue;
    }
    if (f.key == "include") {
      collect_includes(f, includes);
    }
    for (const auto& [key, load] : loaders) {
      if (f.key == key) {
        (this->*load)(f);
      }
    }
  }
  // After this file's own entries, so included routes and listeners come after them.
  for (const Include& inc : includes) {
    load_include(inc);
  }
}

void Loader::collect_includes(const Field& f, std::vector<Include>& out) {
  if (f.value.IsNull()) {
    return;
  }
  if (f.value.IsScalar()) {
    if (auto name = file_name(f.value, value_mark(f), "include")) {
      out.push_back(Include{"include", *name, value_mark(f)});
    }
    return;
  }
  if (!check_list(f, "include", "a file name or a list of them", 0, kMaxConfigFiles, "files")) {
    return;
  }
  for_each_item(f.value, "include",
                [&](const YAML::Node& item, const std::string& path, const SourceMark& at) {
                  if (auto name = file_name(item, at, path)) {
                    out.push_back(Include{path, *name, at});
                  }
                });
}

void Loader::load_include(const Include& inc) {
  if (include_stack_.size() > kMaxIncludeDepth) {
    error(inc.at, inc.path + ": includes nest more than " + std::to_string(kMaxIncludeDepth) +
                      " levels deep");
    incomplete_ = true;
    return;
  }
  if (files_.size() >= kMaxConfigFiles) {
    error(inc.at, inc.path + ": more than " + std::to_string(kMaxConfigFiles) +
                      " configuration files in all");
    incomplete_ = true;
    return;
  }
  const std::string name = relative_to(file_, inc.name);
  FileText file;
  if (auto why = read_text(name, true, file)) {
    error(inc.at, inc.path + ": cannot read " + quote(name) + ": " + *why);
    incomplete_ = true;
    return;
  }
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].id != file.id) {
      continue;
    }
    auto open = std::find(include_stack_.begin(), include_stack_.end(), i);
    if (open != include_stack_.end()) {
      std::string chain;
      for (auto it = open; it != include_stack_.end(); ++it) {
        chain += files_[*it].name + " -> ";
      }
      error(inc.at, inc.path + ": include cycle: " + chain + name);
    } else {
      const SourceMark& first = files_[i].included_at;
      error(inc.at,
            inc.path + ": " + quote(name) + " is already included (from " + position(first) + ")");
    }
    return;
  }
  files_.push_back(LoadedFile{name, file.id, inc.at});
  config_.source_files.push_back(name);
  const std::string parent = file_;
  file_ = name;
  include_stack_.push_back(files_.size() - 1);
  load_text(file.text, false);
  include_stack_.pop_back();
  file_ = parent;
}

void Loader::load_text(std::string_view yaml, bool main) {
  if (yaml.size() > kMaxConfigBytes) {
    error(SourceMark{file_, 0, 0}, "configuration is larger than " + format_size(kMaxConfigBytes));
    incomplete_ = true;
    return;
  }
  // Exceptions are caught per file: a broken included file is reported under its own name.
  try {
    const std::string text(yaml);
    const DocumentScan scan = scan_documents(text);
    if (scan.stuck) {
      error(mark(scan.second),
            "invalid YAML: unexpected " +
                quote(text.substr(static_cast<std::size_t>(scan.second.pos), 1)));
      incomplete_ = true;
    } else if (scan.documents > 1) {
      error(mark(scan.second), "only one YAML document is allowed");
      incomplete_ = true;
    } else {
      const YAML::Node root = YAML::Load(text);
      if (main) {
        root_mark_ = mark(root.Mark());
      }
      load_document(root, main);
    }
  } catch (const YAML::Exception& e) {
    error(mark(e.mark), e.msg.empty() ? std::string("invalid YAML") : "invalid YAML: " + e.msg);
    incomplete_ = true;
  } catch (const std::exception& e) {
    error(SourceMark{file_, 0, 0}, std::string("cannot load configuration: ") + e.what());
    incomplete_ = true;
  }
}

LoadResult Loader::run(std::string_view yaml, std::optional<FileId> id) {
  LoadResult result;
  files_.push_back(LoadedFile{file_, id, SourceMark{}});
  include_stack_.push_back(0);
  if (id) {
    config_.source_files.push_back(file_);
  }
  load_text(yaml, true);
  if (root_ok_ && !incomplete_) {
    check_all();
  }
  if (!errors_.empty()) {
    // By file (in load order), then by position.
    auto file_index = [this](const SourceMark& m) {
      for (std::size_t i = 0; i < files_.size(); ++i) {
        if (files_[i].name == m.file) {
          return i;
        }
      }
      return std::size_t{0};
    };
    std::stable_sort(errors_.begin(), errors_.end(),
                     [&](const ConfigError& a, const ConfigError& b) {
                       return std::tuple(file_index(a.mark), a.mark.line, a.mark.column) <
                              std::tuple(file_index(b.mark), b.mark.line, b.mark.column);
                     });
    // The "too many errors" note belongs at the end whatever its position.
    auto note = std::find_if(errors_.begin(), errors_.end(), [](const ConfigError& e) {
      return e.message == "too many errors; stopping here";
    });
    if (note != errors_.end()) {
      std::rotate(note, note + 1, errors_.end());
    }
    result.errors = std::move(errors_);
    return result;
  }
  result.snapshot = make_snapshot(std::move(config_));
  return result;
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out = mark.file.empty() ? std::string("<config>") : mark.file;
  if (mark.line > 0) {
    out += ':';
    out += std::to_string(mark.line);
    out += ':';
    out += std::to_string(mark.column);
  }
  out += ": ";
  out += message;
  return out;
}

LoadResult load_config_string(std::string_view yaml, std::string_view name) {
  Loader loader{std::string(name), ""};
  return loader.run(yaml, std::nullopt);
}

LoadResult load_config_file(const std::string& path) {
  FileText file;
  if (auto why = read_text(path, false, file)) {
    LoadResult r;
    r.errors.push_back(
        ConfigError{SourceMark{path, 0, 0}, "cannot read configuration file: " + *why});
    return r;
  }
  Loader loader{path, path};
  return loader.run(file.text, file.id);
}

std::optional<std::uint64_t> parse_duration_ms(std::string_view text, std::string* why) {
  std::string reason;
  auto ms = parse_duration(text, reason);
  if (!ms && why != nullptr) *why = std::move(reason);
  return ms;
}

}  // namespace gh::policy
