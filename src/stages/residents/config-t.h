// The residents section (`residents:`): plain types, filled by config.cc in this folder and read
// when device tokens are issued and recognised (device.h). In gh::policy, the configuration's
// namespace, like every section's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model-t.h"
#include "stages/ratelimit/config-t.h"

namespace gh::policy {

// The application's own proof of login: a JWT it issued, in `Authorization: Bearer` or a cookie.
// A valid one makes the client a resident with `sub` as the account (API and mobile clients,
// which never see Gatehouse's cookie).
struct AppTokenConfig {
  enum class From : std::uint8_t { None, Bearer, Cookie } from = From::None;
  std::string cookie;       // From::Cookie
  std::string key_file;     // PEM public key or JWKS; or the HS256 secret when `secret`
  bool secret = false;      // key_file holds an HS256 shared secret (secret_file:)
  std::string issuer;       // required "iss"; empty: not checked
  std::vector<std::string> audiences;  // "aud" must name one; empty: not checked
  Millis leeway = 30'000;   // clock skew allowed on exp and nbf
};

// Device tokens (OWASP device cookies): set when a login of class `login` succeeds, naming the
// account and a random device id, valid from any network. Their holders are residents.
struct ResidentsConfig {
  bool enabled = true;
  std::string cookie = "gh_device";
  Millis lifetime = 30u * 24 * 3'600'000;  // 30 days
  KeyPart account{KeyPartKind::BodyField, "username"};
  // A login succeeded when its status is listed AND the application's own signal is there: it
  // sets `success_cookie` (its session), and/or a 3xx goes to `success_location`. A status alone
  // is not a login (a 200 may be the form shown again); without a signal no token is issued.
  std::vector<std::uint16_t> success_status{200, 204, 301, 302, 303};
  std::string success_cookie;
  std::string success_location;
  // Per device token: beyond these, its requests are served as anonymous ones.
  std::uint32_t device_rate = 10;
  Millis device_period = 1'000;
  std::uint32_t device_burst = 100;
  std::uint32_t device_concurrency = 16;
  // Distinct client networks per device within an hour; beyond, the device is served as anyone
  // for `device_demote`.
  std::uint32_t device_networks = 8;
  Millis device_demote = 3'600'000;
  AppTokenConfig app_token;
};

}  // namespace gh::policy
