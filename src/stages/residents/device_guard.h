// What keeps one device token from serving a whole network of bots: a rate and a cap on requests
// in flight per token id. A token that exceeds either still reaches the application, but not as a
// resident: it loses the reserved capacity, the limit exemptions and the gates it would skip.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "stages/challenge/token-t.h"
#include "stages/ratelimit/table.h"

namespace gh::residents {

struct DeviceGuardConfig {
  std::uint32_t rate = 10;               // requests per `period_ms` as a resident ...
  std::uint64_t period_ms = 1'000;
  std::uint32_t burst = 100;             // ... after this many back to back (a page and its assets)
  std::uint32_t concurrency = 16;        // requests in flight at once (browsers open 6 to 16)
  std::uint64_t max_devices = 100'000;   // rate table size; memory fixed at start
};

class DeviceGuard {
 public:
  // nullptr when the limit cannot be represented or the table memory cannot be had.
  static std::unique_ptr<DeviceGuard> create(const DeviceGuardConfig& config);

  enum class Admit : std::uint8_t { Ok, RateExceeded, TooManyInFlight };

  // Ok: the request counts as its device's, and holds one in-flight place until release().
  Admit admit(const challenge::TokenId& id, core::Nanos now);
  void release(const challenge::TokenId& id);

  std::uint32_t in_flight(const challenge::TokenId& id) const;
  const DeviceGuardConfig& config() const { return config_; }

 private:
  DeviceGuard(const DeviceGuardConfig& config, std::unique_ptr<ratelimit::Table> rate);
  std::atomic<std::uint32_t>& counter(const challenge::TokenId& id) const;

  DeviceGuardConfig config_;
  std::unique_ptr<ratelimit::Table> rate_;
  // In-flight counts in a fixed array indexed by a keyed hash of the id: two ids that share a
  // slot add up (a false "too many" for both, never a missed one). 2^16 slots against the few
  // thousand devices in flight at once keep that rare; the size never depends on the traffic.
  static constexpr std::size_t kSlots = 1u << 16;
  std::unique_ptr<std::atomic<std::uint32_t>[]> in_flight_;
};

}  // namespace gh::residents
