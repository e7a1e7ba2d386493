#include "stages/reputation/scorer.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <utility>

#include "http/parser.h"
#include "http/text.h"
#include "stages/reputation/config.h"

namespace gh::reputation {

namespace {

using policy::ReputationAction;

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string where(const policy::ReputationRule& rule, std::size_t index) {
  std::string out;
  if (!rule.mark.file.empty()) {
    out = rule.mark.file + ":" + std::to_string(rule.mark.line) + ":" +
          std::to_string(rule.mark.column) + ": ";
  }
  out += "reputation.rules[" + std::to_string(index) + "]";
  if (!rule.name.empty()) out += " '" + rule.name + "'";
  return out;
}

// Scratch reused by every score() call of a thread, so steady state allocates nothing: the
// vectors only grow to the largest rule set seen.
struct Scratch {
  std::vector<int> ua_matches;
  std::vector<std::uint32_t> ua_rules;
  std::vector<std::uint8_t> headers;  // per header id: 0 not looked up yet, 1 present, 2 absent
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Index of the first field named `name` (lowercase), or -1.
int field_index(const http::RequestHead& head, std::string_view name) {
  for (std::size_t i = 0; i < head.field_count; ++i) {
    if (http::iequals(head.fields[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

// AS numbers of an operator's file: one per line ("64500" or "AS64500"), '#' comments.
bool read_asns_file(const std::string& path, std::vector<std::uint32_t>& out, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::string_view v = http::trim_ows(line);
    if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
    if (v.empty()) continue;
    if (v.size() > 2 && (v.substr(0, 2) == "AS" || v.substr(0, 2) == "as")) v.remove_prefix(2);
    std::uint64_t asn = 0;
    bool ok = !v.empty() && v.size() <= 10;
    for (const char c : v) {
      ok = ok && c >= '0' && c <= '9';
      asn = asn * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok || asn > 0xffffffffu) {
      error = path + ":" + std::to_string(n) + ": expected an AS number (64500 or AS64500)";
      return false;
    }
    if (out.size() >= 1'000'000) {
      error = path + ": over 1000000 AS numbers";
      return false;
    }
    out.push_back(static_cast<std::uint32_t>(asn));
  }
  return true;
}

}  // namespace

// What one score() call has learnt so far; each fact is looked up at most once, and only when a
// rule that got that far needs it.
class Scorer::Context {
 public:
  Context(const Scorer& scorer, const Request& r, std::uint32_t refusals, Scratch& s)
      : scorer_(scorer), request_(r), refusals_(refusals), scratch_(s) {
    if (r.head != nullptr) {
      method_ = r.head->method;
      path_ = r.path.empty() ? r.head->path : r.path;
    } else {
      path_ = r.path;
    }
    ip_ = lists::to_u128(r.client);
  }

  http::Method method() const { return method_; }
  std::string_view path() const { return path_; }
  lists::u128 ip() const { return ip_; }
  std::uint32_t refusals() const { return refusals_; }

  bool header_present(std::uint32_t id) {
    if (!headers_reset_) {
      scratch_.headers.assign(scorer_.header_names_.size(), 0);
      headers_reset_ = true;
    }
    std::uint8_t& state = scratch_.headers[id];
    if (state == 0) {
      state = 2;
      const std::string_view name = scorer_.header_names_[id];
      if (request_.head != nullptr) {
        for (std::size_t i = 0; i < request_.head->field_count; ++i) {
          const std::string_view f = request_.head->fields[i].name;
          if (f.size() == name.size() && http::iequals(f, name)) {
            state = 1;
            break;
          }
        }
      }
    }
    return state == 1;
  }

  // A claimed browser on a TLS connection whose JA4 is none of the browsers'.
  bool ja4_mismatch() {
    if (!ja4_looked_up_) {
      const std::string_view ja4 = request_.ja4;
      ja4_mismatch_ = !ja4.empty() && request_.head != nullptr &&
                      Scorer::claims_browser(*request_.head) &&
                      !scorer_.ja4_in(scorer_.browser_ja4_, ja4);
      ja4_looked_up_ = true;
    }
    return ja4_mismatch_;
  }

  bool browser_mismatch() {
    if (!mismatch_looked_up_) {
      mismatch_ =
          request_.head != nullptr && Scorer::browser_mismatch(*request_.head, request_.secure);
      mismatch_looked_up_ = true;
    }
    return mismatch_;
  }
  const Request& request() const { return request_; }

  // nullopt: the database has no ASN for this address.
  std::optional<std::uint32_t> asn() {
    if (!asn_looked_up_) {
      asn_ = scorer_.asn_ ? scorer_.asn_->lookup(request_.client) : std::nullopt;
      asn_looked_up_ = true;
    }
    return asn_;
  }

 private:
  const Scorer& scorer_;
  const Request& request_;
  std::uint32_t refusals_;
  Scratch& scratch_;
  http::Method method_ = http::Method::Other;
  std::string_view path_;
  lists::u128 ip_ = 0;
  bool headers_reset_ = false;
  bool asn_looked_up_ = false;
  bool mismatch_looked_up_ = false;
  bool mismatch_ = false;
  bool ja4_looked_up_ = false;
  bool ja4_mismatch_ = false;
  std::optional<std::uint32_t> asn_;
};

Scorer::~Scorer() = default;

std::unique_ptr<Scorer> Scorer::build(const policy::ReputationConfig& config, std::string& error) {
  std::unique_ptr<Scorer> s(new Scorer());
  s->suspect_score_ = config.suspect_score;

  RE2::Options options;
  options.set_log_errors(false);
  // The DFA of a few hundred alternatives needs more room than RE2's 8 MiB default; this is a
  // budget (the cache grows on demand), and out of it Match fails rather than allocating more.
  options.set_max_mem(64 << 20);
  auto set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);

  for (std::size_t i = 0; i < config.rules.size(); ++i) {
    const policy::ReputationRule& in = config.rules[i];
    const auto index = static_cast<std::uint32_t>(i);
    if (!has_condition(in)) {
      error = where(in, i) + ": no condition (a rule must say what it matches)";
      return nullptr;
    }
    Rule rule;
    rule.name = in.name.empty() ? "rules[" + std::to_string(i) + "]" : in.name;
    rule.action = in.action;
    rule.weight = in.weight;
    rule.level = in.action == ReputationAction::Challenge ? in.level : 0;
    rule.path_prefix = in.path_prefix;
    rule.recent_refusals = in.recent_refusals;
    rule.browser_mismatch = in.browser_mismatch;
    rule.page_view_skipped = in.page_view_skipped;
    rule.disposable_email = in.disposable_email;
    rule.ja4 = Span{static_cast<std::uint32_t>(s->ja4_patterns_.size()),
                    static_cast<std::uint32_t>(in.ja4.size())};
    s->ja4_patterns_.insert(s->ja4_patterns_.end(), in.ja4.begin(), in.ja4.end());
    rule.ja4_mismatch = in.ja4_mismatch;
    if (in.ja4_mismatch && config.browser_ja4.empty()) {
      error = where(in, i) + ": ja4_mismatch needs reputation.browser_ja4 (the browsers' JA4)";
      return nullptr;
    }
    rule.h2_fingerprints = in.h2_fingerprints;
    std::sort(rule.h2_fingerprints.begin(), rule.h2_fingerprints.end());
    s->uses_page_view_ = s->uses_page_view_ || in.page_view_skipped;
    if (in.disposable_email && s->disposable_ == nullptr) {
      std::string why;
      s->disposable_ = DisposableDomains::load(config.disposable_domains_file, why);
      if (s->disposable_ == nullptr) {
        error = "reputation.disposable_domains_file: " + why;
        return nullptr;
      }
    }

    if (!in.user_agent.empty()) {
      std::string re_error;
      if (set->Add(in.user_agent, &re_error) < 0) {
        error = where(in, i) + ": user_agent: " + re_error;
        return nullptr;
      }
      rule.has_user_agent = true;
      s->ua_rule_.push_back(index);
    } else {
      s->plain_rules_.push_back(index);
    }

    for (const http::Method m : in.methods) {
      rule.methods = static_cast<std::uint16_t>(rule.methods | (1u << static_cast<unsigned>(m)));
    }

    auto add_headers = [&](const std::vector<std::string>& names, Span& span,
                           const char* what) -> bool {
      span.begin = static_cast<std::uint32_t>(s->header_ids_.size());
      for (const std::string& name : names) {
        if (name.empty()) {
          error = where(in, i) + ": " + what + ": empty header name";
          return false;
        }
        const std::string lower = lowercase(name);
        auto it = std::find(s->header_names_.begin(), s->header_names_.end(), lower);
        if (it == s->header_names_.end()) {
          s->header_names_.push_back(lower);
          it = s->header_names_.end() - 1;
        }
        s->header_ids_.push_back(static_cast<std::uint32_t>(it - s->header_names_.begin()));
      }
      span.count = static_cast<std::uint32_t>(s->header_ids_.size()) - span.begin;
      return true;
    };
    if (!add_headers(in.headers_present, rule.present, "headers_present") ||
        !add_headers(in.headers_missing, rule.missing, "headers_missing")) {
      return nullptr;
    }

    // A rule's prefixes as sorted, merged 128-bit ranges: one binary search per lookup.
    std::vector<Range> ranges;
    for (const client::Cidr& c : in.cidrs) {
      const auto p = lists::to_prefix128(c);
      if (!p) {
        error = where(in, i) + ": cidrs: prefix length " + std::to_string(c.prefix_len) +
                " is longer than the address";
        return nullptr;
      }
      ranges.push_back(Range{p->start, p->end()});
    }
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.first < b.first; });
    rule.ranges.begin = static_cast<std::uint32_t>(s->ranges_.size());
    for (const Range& r : ranges) {
      const bool merge =
          s->ranges_.size() > rule.ranges.begin &&
          (s->ranges_.back().last == lists::kU128Max || r.first <= s->ranges_.back().last + 1);
      if (merge) {
        s->ranges_.back().last = std::max(s->ranges_.back().last, r.last);
      } else {
        s->ranges_.push_back(r);
      }
    }
    rule.ranges.count = static_cast<std::uint32_t>(s->ranges_.size()) - rule.ranges.begin;

    std::vector<std::uint32_t> asns = in.asns;
    if (!in.asns_file.empty()) {
      std::string why;
      if (!read_asns_file(in.asns_file, asns, why)) {
        error = where(in, i) + ": asns_file: " + why;
        return nullptr;
      }
    }
    std::sort(asns.begin(), asns.end());
    asns.erase(std::unique(asns.begin(), asns.end()), asns.end());
    rule.asns =
        Span{static_cast<std::uint32_t>(s->asns_.size()), static_cast<std::uint32_t>(asns.size())};
    s->asns_.insert(s->asns_.end(), asns.begin(), asns.end());
    if (!asns.empty()) {
      if (config.asn_database.empty()) {
        error = where(in, i) + ": asns needs reputation.asn_database (a MaxMind ASN .mmdb)";
        return nullptr;
      }
    }
    s->rules_.push_back(std::move(rule));
  }

  if (!s->ua_rule_.empty()) {
    if (!set->Compile()) {
      error = "reputation.rules: the user_agent patterns together exceed RE2's memory budget";
      return nullptr;
    }
    s->ua_set_ = std::move(set);
  }

  // Opened even when no rule uses it yet, so that a wrong path is reported at load, not later.
  if (!config.asn_database.empty()) {
    std::string db_error;
    s->asn_ = AsnDatabase::open(config.asn_database, db_error);
    if (!s->asn_) {
      error = "reputation.asn_database: " + db_error;
      return nullptr;
    }
  }

  s->browser_ja4_ = Span{static_cast<std::uint32_t>(s->ja4_patterns_.size()),
                         static_cast<std::uint32_t>(config.browser_ja4.size())};
  s->ja4_patterns_.insert(s->ja4_patterns_.end(), config.browser_ja4.begin(),
                          config.browser_ja4.end());
  s->page_view_min_age_ms_ = config.page_view.min_age;
  s->thresholds_ = config.thresholds;
  std::stable_sort(s->thresholds_.begin(), s->thresholds_.end(),
                   [](const policy::ReputationThreshold& a, const policy::ReputationThreshold& b) {
                     return a.score > b.score;
                   });
  return s;
}

bool Scorer::claims_browser(const http::RequestHead& head) noexcept {
  const int ua_at = field_index(head, "user-agent");
  if (ua_at < 0) return false;
  const std::string_view ua = head.fields[static_cast<std::size_t>(ua_at)].value;
  if (ua.find("Mozilla/5.0") == std::string_view::npos) return false;
  return ua.find("Chrome/") != std::string_view::npos ||
         ua.find("Firefox/") != std::string_view::npos ||
         (ua.find("Safari/") != std::string_view::npos &&
          ua.find("Version/") != std::string_view::npos);
}

bool Scorer::glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Greedy with one backtrack point (the last '*'): linear in practice, O(n*m) at worst, and
  // both are short (a JA4 is 36 characters, a pattern at most 64).
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool Scorer::ja4_in(const Span& span, std::string_view ja4) const noexcept {
  for (std::uint32_t k = 0; k < span.count; ++k) {
    if (glob_match(ja4_patterns_[span.begin + k], ja4)) return true;
  }
  return false;
}

bool Scorer::browser_mismatch(const http::RequestHead& head, bool secure) noexcept {
  const int ua_at = field_index(head, "user-agent");
  if (ua_at < 0) return false;
  const std::string_view ua = head.fields[static_cast<std::size_t>(ua_at)].value;
  if (ua.find("Mozilla/5.0") == std::string_view::npos) return false;
  const bool chromium = ua.find("Chrome/") != std::string_view::npos;
  const bool firefox = !chromium && ua.find("Firefox/") != std::string_view::npos;
  const bool safari = !chromium && !firefox && ua.find("Safari/") != std::string_view::npos &&
                      ua.find("Version/") != std::string_view::npos;
  if (!chromium && !firefox && !safari) return false;  // no browser claimed: other rules judge
  if (ua.find("HeadlessChrome") != std::string_view::npos ||
      ua.find("PhantomJS") != std::string_view::npos) {
    return true;
  }
  // Every current browser sends these on navigations, form posts and fetches alike.
  if (field_index(head, "accept") < 0 || field_index(head, "accept-language") < 0 ||
      field_index(head, "accept-encoding") < 0) {
    return true;
  }
  // Fetch metadata (Chrome 76, Firefox 90, Safari 16.4) and Chromium's client hints (89) go to
  // potentially trustworthy origins only: https, or a loopback host.
  if (secure) {
    if (field_index(head, "sec-fetch-mode") < 0 || field_index(head, "sec-fetch-site") < 0 ||
        field_index(head, "sec-fetch-dest") < 0) {
      return true;
    }
    if (chromium && field_index(head, "sec-ch-ua") < 0) return true;
  }
  // Order: Chromium sends its client hints before User-Agent; Firefox User-Agent right after
  // Host. Libraries that copy a browser's fields rarely copy their order.
  const int hints = field_index(head, "sec-ch-ua");
  if (chromium && hints >= 0 && hints > ua_at) return true;
  if (firefox) {
    const int host = field_index(head, "host");
    if (host >= 0 && ua_at != host + 1) return true;
  }
  return false;
}

bool Scorer::in_ranges(const Span& span, lists::u128 ip) const noexcept {
  const Range* first = ranges_.data() + span.begin;
  const Range* last = first + span.count;
  // The last range starting at or before ip is the only one that can hold it.
  const Range* it =
      std::upper_bound(first, last, ip, [](lists::u128 x, const Range& r) { return x < r.first; });
  return it != first && ip <= (it - 1)->last;
}

bool Scorer::matches(const Rule& rule, Context& ctx) const noexcept {
  // Cheapest conditions first; the user agent has already been matched by the caller.
  if (rule.methods != 0 && (rule.methods & (1u << static_cast<unsigned>(ctx.method()))) == 0) {
    return false;
  }
  if (rule.recent_refusals > 0 && ctx.refusals() < rule.recent_refusals) return false;
  if (!rule.path_prefix.empty() && !ctx.path().starts_with(rule.path_prefix)) return false;
  if (rule.ranges.count > 0 && !in_ranges(rule.ranges, ctx.ip())) return false;
  for (std::uint32_t k = 0; k < rule.present.count; ++k) {
    if (!ctx.header_present(header_ids_[rule.present.begin + k])) return false;
  }
  for (std::uint32_t k = 0; k < rule.missing.count; ++k) {
    if (ctx.header_present(header_ids_[rule.missing.begin + k])) return false;
  }
  if (rule.page_view_skipped) {
    const std::int64_t age = ctx.request().page_view_age_ms;
    if (age >= 0 && age >= page_view_min_age_ms_) return false;
  }
  if (rule.disposable_email) {
    const std::string_view domain = ctx.request().email_domain;
    if (disposable_ == nullptr || !disposable_->contains(domain)) return false;
  }
  if (rule.browser_mismatch && !ctx.browser_mismatch()) return false;
  if (rule.ja4.count > 0) {
    const std::string_view ja4 = ctx.request().ja4;
    if (ja4.empty() || !ja4_in(rule.ja4, ja4)) return false;
  }
  if (rule.ja4_mismatch && !ctx.ja4_mismatch()) return false;
  if (!rule.h2_fingerprints.empty()) {
    const std::string_view fp = ctx.request().h2_fingerprint;
    if (fp.empty() || !std::binary_search(rule.h2_fingerprints.begin(),
                                          rule.h2_fingerprints.end(), fp)) {
      return false;
    }
  }
  if (rule.asns.count > 0) {
    const std::optional<std::uint32_t> asn = ctx.asn();
    if (!asn) return false;
    const std::uint32_t* first = asns_.data() + rule.asns.begin;
    if (!std::binary_search(first, first + rule.asns.count, *asn)) return false;
  }
  return true;
}

Score Scorer::score(const Request& r, std::uint32_t recent_refusals) const noexcept {
  Scratch& sc = scratch();
  Context ctx(*this, r, recent_refusals, sc);

  // One pass of RE2::Set over the user agent names every UA rule that matches it. A missing
  // User-Agent is matched as "" (so "^$" catches both); of several, the first counts.
  sc.ua_rules.clear();
  if (ua_set_) {
    std::string_view ua;
    if (r.head != nullptr) {
      for (std::size_t i = 0; i < r.head->field_count; ++i) {
        if (http::iequals(r.head->fields[i].name, "user-agent")) {
          ua = r.head->fields[i].value;
          break;
        }
      }
    }
    const re2::StringPiece text(ua.data(), ua.size());
    RE2::Set::ErrorInfo info{};
    // Match with an output vector allocates RE2's match set; the bare form does not and stops at
    // the first match, so it screens out user agents that match nothing.
    if (ua_set_->Match(text, nullptr, &info)) {
      if (sc.ua_matches.capacity() < ua_rule_.size()) sc.ua_matches.reserve(ua_rule_.size());
      if (ua_set_->Match(text, &sc.ua_matches, &info)) {
        if (sc.ua_rules.capacity() < ua_rule_.size()) sc.ua_rules.reserve(ua_rule_.size());
        for (const int m : sc.ua_matches) sc.ua_rules.push_back(ua_rule_[static_cast<unsigned>(m)]);
        std::sort(sc.ua_rules.begin(), sc.ua_rules.end());
      }
    }
    if (info.kind == RE2::Set::kOutOfMemory) {
      ua_failures_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  std::int64_t total = 0;
  bool refusal_rule = false;
  const Rule* challenge = nullptr;  // the highest-level challenge rule that matched
  const Rule* heaviest = nullptr;   // the weigh rule that added the most
  auto finish_total = [&] {
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(
        total, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()));
  };

  // Rules in config order: the rules without a UA condition merged with the UA rules that matched.
  std::size_t p = 0;
  std::size_t u = 0;
  const std::size_t np = plain_rules_.size();
  const std::size_t nu = sc.ua_rules.size();
  while (p < np || u < nu) {
    std::uint32_t index;
    if (u >= nu || (p < np && plain_rules_[p] < sc.ua_rules[u])) {
      index = plain_rules_[p++];
    } else {
      index = sc.ua_rules[u++];
    }
    const Rule& rule = rules_[index];
    if (!matches(rule, ctx)) continue;
    total += rule.weight;
    if (rule.recent_refusals > 0) refusal_rule = true;
    switch (rule.action) {
      case ReputationAction::Allow:
        // Known good (monitoring, feeds, published crawler ranges): never suspect.
        return Score{finish_total(), ReputationAction::Allow, 0, rule.name, false};
      case ReputationAction::Deny: {
        const std::int32_t t = finish_total();
        return Score{t, ReputationAction::Deny, 0, rule.name, t >= suspect_score_ || refusal_rule};
      }
      case ReputationAction::Challenge:
        if (challenge == nullptr || rule.level > challenge->level) challenge = &rule;
        break;
      case ReputationAction::Weigh:
        if (rule.weight > 0 && (heaviest == nullptr || rule.weight > heaviest->weight)) {
          heaviest = &rule;
        }
        break;
    }
  }

  Score out;
  out.total = finish_total();
  out.suspect = out.total >= suspect_score_ || refusal_rule;
  for (const policy::ReputationThreshold& t : thresholds_) {
    if (out.total >= t.score) {
      out.action = t.action;
      out.level = t.action == ReputationAction::Challenge ? t.level : 0;
      break;
    }
  }
  const Rule* decider = heaviest;
  if (challenge != nullptr) {
    // A challenge rule is a floor: the thresholds may only make the answer stronger.
    if (out.action == ReputationAction::Challenge) {
      if (challenge->level >= out.level) {
        out.level = challenge->level;
        decider = challenge;
      }
    } else if (out.action != ReputationAction::Deny) {
      out.action = ReputationAction::Challenge;
      out.level = challenge->level;
      decider = challenge;
    }
  }
  if (decider != nullptr) out.rule = decider->name;
  return out;
}

}  // namespace gh::reputation
