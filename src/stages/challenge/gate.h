// The challenge as a gate: the challenge a client is shown, its clearance recognised, and the
// answers to Gatehouse's own endpoints under /.gatehouse/ (the solver script, proof-of-work
// posts, the no-JavaScript wait). Each returns an Answer; nothing here touches a socket.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/address-t.h"
#include "http/fields.h"
#include "http/message-t.h"
#include "stages/answer-t.h"
#include "stages/challenge/config-t.h"
#include "stages/challenge/spent_set.h"
#include "stages/challenge/token.h"

namespace gh::challenge {

// Clearance scopes: earned on a sign-up route (short-lived, good everywhere) or elsewhere
// (longer-lived, not good for sign-up).
inline constexpr std::uint32_t kBrowseScope = 0;
inline constexpr std::uint32_t kSignupScope = 1;

// What every answer of the gate needs. `page` and `fields` are the exchange's storage: the
// Answer's views point into them.
struct GateContext {
  const TokenCodec& codec;
  const policy::ChallengeConfig& config;
  std::string_view theme_css;
  std::uint64_t binding = 0;  // binding_of(prefix, user agent)
  bool json = false;          // the client asked for JSON (API clients)
  std::int64_t wall_ms = 0;
  std::string& page;
  http::FieldWriter& fields;
  bool secure = false;  // the client came over TLS: the clearance cookie is Secure
};

// Leading zero bits for ladder `level`: the route's request rate picks the base (mCaptcha's
// levels), each level above 1 adds two bits (4x the work), capped at max_bits.
std::uint8_t bits_for(const policy::ChallengeConfig& config, std::uint32_t route_rate,
                      std::uint8_t level);

// The extra bits a client's reputation score asks for: one per `score_per_bit` points of a
// positive score, at most `max_extra_bits` (0 when risk pricing is off).
std::uint8_t risk_bits(const policy::ChallengeConfig& config, std::int32_t score);

// A fresh signed challenge of `level` (0 = the no-JavaScript wait), as a page or JSON: 403.
// `bits` includes `risk` (kept in the token, then the clearance, to report what accounts cost).
// `signup`: the clearance it leads to is of sign-up scope. A GET comes back to `return_path`.
stages::Answer challenge(const GateContext& g, std::uint8_t level, std::uint8_t bits,
                         std::uint8_t risk, bool signup, std::string_view return_path);

// The id (32 hex characters into `out`) of a valid clearance cookie, or 0 when there is none;
// `token` (when given) gets the clearance. On a sign-up route only a sign-up clearance counts.
std::size_t clearance_id(const TokenCodec& codec, std::string_view cookie, std::uint64_t binding,
                         bool signup_route, std::int64_t wall_ms, std::array<char, 32>& out,
                         Token* token = nullptr);

// What a clearance says its solve cost: the bits, the seconds from challenge to answer, and the
// bits added for risk.
struct SolveCost {
  std::uint8_t bits = 0;
  std::uint8_t risk_bits = 0;
  std::uint64_t solve_ms = 0;
};
SolveCost solve_cost(const Token& clearance);

// "Set-Cookie: <cookie>=<page-view token>..." for a page of a sign-up route served now, bound to
// `binding`; the bytes written into `out` (0 when none could be made).
std::size_t page_view_cookie(const TokenCodec& codec, std::string_view cookie,
                             std::uint64_t binding, std::int64_t wall_ms, std::int64_t lifetime_ms,
                             bool secure, char* out, std::size_t cap);
// The age in ms of a valid page-view cookie value for `binding`; negative when none is valid.
std::int64_t page_view_age(const TokenCodec& codec, std::string_view value, std::uint64_t binding,
                           std::int64_t wall_ms);

enum class Outcome : std::uint8_t {
  Script,    // the solver script
  Solved,    // a clearance was granted (303 back, or JSON)
  Refused,   // a bad, expired, moved, replayed or over-quota answer
  TooEarly,  // the no-JavaScript answer came back before its wait: the wait page again
  NotFound,  // no such endpoint
};

struct EndpointAnswer {
  stages::Answer answer;
  Outcome outcome = Outcome::NotFound;
  // Solved: the id claimed (in the local single-use set) and until when, for a fleet to claim
  // it across its nodes before the answer goes out.
  TokenId id{};
  std::int64_t expiry_ms = 0;
};

// A request under /.gatehouse/: `path` is canonical, `body` the urlencoded answer of a POST (at
// most 4 KiB; empty when it was larger). Claims the challenge in `spent` for `prefix`.
EndpointAnswer endpoint(const GateContext& g, SpentSet& spent, const client::Cidr& prefix,
                        http::Method method, std::string_view path, std::string_view query,
                        std::string_view body);

// The refusal of an answer that was claimed already, here or (in a fleet) on another node.
EndpointAnswer replayed(const GateContext& g);

}  // namespace gh::challenge
