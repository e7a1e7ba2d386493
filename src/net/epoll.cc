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
}  // namespace

Epoll::Epoll(EventLoop& loop, int wake_fd) : LoopBackend(loop), wake_fd_(wake_fd) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) std::abort();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

Epoll::~Epoll() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool Epoll::add(int fd, Handler* handler, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool Epoll::modify(int fd, Handler* handler, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void Epoll::remove(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

bool Epoll::add_listener(int fd, Handler* handler) {
  return add(fd, handler, EPOLLIN);
}

void Epoll::close(int fd) {
  ::close(fd);
}

ssize_t Epoll::send(int fd, const void* p, std::size_t n) {
  return ::send(fd, p, n, MSG_NOSIGNAL);
}

void Epoll::shutdown_write(int fd) {
  ::shutdown(fd, SHUT_WR);
}

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

}  // namespace gh::net
