// The byte copy of an upgraded connection (proxy/splice.h) over scripted peers: both directions,
// back-pressure, the byte limit, end of stream, errors and the idle deadline.
#include "proxy/splice.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace gh::proxy {
namespace {

// A peer with bytes to give (`incoming`), a window it accepts (`room`), and what it received.
struct FakePeer final : SplicePeer {
  std::string incoming;
  bool eof = false;            // after `incoming`, the end of stream
  int read_error = 0;          // errno of a failing read, once `incoming` is gone
  std::size_t room = 1 << 20;  // bytes it takes before saying EAGAIN
  std::string received;
  bool readable = true;
  bool writable = true;

  bool splice_readable() const override { return readable; }
  bool splice_writable() const override { return writable; }
  ssize_t splice_read(char* p, std::size_t n) override {
    if (incoming.empty()) {
      if (eof) return 0;
      errno = read_error != 0 ? read_error : EAGAIN;
      if (errno == EAGAIN) readable = false;
      return -1;
    }
    const std::size_t k = std::min(n, incoming.size());
    std::memcpy(p, incoming.data(), k);
    incoming.erase(0, k);
    return static_cast<ssize_t>(k);
  }
  ssize_t splice_write(const char* p, std::size_t n) override {
    if (room == 0) {
      writable = false;
      errno = EAGAIN;
      return -1;
    }
    const std::size_t k = std::min(n, room);
    received.append(p, k);
    room -= k;
    return static_cast<ssize_t>(k);
  }
};

struct Rig {
  core::Buffer to_upstream{4096};
  core::Buffer to_client{4096};
  FakePeer client, upstream;
  Splice splice;
  void start(SpliceLimits limits = {}, std::int64_t now = 0) {
    splice.start(&to_upstream, &to_client, to_upstream.readable(), 0, limits, now);
  }
  int run(std::int64_t now = 0) {
    int rounds = 0;
    while (rounds < 10'000 && splice.pump(client, upstream, now)) ++rounds;
    return rounds;
  }
};

TEST(Splice, CopiesBothWaysIncludingEarlyBytes) {
  Rig r;
  r.to_client.append("HTTP/1.1 101 Switching Protocols\r\n\r\n");  // the switch head goes first
  r.to_upstream.append("early");  // the client's bytes behind its request head
  r.start();
  r.client.incoming = "hello";
  r.upstream.incoming = "world";
  r.run();
  EXPECT_TRUE(r.splice.active());
  EXPECT_EQ(r.upstream.received, "earlyhello");
  EXPECT_EQ(r.client.received, "HTTP/1.1 101 Switching Protocols\r\n\r\nworld");
  EXPECT_EQ(r.splice.bytes_to_upstream(), 10u);
  EXPECT_EQ(r.splice.bytes_to_client(), 5u);  // the 101 head is no spliced byte
}

TEST(Splice, BackPressureStopsReadingTheFastSide) {
  Rig r;
  r.start();
  r.upstream.incoming = std::string(100'000, 'x');
  r.client.room = 1000;  // a client that reads slowly
  r.run();
  // One buffer in flight, no more: the rest stays with the upstream.
  EXPECT_EQ(r.client.received.size(), 1000u);
  EXPECT_LE(r.to_client.readable(), r.to_client.capacity());
  EXPECT_GE(r.upstream.incoming.size(), 100'000u - 1000u - r.to_client.capacity());
  EXPECT_TRUE(r.splice.active());
  // The client reads again: everything arrives, in order.
  r.client.room = 1 << 20;
  r.client.writable = true;
  r.run();
  EXPECT_EQ(r.client.received, std::string(100'000, 'x'));
}

TEST(Splice, ByteLimitPerDirectionCuts) {
  Rig r;
  r.start(SpliceLimits{.idle_timeout_ms = 1000, .max_bytes = 3000});
  r.client.incoming = std::string(3000, 'a');  // exactly the limit: passes
  r.run();
  EXPECT_TRUE(r.splice.active());
  EXPECT_EQ(r.upstream.received.size(), 3000u);
  r.upstream.incoming = std::string(2000, 'b');  // the other direction has its own budget
  r.client.incoming = "!";                       // one byte over
  r.client.readable = r.upstream.readable = true;
  r.run();
  EXPECT_EQ(r.splice.outcome(), SpliceOutcome::Limit);
  EXPECT_EQ(r.upstream.received.size(), 3000u);  // the byte over the limit never left
}

TEST(Splice, EndOfStreamEndsBothOnceDelivered) {
  Rig r;
  r.start();
  r.client.incoming = "bye";
  r.client.eof = true;
  r.upstream.room = 0;  // the upstream does not read yet
  r.run();
  EXPECT_TRUE(r.splice.active());  // "bye" still waits
  r.upstream.room = 100;
  r.upstream.writable = true;
  r.run();
  EXPECT_EQ(r.upstream.received, "bye");
  EXPECT_EQ(r.splice.outcome(), SpliceOutcome::Closed);
}

TEST(Splice, ResetIsAnError) {
  Rig r;
  r.start();
  r.upstream.read_error = ECONNRESET;
  r.run();
  EXPECT_EQ(r.splice.outcome(), SpliceOutcome::Error);
}

TEST(Splice, IdleDeadlineMovesWithBytes) {
  Rig r;
  r.start(SpliceLimits{.idle_timeout_ms = 1000, .max_bytes = 1 << 20}, 0);
  EXPECT_EQ(r.splice.deadline_ms(), 1000);
  EXPECT_FALSE(r.splice.expire(999));
  r.client.incoming = "ping";
  r.run(800);
  EXPECT_EQ(r.splice.deadline_ms(), 1800);
  EXPECT_FALSE(r.splice.expire(1000));  // the first deadline passed, but bytes moved since
  EXPECT_TRUE(r.splice.expire(1800));
  EXPECT_EQ(r.splice.outcome(), SpliceOutcome::Idle);
  EXPECT_FALSE(r.splice.pump(r.client, r.upstream, 1900));
}

TEST(Splice, StopIsShutdown) {
  Rig r;
  r.start();
  r.splice.stop();
  EXPECT_EQ(r.splice.outcome(), SpliceOutcome::Shutdown);
  EXPECT_FALSE(r.splice.active());
}

}  // namespace
}  // namespace gh::proxy
