#include "stages/challenge/config.h"

#include <optional>
#include <string>

#include "config/document.h"

namespace gh::challenge {
namespace {

using policy::ChallengeConfig;
using policy::ChallengeLevel;
using policy::Document;
using policy::Field;
using policy::kDay;
using policy::kHour;
using policy::kMinute;
using policy::kSecond;
using policy::parse_integer;
using policy::parse_rate;
using policy::quote;
using policy::Rate;
using policy::SourceMark;
using policy::type_name;

constexpr std::string_view kChallengeKeys[] = {"levels",
                                               "max_bits",
                                               "refresh_wait",
                                               "lifetime",
                                               "cookie",
                                               "clearance_lifetime",
                                               "signup_clearance_lifetime",
                                               "spent_max",
                                               "spent_per_prefix",
                                               "theme_css_file",
                                               "risk",
                                               "signup_single_use"};
constexpr std::string_view kRiskKeys[] = {"score_per_bit", "max_extra_bits"};
constexpr std::string_view kLevelKeys[] = {"rate", "bits"};
constexpr std::size_t kMaxLevels = 16;

void load_levels(Document& doc, const Field& f, const std::string& path, ChallengeConfig& c) {
  if (!doc.check_list(f, path, "a list of {rate, bits}", 0, kMaxLevels, "levels",
                      "at least one level is needed")) {
    return;
  }
  c.levels.clear();
  doc.for_each_item(
      f.value, path,
      [&](const YAML::Node& item, const std::string& item_path, const SourceMark& at) {
        if (!item.IsMap()) {
          doc.error(at,
                    item_path + ": expected a map with 'rate' and 'bits', got " + type_name(item));
          return;
        }
        ChallengeLevel level;
        bool has_bits = false;
        doc.each_field(
            item, kLevelKeys, item_path, [&](const Field& e, const std::string& key_path) {
              if (e.key == "bits") {
                has_bits = doc.read_uint(e, key_path, 1, 32, level.bits);
              } else if (e.key == "rate") {
                auto text = doc.scalar(e, key_path);
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
                  doc.error(doc.value_mark(e), key_path +
                                                   ": expected requests per second (e.g. 50 or "
                                                   "50/s), got " +
                                                   quote(*text));
                  return;
                }
                level.rate = static_cast<std::uint32_t>(rate->count * kSecond / rate->period_ms);
              }
            });
        if (!has_bits) {
          doc.error(at, item_path + ": missing required key 'bits'");
          return;
        }
        if (!c.levels.empty() && level.rate <= c.levels.back().rate) {
          doc.error(at, item_path + ": levels must be in rising order of rate");
          return;
        }
        c.levels.push_back(level);
      });
}

}  // namespace

void load_challenge(Document& doc, const Field& f, ChallengeConfig& c) {
  doc.each_section_field(
      f, kChallengeKeys, "challenge", [&](const Field& e, const std::string& path) {
        if (e.key == "levels") {
          load_levels(doc, e, path, c);
        } else if (e.key == "max_bits") {
          doc.read_uint(e, path, 1, 32, c.max_bits);
        } else if (e.key == "refresh_wait") {
          doc.read_duration(e, path, kSecond, 5 * kMinute, c.refresh_wait);
        } else if (e.key == "lifetime") {
          doc.read_duration(e, path, 10 * kSecond, kHour, c.challenge_lifetime);
        } else if (e.key == "cookie") {
          doc.read_cookie_name(e, path, c.cookie);
        } else if (e.key == "clearance_lifetime") {
          doc.read_duration(e, path, kMinute, 30 * kDay, c.clearance_lifetime);
        } else if (e.key == "signup_clearance_lifetime") {
          doc.read_duration(e, path, kMinute, kDay, c.signup_clearance_lifetime);
        } else if (e.key == "spent_max") {
          doc.read_uint(e, path, 1'000, 50'000'000, c.spent_max);
        } else if (e.key == "spent_per_prefix") {
          doc.read_uint(e, path, 1, 50'000'000, c.spent_per_prefix);
        } else if (e.key == "risk") {
          doc.each_section_field(e, kRiskKeys, path, [&](const Field& r, const std::string& rp) {
            if (r.key == "score_per_bit") {
              doc.read_uint(r, rp, 0, 1'000'000, c.risk_score_per_bit);
            } else {
              doc.read_uint(r, rp, 0, 16, c.risk_max_extra_bits);
            }
          });
        } else if (e.key == "signup_single_use") {
          doc.read_bool(e, path, c.signup_single_use);
        } else if (e.key == "theme_css_file") {
          if (auto name = doc.file_name(e.value, doc.value_mark(e), path)) {
            c.theme_css_file = *name;
          }
        }
      });
  for (const ChallengeLevel& l : c.levels) {
    if (l.bits > c.max_bits) {
      doc.error(doc.key_mark(f), "challenge.levels: a level asks " + std::to_string(l.bits) +
                                     " bits, above max_bits (" + std::to_string(c.max_bits) + ")");
      break;
    }
  }
}

}  // namespace gh::challenge
