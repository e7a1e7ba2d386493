// One epoll loop per worker thread (shared-nothing). Handlers are registered edge-triggered;
// each keeps "ready" flags so that backpressure can pause reading without losing the edge.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "net/timer.h"

namespace gh::net {

class Handler {
 public:
  virtual ~Handler() = default;
  // `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
  virtual void on_events(std::uint32_t events) = 0;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  bool add(int fd, Handler* handler, std::uint32_t events);
  bool modify(int fd, Handler* handler, std::uint32_t events);
  void remove(int fd);
  // Closes a registered descriptor. No EPOLL_CTL_DEL: closing the last descriptor of a file takes
  // it out of the epoll set, and Gatehouse never forks nor dups its sockets.
  static void close(int fd);

  // Runs until stop() is called and `keep_running` (checked after every batch) returns false.
  void run(const std::function<bool()>& keep_running);
  // Thread-safe: wakes the loop so it re-checks keep_running and runs the wake hook.
  void wake();
  void set_wake_hook(std::function<void()> hook) { wake_hook_ = std::move(hook); }

  // Objects closed during a batch are freed only after it, since a later event of the same batch
  // may still name them.
  void defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }
  void run_deferred();

  TimerWheel& timers() { return timers_; }
  std::int64_t now_ms() const { return now_ms_; }
  void update_time();

 private:
  class Waker;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::int64_t now_ms_;
  TimerWheel timers_;
  std::function<void()> wake_hook_;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::function<void()>> running_;
  std::atomic<bool> woken_{false};
};

}  // namespace gh::net
