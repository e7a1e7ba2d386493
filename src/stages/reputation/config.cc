#include "stages/reputation/config.h"

#include <re2/re2.h>

#include <algorithm>
#include <string>

#include "config/document.h"

namespace gh::reputation {
namespace {

using policy::Document;
using policy::Field;
using policy::kMaxListEntries;
using policy::kMaxRegexBytes;
using policy::parse_integer;
using policy::quote;
using policy::ReputationAction;
using policy::ReputationConfig;
using policy::ReputationRule;
using policy::ReputationThreshold;
using policy::SourceMark;
using policy::type_name;
using policy::valid_path;

constexpr std::string_view kReputationKeys[] = {
    "rules",     "thresholds",  "suspect_score",           "asn_database",
    "page_view", "email_field", "disposable_domains_file", "browser_ja4"};
constexpr std::string_view kPageViewKeys[] = {"cookie", "min_age", "lifetime"};
constexpr std::string_view kRuleKeys[] = {"name",
                                          "user_agent",
                                          "path_prefix",
                                          "methods",
                                          "headers_present",
                                          "headers_missing",
                                          "cidrs",
                                          "asns",
                                          "asns_file",
                                          "recent_refusals",
                                          "browser_mismatch",
                                          "page_view",
                                          "disposable_email",
                                          "ja4",
                                          "ja4_mismatch",
                                          "h2_fingerprints",
                                          "action",
                                          "weight",
                                          "level"};
constexpr std::string_view kPageViewStates[] = {"skipped"};
constexpr std::string_view kThresholdKeys[] = {"score", "action", "level"};
constexpr std::string_view kReputationActions[] = {"weigh", "allow", "deny", "challenge"};
constexpr ReputationAction kReputationActionKinds[] = {
    ReputationAction::Weigh, ReputationAction::Allow, ReputationAction::Deny,
    ReputationAction::Challenge};
constexpr std::size_t kMaxRules = 1'000;
constexpr std::size_t kMaxJa4Pattern = 64;

// A JA4 or a pattern of one: its characters, and `*`.
void read_ja4_patterns(Document& doc, const Field& f, const std::string& path,
                       std::vector<std::string>& out) {
  if (!doc.check_list(f, path, "a list of JA4 fingerprints", out.size(), kMaxListEntries,
                      "fingerprints")) {
    return;
  }
  doc.for_each_scalar(
      f.value, path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        const bool ok = !text.empty() && text.size() <= kMaxJa4Pattern &&
                        std::all_of(text.begin(), text.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                 (c >= '0' && c <= '9') || c == '_' || c == '*';
                        });
        if (!ok) {
          doc.error(at,
                    item_path +
                        ": expected a JA4 fingerprint (e.g. t13d1516h2_8daaf6152771_e5627efa2ab1,"
                        " '*' for any characters), got " +
                        quote(text));
          return;
        }
        out.push_back(text);
      });
}
constexpr std::size_t kMaxThresholds = 16;

void load_rule(Document& doc, const YAML::Node& node, const std::string& path,
               ReputationConfig& r) {
  ReputationRule rule;
  rule.mark = doc.mark(node.Mark());
  if (!node.IsMap()) {
    doc.error(rule.mark, path + ": expected a map with 'name', got " + type_name(node));
    return;
  }
  bool has_name = false;
  int conditions = 0;  // condition keys given, valid or not (one error is enough); a false one not
  bool has_weight = false;
  doc.each_field(node, kRuleKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "name") {
      has_name = true;
      doc.read_unique_name(e, key_path, r.rules, "rule name", "", rule.name);
      return;
    }
    if (e.key == "action") {
      if (auto i = doc.read_choice(e, key_path, kReputationActions, "action")) {
        rule.action = kReputationActionKinds[*i];
      }
      return;
    }
    if (e.key == "weight") {
      has_weight = true;
      auto text = doc.scalar(e, key_path);
      if (!text) {
        return;
      }
      const bool negative = !text->empty() && (*text)[0] == '-';
      auto n = parse_integer(negative ? std::string_view(*text).substr(1) : *text);
      if (!n || *n > 1'000'000) {
        doc.error(doc.value_mark(e), key_path +
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
      doc.read_uint(e, key_path, 0, 8, rule.level);
      return;
    }
    ++conditions;
    if (e.key == "user_agent") {
      if (auto text = doc.scalar(e, key_path)) {
        RE2 re(*text, RE2::Quiet);
        if (text->size() > kMaxRegexBytes || !re.ok()) {
          doc.error(doc.value_mark(e), key_path + ": invalid pattern " + quote(*text) +
                                           (re.ok() ? ": too long" : ": " + re.error()));
        } else {
          rule.user_agent = *text;
        }
      }
    } else if (e.key == "path_prefix") {
      if (auto text = doc.scalar(e, key_path)) {
        if (!valid_path(*text)) {
          doc.error(doc.value_mark(e),
                    key_path + ": expected a path starting with '/', got " + quote(*text));
        } else {
          rule.path_prefix = *text;
        }
      }
    } else if (e.key == "methods") {
      doc.read_methods(e, key_path, rule.methods);
    } else if (e.key == "headers_present") {
      doc.read_header_names(e, key_path, rule.headers_present);
    } else if (e.key == "headers_missing") {
      doc.read_header_names(e, key_path, rule.headers_missing);
    } else if (e.key == "cidrs") {
      doc.read_cidrs(e, key_path, kMaxListEntries, rule.cidrs);
    } else if (e.key == "asns") {
      if (!doc.check_list(e, key_path, "a list of AS numbers", 0, 10'000, "AS numbers")) {
        return;
      }
      doc.for_each_scalar(
          e.value, key_path,
          [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
            std::string_view digits = text;
            if (digits.size() > 2 && (digits.substr(0, 2) == "AS" || digits.substr(0, 2) == "as")) {
              digits.remove_prefix(2);
            }
            auto n = parse_integer(digits);
            if (!n || *n > 0xffffffffu) {
              doc.error(at, item_path + ": expected an AS number (e.g. 64500 or AS64500), got " +
                                quote(text));
              return;
            }
            rule.asns.push_back(static_cast<std::uint32_t>(*n));
          });
    } else if (e.key == "recent_refusals") {
      doc.read_uint(e, key_path, 1, 1'000'000, rule.recent_refusals);
    } else if (e.key == "asns_file") {
      if (auto name = doc.file_name(e.value, doc.value_mark(e), key_path)) rule.asns_file = *name;
    } else if (e.key == "browser_mismatch") {
      doc.read_bool(e, key_path, rule.browser_mismatch);
      if (!rule.browser_mismatch) --conditions;
    } else if (e.key == "page_view") {
      if (doc.read_choice(e, key_path, kPageViewStates, "page view state")) {
        rule.page_view_skipped = true;
      }
    } else if (e.key == "disposable_email") {
      doc.read_bool(e, key_path, rule.disposable_email);
      if (!rule.disposable_email) --conditions;
    } else if (e.key == "ja4") {
      read_ja4_patterns(doc, e, key_path, rule.ja4);
    } else if (e.key == "ja4_mismatch") {
      doc.read_bool(e, key_path, rule.ja4_mismatch);
      if (!rule.ja4_mismatch) --conditions;
    } else if (e.key == "h2_fingerprints") {
      if (!doc.check_list(e, key_path, "a list of HTTP/2 fingerprints", 1, 10'000,
                          "fingerprints")) {
        return;
      }
      doc.for_each_scalar(e.value, key_path,
                          [&](const std::string& text, const std::string&, const SourceMark&) {
                            rule.h2_fingerprints.push_back(text);
                          });
    }
  });
  if (!has_name) {
    doc.error(rule.mark, path + ": missing required key 'name'");
  }
  if (conditions == 0) {
    doc.error(rule.mark, path +
                             ": a rule needs at least one condition (user_agent, path_prefix, "
                             "methods, headers_present, headers_missing, cidrs, asns, asns_file, "
                             "recent_refusals, browser_mismatch, page_view, disposable_email, ja4 "
                             "or ja4_mismatch)");
  }
  if (rule.action == ReputationAction::Weigh && !has_weight) {
    doc.error(rule.mark, path +
                             ": a rule that weighs needs a 'weight' (or an action: allow, deny, "
                             "challenge)");
  }
  r.rules.push_back(std::move(rule));
}

void load_threshold(Document& doc, const YAML::Node& node, const std::string& path,
                    ReputationConfig& r) {
  ReputationThreshold t;
  const SourceMark at = doc.mark(node.Mark());
  if (!node.IsMap()) {
    doc.error(at, path + ": expected a map with 'score' and 'action', got " + type_name(node));
    return;
  }
  bool has_score = false;
  bool has_action = false;
  doc.each_field(node, kThresholdKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "score") {
      has_score = doc.read_uint(e, key_path, 1, 1'000'000, t.score);
    } else if (e.key == "action") {
      if (auto i = doc.read_choice(e, key_path, kReputationActions, "action")) {
        has_action = true;
        t.action = kReputationActionKinds[*i];
        if (t.action == ReputationAction::Weigh) {
          doc.error(doc.value_mark(e), key_path + ": a threshold maps to allow, deny or challenge");
        }
      }
    } else if (e.key == "level") {
      doc.read_uint(e, key_path, 0, 8, t.level);
    }
  });
  if (!has_score) {
    doc.error(at, path + ": missing required key 'score'");
  }
  if (!has_action) {
    doc.error(at, path + ": missing required key 'action'");
  }
  r.thresholds.push_back(t);
}

}  // namespace

bool has_condition(const policy::ReputationRule& rule) {
  return !rule.user_agent.empty() || !rule.path_prefix.empty() || !rule.methods.empty() ||
         !rule.headers_present.empty() || !rule.headers_missing.empty() || !rule.cidrs.empty() ||
         !rule.asns.empty() || !rule.asns_file.empty() || rule.recent_refusals > 0 ||
         rule.browser_mismatch || rule.page_view_skipped || rule.disposable_email ||
         !rule.ja4.empty() || rule.ja4_mismatch || !rule.h2_fingerprints.empty();
}

void load_reputation(Document& doc, const Field& f, ReputationConfig& r) {
  SourceMark asn_rule_mark;
  doc.each_section_field(
      f, kReputationKeys, "reputation", [&](const Field& e, const std::string& path) {
        if (e.key == "rules") {
          if (!doc.check_list(e, path, "a list of rules", r.rules.size(), kMaxRules, "rules")) {
            return;
          }
          doc.for_each_item(e.value, path,
                            [&](const YAML::Node& item, const std::string& item_path,
                                const SourceMark&) { load_rule(doc, item, item_path, r); });
        } else if (e.key == "thresholds") {
          if (!doc.check_list(e, path, "a list of thresholds", 0, kMaxThresholds, "thresholds")) {
            return;
          }
          doc.for_each_item(e.value, path,
                            [&](const YAML::Node& item, const std::string& item_path,
                                const SourceMark&) { load_threshold(doc, item, item_path, r); });
        } else if (e.key == "suspect_score") {
          doc.read_uint(e, path, 1, 1'000'000, r.suspect_score);
        } else if (e.key == "asn_database") {
          if (auto name = doc.file_name(e.value, doc.value_mark(e), path)) {
            r.asn_database = *name;
          }
        } else if (e.key == "page_view") {
          doc.each_section_field(
              e, kPageViewKeys, path, [&](const Field& p, const std::string& pp) {
                if (p.key == "cookie") {
                  doc.read_cookie_name(p, pp, r.page_view.cookie);
                } else if (p.key == "min_age") {
                  doc.read_duration(p, pp, 0, policy::kMinute, r.page_view.min_age);
                } else if (p.key == "lifetime") {
                  doc.read_duration(p, pp, policy::kMinute, policy::kDay, r.page_view.lifetime);
                }
              });
        } else if (e.key == "email_field") {
          if (auto text = doc.scalar(e, path)) {
            if (text->empty() || text->size() > 64 || text->find(' ') != std::string::npos) {
              doc.error(doc.value_mark(e),
                        path + ": expected a body field name, got " + quote(*text));
            } else {
              r.email_field = *text;
            }
          }
        } else if (e.key == "disposable_domains_file") {
          if (auto name = doc.file_name(e.value, doc.value_mark(e), path)) {
            r.disposable_domains_file = *name;
          }
        } else if (e.key == "browser_ja4") {
          read_ja4_patterns(doc, e, path, r.browser_ja4);
        }
      });
  for (const ReputationRule& rule : r.rules) {
    if ((!rule.asns.empty() || !rule.asns_file.empty()) && r.asn_database.empty()) {
      doc.error(rule.mark, "reputation: rule " + quote(rule.name) +
                               " matches AS numbers, but no asn_database is set");
    }
    if (rule.ja4_mismatch && r.browser_ja4.empty()) {
      doc.error(rule.mark, "reputation: rule " + quote(rule.name) +
                               " has ja4_mismatch, but no browser_ja4 lists the browsers' JA4");
    }
  }
  std::stable_sort(
      r.thresholds.begin(), r.thresholds.end(),
      [](const ReputationThreshold& a, const ReputationThreshold& b) { return a.score > b.score; });
}

}  // namespace gh::reputation
