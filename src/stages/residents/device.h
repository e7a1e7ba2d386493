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

namespace gh::residents {

struct Recognition {
  enum class Kind : std::uint8_t {
    None,      // no token, or not a valid one for this network
    Resident,  // a valid token within its limits: the caller holds a place on `guard` for `id`
    Demoted,   // a valid token over its rate or in-flight cap: served as anyone
  } kind = Kind::None;
  std::uint64_t subject = 0;  // account_hash of the token's account
  challenge::TokenId id{};
};

// The device token cookie `text` (empty when none), checked for `prefix` (tokens are bound to
// the prefix only, so a browser update does not log residents out) and admitted on `guard`.
Recognition recognise(const challenge::TokenCodec& codec, DeviceGuard* guard, std::string_view text,
                      const client::Cidr& prefix, std::int64_t wall_ms, core::Nanos mono_ns);

// The application's word that a login worked: a listed status AND its session cookie set
// (success_cookie) and/or a redirect to success_location. A status alone proves nothing.
bool login_succeeded(const policy::ResidentsConfig& config, const http::ResponseHead& resp);

// "Set-Cookie: <cookie>=<fresh device token for account_hash>..." into `out`; the bytes written
// (0 when no token could be made or it does not fit).
std::size_t issue(const challenge::TokenCodec& codec, const policy::ResidentsConfig& config,
                  std::uint64_t account_hash, const client::Cidr& prefix, std::int64_t wall_ms,
                  char* out, std::size_t cap);

}  // namespace gh::residents
