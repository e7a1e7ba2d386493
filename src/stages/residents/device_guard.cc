#include "stages/residents/device_guard.h"

#include <cstring>

#include "stages/ratelimit/gcra.h"
#include "stages/ratelimit/keyhash.h"

namespace gh::residents {
namespace {

ratelimit::Key key_of(const challenge::TokenId& id) {
  ratelimit::Key k;
  std::memcpy(&k.lo, id.data(), 8);
  std::memcpy(&k.hi, id.data() + 8, 8);
  return k;
}

}  // namespace

std::unique_ptr<DeviceGuard> DeviceGuard::create(const DeviceGuardConfig& config) {
  ratelimit::RateSpec spec;
  spec.rate = config.rate;
  spec.period = static_cast<core::Nanos>(config.period_ms) * 1'000'000;
  spec.burst = config.burst;
  const std::optional<ratelimit::Limit> limit = ratelimit::make_limit(spec);
  if (!limit) return nullptr;
  ratelimit::TableConfig tc;
  tc.capacity = config.max_devices;
  // A full table (every slot a device within its burst window) refuses resident status to new
  // devices rather than letting them through unlimited.
  tc.full_policy = ratelimit::FullPolicy::FailClosed;
  std::unique_ptr<ratelimit::Table> table = ratelimit::Table::create(*limit, tc);
  if (!table) return nullptr;
  return std::unique_ptr<DeviceGuard>(new DeviceGuard(config, std::move(table)));
}

DeviceGuard::DeviceGuard(const DeviceGuardConfig& config, std::unique_ptr<ratelimit::Table> rate)
    : config_(config),
      rate_(std::move(rate)),
      in_flight_(std::make_unique<std::atomic<std::uint32_t>[]>(kSlots)) {}

std::atomic<std::uint32_t>& DeviceGuard::counter(const challenge::TokenId& id) const {
  const std::uint64_t h = ratelimit::siphash24(ratelimit::process_seed(), id);
  return in_flight_[h & (kSlots - 1)];
}

DeviceGuard::Admit DeviceGuard::admit(const challenge::TokenId& id, core::Nanos now) {
  std::atomic<std::uint32_t>& c = counter(id);
  if (c.fetch_add(1, std::memory_order_relaxed) >= config_.concurrency) {
    c.fetch_sub(1, std::memory_order_relaxed);
    return Admit::TooManyInFlight;
  }
  if (!rate_->decide(key_of(id), now).allowed) {
    c.fetch_sub(1, std::memory_order_relaxed);
    return Admit::RateExceeded;
  }
  return Admit::Ok;
}

void DeviceGuard::release(const challenge::TokenId& id) {
  counter(id).fetch_sub(1, std::memory_order_relaxed);
}

std::uint32_t DeviceGuard::in_flight(const challenge::TokenId& id) const {
  return counter(id).load(std::memory_order_relaxed);
}

}  // namespace gh::residents
