// What keeps one device token from serving a whole network of bots, now that tokens roam (they
// are valid from any address): a rate and a cap on requests in flight per token id, and a cap on
// the distinct networks one device comes from per hour. A token over any of them still reaches
// the application, but not as a resident: it loses the reserved capacity, the limit exemptions
// and the gates it would skip; over the network cap it stays demoted for `demote_ms`.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "stages/challenge/token-t.h"
#include "stages/ratelimit/table.h"

namespace gh::residents {

struct DeviceGuardConfig {
  std::uint32_t rate = 10;  // requests per `period_ms` as a resident ...
  std::uint64_t period_ms = 1'000;
  std::uint32_t burst = 100;            // ... after this many back to back (a page and its assets)
  std::uint32_t concurrency = 16;       // requests in flight at once (browsers open 6 to 16)
  std::uint64_t max_devices = 100'000;  // rate table size; memory fixed at start
  // Distinct networks (client prefixes) per device within `network_window_ms`. A phone moving
  // between Wi-Fi and cellular, or a laptop between home and office, uses a handful; a token
  // shared across a botnet uses hundreds.
  std::uint32_t networks = 8;
  std::uint64_t network_window_ms = 3'600'000;
  std::uint64_t demote_ms = 3'600'000;
};

class DeviceGuard {
 public:
  // nullptr when the limit cannot be represented or the table memory cannot be had.
  static std::unique_ptr<DeviceGuard> create(const DeviceGuardConfig& config);

  enum class Admit : std::uint8_t {
    Ok,
    RateExceeded,
    TooManyInFlight,
    TooManyNetworks,  // this request put the device over its network cap: demoted from now
    Demoted,          // demoted earlier, for demote_ms
  };

  // Ok: the request counts as its device's, and holds one in-flight place until release().
  // `network`: a hash of the client's prefix; `now` is monotonic.
  Admit admit(const challenge::TokenId& id, std::uint64_t network, core::Nanos now);
  void release(const challenge::TokenId& id);

  std::uint32_t in_flight(const challenge::TokenId& id) const;
  const DeviceGuardConfig& config() const { return config_; }

 private:
  DeviceGuard(const DeviceGuardConfig& config, std::unique_ptr<ratelimit::Table> rate);
  std::atomic<std::uint32_t>& counter(const challenge::TokenId& id) const;
  Admit networks(const challenge::TokenId& id, std::uint64_t network, std::int64_t now_ms);

  DeviceGuardConfig config_;
  std::unique_ptr<ratelimit::Table> rate_;
  // In-flight counts in a fixed array indexed by a keyed hash of the id: two ids that share a
  // slot add up (a false "too many" for both, never a missed one). 2^16 slots against the few
  // thousand devices in flight at once keep that rare; the size never depends on the traffic.
  static constexpr std::size_t kSlots = 1u << 16;
  std::unique_ptr<std::atomic<std::uint32_t>[]> in_flight_;

  // Networks seen per device: a fixed, 4-way set-associative table indexed by a keyed hash of
  // the id. A device new to its set takes the way used least recently, so one busy device is not
  // forgotten because another one lands beside it. Striped locks: a resident's request takes one.
  static constexpr std::size_t kMaxNetworks = 16;  // the cap is at most this
  struct NetworkSlot {
    std::uint64_t tag = 0;  // 0 = free
    std::int64_t used_ms = 0;
    std::int64_t demoted_until_ms = 0;
    std::uint8_t count = 0;
    std::array<std::uint64_t, kMaxNetworks> network{};
    std::array<std::int64_t, kMaxNetworks> seen_ms{};
  };
  static constexpr std::size_t kSets = 1u << 12;
  static constexpr std::size_t kWays = 4;
  static constexpr std::size_t kStripes = 64;
  std::unique_ptr<NetworkSlot[]> networks_;
  std::unique_ptr<std::mutex[]> stripes_;
};

}  // namespace gh::residents
