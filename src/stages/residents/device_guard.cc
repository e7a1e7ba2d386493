#include "stages/residents/device_guard.h"

#include <algorithm>
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
      in_flight_(std::make_unique<std::atomic<std::uint32_t>[]>(kSlots)),
      networks_(std::make_unique<NetworkSlot[]>(kSets * kWays)),
      stripes_(std::make_unique<std::mutex[]>(kStripes)) {
  config_.networks = std::clamp<std::uint32_t>(config_.networks, 1, kMaxNetworks);
}

DeviceGuard::Admit DeviceGuard::networks(const challenge::TokenId& id, std::uint64_t network,
                                         std::int64_t now_ms) {
  const std::uint64_t h = ratelimit::siphash24(ratelimit::process_seed(), id) | 1;  // never 0
  const std::size_t set = (h >> 20) & (kSets - 1);
  std::lock_guard lock(stripes_[set % kStripes]);
  NetworkSlot* ways = &networks_[set * kWays];
  NetworkSlot* found = nullptr;
  NetworkSlot* lru = &ways[0];
  for (std::size_t w = 0; w < kWays; ++w) {
    if (ways[w].tag == h) found = &ways[w];
    if (ways[w].used_ms < lru->used_ms) lru = &ways[w];
  }
  if (found == nullptr) {
    found = lru;
    *found = NetworkSlot{};  // free or least recently used: this device starts afresh here
    found->tag = h;
  }
  NetworkSlot& s = *found;
  s.used_ms = now_ms;
  const std::int64_t horizon = now_ms - static_cast<std::int64_t>(config_.network_window_ms);
  if (s.demoted_until_ms > now_ms) return Admit::Demoted;
  std::size_t live = 0;
  std::size_t oldest = 0;
  for (std::size_t k = 0; k < s.count; ++k) {
    if (s.network[k] == network) {
      s.seen_ms[k] = now_ms;
      return Admit::Ok;
    }
    if (s.seen_ms[k] > horizon) ++live;
    if (s.seen_ms[k] < s.seen_ms[oldest]) oldest = k;
  }
  if (live >= config_.networks) {
    s.demoted_until_ms = now_ms + static_cast<std::int64_t>(config_.demote_ms);
    return Admit::TooManyNetworks;
  }
  // A new network: a free entry, else the oldest (which has left the window, since live < cap).
  const std::size_t k = s.count < config_.networks ? s.count++ : oldest;
  s.network[k] = network;
  s.seen_ms[k] = now_ms;
  return Admit::Ok;
}

std::atomic<std::uint32_t>& DeviceGuard::counter(const challenge::TokenId& id) const {
  const std::uint64_t h = ratelimit::siphash24(ratelimit::process_seed(), id);
  return in_flight_[h & (kSlots - 1)];
}

DeviceGuard::Admit DeviceGuard::admit(const challenge::TokenId& id, std::uint64_t network,
                                      core::Nanos now) {
  if (const Admit n = networks(id, network, now / 1'000'000); n != Admit::Ok) return n;
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
