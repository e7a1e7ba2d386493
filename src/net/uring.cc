#include "uring.h"

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "net/event_loop.h"

namespace gh::net {

namespace {

// user_data: the kind in the low 3 bits; an accept carries its AcceptOp's address (16-aligned),
// the others the descriptor, the registration's generation and a small index.
enum Kind : std::uint64_t { kPoll = 1, kWake = 2, kAccept = 3, kSend = 4, kIgnore = 5 };
constexpr std::uint64_t kKindMask = 7;

std::uint64_t pack(Kind kind, std::uint16_t gen, int fd, unsigned aux = 0) {
  return kind | (std::uint64_t{aux & 0xff} << 8) | (std::uint64_t{gen} << 16) |
         (std::uint64_t{static_cast<std::uint32_t>(fd)} << 32);
}
int fd_of(std::uint64_t ud) {
  return static_cast<int>(ud >> 32);
}
std::uint16_t gen_of(std::uint64_t ud) {
  return static_cast<std::uint16_t>(ud >> 16);
}
unsigned aux_of(std::uint64_t ud) {
  return static_cast<unsigned>((ud >> 8) & 0xff);
}

constexpr unsigned kEntries = 1024;
constexpr unsigned kCqEntries = 16384;
// Descriptors are bounded by RLIMIT_NOFILE; this only guards the slot table against nonsense.
constexpr int kMaxFd = 1 << 22;

int setup(io_uring* ring, unsigned flags) {
  io_uring_params p{};
  p.flags = flags | IORING_SETUP_CQSIZE;
  p.cq_entries = kCqEntries;
  return io_uring_queue_init_params(kEntries, ring, &p);
}

std::string disabled_note() {
  std::ifstream f("/proc/sys/kernel/io_uring_disabled");
  int v = 0;
  if (!(f >> v) || v == 0) return "";
  return v == 2 ? " (kernel.io_uring_disabled = 2: io_uring is off on this machine)"
                : " (kernel.io_uring_disabled = 1: only the group in kernel.io_uring_group may "
                  "use it)";
}

// The loop needs what Linux 5.19 brought (multishot poll, MSG_WAITALL sends, cancel by
// user_data); IORING_OP_SOCKET came in the same release and stands for it in the probe.
bool kernel_has_everything(io_uring* ring, std::string* why) {
  if (!(ring->features & IORING_FEAT_EXT_ARG) || !(ring->features & IORING_FEAT_NODROP)) {
    if (why) *why = "io_uring lacks timed waits or overflow-safe completions (Linux 5.19 or later)";
    return false;
  }
  io_uring_probe* probe = io_uring_get_probe_ring(ring);
  bool ok = probe != nullptr;
  for (int op : {IORING_OP_POLL_ADD, IORING_OP_ACCEPT, IORING_OP_SEND, IORING_OP_CLOSE,
                 IORING_OP_ASYNC_CANCEL, IORING_OP_READ, IORING_OP_SHUTDOWN, IORING_OP_SOCKET}) {
    ok = ok && io_uring_opcode_supported(probe, op);
  }
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!ok && why) *why = "io_uring lacks operations the loop uses (Linux 5.19 or later)";
  return ok;
}

}  // namespace

bool uring_available(std::string* why) {
  io_uring ring{};
  const int r = setup(&ring, 0);
  if (r < 0) {
    if (why) *why = std::string("io_uring_queue_init: ") + std::strerror(-r) + disabled_note();
    return false;
  }
  const bool ok = kernel_has_everything(&ring, why);
  io_uring_queue_exit(&ring);
  return ok;
}

std::unique_ptr<Ring> Ring::create(EventLoop& loop, int wake_fd, std::string* why) {
  std::unique_ptr<Ring> r(new Ring(loop, wake_fd));
  // Best first: completions run only when this thread waits (no interrupts of its work), which
  // needs one submitting thread; the ring is enabled by the thread that runs the loop.
  int e = setup(&r->ring_, IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                               IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED);
  r->disabled_ = e == 0;
  if (e < 0) e = setup(&r->ring_, IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN);
  if (e < 0) e = setup(&r->ring_, 0);
  if (e < 0) {
    if (why) *why = std::string("io_uring_queue_init: ") + std::strerror(-e) + disabled_note();
    return nullptr;
  }
  if (!kernel_has_everything(&r->ring_, why)) return nullptr;  // the destructor exits the ring
  r->send_memory_ = std::make_unique<char[]>(kSendBuffers * kSendBufferSize);
  for (std::size_t i = kSendBuffers; i-- > 0;)
    r->free_sends_.push_back(static_cast<std::uint8_t>(i));
  r->arm_wake();
  return r;
}

Ring::~Ring() {
  // Exiting the ring cancels what is queued and drops the files its requests hold.
  io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (s == nullptr && running_) {
    io_uring_submit(&ring_);  // a full queue goes now: a syscall, only in a very busy pass
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

Ring::Slot* Ring::slot(int fd) {
  if (fd < 0 || fd >= kMaxFd) return nullptr;
  if (static_cast<std::size_t>(fd) >= slots_.size()) slots_.resize(fd + 1);
  return &slots_[fd];
}

void Ring::arm_wake() {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  io_uring_prep_read(s, wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(s, pack(kWake, 0, 0));
}

void Ring::arm_poll(int fd, Slot& sl) {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  // Multishot polls are edge-triggered already, as the handlers expect.
  io_uring_prep_poll_multishot(s, fd, sl.events & ~static_cast<std::uint32_t>(EPOLLET));
  io_uring_sqe_set_data64(s, pack(kPoll, sl.gen, fd));
}

bool Ring::add(int fd, Handler* handler, std::uint32_t events) {
  Slot* sl = slot(fd);
  if (sl == nullptr) {
    errno = EBADF;
    return false;
  }
  // A number being added is a new file: a registration left on it belonged to a descriptor
  // closed behind the loop's back, which epoll would have dropped with the file.
  if (sl->handler != nullptr) forget(fd, *sl);
  sl->handler = handler;
  sl->events = events;
  arm_poll(fd, *sl);
  return true;
}

void Ring::forget(int fd, Slot& sl) {
  if (sl.handler != nullptr) {
    // The poll holds the file: until it is cancelled, a closed socket would stay open.
    if (io_uring_sqe* s = sqe()) {
      io_uring_prep_cancel64(s, pack(kPoll, sl.gen, fd), 0);
      io_uring_sqe_set_data64(s, pack(kIgnore, 0, fd));
    }
  }
  const std::uint16_t gen = sl.gen + 1;
  sl = Slot{};
  sl.gen = gen;
}

void Ring::remove(int fd) {
  for (auto& l : listens_) {
    if (l->fd != fd || l->removed) continue;
    l->removed = true;
    for (AcceptOp& op : l->ops) {
      if (!op.armed) continue;
      if (io_uring_sqe* s = sqe()) {
        io_uring_prep_cancel64(s, reinterpret_cast<std::uintptr_t>(&op) | kAccept, 0);
        io_uring_sqe_set_data64(s, pack(kIgnore, 0, fd));
      }
    }
    if (l->outstanding == 0) l->fd = -1;
    return;
  }
  if (Slot* sl = slot(fd)) forget(fd, *sl);
}

bool Ring::modify(int fd, Handler* handler, std::uint32_t events) {
  remove(fd);
  return add(fd, handler, events);
}

bool Ring::add_listener(int fd, Handler* handler) {
  auto l = std::make_unique<Listen>();
  l->fd = fd;
  l->handler = handler;
  for (AcceptOp& op : l->ops) {
    op.owner = l.get();
    arm_accept(op);
  }
  // Listeners whose last accept came back cancelled are dropped here, off the hot path.
  std::erase_if(listens_, [](const auto& x) { return x->removed && x->outstanding == 0; });
  listens_.push_back(std::move(l));
  return true;
}

void Ring::arm_accept(AcceptOp& op) {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  op.len = sizeof op.peer;
  // Single-shot accepts, each with its own address buffer: a multishot accept writes every
  // peer into one buffer, and reading it back would cost a getpeername per connection.
  io_uring_prep_accept(s, op.owner->fd, reinterpret_cast<sockaddr*>(&op.peer), &op.len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, reinterpret_cast<std::uintptr_t>(&op) | kAccept);
  op.armed = true;
  ++op.owner->outstanding;
}

void Ring::close(int fd) {
  Slot* sl = slot(fd);
  if (sl != nullptr) forget(fd, *sl);
  if (!running_) {
    ::close(fd);  // not on the loop's thread: nothing would submit a queued close
    return;
  }
  io_uring_sqe* s = sqe();
  if (s == nullptr) {
    ::close(fd);
    return;
  }
  // Queued sends hold the file: their bytes still leave, then the FIN.
  io_uring_prep_close(s, fd);
  io_uring_sqe_set_data64(s, pack(kIgnore, 0, fd));
}

ssize_t Ring::send(int fd, const void* p, std::size_t n) {
  Slot* sl = slot(fd);
  if (sl == nullptr || sl->handler == nullptr || !running_) {
    return ::send(fd, p, n, MSG_NOSIGNAL);
  }
  if (n == 0 || n > kSendBufferSize || free_sends_.empty()) {
    if (sl->in_flight == 0) return ::send(fd, p, n, MSG_NOSIGNAL);
    // Bytes of this socket are still queued: a send now would overtake them.
    sl->want_out = true;
    errno = EAGAIN;
    return -1;
  }
  io_uring_sqe* s = sqe();
  if (s == nullptr) {
    if (sl->in_flight == 0) return ::send(fd, p, n, MSG_NOSIGNAL);
    sl->want_out = true;
    errno = EAGAIN;
    return -1;
  }
  const unsigned b = free_sends_.back();
  free_sends_.pop_back();
  char* buf = send_memory_.get() + b * kSendBufferSize;
  std::memcpy(buf, p, n);
  // MSG_WAITALL: the kernel retries a short send itself, so a completion means all of it.
  io_uring_prep_send(s, fd, buf, n, MSG_NOSIGNAL | MSG_WAITALL);
  io_uring_sqe_set_data64(s, pack(kSend, sl->gen, fd, b));
  ++sl->in_flight;
  return static_cast<ssize_t>(n);
}

void Ring::shutdown_write(int fd) {
  Slot* sl = slot(fd);
  if (sl != nullptr && sl->handler != nullptr && sl->in_flight != 0) {
    sl->shut_after = true;  // after the queued bytes, not before them
    return;
  }
  ::shutdown(fd, SHUT_WR);
}

void Ring::on_send_done(int fd, std::uint16_t gen, unsigned buffer) {
  free_sends_.push_back(static_cast<std::uint8_t>(buffer));
  Slot* sl = slot(fd);
  if (sl == nullptr || sl->gen != gen || sl->handler == nullptr || sl->in_flight == 0) return;
  if (--sl->in_flight != 0) return;
  if (sl->shut_after) {
    sl->shut_after = false;
    ::shutdown(fd, SHUT_WR);
  }
  if (sl->want_out) {
    sl->want_out = false;
    sl->handler->on_events(EPOLLOUT);
  }
}

void Ring::dispatch(const io_uring_cqe& cqe, bool& woken) {
  const std::uint64_t ud = cqe.user_data;
  switch (ud & kKindMask) {
    case kPoll: {
      const int fd = fd_of(ud);
      Slot* sl = slot(fd);
      if (sl == nullptr || sl->gen != gen_of(ud) || sl->handler == nullptr) return;  // stale
      const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
      if (cqe.res < 0) {
        // Not our cancel (that changed the generation): the socket is unusable.
        sl->handler->on_events(EPOLLERR | EPOLLHUP);
        return;
      }
      Handler* h = sl->handler;
      h->on_events(static_cast<std::uint32_t>(cqe.res));
      // A multishot poll ends on its own when completions overflowed: armed again.
      sl = slot(fd);
      if (!more && sl->gen == gen_of(ud) && sl->handler != nullptr) arm_poll(fd, *sl);
      return;
    }
    case kWake:
      clear_wake();
      woken = true;
      arm_wake();
      return;
    case kAccept: {
      auto* op = reinterpret_cast<AcceptOp*>(ud & ~kKindMask);
      Listen* l = op->owner;
      op->armed = false;
      --l->outstanding;
      if (l->removed) {
        if (cqe.res >= 0) ::close(cqe.res);  // accepted as it was being cancelled
        return;
      }
      if (cqe.res >= 0) l->handler->on_accepted(cqe.res, op->peer, op->len);
      // EMFILE/ENFILE come back at once, as a level-triggered epoll listener would.
      if (!l->removed) arm_accept(*op);
      return;
    }
    case kSend:
      on_send_done(fd_of(ud), gen_of(ud), aux_of(ud));
      return;
    default:
      return;
  }
}

void Ring::run(const std::function<bool()>& keep_running) {
  if (disabled_) {
    // liburing 2.3 (Debian 12) has no io_uring_enable_rings.
    ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    disabled_ = false;
  }
  running_ = true;
  while (keep_running()) {
    const int timeout = loop_.timers().next_timeout_ms(loop_.now_ms());
    __kernel_timespec ts{};
    ts.tv_sec = timeout / 1000;
    ts.tv_nsec = static_cast<long long>(timeout % 1000) * 1'000'000;
    io_uring_cqe* first = nullptr;
    // The pass's one syscall: what the last batch queued goes in, and the wait for the next.
    const int r =
        io_uring_submit_and_wait_timeout(&ring_, &first, 1, timeout >= 0 ? &ts : nullptr, nullptr);
    loop_.update_time();
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) break;
    bool woken = false;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      dispatch(*cqe, woken);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    end_pass(woken);
  }
  // What the last pass queued (closes of the sessions it ended) still goes in; later closes
  // are plain ones, and the ring's exit lets go of the files its polls held.
  io_uring_submit(&ring_);
  running_ = false;
}

}  // namespace gh::net
