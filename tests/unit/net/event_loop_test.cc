#include "net/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/address.h"
#include "net/socket.h"

namespace gh::net {
namespace {

struct Reader final : Handler {
  Reader(int fd, std::vector<std::string>& order) : fd(fd), order(order) {}
  void on_events(std::uint32_t) override {
    char b[8];
    [[maybe_unused]] auto n = ::read(fd, b, sizeof b);
    order.push_back("reader");
  }
  int fd;
  std::vector<std::string>& order;
};

// Keeps a timer armed a few ms ahead, so that no wait of a test's loop blocks for ever.
struct Tick {
  Timer t;
  void keep(EventLoop& loop) {
    if (!t.armed) loop.timers().arm(t, loop.now_ms() + 5);
  }
  Tick() {
    t.callback = [](void*) {};
  }
};

// Every behaviour of the loop holds on both backends while both exist.
class EventLoopTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    std::string why;
    if (GetParam() == IoBackend::IoUring) {
      ASSERT_TRUE(uring_available(&why)) << why;
    }
  }
};

std::string backend_name(const ::testing::TestParamInfo<IoBackend>& info) {
  return info.param == IoBackend::Epoll ? "epoll" : "io_uring";
}

TEST_P(EventLoopTest, RunsOnTheBackendAskedFor) {
  EventLoop loop(GetParam());
  EXPECT_EQ(loop.backend(), GetParam());
}

// A reload runs in the wake hook and frees a removed listener's acceptor; an accept event of
// that listener may sit later in the same batch. The hook must run after the batch.
TEST_P(EventLoopTest, TheWakeHookRunsAfterTheBatchSoItMayFreeHandlersOfThatBatch) {
  EventLoop loop(GetParam());
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  std::vector<std::string> order;
  auto reader = std::make_unique<Reader>(fds[0], order);
  ASSERT_TRUE(loop.add(fds[0], reader.get(), EPOLLIN | EPOLLET));
  bool stop = false;
  loop.set_wake_hook([&] {
    order.push_back("hook");
    loop.remove(fds[0]);
    reader.reset();
    stop = true;
  });
  loop.wake();                            // the wake fd is ready first,
  ASSERT_EQ(::write(fds[1], "x", 1), 1);  // then the reader: one batch, the wake first in it
  int passes = 0;
  loop.run([&] { return !stop && ++passes < 100; });
  EXPECT_EQ(order, (std::vector<std::string>{"reader", "hook"}));
  ::close(fds[0]);
  ::close(fds[1]);
}

// close() needs no remove: on epoll the kernel drops the registration with the last
// descriptor; on io_uring the loop cancels the poll (which holds the file) and queues the close.
// Either way the number is free once the loop has run, the next descriptor with that number can
// be added, and the old handler never fires again.
struct Closer final : Handler {
  Closer(EventLoop& loop, int fd) : loop(loop), fd(fd) {}
  void on_events(std::uint32_t) override {
    ++events;
    if (fd < 0) return;
    loop.close(fd);  // within the batch, on the loop's thread
    fd = -1;
  }
  EventLoop& loop;
  int fd;
  int events = 0;
};

TEST_P(EventLoopTest, ClosingADescriptorTakesItOutOfTheSetWithoutARemove) {
  EventLoop loop(GetParam());
  int first[2];
  ASSERT_EQ(::pipe2(first, O_NONBLOCK | O_CLOEXEC), 0);
  Closer closer(loop, first[0]);
  ASSERT_TRUE(loop.add(first[0], &closer, EPOLLIN | EPOLLET));
  const int number = first[0];
  ASSERT_EQ(::write(first[1], "x", 1), 1);
  Tick tick;
  int passes = 0;
  loop.run([&] {
    tick.keep(loop);
    return closer.fd >= 0 && ++passes < 100;
  });
  ASSERT_LT(closer.fd, 0);
  int second[2];
  ASSERT_EQ(::pipe2(second, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(second[0], number);  // the lowest free number comes back: the close was done
  std::vector<std::string> order;
  Reader new_reader(second[0], order);
  EXPECT_TRUE(loop.add(second[0], &new_reader, EPOLLIN | EPOLLET));
  ASSERT_EQ(::write(second[1], "x", 1), 1);
  passes = 0;
  loop.run([&] {
    tick.keep(loop);
    return order.empty() && ++passes < 100;
  });
  EXPECT_EQ(order, (std::vector<std::string>{"reader"}));
  EXPECT_EQ(closer.events, 1);
  loop.timers().cancel(tick.t);
  ::close(first[1]);
  ::close(second[0]);
  ::close(second[1]);
}

// A descriptor closed behind the loop's back (plain close, no remove): on epoll the kernel drops
// it with the file; on io_uring the next add of the number replaces the stale registration.
TEST_P(EventLoopTest, ANumberClosedBehindTheLoopsBackCanBeAddedAgain) {
  EventLoop loop(GetParam());
  int first[2];
  ASSERT_EQ(::pipe2(first, O_NONBLOCK | O_CLOEXEC), 0);
  std::vector<std::string> old_order;
  Reader old_reader(first[0], old_order);
  ASSERT_TRUE(loop.add(first[0], &old_reader, EPOLLIN | EPOLLET));
  const int number = first[0];
  ::close(first[0]);
  int second[2];
  ASSERT_EQ(::pipe2(second, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(second[0], number);
  std::vector<std::string> order;
  Reader new_reader(second[0], order);
  ASSERT_TRUE(loop.add(second[0], &new_reader, EPOLLIN | EPOLLET));
  ASSERT_EQ(::write(second[1], "x", 1), 1);
  Tick tick;
  int passes = 0;
  loop.run([&] {
    tick.keep(loop);
    return order.empty() && ++passes < 100;
  });
  loop.timers().cancel(tick.t);
  EXPECT_EQ(order, (std::vector<std::string>{"reader"}));
  EXPECT_TRUE(old_order.empty());
  ::close(first[1]);
  ::close(second[0]);
  ::close(second[1]);
}

// Timers fire from the loop's wait: with nothing else to do, a timer 40 ms out ends the run.
TEST_P(EventLoopTest, TimersFireWhileTheLoopWaits) {
  EventLoop loop(GetParam());
  Timer t;
  bool fired = false;
  t.owner = &fired;
  t.callback = [](void* p) { *static_cast<bool*>(p) = true; };
  const std::int64_t start = loop.now_ms();
  loop.timers().arm(t, start + 40);
  int passes = 0;
  loop.run([&] { return !fired && ++passes < 1000; });
  EXPECT_TRUE(fired);
  EXPECT_GE(loop.now_ms() - start, 40);
  EXPECT_LT(passes, 1000);
}

// wake() from another thread ends a wait with no timer armed (it would block forever).
TEST_P(EventLoopTest, WakeFromAnotherThreadEndsTheWait) {
  EventLoop loop(GetParam());
  int hooks = 0;
  loop.set_wake_hook([&] { ++hooks; });
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop.wake();
  });
  loop.run([&] { return hooks == 0; });
  waker.join();
  EXPECT_EQ(hooks, 1);
}

// Deferred work runs after the batch, and what it defers runs after the next one.
TEST_P(EventLoopTest, DeferredWorkRunsAfterTheBatch) {
  EventLoop loop(GetParam());
  std::vector<int> order;
  loop.defer([&] {
    order.push_back(1);
    loop.defer([&] { order.push_back(2); });
  });
  Timer t;
  t.owner = &order;
  t.callback = [](void* p) { static_cast<std::vector<int>*>(p)->push_back(0); };
  loop.timers().arm(t, loop.now_ms());
  Tick tick;  // deferred work alone does not end a wait: the next batch runs it
  int passes = 0;
  loop.run([&] {
    tick.keep(loop);
    return order.size() < 3 && ++passes < 100;
  });
  loop.timers().cancel(tick.t);
  ASSERT_EQ(order.size(), 3u);
  // The timer (0) may fire in the first batch or the second; 2 always comes a batch after 1.
  const auto at = [&](int v) { return std::find(order.begin(), order.end(), v) - order.begin(); };
  EXPECT_LT(at(1), at(2));
  EXPECT_LT(at(0), 3);
}

// A connected pair of TCP sockets on loopback.
struct TcpPair {
  int a = -1;
  int b = -1;
  TcpPair() {
    std::string error;
    const int l = listen_tcp({client::make_ipv4(127, 0, 0, 1), 0}, false, 8, &error);
    a = connect_tcp(local_address(l), &error);
    b = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    for (int i = 0; i < 100 && b < 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      b = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    ::close(l);
  }
  ~TcpPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

std::string read_all(int fd) {
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// A handler that sends on its first event and closes the socket within the same batch: the
// bytes are queued (io_uring), the close after them, and the peer reads every byte, then EOF.
struct SendThenClose final : Handler {
  SendThenClose(EventLoop& loop, int fd) : loop(loop), fd(fd) {}
  void on_events(std::uint32_t) override {
    if (fd < 0) return;
    for (int i = 0; i < 3; ++i) {
      const std::string part = "part" + std::to_string(i) + ";";
      sent += loop.send(fd, part.data(), part.size()) == static_cast<ssize_t>(part.size()) ? 1 : 0;
    }
    loop.close(fd);
    fd = -1;
  }
  EventLoop& loop;
  int fd;
  int sent = 0;
};

TEST_P(EventLoopTest, SendsThenACloseInOneBatchAllArriveBeforeTheEnd) {
  EventLoop loop(GetParam());
  TcpPair p;
  ASSERT_GE(p.b, 0);
  SendThenClose h(loop, p.b);
  ASSERT_TRUE(loop.add(p.b, &h, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET));
  Tick tick;
  int passes = 0;
  loop.run([&] {
    tick.keep(loop);
    return h.fd >= 0 && ++passes < 100;
  });  // the run's end submits what its last pass queued
  loop.timers().cancel(tick.t);
  p.b = -1;  // closed by the loop
  EXPECT_EQ(h.sent, 3);
  // Blocking read of everything up to the FIN (2 s at most).
  ASSERT_EQ(::fcntl(p.a, F_SETFL, 0), 0);
  timeval tv{2, 0};
  ASSERT_EQ(::setsockopt(p.a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  EXPECT_EQ(read_all(p.a), "part0;part1;part2;");
}

// A send larger than a queue buffer, while queued bytes of the same socket are in flight, is
// refused with EAGAIN (it would overtake them); EPOLLOUT follows once they are out, and the
// bytes arrive in order. On epoll every send is a plain one and this is ordinary writing.
struct BigAfterSmall final : Handler {
  BigAfterSmall(EventLoop& loop, int fd) : loop(loop), fd(fd), big(64 * 1024, 'b') {}
  void on_events(std::uint32_t events) override {
    if (!small_sent) {
      small_sent = loop.send(fd, "small;", 6) == 6;
    }
    while (off < big.size() && (events & EPOLLOUT)) {
      const ssize_t n = loop.send(fd, big.data() + off, big.size() - off);
      if (n < 0) {
        eagains += errno == EAGAIN ? 1 : 0;
        return;
      }
      off += static_cast<std::size_t>(n);
    }
    if (off == big.size() && !shut) {
      loop.shutdown_write(fd);
      shut = true;
    }
  }
  EventLoop& loop;
  int fd;
  std::string big;
  std::size_t off = 0;
  bool small_sent = false;
  bool shut = false;
  int eagains = 0;
};

TEST_P(EventLoopTest, ALargeSendWaitsForQueuedBytesAndKeepsTheOrder) {
  EventLoop loop(GetParam());
  TcpPair p;
  ASSERT_GE(p.b, 0);
  BigAfterSmall h(loop, p.b);
  ASSERT_TRUE(loop.add(p.b, &h, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET));
  std::string got;
  Tick tick;
  int passes = 0;
  loop.run([&] {
    tick.keep(loop);
    got += read_all(p.a);  // the peer drains as the loop writes (the socket buffer is small)
    return got.size() < 6 + h.big.size() && ++passes < 2000;
  });
  got += read_all(p.a);
  loop.timers().cancel(tick.t);
  loop.remove(p.b);
  ASSERT_EQ(got.size(), 6 + h.big.size());
  EXPECT_EQ(got.substr(0, 6), "small;");
  EXPECT_EQ(got.substr(6), h.big);
  EXPECT_TRUE(h.shut);
  if (GetParam() == IoBackend::IoUring) {
    EXPECT_GE(h.eagains, 1);  // the large send waited for the small queued one
  }
}

// A listener on io_uring: the loop accepts and hands each connection, with its peer's
// address, to on_accepted; on epoll the handler is told the listener is readable.
struct Taker final : Handler {
  explicit Taker(int l) : listener(l) {}
  void on_events(std::uint32_t) override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    for (;;) {
      const int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
      if (fd < 0) return;
      on_accepted(fd, ss, len);
    }
  }
  void on_accepted(int fd, const sockaddr_storage& ss, socklen_t len) override {
    auto peer = client::from_sockaddr(ss, len);
    if (peer) ports.push_back(peer->port);
    ::close(fd);
  }
  int listener;
  std::vector<std::uint16_t> ports;
};

TEST_P(EventLoopTest, AListenerHandsOverEachConnectionWithItsPeer) {
  EventLoop loop(GetParam());
  std::string error;
  const int l = listen_tcp({client::make_ipv4(127, 0, 0, 1), 0}, false, 64, &error);
  ASSERT_GE(l, 0) << error;
  Taker t(l);
  ASSERT_TRUE(loop.add_listener(l, &t));
  std::vector<int> clients;
  std::vector<std::uint16_t> want;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(connect_tcp(local_address(l), &error));
    want.push_back(local_address(clients.back()).port);
  }
  Tick tick;
  int passes = 0;
  loop.run([&] {
    tick.keep(loop);
    return t.ports.size() < want.size() && ++passes < 200;
  });
  std::sort(t.ports.begin(), t.ports.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(t.ports, want);
  loop.remove(l);
  ::close(l);
  // Removed: a connection attempt now finds nobody listening.
  const int late =
      connect_tcp({client::make_ipv4(127, 0, 0, 1), local_address(clients[0]).port}, &error);
  const int until = passes + 10;
  loop.run([&] {
    tick.keep(loop);
    return ++passes < until;
  });
  loop.timers().cancel(tick.t);
  EXPECT_EQ(t.ports.size(), want.size());
  if (late >= 0) ::close(late);
  for (int c : clients) ::close(c);
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest,
                         ::testing::Values(IoBackend::Epoll, IoBackend::IoUring), backend_name);

}  // namespace
}  // namespace gh::net
