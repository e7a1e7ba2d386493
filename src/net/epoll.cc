#include "epoll.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "net/event_loop.h"

namespace gh::net {

namespace {

constexpr int kMaxEvents = 256;
// Marks the eventfd in epoll data; handlers are real pointers and never this value.
Handler* const kWakeTag = reinterpret_cast<Handler*>(static_cast<std::uintptr_t>(1));

class Epoll final : public LoopBackend {
 public:
  Epoll(EventLoop& loop, int wake_fd) : LoopBackend(loop), wake_fd_(wake_fd) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) std::abort();
    ctl(EPOLL_CTL_ADD, wake_fd_, kWakeTag, EPOLLIN);
  }
  ~Epoll() override { ::close(epoll_fd_); }

  bool add(int fd, Handler* handler, std::uint32_t events) override {
    return ctl(EPOLL_CTL_ADD, fd, handler, events);
  }
  bool modify(int fd, Handler* handler, std::uint32_t events) override {
    return ctl(EPOLL_CTL_MOD, fd, handler, events);
  }
  void remove(int fd) override { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }
  bool add_listener(int fd, Handler* handler) override { return add(fd, handler, EPOLLIN); }
  void close(int fd) override { ::close(fd); }
  ssize_t send(int fd, const void* p, std::size_t n) override {
    return ::send(fd, p, n, MSG_NOSIGNAL);
  }
  void shutdown_write(int fd) override { ::shutdown(fd, SHUT_WR); }
  void run(const std::function<bool()>& keep_running) override;

 private:
  bool ctl(int op, int fd, Handler* handler, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = handler;
    return epoll_ctl(epoll_fd_, op, fd, &ev) == 0;
  }

  int epoll_fd_ = -1;
  int wake_fd_;
};

void Epoll::run(const std::function<bool()>& keep_running) {
  epoll_event events[kMaxEvents];
  while (keep_running()) {
    int timeout = loop_.timers().next_timeout_ms(loop_.now_ms());
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    loop_.update_time();
    if (n < 0 && errno != EINTR) break;
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      auto* h = static_cast<Handler*>(events[i].data.ptr);
      if (h == kWakeTag) {
        std::uint64_t v;
        [[maybe_unused]] auto r = read(wake_fd_, &v, sizeof v);
        clear_wake();
        woken = true;
        continue;
      }
      h->on_events(events[i].events);
    }
    end_pass(woken);
  }
}

}  // namespace

std::unique_ptr<LoopBackend> make_epoll(EventLoop& loop, int wake_fd) {
  return std::make_unique<Epoll>(loop, wake_fd);
}

}  // namespace gh::net
