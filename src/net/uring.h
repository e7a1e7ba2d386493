// The io_uring side of EventLoop (server.io: io_uring): one ring per loop, submitted and waited
// on once per loop pass. Internal to net/ (gh_module INTERNAL); the loop's callers see EventLoop
// only.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loop_backend.h"

namespace gh::net {

class Ring final : public LoopBackend {
 public:
  // Nullptr and `why` when the kernel refuses the ring.
  static std::unique_ptr<Ring> create(EventLoop& loop, int wake_fd, std::string* why);
  ~Ring() override;

  bool add(int fd, Handler* handler, std::uint32_t events) override;
  bool modify(int fd, Handler* handler, std::uint32_t events) override;
  void remove(int fd) override;
  bool add_listener(int fd, Handler* handler) override;
  void close(int fd) override;
  ssize_t send(int fd, const void* p, std::size_t n) override;
  void shutdown_write(int fd) override;
  void run(const std::function<bool()>& keep_running) override;

  // Accepts kept queued per listener: up to this many connections taken per loop pass.
  static constexpr int kAcceptDepth = 32;
  // Sends queued at once, each copied into one buffer: 2 MiB per loop, allocated once (pages
  // are touched as used). Beyond it, or above a buffer's size, a send is a syscall again. At
  // most 256: the index rides in 8 bits of the entry's user_data.
  static constexpr std::size_t kSendBuffers = 256;
  static constexpr std::size_t kSendBufferSize = 8 * 1024;

 private:
  struct Slot {
    Handler* handler = nullptr;
    std::uint32_t events = 0;
    std::uint16_t gen = 0;        // bumped whenever the registration ends: stale entries skip
    std::uint32_t in_flight = 0;  // queued sends of this registration
    bool want_out = false;        // a send said EAGAIN: EPOLLOUT once in_flight is 0
    bool shut_after = false;      // shutdown(SHUT_WR) once in_flight is 0
  };
  struct Listen;
  struct alignas(16) AcceptOp {
    Listen* owner = nullptr;
    sockaddr_storage peer{};
    socklen_t len = 0;
    bool armed = false;
  };
  struct Listen {
    int fd = -1;
    Handler* handler = nullptr;
    bool removed = false;
    int outstanding = 0;
    std::array<AcceptOp, kAcceptDepth> ops{};
  };

  Ring(EventLoop& loop, int wake_fd) : LoopBackend(loop), wake_fd_(wake_fd) {}
  io_uring_sqe* sqe();
  Slot* slot(int fd);
  void arm_poll(int fd, Slot& s);
  void arm_wake();
  void arm_accept(AcceptOp& op);
  void forget(int fd, Slot& s);
  void dispatch(const io_uring_cqe& cqe, bool& woken);
  void on_send_done(int fd, std::uint16_t gen, unsigned buffer);

  io_uring ring_{};
  bool disabled_ = false;  // created R_DISABLED: enabled by the thread that runs it
  bool running_ = false;   // on the loop's thread: queue entries get submitted
  int wake_fd_;
  std::uint64_t wake_value_ = 0;
  std::vector<Slot> slots_;  // by descriptor number
  std::vector<std::unique_ptr<Listen>> listens_;
  std::unique_ptr<char[]> send_memory_;
  std::vector<std::uint8_t> free_sends_;
};

}  // namespace gh::net
