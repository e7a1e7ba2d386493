// The watchdog pings while every loop answers, and stops the moment one does not.
#include "service/watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "unit/service/notify_socket.h"

namespace gh::service {
namespace {

using namespace std::chrono_literals;

// Loops that answer each question at once, unless held.
class FakeLoops {
 public:
  explicit FakeLoops(unsigned n) : answered_(n, 0), held_(n, false) {}
  Watchdog::Probe probe() {
    return {[this] {
              std::lock_guard lock(mu_);
              ++asked_;
              for (std::size_t i = 0; i < answered_.size(); ++i) {
                if (!held_[i]) answered_[i] = asked_;
              }
              return asked_;
            },
            [this](std::uint64_t q) {
              std::lock_guard lock(mu_);
              std::vector<unsigned> silent;
              for (std::size_t i = 0; i < answered_.size(); ++i) {
                if (answered_[i] < q) silent.push_back(static_cast<unsigned>(i));
              }
              return silent;
            }};
  }
  void hold(unsigned i) {
    std::lock_guard lock(mu_);
    held_[i] = true;
  }
  // Released, the loop answers the question waiting for it (as a woken event loop does).
  void release(unsigned i) {
    std::lock_guard lock(mu_);
    held_[i] = false;
    answered_[i] = asked_;
  }

 private:
  std::mutex mu_;
  std::uint64_t asked_ = 0;
  std::vector<std::uint64_t> answered_;
  std::vector<bool> held_;
};

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 3s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(Watchdog, PingsOnlyWhileEveryLoopAnswers) {
  FakeLoops loops(3);
  std::atomic<int> pings{0};
  Watchdog dog(40ms, loops.probe(), [&] { pings.fetch_add(1); });  // a round every 10 ms
  dog.start();
  ASSERT_TRUE(eventually([&] { return pings.load() >= 5; })) << pings.load();
  EXPECT_EQ(dog.withheld(), 0u);

  loops.hold(1);  // worker 1 wedged
  ASSERT_TRUE(eventually([&] { return dog.withheld() >= 1; }));
  const int at_wedge = pings.load();
  std::this_thread::sleep_for(150ms);  // 15 rounds
  EXPECT_EQ(pings.load(), at_wedge) << "a wedged loop must stop the pings";
  EXPECT_GE(dog.withheld(), 10u);

  loops.release(1);
  ASSERT_TRUE(eventually([&] { return pings.load() >= at_wedge + 3; }));
  dog.stop();
  const int at_stop = pings.load();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(pings.load(), at_stop);  // stopped means stopped
  dog.stop();                        // idempotent
}

TEST(Watchdog, TellsTheServiceManager) {
  test::NotifySocket sock;
  ASSERT_TRUE(sock.ok());
  const char* before = std::getenv("NOTIFY_SOCKET");
  const std::string saved = before != nullptr ? before : "";
  setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  {
    FakeLoops loops(2);
    Watchdog dog(80ms, loops.probe());
    dog.start();
    EXPECT_EQ(sock.next(2s), "WATCHDOG=1");
    loops.hold(0);
    ASSERT_TRUE(eventually([&] { return dog.withheld() >= 1; }));
    sock.drain(30ms);  // a ping sent just before the hold was seen
    EXPECT_TRUE(sock.drain(200ms).empty()) << "no WATCHDOG=1 while a loop is stuck";
    loops.release(0);
    EXPECT_EQ(sock.next(2s), "WATCHDOG=1");
  }
  if (before != nullptr) {
    setenv("NOTIFY_SOCKET", saved.c_str(), 1);
  } else {
    unsetenv("NOTIFY_SOCKET");
  }
}

}  // namespace
}  // namespace gh::service
