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

// Device tokens (OWASP device cookies): set when a login of class `login` succeeds, bound to the
// account and the client prefix. Their holders are residents.
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
};

}  // namespace gh::policy
