#include "stages/challenge/gate.h"

#include <algorithm>
#include <optional>

#include "stages/challenge/form.h"
#include "stages/challenge/pages.h"
#include "stages/challenge/pow.h"

namespace gh::challenge {
namespace {

// A refused answer: JSON for API clients, else the short text refusal. `why` may be built
// here: it is kept in the page buffer, which the answer then points into.
EndpointAnswer refused(const GateContext& g, std::string_view why, std::uint16_t status = 403,
                       std::uint32_t retry_after = 0) {
  if (retry_after == 0 && status == 503) retry_after = 5;
  if (why.data() != g.page.data()) g.page.assign(why);
  if (g.json) {
    const std::string reason = g.page;
    g.page = "{\"error\":\"challenge_refused\",\"reason\":\"";
    g.page += reason;
    g.page += "\"}";
    return {stages::page(status, stages::kJson, g.page, retry_after), Outcome::Refused};
  }
  return {stages::refusal(status, g.page, retry_after), Outcome::Refused};
}

// The clearance for a solved challenge: a cookie, and back to where the visitor was going.
EndpointAnswer grant(const GateContext& g, const Token& solved, std::string_view return_path) {
  const policy::ChallengeConfig& c = g.config;
  const std::uint32_t scope = solved.scope;
  const std::int64_t lifetime =
      scope == kSignupScope ? c.signup_clearance_lifetime : c.clearance_lifetime;
  std::optional<Token> tok = new_token(TokenKind::Clearance, g.wall_ms, lifetime);
  if (!tok) return refused(g, "cannot issue a clearance now", 503);
  tok->scope = scope;
  tok->binding = g.binding;
  // What it cost, carried for the report on accounts (clamped: a token lives minutes).
  tok->bits = solved.bits;
  const auto solve_ms = static_cast<std::uint64_t>(
      std::clamp<std::int64_t>(g.wall_ms - solved.issued_ms, 0, std::int64_t{1} << 40));
  tok->subject = solve_ms << 8 | (solved.subject & 0xff);
  std::array<char, kTokenTextSize> text;
  const std::string_view value{text.data(), g.codec.encode(*tok, text)};
  char cookie[512];
  const std::string_view set_cookie{
      cookie,
      http::format_set_cookie(c.cookie, value, lifetime / 1000, cookie, sizeof cookie, g.secure)};
  g.fields.put(set_cookie);
  if (g.json) {
    g.page = "{\"clearance\":\"";
    g.page += value;
    g.page += "\",\"cookie\":\"";
    g.page += c.cookie;
    g.page += "\",\"expires_in\":";
    g.page += std::to_string(lifetime / 1000);
    g.page += "}";
    return {stages::page(200, stages::kJson, g.page, 0, g.fields.view()), Outcome::Solved};
  }
  // Back to where the visitor was going; the path is checked same-origin (never an open
  // redirect).
  const std::string_view to = safe_return_path(return_path) ? return_path : std::string_view("/");
  g.fields.put("Location: ");
  g.fields.put(to);
  g.fields.put("\r\n");
  g.page = "Solved. Continue to ";
  g.page += to;
  g.page += "\n";
  return {stages::page(303, stages::kText, g.page, 0, g.fields.view()), Outcome::Solved};
}

}  // namespace

std::uint8_t bits_for(const policy::ChallengeConfig& c, std::uint32_t route_rate,
                      std::uint8_t level) {
  std::uint8_t bits = c.levels.empty() ? 16 : c.levels.front().bits;
  for (const policy::ChallengeLevel& l : c.levels) {
    if (route_rate >= l.rate) bits = l.bits;
  }
  const int extra = level > 1 ? 2 * (level - 1) : 0;
  return static_cast<std::uint8_t>(std::min<int>(c.max_bits, bits + extra));
}

std::uint8_t risk_bits(const policy::ChallengeConfig& c, std::int32_t score) {
  if (c.risk_score_per_bit == 0 || score <= 0) return 0;
  return static_cast<std::uint8_t>(
      std::min<std::int64_t>(c.risk_max_extra_bits, score / c.risk_score_per_bit));
}

stages::Answer challenge(const GateContext& g, std::uint8_t level, std::uint8_t bits,
                         std::uint8_t risk, bool signup, std::string_view return_path) {
  const policy::ChallengeConfig& c = g.config;
  std::optional<Token> tok = new_token(TokenKind::Challenge, g.wall_ms, c.challenge_lifetime);
  if (!tok) return stages::refusal(503, "cannot issue a challenge now");
  tok->scope = signup ? kSignupScope : kBrowseScope;  // what the clearance will be good for
  tok->binding = g.binding;
  tok->level = level;
  tok->bits = level == 0 ? 0 : bits;
  tok->subject = level == 0 ? 0 : risk;
  std::array<char, kTokenTextSize> text;
  const std::size_t n = g.codec.encode(*tok, text);
  ChallengePage page;
  page.token = {text.data(), n};
  page.bits = tok->bits;
  page.level = level;
  page.return_path = return_path;
  page.wait_ms = nojs_wait_ms(c.refresh_wait, level);
  page.expires_in_ms = c.challenge_lifetime;
  page.theme_css = g.theme_css;
  g.page.clear();
  if (g.json) {
    render_challenge_json(page, g.page);
  } else if (level == 0) {
    render_wait_page(page, g.page);
  } else {
    render_pow_page(page, g.page);
  }
  return stages::page(403, g.json ? stages::kJson : stages::kHtml, g.page);
}

std::size_t clearance_id(const TokenCodec& codec, std::string_view cookie, std::uint64_t binding,
                         bool signup_route, std::int64_t wall_ms, std::array<char, 32>& out,
                         Token* token) {
  Token tok;
  if (cookie.empty() ||
      codec.decode(cookie, TokenKind::Clearance, wall_ms, binding, tok) != Check::Ok) {
    return 0;
  }
  // Browsing clearances are long-lived; sign-up needs a fresh, short one of its own scope.
  if (signup_route && tok.scope != kSignupScope) return 0;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < tok.id.size(); ++i) {
    out[2 * i] = kHex[tok.id[i] >> 4];
    out[2 * i + 1] = kHex[tok.id[i] & 15];
  }
  if (token != nullptr) *token = tok;
  return 2 * tok.id.size();
}

SolveCost solve_cost(const Token& clearance) {
  return {clearance.bits, static_cast<std::uint8_t>(clearance.subject & 0xff),
          clearance.subject >> 8};
}

std::size_t page_view_cookie(const TokenCodec& codec, std::string_view cookie,
                             std::uint64_t binding, std::int64_t wall_ms, std::int64_t lifetime_ms,
                             bool secure, char* out, std::size_t cap) {
  std::optional<Token> tok = new_token(TokenKind::PageView, wall_ms, lifetime_ms);
  if (!tok) return 0;
  tok->binding = binding;
  std::array<char, kTokenTextSize> text;
  const std::string_view value{text.data(), codec.encode(*tok, text)};
  return http::format_set_cookie(cookie, value, lifetime_ms / 1000, out, cap, secure);
}

std::int64_t page_view_age(const TokenCodec& codec, std::string_view value, std::uint64_t binding,
                           std::int64_t wall_ms) {
  Token tok;
  if (value.empty() ||
      codec.decode(value, TokenKind::PageView, wall_ms, binding, tok) != Check::Ok) {
    return -1;
  }
  return std::max<std::int64_t>(0, wall_ms - tok.issued_ms);
}

EndpointAnswer endpoint(const GateContext& g, SpentSet& spent, const client::Cidr& prefix,
                        http::Method method, std::string_view path, std::string_view query,
                        std::string_view body) {
  const bool get = method == http::Method::Get || method == http::Method::Head;
  if (path == kScriptPath && get) {
    return {stages::page(200, "text/javascript; charset=utf-8", challenge_script()),
            Outcome::Script};
  }
  if (path != kChallengePath || !(get || method == http::Method::Post)) {
    return {stages::refusal(404, "no such Gatehouse endpoint"), Outcome::NotFound};
  }
  Solution sol;
  const FormStatus fs = get ? parse_wait_query(query, sol) : parse_solution_form(body, sol);
  if (fs != FormStatus::Ok) {
    return refused(g,
                   method == http::Method::Post && body.empty()
                       ? "the answer must be a urlencoded form of at most 4 KiB"
                       : "malformed challenge answer",
                   400);
  }
  const policy::ChallengeConfig& c = g.config;
  const std::int64_t now = g.wall_ms;
  Token tok;
  switch (g.codec.decode(sol.token(), TokenKind::Challenge, now, g.binding, tok)) {
    case Check::Ok:
      break;
    case Check::Expired:
      return refused(g, "the challenge expired; load the page again");
    case Check::WrongBinding:
      return refused(g, "the challenge was issued to another network or browser");
    default:
      return refused(g, "not a valid challenge");
  }
  if (get) {
    // The no-JavaScript path: the wait itself is the cost; coming back early is refused.
    const std::int64_t wait = nojs_wait_ms(c.refresh_wait, tok.level);
    if (now < tok.issued_ms + wait) {
      ChallengePage page;
      page.token = sol.token();
      page.level = 0;
      page.return_path = sol.return_path();
      page.wait_ms = tok.issued_ms + wait - now;
      page.expires_in_ms = tok.expiry_ms - now;
      page.theme_css = g.theme_css;
      g.page.clear();
      if (g.json) {
        render_challenge_json(page, g.page);
      } else {
        render_wait_page(page, g.page);
      }
      return {stages::page(429, g.json ? stages::kJson : stages::kHtml, g.page,
                           static_cast<std::uint32_t>((page.wait_ms + 999) / 1000)),
              Outcome::TooEarly};
    }
  } else if (tok.level == 0 || !pow_valid(sol.token(), sol.nonce(), tok.bits)) {
    return refused(g, "the proof of work does not solve the challenge");
  }
  std::int64_t free_at = now;
  switch (spent.claim(tok.id, prefix, c.spent_per_prefix, tok.expiry_ms, now, &free_at)) {
    case SpentSet::Claim::Fresh:
      break;
    case SpentSet::Claim::Replay:
      return replayed(g);
    case SpentSet::Claim::PrefixFull: {
      // This network holds its share of the single-use set; other networks still solve.
      const auto wait_s =
          static_cast<std::uint32_t>(std::max<std::int64_t>(1, (free_at - now + 999) / 1000));
      g.page = "too many challenges solved from your network; try again in " +
               std::to_string(wait_s) + " s";
      return refused(g, g.page, 429, wait_s);
    }
    case SpentSet::Claim::Full:
      return refused(g, "too many challenges in flight, try again shortly", 503);
  }
  EndpointAnswer e = grant(g, tok, sol.return_path());
  if (e.outcome == Outcome::Solved) {
    e.id = tok.id;
    e.expiry_ms = tok.expiry_ms;
  }
  return e;
}

EndpointAnswer replayed(const GateContext& g) {
  return refused(g, "this challenge was already used");
}

}  // namespace gh::challenge
