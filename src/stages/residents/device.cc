#include "stages/residents/device.h"

#include <algorithm>
#include <optional>

#include "http/fields.h"
#include "http/parser.h"
#include "stages/challenge/binding.h"
#include "stages/challenge/sha256.h"

namespace gh::residents {
namespace {

// Whether the response sets cookie `name` to a value (not a deletion: empty, Max-Age=0).
bool sets_cookie(const http::ResponseHead& resp, std::string_view name) {
  for (std::uint16_t i = 0; i < resp.field_count; ++i) {
    if (!http::iequals(resp.fields[i].name, "set-cookie")) continue;
    const std::string_view v = resp.fields[i].value;
    const std::size_t eq = v.find('=');
    if (eq == std::string_view::npos || v.substr(0, eq) != name) continue;
    const std::size_t semi = v.find(';', eq);
    const std::string_view value =
        v.substr(eq + 1, semi == std::string_view::npos ? semi : semi - eq - 1);
    if (value.empty() || value == "\"\"") continue;
    std::string_view attrs = semi == std::string_view::npos ? std::string_view{} : v.substr(semi);
    bool deleted = false;
    while (!attrs.empty()) {
      attrs.remove_prefix(1);  // ';'
      const std::size_t next = std::min(attrs.find(';'), attrs.size());
      std::string_view a = attrs.substr(0, next);
      while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
      if (a.size() >= 8 && http::iequals(a.substr(0, 8), "max-age=")) {
        deleted = deleted || a.substr(8).starts_with('0') || a.substr(8).starts_with('-');
      }
      attrs.remove_prefix(next);
    }
    if (!deleted) return true;
  }
  return false;
}

// The path of a Location value: "/account" from "/account" or "https://host/account?x".
std::string_view location_path(std::string_view location) {
  const std::size_t scheme = location.find("://");
  if (scheme != std::string_view::npos && location.find('/') > scheme) {
    const std::size_t slash = location.find('/', scheme + 3);
    location = slash == std::string_view::npos ? std::string_view("/") : location.substr(slash);
  }
  return location;
}

// One token may not carry a crowd: over its rate, in-flight or network cap it is anyone. True
// when r.token's device is admitted (r is then a Resident holding a place on `guard`).
bool admit(DeviceGuard* guard, const client::Cidr& prefix, core::Nanos mono_ns, Recognition& r) {
  const std::uint64_t network = challenge::binding_of(prefix, "network");
  const DeviceGuard::Admit a = guard == nullptr ? DeviceGuard::Admit::RateExceeded
                                                : guard->admit(r.token.id, network, mono_ns);
  if (a != DeviceGuard::Admit::Ok) {
    r.kind = Recognition::Kind::Demoted;
    r.roaming_cap = a == DeviceGuard::Admit::TooManyNetworks;
    return false;
  }
  r.kind = Recognition::Kind::Resident;
  return true;
}

}  // namespace

Recognition recognise(const challenge::TokenCodec& codec, DeviceGuard* guard,
                      const Revocations* revocations, std::string_view text,
                      const client::Cidr& prefix, std::int64_t wall_ms, core::Nanos mono_ns,
                      std::int64_t lifetime_ms) {
  Recognition r;
  if (text.empty()) return r;
  challenge::Token& tok = r.token;
  // Roaming tokens carry no binding; a token of the earlier format is bound to its prefix.
  if (codec.decode(text, challenge::TokenKind::Device, wall_ms, 0, tok) != challenge::Check::Ok &&
      codec.decode(text, challenge::TokenKind::Device, wall_ms, challenge::binding_of(prefix, {}),
                   tok) != challenge::Check::Ok) {
    return r;
  }
  if (revocations != nullptr && revocations->revoked(tok)) return r;
  if (admit(guard, prefix, mono_ns, r)) r.renew = wall_ms > tok.issued_ms + lifetime_ms / 4;
  return r;
}

Recognition recognise_app_token(const JwtVerifier& verifier, DeviceGuard* guard,
                                const Revocations* revocations, std::string_view text,
                                const client::Cidr& prefix, std::int64_t wall_ms,
                                core::Nanos mono_ns) {
  Recognition r;
  if (text.empty()) return r;
  std::string subject;
  std::int64_t issued_s = 0;
  if (verifier.verify(text, wall_ms / 1000, subject, &issued_s) != JwtCheck::Ok) return r;
  // The account as device tokens name it: ASCII letters folded.
  for (char& c : subject) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  challenge::Token& tok = r.token;
  tok.kind = challenge::TokenKind::Device;
  tok.subject = challenge::account_hash(subject);
  tok.issued_ms = issued_s * 1000;
  const challenge::Digest d =
      challenge::sha256({std::string_view("gatehouse app token v1\0", 23), subject});
  std::copy_n(d.begin(), tok.id.size(), tok.id.begin());
  // Account revocation compares issue times; a token without "iat" counts as issued long ago.
  if (revocations != nullptr && revocations->revoked(tok)) return r;
  admit(guard, prefix, mono_ns, r);
  return r;
}

std::string_view bearer_token(const http::RequestHead& head) {
  for (std::uint16_t i = 0; i < head.field_count; ++i) {
    if (!http::iequals(head.fields[i].name, "authorization")) continue;
    std::string_view v = head.fields[i].value;
    if (v.size() < 7 || !http::iequals(v.substr(0, 7), "bearer ")) return {};
    v.remove_prefix(7);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
  }
  return {};
}

bool login_succeeded(const policy::ResidentsConfig& res, const http::ResponseHead& resp) {
  if (res.success_cookie.empty() && res.success_location.empty()) return false;
  if (std::find(res.success_status.begin(), res.success_status.end(), resp.status) ==
      res.success_status.end()) {
    return false;
  }
  if (!res.success_cookie.empty() && !sets_cookie(resp, res.success_cookie)) return false;
  if (!res.success_location.empty()) {
    const bool redirect = resp.status >= 300 && resp.status < 400;
    if (!redirect) return !res.success_cookie.empty();  // judged by the cookie alone
    std::string_view location;
    for (std::uint16_t i = 0; i < resp.field_count; ++i) {
      if (http::iequals(resp.fields[i].name, "location")) location = resp.fields[i].value;
    }
    if (!location_path(location).starts_with(res.success_location)) return false;
  }
  return true;
}

namespace {

std::size_t cookie_for(const challenge::TokenCodec& codec, const policy::ResidentsConfig& config,
                       const challenge::Token& tok, bool secure, char* out, std::size_t cap) {
  std::array<char, challenge::kTokenTextSize> text;
  const std::size_t n = codec.encode(tok, text);
  return http::format_set_cookie(config.cookie, {text.data(), n}, config.lifetime / 1000, out, cap,
                                 secure);
}

}  // namespace

std::size_t issue(const challenge::TokenCodec& codec, const policy::ResidentsConfig& config,
                  std::uint64_t account_hash, std::int64_t wall_ms, bool secure, char* out,
                  std::size_t cap) {
  std::optional<challenge::Token> tok =
      challenge::new_token(challenge::TokenKind::Device, wall_ms, config.lifetime);
  if (!tok) return 0;
  tok->binding = 0;  // valid from any network: the guard limits its use instead
  tok->subject = account_hash;
  return cookie_for(codec, config, *tok, secure, out, cap);
}

std::size_t renew(const challenge::TokenCodec& codec, const policy::ResidentsConfig& config,
                  const challenge::Token& token, std::int64_t wall_ms, bool secure, char* out,
                  std::size_t cap) {
  challenge::Token fresh = token;  // the same account and device id: limits follow the device
  fresh.issued_ms = wall_ms;
  fresh.expiry_ms = wall_ms + config.lifetime;
  fresh.binding = 0;
  return cookie_for(codec, config, fresh, secure, out, cap);
}

}  // namespace gh::residents
