// The waiting room of a sign-up route (`signup.waiting_room`): plain types, filled by config.cc
// in this folder and read by the room (room.h). In gh::policy, the configuration's namespace, like
// every section's.
#pragma once

#include <cstdint>

#include "config/model-t.h"

namespace gh::policy {

// The waiting room of a sign-up route (Cloudflare Waiting Room's thresholds).
struct WaitingRoomConfig {
  std::uint32_t new_users_per_minute = 60;
  std::uint32_t max_active = 200;        // admitted sessions alive
  Millis session_idle = 5 * 60'000;      // admitted session ends after this long unused
  std::uint32_t max_per_prefix = 20;     // places one client prefix may hold
  std::uint32_t max_queue = 100'000;     // places in all; newcomers beyond get 503
  Millis refresh = 20'000;               // the page's self-refresh
  Millis ticket_lifetime = 60 * 60'000;  // a queue place not refreshed for this long is gone
  // Submissions (non-GET requests) one admitted place may make; 0 = no cap. A ticket is bound to
  // the client's prefix, so without a cap one place would register a whole network's accounts.
  std::uint32_t max_signups_per_ticket = 3;
};

}  // namespace gh::policy
