// Fuzzes Scorer::score over parsed requests. Byte 0 is the prefix's recent refusals, byte 1 picks
// IPv4 or IPv6, the next 16 bytes are the client address, the rest is the request head. A fixed
// rule set (every condition kind, allow / deny / challenge, thresholds) is scored by the Scorer
// (RE2::Set, merged rule order, cached header lookups) and by a plain reference written here
// (one RE2 per rule, rules walked in order), which must agree on every field.
#include <re2/re2.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/address.h"
#include "fuzz_check.h"
#include "http/parser.h"
#include "stages/reputation/scorer.h"

namespace {

using gh::fuzz::check;
using gh::policy::ReputationAction;
using gh::policy::ReputationConfig;
using gh::policy::ReputationRule;

gh::client::Cidr cidr(const char* text) {
  return *gh::client::parse_cidr(text);
}

ReputationConfig make_config() {
  ReputationConfig c;
  c.suspect_score = 30;
  auto add = [&](const char* name, const char* ua, std::int32_t weight,
                 ReputationAction action = ReputationAction::Weigh) -> ReputationRule& {
    ReputationRule r;
    r.name = name;
    r.user_agent = ua;
    r.weight = weight;
    r.action = action;
    c.rules.push_back(r);
    return c.rules.back();
  };
  add("monitoring", "^Pingdom", 0, ReputationAction::Allow).cidrs = {cidr("10.0.0.0/8")};
  add("curl-like", "(?i)^(curl|wget|python-requests|go-http-client)", 40);
  add("browser-without-accept-language", "Mozilla/", 30).headers_missing = {"accept-language"};
  add("refused-lately", "", 50).recent_refusals = 20;
  ReputationRule& signup = add("signup-post", "", 5, ReputationAction::Challenge);
  signup.path_prefix = "/signup";
  signup.methods = {gh::http::Method::Post, gh::http::Method::Put};
  signup.level = 3;
  add("ajax-with-cookie", "", -20).headers_present = {"Cookie", "X-Requested-With"};
  add("scanner", "(?i)(sqlmap|nikto|masscan)", 0, ReputationAction::Deny);
  add("no-user-agent", "^$", 25);
  add("doc-v6", "", 10).cidrs = {cidr("2001:db8::/32"), cidr("2001:db8:1::/48")};
  ReputationRule& low = add("ua-challenge", "(?i)headless", 1, ReputationAction::Challenge);
  low.level = 1;
  low.methods = {gh::http::Method::Get};
  c.thresholds = {{20, ReputationAction::Challenge, 0},
                  {80, ReputationAction::Deny, 0},
                  {40, ReputationAction::Challenge, 2}};
  return c;
}

const ReputationConfig& config() {
  static const ReputationConfig c = make_config();
  return c;
}

const gh::reputation::Scorer& scorer() {
  static const std::unique_ptr<gh::reputation::Scorer> s = [] {
    std::string error;
    auto built = gh::reputation::Scorer::build(config(), error);
    if (!built) gh::fuzz::fail(__FILE__, __LINE__, error.c_str());
    return built;
  }();
  return *s;
}

bool has_field(const gh::http::RequestHead& h, std::string_view name) {
  for (std::size_t i = 0; i < h.field_count; ++i) {
    if (gh::http::iequals(h.fields[i].name, name)) return true;
  }
  return false;
}

int strength(ReputationAction a) {
  return a == ReputationAction::Deny ? 2 : a == ReputationAction::Challenge ? 1 : 0;
}

// The semantics of scorer.h, evaluated the slow and obvious way.
gh::reputation::Score reference(const gh::http::RequestHead& h, const gh::client::IpAddress& ip,
                                std::uint32_t refusals) {
  static const std::vector<std::unique_ptr<RE2>> patterns = [] {
    std::vector<std::unique_ptr<RE2>> v;
    for (const ReputationRule& r : config().rules) v.push_back(std::make_unique<RE2>(r.user_agent));
    return v;
  }();
  std::string_view ua;
  for (std::size_t i = 0; i < h.field_count; ++i) {
    if (gh::http::iequals(h.fields[i].name, "user-agent")) {
      ua = h.fields[i].value;
      break;
    }
  }
  std::int64_t total = 0;
  bool refused = false;
  const ReputationRule* challenge = nullptr;
  const ReputationRule* heaviest = nullptr;
  for (std::size_t i = 0; i < config().rules.size(); ++i) {
    const ReputationRule& r = config().rules[i];
    if (!r.user_agent.empty() &&
        !RE2::PartialMatch(re2::StringPiece(ua.data(), ua.size()), *patterns[i])) {
      continue;
    }
    if (!r.path_prefix.empty() && !h.path.starts_with(r.path_prefix)) continue;
    if (!r.methods.empty()) {
      bool any = false;
      for (const auto m : r.methods) any = any || m == h.method;
      if (!any) continue;
    }
    bool ok = true;
    for (const auto& n : r.headers_present) ok = ok && has_field(h, n);
    for (const auto& n : r.headers_missing) ok = ok && !has_field(h, n);
    if (!r.cidrs.empty()) {
      bool any = false;
      for (const auto& c : r.cidrs) any = any || gh::client::contains(c, ip);
      ok = ok && any;
    }
    if (r.recent_refusals > 0 && refusals < r.recent_refusals) ok = false;
    if (!ok) continue;
    total += r.weight;
    refused = refused || r.recent_refusals > 0;
    if (r.action == ReputationAction::Allow) {
      return {static_cast<std::int32_t>(total), ReputationAction::Allow, 0, r.name, false};
    }
    if (r.action == ReputationAction::Deny) {
      return {static_cast<std::int32_t>(total), ReputationAction::Deny, 0, r.name,
              total >= config().suspect_score || refused};
    }
    if (r.action == ReputationAction::Challenge && (!challenge || r.level > challenge->level)) {
      challenge = &r;
    }
    if (r.action == ReputationAction::Weigh && r.weight > 0 &&
        (!heaviest || r.weight > heaviest->weight)) {
      heaviest = &r;
    }
  }
  gh::reputation::Score out;
  out.total = static_cast<std::int32_t>(total);
  out.suspect = total >= config().suspect_score || refused;
  int best = -1;
  for (const auto& t : config().thresholds) {  // highest matching score, whatever the order
    if (total >= t.score && t.score > best) {
      best = t.score;
      out.action = t.action;
      out.level = t.action == ReputationAction::Challenge ? t.level : 0;
    }
  }
  const ReputationRule* decider = heaviest;
  if (challenge != nullptr) {
    if (strength(out.action) < 1) {
      out.action = ReputationAction::Challenge;
      out.level = challenge->level;
      decider = challenge;
    } else if (out.action == ReputationAction::Challenge && challenge->level >= out.level) {
      out.level = challenge->level;
      decider = challenge;
    }
  }
  if (decider != nullptr) out.rule = decider->name;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 18) return 0;
  const std::uint32_t refusals = data[0] < 200 ? data[0] / 8 : 1000u * data[0];
  gh::client::IpAddress ip;
  std::memcpy(ip.bytes.data(), data + 2, 16);
  if ((data[1] & 1) == 0) {
    ip = gh::client::make_ipv4(data[2], data[3], data[4], data[5]);
  }
  const std::string_view buf(reinterpret_cast<const char*>(data) + 18, size - 18);
  gh::http::RequestHead h;
  const gh::http::ParseResult r = gh::http::parse_request(buf, gh::http::HeadLimits{}, h);
  if (r.status != gh::http::ParseStatus::Complete) return 0;

  gh::reputation::Request req;
  req.head = &h;
  req.client = ip;
  const gh::reputation::Score got = scorer().score(req, refusals);
  const gh::reputation::Score want = reference(h, ip, refusals);
  check(got.total == want.total, "total agrees with the reference");
  check(got.action == want.action, "action agrees with the reference");
  check(got.level == want.level, "level agrees with the reference");
  check(got.rule == want.rule, "deciding rule agrees with the reference");
  check(got.suspect == want.suspect, "suspect agrees with the reference");
  check(got.action != ReputationAction::Allow || !got.suspect, "allowed is never suspect");
  const gh::reputation::Score again = scorer().score(req, refusals);
  check(again.total == got.total && again.action == got.action && again.rule == got.rule,
        "deterministic");
  return 0;
}
