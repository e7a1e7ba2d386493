// What an EventLoop asks of the kernel interface it runs on (server.io): the epoll backend
// (epoll.h) and the io_uring one (uring.h) implement it, and the loop forwards its calls to the
// one it holds. One indirect call per forwarded call, never per event: each backend's run()
// dispatches its own events straight to the handlers. Internal to net/ (gh_module INTERNAL):
// the loop's callers see EventLoop only, whose comments say what each call means.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace gh::net {

class EventLoop;
class Handler;

class LoopBackend {
 public:
  virtual ~LoopBackend() = default;
  LoopBackend(const LoopBackend&) = delete;
  LoopBackend& operator=(const LoopBackend&) = delete;

  virtual bool add(int fd, Handler* handler, std::uint32_t events) = 0;
  virtual bool modify(int fd, Handler* handler, std::uint32_t events) = 0;
  virtual void remove(int fd) = 0;
  virtual bool add_listener(int fd, Handler* handler) = 0;
  virtual void close(int fd) = 0;
  virtual ssize_t send(int fd, const void* p, std::size_t n) = 0;
  virtual void shutdown_write(int fd) = 0;
  // Passes until keep_running (checked after every batch) returns false: wait for a batch,
  // hand each event to its handler, then end_pass.
  virtual void run(const std::function<bool()>& keep_running) = 0;

 protected:
  explicit LoopBackend(EventLoop& loop) : loop_(loop) {}
  // The wake-up's eventfd was read: wake() may write it again.
  void clear_wake();
  // After a batch: the loop's wake hook (if `woken`), timers and deferred work.
  void end_pass(bool woken);

  EventLoop& loop_;
};

}  // namespace gh::net
