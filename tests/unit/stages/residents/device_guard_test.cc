// One device token, one person's worth of requests: a rate and an in-flight cap per token id.
#include "stages/residents/device_guard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace gh::residents {
namespace {

constexpr core::Nanos kSecond = 1'000'000'000;

challenge::TokenId id_of(std::uint8_t n) {
  challenge::TokenId id{};
  id[0] = n;
  id[15] = static_cast<std::uint8_t>(n * 7 + 1);
  return id;
}

std::unique_ptr<DeviceGuard> guard(std::uint32_t rate, std::uint32_t burst,
                                   std::uint32_t concurrency) {
  DeviceGuardConfig c;
  c.rate = rate;
  c.period_ms = 1'000;
  c.burst = burst;
  c.concurrency = concurrency;
  c.max_devices = 1'000;
  auto g = DeviceGuard::create(c);
  EXPECT_NE(g, nullptr);
  return g;
}

TEST(DeviceGuard, InFlightCapPerToken) {
  auto g = guard(1'000, 1'000, 3);
  const core::Nanos now = 10 * kSecond;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g->admit(id_of(1), 7, now), DeviceGuard::Admit::Ok);
  EXPECT_EQ(g->admit(id_of(1), 7, now), DeviceGuard::Admit::TooManyInFlight);
  EXPECT_EQ(g->in_flight(id_of(1)), 3u);
  // Another token is not affected.
  EXPECT_EQ(g->admit(id_of(2), 7, now), DeviceGuard::Admit::Ok);
  g->release(id_of(1));
  EXPECT_EQ(g->admit(id_of(1), 7, now), DeviceGuard::Admit::Ok);
  for (int i = 0; i < 3; ++i) g->release(id_of(1));
  g->release(id_of(2));
  EXPECT_EQ(g->in_flight(id_of(1)), 0u);
}

TEST(DeviceGuard, RatePerToken) {
  auto g = guard(2, 5, 100);
  core::Nanos now = 10 * kSecond;
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    if (g->admit(id_of(1), 7, now) == DeviceGuard::Admit::Ok) {
      ++ok;
      g->release(id_of(1));
    }
  }
  EXPECT_EQ(ok, 5);  // the burst, then nothing within the same instant
  EXPECT_EQ(g->admit(id_of(1), 7, now), DeviceGuard::Admit::RateExceeded);
  EXPECT_EQ(g->in_flight(id_of(1)), 0u) << "a refused admission holds no place";
  now += kSecond;  // two more per second
  EXPECT_EQ(g->admit(id_of(1), 7, now), DeviceGuard::Admit::Ok);
  EXPECT_EQ(g->admit(id_of(1), 7, now), DeviceGuard::Admit::Ok);
  EXPECT_EQ(g->admit(id_of(1), 7, now), DeviceGuard::Admit::RateExceeded);
  EXPECT_EQ(g->admit(id_of(9), 7, now), DeviceGuard::Admit::Ok);
}

// 96 threads sharing one token (the botnet of the finding): never more than the cap at once.
TEST(DeviceGuard, ManyThreadsOneToken) {
  auto g = guard(1'000'000, 1'000'000, 8);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2'000; ++i) {
        if (g->admit(id_of(1), 7, kSecond) != DeviceGuard::Admit::Ok) continue;
        const int now_inside = ++inside;
        int seen = most.load();
        while (now_inside > seen && !most.compare_exchange_weak(seen, now_inside)) {
        }
        ++admitted;
        --inside;
        g->release(id_of(1));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 8);
  EXPECT_GT(admitted.load(), 0);
  EXPECT_EQ(g->in_flight(id_of(1)), 0u);
}

// A phone between Wi-Fi and cellular uses a few networks an hour; a token shared by a botnet
// hundreds. Past the cap the device is demoted for demote_ms, then comes back.
TEST(DeviceGuard, NetworksPerHourCap) {
  DeviceGuardConfig c;
  c.rate = 1'000'000;
  c.burst = 1'000'000;
  c.networks = 3;
  c.network_window_ms = 3'600'000;
  c.demote_ms = 600'000;
  auto g = DeviceGuard::create(c);
  core::Nanos now = 10 * kSecond;
  auto use = [&](std::uint8_t device, std::uint64_t network) {
    const DeviceGuard::Admit a = g->admit(id_of(device), network, now);
    if (a == DeviceGuard::Admit::Ok) g->release(id_of(device));
    return a;
  };
  for (std::uint64_t n : {1, 2, 3, 1, 2, 3, 3}) EXPECT_EQ(use(1, n), DeviceGuard::Admit::Ok) << n;
  EXPECT_EQ(use(1, 4), DeviceGuard::Admit::TooManyNetworks);
  EXPECT_EQ(use(1, 1), DeviceGuard::Admit::Demoted) << "demoted for all its networks";
  EXPECT_EQ(use(2, 4), DeviceGuard::Admit::Ok) << "other devices are not";
  now += 600 * kSecond + 1;  // the demotion is over, the hour is not: known networks still count
  EXPECT_EQ(use(1, 1), DeviceGuard::Admit::Ok);
  now += 3'600 * kSecond;  // an hour later the old networks have left the window
  for (std::uint64_t n : {5, 6, 7}) EXPECT_EQ(use(1, n), DeviceGuard::Admit::Ok) << n;
}

// Many devices at once: a device is never charged with another's networks (at worst its history
// is forgotten), and the table's memory does not grow.
TEST(DeviceGuard, ManyDevicesDoNotShareHistories) {
  DeviceGuardConfig c;
  c.rate = 1'000'000;
  c.burst = 1'000'000;
  c.networks = 2;
  auto g = DeviceGuard::create(c);
  int demoted = 0;
  for (int d = 0; d < 50'000; ++d) {
    challenge::TokenId id{};
    id[0] = static_cast<std::uint8_t>(d);
    id[1] = static_cast<std::uint8_t>(d >> 8);
    id[2] = static_cast<std::uint8_t>(d >> 16);
    for (std::uint64_t n : {1, 2, 1}) {
      const DeviceGuard::Admit a = g->admit(id, n, kSecond);
      if (a == DeviceGuard::Admit::Ok) g->release(id);
      demoted += a == DeviceGuard::Admit::TooManyNetworks;
    }
  }
  EXPECT_EQ(demoted, 0);
}

TEST(DeviceGuard, RefusesALimitItCannotHold) {
  DeviceGuardConfig c;
  c.rate = 0;
  EXPECT_EQ(DeviceGuard::create(c), nullptr);
}

}  // namespace
}  // namespace gh::residents
