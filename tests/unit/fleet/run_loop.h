// The fleet's Redis tests turn a real event loop until something happens, never longer than a
// bound: one way of doing it for all of them.
#pragma once

#include <cstdint>
#include <functional>

#include "core/clock.h"
#include "net/event_loop.h"

namespace gh::test {

// Turns `loop` until `done` or `ms` pass (calling `each_tick`, when given, after every timer
// tick, so a client's own timers are checked as the product's loop would); false on time out.
inline bool run_until(net::EventLoop& loop, const std::function<bool()>& done, std::int64_t ms,
                      const std::function<void()>& each_tick = {}) {
  const std::int64_t end = core::monotonic_ms() + ms;
  net::Timer t;
  t.callback = [](void*) {};
  while (!done() && core::monotonic_ms() < end) {
    loop.timers().arm(t, loop.now_ms() + net::TimerWheel::kTickMs);
    loop.run([&] { return t.armed && !done(); });
    if (each_tick) each_tick();
  }
  loop.timers().cancel(t);
  return done();
}

}  // namespace gh::test
