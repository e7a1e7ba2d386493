// One event loop per worker thread (shared-nothing), on epoll or on an io_uring (server.io).
// Handlers are edge-triggered; each keeps "ready" flags so that backpressure can pause reading
// without losing the edge. On io_uring, readiness comes from multishot polls (edge-triggered
// too), and accepts, small sends and closes are queued and submitted with the loop's next wait.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/io-t.h"
#include "net/timer.h"

namespace gh::net {

class LoopBackend;

class Handler {
 public:
  virtual ~Handler() = default;
  // `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
  virtual void on_events(std::uint32_t events) = 0;
  // A listener's connection accepted by the loop itself (io_uring): `fd` is non-blocking and
  // close-on-exec, and `peer` its address. A handler that takes none closes it.
  virtual void on_accepted(int fd, const sockaddr_storage& peer, socklen_t len);
};

class EventLoop {
 public:
  explicit EventLoop(IoBackend backend = IoBackend::Epoll);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The backend the loop runs on: io_uring falls back to epoll, with a warning, when the ring
  // cannot be set up (the configuration's check found it available at load).
  IoBackend backend() const { return io_; }

  bool add(int fd, Handler* handler, std::uint32_t events);
  bool modify(int fd, Handler* handler, std::uint32_t events);
  void remove(int fd);
  // A listening socket: on epoll, readiness (the handler accepts, until EAGAIN); on io_uring,
  // the loop keeps accepts queued and hands each connection to on_accepted. Taken out by remove.
  bool add_listener(int fd, Handler* handler);
  // Closes a registered descriptor. On epoll, no EPOLL_CTL_DEL: closing the last descriptor of a
  // file takes it out of the set, and Gatehouse never forks nor dups its sockets. On io_uring the
  // poll holds the file, so it is cancelled and the close queued after it: the number stays
  // taken until the loop's next submit.
  void close(int fd);
  // send(fd, p, n, MSG_NOSIGNAL) as the caller knows it. On io_uring a small one is copied and
  // queued (all of it is taken; the kernel finishes it in order); while queued bytes of `fd` are
  // in flight a send that cannot be queued says EAGAIN, and EPOLLOUT follows when they are out.
  ssize_t send(int fd, const void* p, std::size_t n);
  // shutdown(fd, SHUT_WR), after any queued bytes of `fd`.
  void shutdown_write(int fd);

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
  friend class LoopBackend;
  // After a batch: the wake hook, timers, deferred work.
  void after_batch(bool woken);

  int wake_fd_ = -1;
  IoBackend io_ = IoBackend::Epoll;
  std::unique_ptr<LoopBackend> backend_;  // epoll.h or uring.h
  std::int64_t now_ms_;
  TimerWheel timers_;
  std::function<void()> wake_hook_;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::function<void()>> running_;
  std::atomic<bool> woken_{false};
};

// Whether this process can set up an io_uring (the kernel's io_uring_disabled, seccomp,
// RLIMIT_MEMLOCK on older kernels). False fills `why` for the operator.
bool uring_available(std::string* why);

}  // namespace gh::net
