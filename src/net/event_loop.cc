#include "net/event_loop.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>

#include "core/clock.h"
#include "epoll.h"
#include "uring.h"

namespace gh::net {

void Handler::on_accepted(int fd, const sockaddr_storage&, socklen_t) {
  ::close(fd);
}

EventLoop::EventLoop(IoBackend backend) : now_ms_(core::monotonic_ms()), timers_(now_ms_) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) std::abort();  // no fds at start-up: nothing sensible to do
  if (backend == IoBackend::IoUring) {
    std::string why;
    backend_ = Ring::create(*this, wake_fd_, &why);
    if (backend_ != nullptr) {
      io_ = IoBackend::IoUring;
      return;
    }
    spdlog::warn("server.io: io_uring: {}; this loop runs on epoll", why);
  }
  backend_ = make_epoll(*this, wake_fd_);
}

EventLoop::~EventLoop() {
  run_deferred();
  backend_.reset();  // before the eventfd its wait names
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool EventLoop::add(int fd, Handler* handler, std::uint32_t events) {
  return backend_->add(fd, handler, events);
}

bool EventLoop::modify(int fd, Handler* handler, std::uint32_t events) {
  return backend_->modify(fd, handler, events);
}

void EventLoop::remove(int fd) {
  backend_->remove(fd);
}

bool EventLoop::add_listener(int fd, Handler* handler) {
  return backend_->add_listener(fd, handler);
}

void EventLoop::close(int fd) {
  backend_->close(fd);
}

ssize_t EventLoop::send(int fd, const void* p, std::size_t n) {
  return backend_->send(fd, p, n);
}

void EventLoop::shutdown_write(int fd) {
  backend_->shutdown_write(fd);
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
  backend_->run(keep_running);
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

// The loop's side of a pass, for the backends (a friend of EventLoop).
void LoopBackend::clear_wake() {
  loop_.woken_.store(false);
}

void LoopBackend::end_pass(bool woken) {
  loop_.after_batch(woken);
}

}  // namespace gh::net
