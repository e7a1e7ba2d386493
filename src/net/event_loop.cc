#include "net/event_loop.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/clock.h"
#include "net/uring.h"

namespace gh::net {

namespace {
constexpr int kMaxEvents = 256;
// Marks the eventfd in epoll data; handlers are real pointers and never this value.
Handler* const kWakeTag = reinterpret_cast<Handler*>(static_cast<std::uintptr_t>(1));
}  // namespace

void Handler::on_accepted(int fd, const sockaddr_storage&, socklen_t) {
  ::close(fd);
}

EventLoop::EventLoop(IoBackend backend) : now_ms_(core::monotonic_ms()), timers_(now_ms_) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) std::abort();  // no fds at start-up: nothing sensible to do
  if (backend == IoBackend::IoUring) {
    std::string why;
    ring_ = Ring::create(*this, wake_fd_, &why);
    if (ring_ != nullptr) return;
    spdlog::warn("server.io: io_uring: {}; this loop runs on epoll", why);
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) std::abort();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EventLoop::~EventLoop() {
  run_deferred();
  ring_.reset();  // before the eventfd its read names
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool EventLoop::add(int fd, Handler* handler, std::uint32_t events) {
  if (ring_ != nullptr) return ring_->add(fd, handler, events);
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, Handler* handler, std::uint32_t events) {
  if (ring_ != nullptr) {
    ring_->remove(fd);
    return ring_->add(fd, handler, events);
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) {
  if (ring_ != nullptr) {
    ring_->remove(fd);
    return;
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

bool EventLoop::add_listener(int fd, Handler* handler) {
  if (ring_ != nullptr) return ring_->add_listener(fd, handler);
  return add(fd, handler, EPOLLIN);
}

void EventLoop::close(int fd) {
  if (ring_ != nullptr) {
    ring_->close(fd);
    return;
  }
  ::close(fd);
}

ssize_t EventLoop::send(int fd, const void* p, std::size_t n) {
  if (ring_ != nullptr) return ring_->send(fd, p, n);
  return ::send(fd, p, n, MSG_NOSIGNAL);
}

void EventLoop::shutdown_write(int fd) {
  if (ring_ != nullptr) {
    ring_->shutdown_write(fd);
    return;
  }
  ::shutdown(fd, SHUT_WR);
}

void EventLoop::update_time() {
  now_ms_ = core::monotonic_ms();
}

void EventLoop::wake() {
  if (woken_.exchange(true)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::run(const std::function<bool()>& keep_running) {
  if (ring_ != nullptr) {
    ring_->run(keep_running);
    return;
  }
  run_epoll(keep_running);
}

void EventLoop::run_epoll(const std::function<bool()>& keep_running) {
  epoll_event events[kMaxEvents];
  while (keep_running()) {
    int timeout = timers_.next_timeout_ms(now_ms_);
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    update_time();
    if (n < 0 && errno != EINTR) break;
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      auto* h = static_cast<Handler*>(events[i].data.ptr);
      if (h == kWakeTag) {
        std::uint64_t v;
        [[maybe_unused]] auto r = read(wake_fd_, &v, sizeof v);
        woken_.store(false);
        woken = true;
        continue;
      }
      h->on_events(events[i].events);
    }
    after_batch(woken);
  }
}

void EventLoop::after_batch(bool woken) {
  // After the batch, never inside it: the hook may free handlers (a reload removes a
  // listener's acceptor) whose events are still queued later in this same batch.
  if (woken && wake_hook_) wake_hook_();
  timers_.advance(now_ms_);
  run_deferred();
}

void EventLoop::run_deferred() {
  if (deferred_.empty()) return;
  // Swap first: a deferred function may defer more work for the next batch.
  running_.swap(deferred_);
  for (auto& fn : running_) fn();
  running_.clear();  // keeps capacity: no allocation in steady state
}

}  // namespace gh::net
