// The server's housekeeping thread: the bans workers ask for (queued, bounded) written to the
// table and its journal off the request path, and the once-a-second ticks (ban expiry and
// compaction, the defence's triggers, the observer's series, the fleet's heartbeat figures);
// and the kernel's drop of banned clients (bans.kernel_drop), fed by the ban table's observer.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>

#include "client/address.h"
#include "core/clock.h"
#include "proxy/server.h"
#include "server_parts.h"

namespace gh::proxy {

using server_parts::wall_now;

// Repeat offenders (the from_ban-th ban of a chain, and manual bans) are dropped by the kernel
// until their ban ends: the live bans of the journal now, and each new one through the table's
// observer (the housekeeping thread and the admin API are its writers, never a worker).
bool Server::start_kernel_drop(const std::vector<Listener>& listeners, std::string* error) {
  const policy::KernelDropConfig& kc = initial_->config.bans.kernel_drop;
  std::vector<std::uint16_t> ports;
  for (const Listener& l : listeners) ports.push_back(l.port);
  kernel_drop_ = net::KernelDrop::open(
      net::KernelDropConfig{kc.table, initial_->config.bans.max_entries}, ports, error);
  if (kernel_drop_ == nullptr) return false;
  const std::uint32_t from_ban = kc.from_ban;
  const auto drops = [from_ban](const lists::BanInfo& b) {
    return b.source.view() == "manual" || b.level + 1u >= from_ban;
  };
  const lists::Seconds now = wall_now();
  std::size_t restored = 0;
  for (const lists::BanInfo& b : bans_->list(now)) {
    if (drops(b) && kernel_drop_->add(b.key, b.expiry - now)) ++restored;
  }
  std::string port_list;
  for (std::uint16_t port : ports)
    port_list += (port_list.empty() ? "" : ",") + std::to_string(port);
  spdlog::info("kernel drop: nftables table inet {} for ports {}, {} bans restored", kc.table,
               port_list, restored);
  bans_->set_observer([this, drops](const lists::BanInfo& b, bool banned) {
    if (!banned) {
      kernel_drop_->remove(b.key);
      return;
    }
    std::string why;
    if (drops(b) && !kernel_drop_->add(b.key, b.expiry - wall_now(), &why)) {
      spdlog::warn("kernel drop of {}: {} (still refused at accept)", client::format_cidr(b.key),
                   why);
    }
  });
  return true;
}

void Server::request_ban(const client::IpAddress& client, std::int64_t duration_ms,
                         std::int64_t max_ms, std::string_view rule) {
  {
    std::lock_guard lock(ban_mu_);
    if (ban_queue_.size() >= kBanQueue) {
      bans_dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    BanRequest r;
    r.client = client;
    r.duration_ms = duration_ms;
    r.max_ms = max_ms;
    std::size_t n = std::min(rule.size(), r.rule.size() - 1);
    std::memcpy(r.rule.data(), rule.data(), n);
    ban_queue_.push_back(r);
  }
  ban_cv_.notify_one();
}

void Server::housekeeping() {
  std::vector<BanRequest> batch;
  batch.reserve(kBanQueue);
  auto last_maintain = std::chrono::steady_clock::now();
  std::unique_lock lock(ban_mu_);
  while (!housekeeping_stop_) {
    ban_cv_.wait_for(lock, std::chrono::milliseconds(500),
                     [this] { return housekeeping_stop_ || !ban_queue_.empty(); });
    batch.swap(ban_queue_);
    lock.unlock();
    const lists::Seconds now = wall_now();
    for (const BanRequest& r : batch) {
      client::Cidr key{r.client, static_cast<std::uint8_t>(r.client.is_v4 ? 32 : 128)};
      lists::BanDuration d{std::max<lists::Seconds>(1, r.duration_ms / 1000),
                           std::max<lists::Seconds>(1, r.max_ms / 1000)};
      bans_->ban(key, d, "rate limit exceeded", std::string_view(r.rule.data()), now);
      if (fleet_ != nullptr) {
        if (auto made = bans_->find(key, now)) share_ban(*made);
      }
    }
    batch.clear();
    if (std::chrono::steady_clock::now() - last_maintain >= std::chrono::seconds(1)) {
      bans_->maintain(now);            // expiry, journal sync and compaction, off the request path
      defence_.tick(core::wall_ms());  // sign-up triggers, waiting rooms, concurrency limits
      observer_->tick(core::wall_ms());  // the series, per-minute records, top offenders
      if (fleet_ != nullptr) fleet_tick(core::wall_ms());
      last_maintain = std::chrono::steady_clock::now();
    }
    lock.lock();
  }
}

}  // namespace gh::proxy
