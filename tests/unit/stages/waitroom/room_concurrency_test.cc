// Four workers visit one room while a fifth thread ticks it, as the proxy does.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "stages/waitroom/room.h"

namespace gh::waitroom {
namespace {

TEST(RoomConcurrency, FourWorkersAndATicker) {
  policy::WaitingRoomConfig c;
  c.new_users_per_minute = 600;
  c.max_active = 50;
  c.max_queue = 300;
  c.max_per_prefix = 40;
  c.session_idle = 2'000;
  c.refresh = 1'000;
  Room room(c);

  constexpr int kThreads = 4;
  constexpr int kVisits = 5'000;
  constexpr std::uint32_t kIdsPerThread = 200;
  std::atomic<std::int64_t> clock{1'000'000};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> answers[4] = {};
  std::atomic<bool> bad{false};

  std::thread ticker([&] {
    while (!stop.load()) {
      room.tick(clock.load());
      const Stats s = room.stats();
      if (s.queued > c.max_queue || s.active > c.max_active) bad = true;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::uint64_t x = 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(t + 1);
      for (int i = 0; i < kVisits; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const std::uint32_t n = static_cast<std::uint32_t>(x % kIdsPerThread) +
                                static_cast<std::uint32_t>(t) * kIdsPerThread;
        Visit v;
        v.id[0] = static_cast<std::uint8_t>(n);
        v.id[1] = static_cast<std::uint8_t>(n >> 8);
        v.first_seen_ms = 1'000'000 + n;
        v.prefix.address.bytes[0] = static_cast<std::uint8_t>(n % 16);
        v.prefix.prefix_len = 48;
        const std::int64_t now = clock.fetch_add(1);
        const Answer a = room.visit(v, now);
        answers[static_cast<int>(a.kind)].fetch_add(1);
        if (a.kind == Answer::Kind::Waiting && (a.position == 0 || a.position > c.max_queue)) {
          bad = true;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  stop = true;
  ticker.join();

  EXPECT_FALSE(bad.load());
  std::uint64_t total = 0;
  for (auto& a : answers) total += a.load();
  EXPECT_EQ(total, std::uint64_t{kThreads} * kVisits);
  EXPECT_GT(answers[static_cast<int>(Answer::Kind::Admitted)].load(), 0u);
  const Stats s = room.stats();
  EXPECT_LE(s.queued, c.max_queue);
  EXPECT_LE(s.active, c.max_active);
  // Revoking every id empties the room and every count table.
  for (std::uint32_t n = 0; n < kThreads * kIdsPerThread; ++n) {
    TicketId id{};
    id[0] = static_cast<std::uint8_t>(n);
    id[1] = static_cast<std::uint8_t>(n >> 8);
    room.revoke(id);
  }
  const Stats e = room.stats();
  EXPECT_EQ(e.queued, 0u);
  EXPECT_EQ(e.active, 0u);
  EXPECT_EQ(e.prefixes, 0u);
}

}  // namespace
}  // namespace gh::waitroom
