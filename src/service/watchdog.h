// The service watchdog: tells the service manager "alive" (WATCHDOG=1) only while every worker's
// event loop is turning. A thread alone proves nothing: a worker stuck in a lock or a loop stops
// the pings, and systemd restarts the service after WatchdogSec=.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gh::service {

class Watchdog {
 public:
  // ask() puts a new question to every loop and returns its number; silent(q) names the loops
  // that have not answered q yet (proxy::Server::ask_workers / silent_workers).
  struct Probe {
    std::function<std::uint64_t()> ask;
    std::function<std::vector<unsigned>(std::uint64_t)> silent;
  };

  // One round every interval / 4 (systemd's advice is at least two pings per interval): the
  // question of the last round must have been answered by every loop for this round to ping.
  // A loop late by one round costs one ping; systemd acts only after a whole interval without.
  // `ping` sends WATCHDOG=1 (service::notify) unless replaced.
  Watchdog(std::chrono::microseconds interval, Probe probe, std::function<void()> ping = {});
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void start();
  void stop();  // idempotent; joins the thread

  std::uint64_t pings() const;
  std::uint64_t withheld() const;  // rounds without a ping: some loop had not answered

 private:
  void run();

  std::chrono::microseconds period_;
  Probe probe_;
  std::function<void()> ping_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::uint64_t pings_ = 0;
  std::uint64_t withheld_ = 0;
  std::thread thread_;
};

}  // namespace gh::service
