// The passive bot score: rules over what the request head already tells (user agent, header
// shape, path, method, client prefix, ASN, recent refusals), summed and mapped to an action by
// thresholds. Built once per config generation, off the request path; score() is const, takes no
// lock of ours, throws nothing and allocates nothing in steady state (README.md has the one
// exception inside RE2). One Scorer is shared by every worker thread.
#pragma once

#include <re2/set.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stages/lists/key128.h"
#include "stages/reputation/asn.h"
#include "stages/reputation/config-t.h"
#include "stages/reputation/disposable.h"
#include "stages/reputation/reputation-t.h"

namespace gh::reputation {

class Scorer {
 public:
  // nullptr with `error` set ("reputation.rules[2] 'curl': user_agent: missing )") when a rule is
  // invalid: no condition at all, a user_agent that RE2 refuses, an empty header name, a prefix
  // longer than its family, `asns` without `asn_database`; or when the ASN database cannot be
  // opened. The config is copied: the Scorer keeps no reference to it.
  static std::unique_ptr<Scorer> build(const policy::ReputationConfig& config, std::string& error);
  ~Scorer();
  Scorer(const Scorer&) = delete;
  Scorer& operator=(const Scorer&) = delete;

  // Rules are read in config order. The first allow or deny rule that matches decides at once;
  // challenge rules set a floor (Challenge at their level, or Deny if the thresholds say so);
  // weights add up and the thresholds, highest score first, map the total to an action.
  // `recent_refusals`: RefusalTracker::recent() of the client's prefix.
  Score score(const Request& r, std::uint32_t recent_refusals) const noexcept;

  std::size_t rule_count() const noexcept { return rules_.size(); }
  std::size_t ua_pattern_count() const noexcept { return ua_rule_.size(); }
  bool uses_asn() const noexcept { return asn_ != nullptr; }
  // Some rule reads the page-view cookie's age / the sign-up body's address: the caller fills
  // Request::page_view_age_ms / email_domain only then.
  bool uses_page_view() const noexcept { return uses_page_view_; }
  bool uses_email() const noexcept { return disposable_ != nullptr; }
  // Whether `user_agent` claims a browser whose request `head` does not look like (exposed for
  // tests and for the sim's profiles to be checked against).
  static bool browser_mismatch(const http::RequestHead& head, bool secure) noexcept;
  // Whether the user agent claims Chrome (or another Chromium), Firefox or Safari.
  static bool claims_browser(const http::RequestHead& head) noexcept;
  // `text` matches `pattern`, where `*` matches any run of characters (JA4 patterns).
  static bool glob_match(std::string_view pattern, std::string_view text) noexcept;
  // RE2 gave up on a user agent (DFA out of memory); its UA conditions counted as not matching.
  std::uint64_t ua_match_failures() const noexcept {
    return ua_failures_.load(std::memory_order_relaxed);
  }

 private:
  struct Span {
    std::uint32_t begin = 0;
    std::uint32_t count = 0;
  };
  struct Rule {
    std::string name;
    policy::ReputationAction action = policy::ReputationAction::Weigh;
    std::int32_t weight = 0;
    std::uint8_t level = 0;
    bool has_user_agent = false;
    std::uint16_t methods = 0;  // bit per http::Method; 0: any
    std::string path_prefix;
    Span present;  // into header_ids_
    Span missing;  // into header_ids_
    Span ranges;   // into ranges_
    Span asns;     // into asns_, sorted
    std::uint32_t recent_refusals = 0;
    bool browser_mismatch = false;
    bool page_view_skipped = false;
    bool disposable_email = false;
    Span ja4;  // into ja4_patterns_
    bool ja4_mismatch = false;
    std::vector<std::string> h2_fingerprints;  // sorted
  };
  struct Range {
    lists::u128 first;
    lists::u128 last;
  };
  class Context;

  Scorer() = default;
  bool matches(const Rule& rule, Context& ctx) const noexcept;
  bool in_ranges(const Span& span, lists::u128 ip) const noexcept;
  bool ja4_in(const Span& span, std::string_view ja4) const noexcept;

  std::vector<Rule> rules_;
  bool uses_page_view_ = false;
  std::int64_t page_view_min_age_ms_ = 0;
  std::unique_ptr<DisposableDomains> disposable_;  // only when a rule asks
  std::vector<std::uint32_t> plain_rules_;         // rules without a user_agent condition, in order
  std::vector<std::uint32_t> ua_rule_;             // RE2::Set pattern index -> rule index
  std::unique_ptr<re2::RE2::Set> ua_set_;          // every rule's user_agent, matched in one pass
  std::vector<std::string> header_names_;          // distinct, lowercased
  std::vector<std::uint32_t> header_ids_;
  std::vector<Range> ranges_;  // per rule: sorted, merged
  std::vector<std::uint32_t> asns_;
  std::vector<std::string> ja4_patterns_;                // every rule's, then browser_ja4
  Span browser_ja4_;                                     // into ja4_patterns_
  std::vector<policy::ReputationThreshold> thresholds_;  // highest score first
  std::int32_t suspect_score_ = 0;
  std::unique_ptr<AsnDatabase> asn_;
  mutable std::atomic<std::uint64_t> ua_failures_{0};
};

}  // namespace gh::reputation
