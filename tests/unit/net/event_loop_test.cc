#include "net/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

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

// A reload runs in the wake hook and frees a removed listener's acceptor; an accept event of
// that listener may sit later in the same epoll batch. The hook must run after the batch.
TEST(EventLoop, TheWakeHookRunsAfterTheBatchSoItMayFreeHandlersOfThatBatch) {
  EventLoop loop;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  std::vector<std::string> order;
  auto reader = std::make_unique<Reader>(fds[0], order);
  ASSERT_TRUE(loop.add(fds[0], reader.get(), EPOLLIN));
  bool stop = false;
  loop.set_wake_hook([&] {
    order.push_back("hook");
    loop.remove(fds[0]);
    reader.reset();
    stop = true;
  });
  loop.wake();                            // the wake fd is ready first,
  ASSERT_EQ(::write(fds[1], "x", 1), 1);  // then the reader: one batch, the wake first in it
  loop.run([&] { return !stop; });
  EXPECT_EQ(order, (std::vector<std::string>{"reader", "hook"}));
  ::close(fds[0]);
  ::close(fds[1]);
}

// EventLoop::close() skips EPOLL_CTL_DEL: the kernel must have dropped the registration, or the
// next descriptor with the same number could not be added (EEXIST) and the old one would fire.
TEST(EventLoop, ClosingADescriptorTakesItOutOfTheSetWithoutARemove) {
  EventLoop loop;
  int first[2];
  ASSERT_EQ(::pipe2(first, O_NONBLOCK | O_CLOEXEC), 0);
  std::vector<std::string> order;
  Reader old_reader(first[0], order);
  ASSERT_TRUE(loop.add(first[0], &old_reader, EPOLLIN));
  const int number = first[0];
  EventLoop::close(first[0]);
  int second[2];
  ASSERT_EQ(::pipe2(second, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(second[0], number);  // the lowest free number comes back
  Reader new_reader(second[0], order);
  EXPECT_TRUE(loop.add(second[0], &new_reader, EPOLLIN));
  ASSERT_EQ(::write(second[1], "x", 1), 1);
  int passes = 0;
  loop.run([&] { return order.empty() && ++passes < 100; });
  EXPECT_EQ(order, (std::vector<std::string>{"reader"}));
  ::close(first[1]);
  ::close(second[0]);
  ::close(second[1]);
}

}  // namespace
}  // namespace gh::net
