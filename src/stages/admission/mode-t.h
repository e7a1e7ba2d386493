// Plain types of the sign-up mode controller (mode_controller.h) and its signals (route_window.h).
#pragma once

#include <cstdint>
#include <string>

#include "stages/admission/config-t.h"

namespace gh::admission {

// One route's recent behaviour, what the triggers compare against their thresholds.
struct Signals {
  double upstream_latency_ms = 0;  // p90 first-byte latency of upstream answers
  double error_rate_pct = 0;       // 5xx (and failures) of upstream answers
  double shed_rate_pct = 0;        // admission 503s of requests
  double request_rate = 0;         // requests per second
};

struct ModeEvent {
  std::int64_t at_ms = 0;
  std::string route;
  policy::SignupMode from = policy::SignupMode::Open;
  policy::SignupMode to = policy::SignupMode::Open;
  std::string reason;
  bool manual = false;  // set by an operator (or an operator's return to automatic)
};

}  // namespace gh::admission
