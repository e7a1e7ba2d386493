#include "service/watchdog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "service/notify.h"

namespace gh::service {

Watchdog::Watchdog(std::chrono::microseconds interval, Probe probe, std::function<void()> ping)
    : period_(std::max(std::chrono::microseconds(1000), interval / 4)),
      probe_(std::move(probe)),
      ping_(ping ? std::move(ping) : [] { notify("WATCHDOG=1"); }) {}

Watchdog::~Watchdog() {
  stop();
}

void Watchdog::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Watchdog::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Watchdog::pings() const {
  std::lock_guard lock(mu_);
  return pings_;
}

std::uint64_t Watchdog::withheld() const {
  std::lock_guard lock(mu_);
  return withheld_;
}

void Watchdog::run() {
  std::uint64_t question = probe_.ask();
  auto silent_since = std::chrono::steady_clock::time_point{};
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, period_, [this] { return stop_; })) {
    lock.unlock();
    const std::vector<unsigned> silent = probe_.silent(question);
    const auto now = std::chrono::steady_clock::now();
    if (silent.empty()) {
      ping_();
      if (silent_since != std::chrono::steady_clock::time_point{}) {
        spdlog::info("watchdog: every worker's event loop turns again; pings resumed");
        silent_since = {};
      }
    } else if (silent_since == std::chrono::steady_clock::time_point{}) {
      silent_since = now;
      std::string names;
      for (unsigned w : silent) names += (names.empty() ? "" : ", ") + std::to_string(w);
      spdlog::error(
          "watchdog: worker {} did not turn its event loop within {} ms: pings to the service "
          "manager withheld until it does (it restarts the service after WatchdogSec)",
          names, std::chrono::duration_cast<std::chrono::milliseconds>(period_).count());
    }
    // A new question only once the last one is answered: a silent loop keeps the old one, so its
    // answer to a later question cannot hide how long it has been stuck.
    if (silent.empty()) question = probe_.ask();
    lock.lock();
    (silent.empty() ? pings_ : withheld_) += 1;
  }
}

}  // namespace gh::service
