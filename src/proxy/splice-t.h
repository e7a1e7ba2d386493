// Plain types of a splice (proxy/splice.h): how it ended and its limits.
#pragma once

#include <cstdint>

namespace gh::proxy {

enum class SpliceOutcome : std::uint8_t {
  Open,      // still copying
  Closed,    // a side closed (FIN) and every byte it sent was delivered
  Idle,      // no byte either way for the idle timeout
  Limit,     // a direction went over its byte limit
  Error,     // a socket error or reset
  Shutdown,  // Gatehouse is stopping
};

struct SpliceLimits {
  std::int64_t idle_timeout_ms = 120'000;  // route `upgrade_idle_timeout`
  std::uint64_t max_bytes = 256ull << 20;  // per direction, route `upgrade_max_size`
};

}  // namespace gh::proxy
