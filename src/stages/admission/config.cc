#include "stages/admission/config.h"

#include <cstdlib>
#include <string_view>

#include "config/document.h"
#include "stages/waitroom/config.h"

namespace gh::admission {
namespace {

using policy::AdmissionConfig;
using policy::Document;
using policy::Field;
using policy::kDay;
using policy::kHour;
using policy::kSecond;
using policy::parse_integer;
using policy::quote;
using policy::SignupConfig;
using policy::SignupMode;
using policy::SourceMark;
using policy::TriggerConfig;
using policy::TriggerMetric;
using policy::type_name;

constexpr std::string_view kAdmissionKeys[] = {
    "enabled",   "min_limit",     "max_limit",    "initial_limit",  "resident_share",
    "queue_max", "queue_timeout", "codel_target", "codel_interval", "retry_after"};
constexpr std::string_view kSignupKeys[] = {"mode", "waiting_room", "closed_retry_after",
                                            "triggers"};
constexpr std::string_view kTriggerKeys[] = {"metric", "above", "below", "mode", "for", "hold"};
constexpr std::string_view kTriggerMetrics[] = {"upstream_latency", "error_rate", "shed_rate",
                                                "request_rate"};
constexpr TriggerMetric kTriggerMetricKinds[] = {TriggerMetric::UpstreamLatency,
                                                 TriggerMetric::ErrorRate, TriggerMetric::ShedRate,
                                                 TriggerMetric::RequestRate};
constexpr std::string_view kSignupModes[] = {"open", "challenge", "queue", "closed"};
constexpr std::size_t kMaxTriggers = 8;

void load_trigger(Document& doc, const YAML::Node& node, const std::string& path,
                  SignupConfig& signup) {
  TriggerConfig t;
  t.mark = doc.mark(node.Mark());
  if (!node.IsMap()) {
    doc.error(t.mark,
              path + ": expected a map with 'metric', 'above' and 'mode', got " + type_name(node));
    return;
  }
  bool has_metric = false;
  bool has_above = false;
  bool has_below = false;
  bool has_mode = false;
  auto read_level = [&](const Field& e, const std::string& key_path, double& out) {
    auto text = doc.scalar(e, key_path);
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
      doc.error(doc.value_mark(e), key_path +
                                       ": expected a number (ms for upstream_latency, percent for "
                                       "error_rate and shed_rate, per second for request_rate), "
                                       "got " +
                                       quote(*text));
      return false;
    }
    out = d;
    return true;
  };
  doc.each_field(node, kTriggerKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "metric") {
      if (auto i = doc.read_choice(e, key_path, kTriggerMetrics, "metric")) {
        has_metric = true;
        t.metric = kTriggerMetricKinds[*i];
      }
    } else if (e.key == "above") {
      has_above = read_level(e, key_path, t.above);
    } else if (e.key == "below") {
      has_below = read_level(e, key_path, t.below);
    } else if (e.key == "mode") {
      if (auto i = doc.read_choice(e, key_path, kSignupModes, "sign-up mode")) {
        has_mode = true;
        t.mode = static_cast<SignupMode>(*i);
      }
    } else if (e.key == "for") {
      doc.read_duration(e, key_path, 0, kHour, t.for_ms);
    } else if (e.key == "hold") {
      doc.read_duration(e, key_path, kSecond, 24 * kHour, t.hold_ms);
    }
  });
  if (!has_metric) {
    doc.error(t.mark, path + ": missing required key 'metric'");
  }
  if (!has_above) {
    doc.error(t.mark, path + ": missing required key 'above'");
  }
  if (!has_mode) {
    doc.error(t.mark, path + ": missing required key 'mode'");
  }
  if (!has_below) {
    t.below = t.above / 2;
  } else if (t.below > t.above) {
    doc.error(t.mark,
              path + ": 'below' must not exceed 'above' (it is the level to come back under)");
  }
  signup.triggers.push_back(t);
}

}  // namespace

void load_admission(Document& doc, const Field& f, const std::string& path, AdmissionConfig& a) {
  if (!doc.section_map(f, path)) {
    return;
  }
  a.enabled = true;  // a section means: on, unless it says enabled: false
  doc.each_field(f.value, kAdmissionKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "enabled") {
      doc.read_bool(e, key_path, a.enabled);
    } else if (e.key == "min_limit") {
      doc.read_uint(e, key_path, 1, 100'000, a.min_limit);
    } else if (e.key == "max_limit") {
      doc.read_uint(e, key_path, 1, 100'000, a.max_limit);
    } else if (e.key == "initial_limit") {
      doc.read_uint(e, key_path, 1, 100'000, a.initial_limit);
    } else if (e.key == "resident_share") {
      auto text = doc.scalar(e, key_path);
      if (!text) {
        return;
      }
      std::string_view v = *text;
      if (!v.empty() && v.back() == '%') {
        v.remove_suffix(1);
      }
      auto n = parse_integer(v);
      if (!n || *n > kMaxResidentPercent) {
        doc.error(doc.value_mark(e), key_path + ": expected a percentage from 0% to " +
                                         std::to_string(kMaxResidentPercent) + "%, got " +
                                         quote(*text));
        return;
      }
      a.resident_percent = static_cast<std::uint32_t>(*n);
    } else if (e.key == "queue_max") {
      doc.read_uint(e, key_path, 0, 1'000'000, a.queue_max);
    } else if (e.key == "queue_timeout") {
      doc.read_duration(e, key_path, 1, 60 * kSecond, a.queue_timeout);
    } else if (e.key == "codel_target") {
      doc.read_duration(e, key_path, 1, 10 * kSecond, a.codel_target);
    } else if (e.key == "codel_interval") {
      doc.read_duration(e, key_path, 1, 60 * kSecond, a.codel_interval);
    } else if (e.key == "retry_after") {
      std::uint64_t ms = 0;
      if (doc.read_duration(e, key_path, kSecond, kHour, ms)) {
        a.retry_after_s = static_cast<std::uint32_t>(ms / kSecond);
      }
    }
  });
  if (a.min_limit > a.max_limit) {
    doc.error(doc.value_mark(f), path + ": min_limit (" + std::to_string(a.min_limit) +
                                     ") must not exceed max_limit (" + std::to_string(a.max_limit) +
                                     ")");
  }
  a = normalized(a);
}

void load_signup(Document& doc, const Field& f, const std::string& path, SignupConfig& s) {
  doc.each_section_field(f, kSignupKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "mode") {
      if (auto i = doc.read_choice(e, key_path, kSignupModes, "sign-up mode")) {
        s.mode = static_cast<SignupMode>(*i);
      }
    } else if (e.key == "closed_retry_after") {
      std::uint64_t ms = 0;
      if (doc.read_duration(e, key_path, kSecond, kDay, ms)) {
        s.closed_retry_after_s = static_cast<std::uint32_t>(ms / kSecond);
      }
    } else if (e.key == "waiting_room") {
      waitroom::load_waiting_room(doc, e, key_path, s.waiting_room);
    } else if (e.key == "triggers") {
      if (!doc.check_list(e, key_path, "a list of triggers", 0, kMaxTriggers, "triggers")) {
        return;
      }
      doc.for_each_item(e.value, key_path,
                        [&](const YAML::Node& item, const std::string& item_path,
                            const SourceMark&) { load_trigger(doc, item, item_path, s); });
    }
  });
}

}  // namespace gh::admission
