#include "stages/ratelimit/config.h"

#include <algorithm>
#include <iterator>

#include "config/document.h"
#include "stages/client_class-t.h"
#include "stages/ratelimit/gcra.h"

namespace gh::ratelimit {
namespace {

using policy::ActionKind;
using policy::closest;
using policy::Document;
using policy::Field;
using policy::format_duration;
using policy::kClientClasses;
using policy::kDay;
using policy::KeyPart;
using policy::KeyPartKind;
using policy::kMaxStatuses;
using policy::kSecond;
using policy::LimitAction;
using policy::LimitConfig;
using policy::lower;
using policy::Millis;
using policy::parse_integer;
using policy::parse_rate;
using policy::printable;
using policy::quote;
using policy::SourceMark;
using policy::suggest;
using policy::type_name;
using policy::valid_token;

constexpr std::size_t kMaxLimitsPerRoute = 16;
constexpr std::size_t kMaxKeyParts = 8;
constexpr std::size_t kMaxKeyPartName = 64;
constexpr std::uint64_t kMaxRateCount = 1'000'000'000;
constexpr std::uint64_t kMaxRatePerSecond = 1'000'000;
constexpr Nanos kNsPerMs = 1'000'000;

constexpr std::string_view kLimitKeys[] = {"name",    "key",     "rate",       "burst",
                                           "action",  "dry_run", "count_when", "max_keys",
                                           "classes", "shared",  "exact"};
constexpr std::string_view kActionKeys[] = {"reject", "delay", "tarpit",    "ban",
                                            "max",    "drop",  "challenge", "queue"};
constexpr std::string_view kActionNames[] = {"reject", "drop",   "challenge", "queue",
                                             "delay",  "tarpit", "ban"};
constexpr std::string_view kCountWhenKeys[] = {"status"};
constexpr std::string_view kFixedKeyParts[] = {"client.ip",    "client.prefix", "route",
                                               "method",       "clearance.id",  "device.id",
                                               "tls.ja4",      "h2.fingerprint"};
constexpr KeyPartKind kFixedKeyKinds[] = {KeyPartKind::ClientIp,  KeyPartKind::ClientPrefix,
                                          KeyPartKind::Route,     KeyPartKind::Method,
                                          KeyPartKind::Clearance, KeyPartKind::DeviceId,
                                          KeyPartKind::TlsJa4,    KeyPartKind::H2Fingerprint};
// Parts that take a name after the dot.
constexpr std::string_view kNamedKeyParts[] = {"header", "cookie",       "query",
                                               "body",   "email_domain", "email"};
constexpr KeyPartKind kNamedKeyKinds[] = {KeyPartKind::Header,    KeyPartKind::Cookie,
                                          KeyPartKind::Query,     KeyPartKind::BodyField,
                                          KeyPartKind::EmailDomain, KeyPartKind::Email};
// In the order of policy::ClientClass: bit i of a limit's `classes` is class i.
constexpr std::string_view kClientClassNames[] = {"suspect", "anonymous", "verified", "resident"};
static_assert(std::size(kClientClassNames) == policy::kClientClasses);

void load_key(Document& doc, const Field& f, const std::string& path, LimitConfig& limit) {
  if (f.value.IsNull()) {
    return;  // one bucket for the route
  }
  if (!doc.check_list(f, path, "a list of key parts (e.g. [client.ip])", 0, kMaxKeyParts,
                      "key parts")) {
    return;
  }
  auto same = [](const KeyPart& a, const KeyPart& b) {
    return a.kind == b.kind && a.name == b.name;
  };
  doc.for_each_scalar(
      f.value, path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        std::string why;
        auto part = parse_key_part(text, why);
        if (!part) {
          doc.error(at, item_path + ": " + why);
          return;
        }
        doc.add_unique(limit.key, std::move(*part), at, item_path, "key part " + quote(text), same);
      });
}

void load_action(Document& doc, const Field& f, const std::string& path, LimitAction& action) {
  auto unavailable = [&](const SourceMark& at, std::string_view) {
    doc.error(at, path +
                      ": a limit cannot queue; give the sign-up route a waiting room instead "
                      "(signup: {mode: queue})");
  };
  if (f.value.IsScalar()) {
    const std::string text = *doc.scalar(f, path);
    const SourceMark at = doc.value_mark(f);
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
      doc.error(at, path + ": action " + quote(text) + " needs a duration: write " + example);
    } else {
      doc.error(at,
                path + ": unknown action " + quote(text) +
                    ": use reject, drop, {reject: STATUS}, {delay: D}, {tarpit: D} or {ban: D}" +
                    suggest(text, kActionNames));
    }
    return;
  }
  if (!doc.section_map(f, path)) {
    if (f.value.IsNull()) {
      doc.error(doc.key_mark(f), path + ": missing value");
    }
    return;
  }
  const std::vector<Field> entries = doc.fields(f.value, kActionKeys, path);
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
    doc.error(doc.value_mark(f),
              path + ": expected one of reject, delay, tarpit or ban as the key");
    return;
  }
  if (kinds > 1) {
    doc.error(doc.value_mark(f), path + ": set only one action");
    return;
  }
  const std::string key_path = path + "." + kind->key;
  LimitAction out;
  bool ok = false;
  if (kind->key == "reject") {
    std::uint16_t status = 0;  // stays 0 when the value is refused
    doc.read_uint(*kind, key_path, 400, 599, status);
    ok = status != 0;
    out.status = ok ? status : out.status;
  } else if (kind->key == "delay") {
    out.kind = ActionKind::Delay;
    ok = doc.read_duration(*kind, key_path, 1, 60 * kSecond, out.delay_max);
  } else if (kind->key == "tarpit") {
    out.kind = ActionKind::Tarpit;
    ok = doc.read_duration(*kind, key_path, 1, 120 * kSecond, out.hold);
  } else if (kind->key == "ban") {
    out.kind = ActionKind::Ban;
    ok = doc.read_duration(*kind, key_path, kSecond, 30 * kDay, out.ban_duration);
  } else if (kind->key == "challenge") {
    out.kind = ActionKind::Challenge;
    out.status = 403;
    ok = doc.read_uint(*kind, key_path, 0, 8, out.level);
  } else if (kind->key == "drop") {
    doc.error(doc.key_mark(*kind), path + ": 'drop' takes no value: write action: drop");
  } else {
    unavailable(doc.key_mark(*kind), kind->key);
  }
  if (max != nullptr) {
    if (out.kind != ActionKind::Ban) {
      doc.error(doc.key_mark(*max), path + ".max: only a ban has a maximum");
      ok = false;
    } else if (doc.read_duration(*max, path + ".max", kSecond, 365 * kDay, out.ban_max) && ok &&
               out.ban_max < out.ban_duration) {
      doc.error(doc.value_mark(*max), path + ".max (" + format_duration(out.ban_max) +
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

void load_count_when(Document& doc, const Field& f, const std::string& path, LimitConfig& limit) {
  if (!doc.section_map(f, path)) {
    if (f.value.IsNull()) {
      doc.error(doc.key_mark(f), path + ": missing value (e.g. {status: [401]})");
    }
    return;
  }
  bool has_status = false;
  doc.each_field(f.value, kCountWhenKeys, path, [&](const Field& e, const std::string& key_path) {
    has_status = true;
    if (!doc.check_list(e, key_path, "a list of status codes (e.g. [401, 403])", 0, kMaxStatuses,
                        "statuses",
                        "must not be empty (leave count_when out to count every request)")) {
      return;
    }
    doc.for_each_scalar(
        e.value, key_path,
        [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
          auto n = parse_integer(text);
          if (!n || *n < 100 || *n > 599) {
            doc.error(at,
                      item_path + ": expected a status code from 100 to 599, got " + quote(text));
            return;
          }
          doc.add_unique(limit.count_when_status, static_cast<std::uint16_t>(*n), at, item_path,
                         "status " + text);
        });
  });
  if (!has_status) {
    doc.error(doc.value_mark(f), path + ": missing required key 'status'");
  }
}

void load_classes(Document& doc, const Field& f, const std::string& path, LimitConfig& limit) {
  if (!doc.check_list(f, path, "a list of client classes (suspect, anonymous, verified, resident)",
                      0, kClientClasses, "classes", "an empty list applies to nobody")) {
    return;
  }
  std::uint8_t mask = 0;
  doc.for_each_scalar(
      f.value, path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        auto it = std::find(std::begin(kClientClassNames), std::end(kClientClassNames), text);
        if (it == std::end(kClientClassNames)) {
          doc.error(at, item_path + ": unknown client class " + quote(text) +
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

void load_limit(Document& doc, const YAML::Node& node, const std::string& path,
                std::vector<LimitConfig>& limits) {
  LimitConfig limit;
  limit.mark = doc.mark(node.Mark());
  if (!node.IsMap()) {
    doc.error(limit.mark, path + ": expected a map with 'name' and 'rate', got " + type_name(node));
    return;
  }
  bool has_name = false;
  bool has_rate = false;
  bool rate_ok = false;
  bool has_burst = false;
  SourceMark rate_mark = limit.mark;
  SourceMark burst_mark = limit.mark;
  SourceMark shared_mark = limit.mark;
  doc.each_field(node, kLimitKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "name") {
      has_name = true;
      doc.read_unique_name(e, key_path, limits, "limit name", " in this route", limit.name);
    } else if (e.key == "key") {
      load_key(doc, e, key_path, limit);
    } else if (e.key == "rate") {
      has_rate = true;
      rate_mark = doc.value_mark(e);
      auto text = doc.scalar(e, key_path);
      if (!text) {
        return;
      }
      std::string why;
      auto rate = parse_rate(*text, why);
      if (!rate) {
        doc.error(rate_mark, key_path + ": " + why);
      } else if (rate->count < 1 || rate->count > kMaxRateCount) {
        doc.error(rate_mark, key_path + ": the count must be between 1 and " +
                                 std::to_string(kMaxRateCount) + ", got " + quote(*text));
      } else if (rate->period_ms < 1 || rate->period_ms > 7 * kDay) {
        doc.error(rate_mark,
                  key_path + ": the period must be between 1ms and 7d, got " + quote(*text));
      } else if (rate->count * kSecond > kMaxRatePerSecond * rate->period_ms) {
        doc.error(rate_mark, key_path + ": " + quote(*text) + " is more than " +
                                 std::to_string(kMaxRatePerSecond) + " per second");
      } else {
        limit.rate = static_cast<std::uint32_t>(rate->count);
        limit.period = static_cast<Millis>(rate->period_ms);
        rate_ok = true;
      }
    } else if (e.key == "burst") {
      burst_mark = doc.value_mark(e);
      const std::uint32_t before = limit.burst;
      doc.read_uint(e, key_path, 1, kMaxBurst, limit.burst);
      has_burst = limit.burst != before;
    } else if (e.key == "action") {
      load_action(doc, e, key_path, limit.action);
    } else if (e.key == "dry_run") {
      doc.read_bool(e, key_path, limit.dry_run);
    } else if (e.key == "count_when") {
      load_count_when(doc, e, key_path, limit);
    } else if (e.key == "max_keys") {
      doc.read_uint(e, key_path, 16, 50'000'000, limit.max_keys);
    } else if (e.key == "classes") {
      load_classes(doc, e, key_path, limit);
    } else if (e.key == "shared") {
      shared_mark = doc.value_mark(e);
      doc.read_bool(e, key_path, limit.shared);
    } else if (e.key == "exact") {
      doc.read_bool(e, key_path, limit.exact);
    }
  });
  if (limit.exact && !limit.shared) {
    doc.error(shared_mark, path +
                               ": an exact limit is shared across the fleet: drop 'shared: false'"
                               " or 'exact: true'");
  }
  if (!has_name) {
    doc.error(limit.mark, path + ": missing required key 'name'");
  }
  if (!has_rate) {
    doc.error(limit.mark, path + ": missing required key 'rate'");
  }
  if (rate_ok) {
    limit.burst = burst_of(limit);  // spelled out for the admin API and metrics
    // The stage would skip such a limit (gcra_of): refused here, where it has a position.
    if (!gcra_of(limit)) {
      doc.error(has_burst ? burst_mark : rate_mark,
                path + ": a burst of " + std::to_string(limit.burst) + " at " +
                    std::to_string(limit.rate) + " per " + format_duration(limit.period) +
                    " takes more than 36 years to refill: lower the burst or shorten the period");
    }
  }
  limits.push_back(std::move(limit));
}

}  // namespace

std::uint32_t burst_of(const LimitConfig& limit) {
  return limit.burst != 0 ? limit.burst : std::min(limit.rate, kMaxBurst);
}

std::optional<Limit> gcra_of(const LimitConfig& limit) {
  RateSpec spec;
  spec.rate = limit.rate;
  spec.period = static_cast<Nanos>(limit.period) * kNsPerMs;
  spec.burst = burst_of(limit);
  return make_limit(spec);
}

void load_limits(Document& doc, const Field& f, const std::string& path,
                 std::vector<LimitConfig>& limits) {
  if (f.value.IsNull() ||
      !doc.check_list(f, path, "a list of limits", 0, kMaxLimitsPerRoute, "limits")) {
    return;
  }
  doc.for_each_item(f.value, path,
                    [&](const YAML::Node& item, const std::string& item_path, const SourceMark&) {
                      load_limit(doc, item, item_path, limits);
                    });
}

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
        ": use client.ip, client.prefix, route, method, clearance.id, device.id, tls.ja4, "
        "h2.fingerprint, header.NAME, cookie.NAME, query.NAME, body.NAME, email.NAME or "
        "email_domain.NAME";
  std::string_view best = closest(head, kNamedKeyParts);
  if (dot != std::string_view::npos && !best.empty()) {
    // "headers.x" -> "header.x": name the whole part, not just the word before the dot.
    why += " (did you mean '" + std::string(best) + std::string(text.substr(dot)) + "'?)";
  } else {
    why += suggest(text, kFixedKeyParts);
  }
  return std::nullopt;
}

}  // namespace gh::ratelimit
