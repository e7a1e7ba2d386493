// Device tokens as a stage: who is a resident (a valid token within its device's limits), and
// when a login earns one (the application's own signal, never a bare status).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client/address-t.h"
#include "core/clock.h"
#include "http/message-t.h"
#include "stages/challenge/token.h"
#include "stages/residents/config-t.h"
#include "stages/residents/device_guard.h"
#include "stages/residents/jwt.h"
#include "stages/residents/revocations.h"

namespace gh::residents {

struct Recognition {
  enum class Kind : std::uint8_t {
    None,      // no token, or not a valid one (forged, expired, revoked)
    Resident,  // a valid token within its limits: the caller holds a place on `guard` for `id`
    Demoted,   // a valid token over its rate, in-flight or network cap: served as anyone
  } kind = Kind::None;
  bool roaming_cap = false;  // Demoted by this request for too many networks (an event)
  bool renew = false;        // a quarter of its life is gone: send a fresh one (sliding expiry)
  challenge::Token token;    // the valid token (its subject is the account hash)
};

// The device token cookie `text` (empty when none). Tokens name an account and a random device
// id and are valid from any network (people move: phones, carrier NAT, Wi-Fi and cellular);
// what stops a shared token is `guard` (rate, requests in flight, networks per hour) and
// `revocations`. Tokens of the earlier format, bound to a prefix, are still read from it.
Recognition recognise(const challenge::TokenCodec& codec, DeviceGuard* guard,
                      const Revocations* revocations, std::string_view text,
                      const client::Cidr& prefix, std::int64_t wall_ms, core::Nanos mono_ns,
                      std::int64_t lifetime_ms);

// The application's own proof of login (residents.app_token), `text` being the JWT (empty when
// none). A valid, unexpired, unrevoked one is a resident whose subject is account_hash(sub); API
// clients hold no device id of ours, so the account stands for the device: its requests share one
// place on `guard` (rate, in flight, networks per hour) and revocation by account applies to
// tokens issued ("iat") before it. The token's own expiry is the application's business: no
// renewal.
Recognition recognise_app_token(const JwtVerifier& verifier, DeviceGuard* guard,
                                const Revocations* revocations, std::string_view text,
                                const client::Cidr& prefix, std::int64_t wall_ms,
                                core::Nanos mono_ns);

// The credentials of `Authorization: Bearer <token>` (scheme case-insensitive), or empty.
std::string_view bearer_token(const http::RequestHead& head);

// "Set-Cookie: ..." renewing `token`: same account and device id, a new issue time and expiry.
std::size_t renew(const challenge::TokenCodec& codec, const policy::ResidentsConfig& config,
                  const challenge::Token& token, std::int64_t wall_ms, bool secure, char* out,
                  std::size_t cap);

// The application's word that a login worked: a listed status AND its session cookie set
// (success_cookie) and/or a redirect to success_location. A status alone proves nothing.
bool login_succeeded(const policy::ResidentsConfig& config, const http::ResponseHead& resp);

// "Set-Cookie: <cookie>=<fresh device token for account_hash>..." into `out`; the bytes written
// (0 when no token could be made or it does not fit).
std::size_t issue(const challenge::TokenCodec& codec, const policy::ResidentsConfig& config,
                  std::uint64_t account_hash, std::int64_t wall_ms, bool secure, char* out,
                  std::size_t cap);

}  // namespace gh::residents
