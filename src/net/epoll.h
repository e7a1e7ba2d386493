// The epoll side of EventLoop (server.io: epoll, the default): epoll_wait per pass; each read,
// write, accept4 and close is a syscall of its own, and the loop's eventfd wakes it. Internal to
// net/ (gh_module INTERNAL); the loop's callers see EventLoop only.
#pragma once

#include "loop_backend.h"

namespace gh::net {

class Epoll final : public LoopBackend {
 public:
  // Aborts when the kernel gives no epoll descriptor: at start-up, nothing sensible to do.
  Epoll(EventLoop& loop, int wake_fd);
  ~Epoll() override;

  bool add(int fd, Handler* handler, std::uint32_t events) override;
  bool modify(int fd, Handler* handler, std::uint32_t events) override;
  void remove(int fd) override;
  bool add_listener(int fd, Handler* handler) override;
  void close(int fd) override;
  ssize_t send(int fd, const void* p, std::size_t n) override;
  void shutdown_write(int fd) override;
  void run(const std::function<bool()>& keep_running) override;

 private:
  int epoll_fd_ = -1;
  int wake_fd_;
};

}  // namespace gh::net
