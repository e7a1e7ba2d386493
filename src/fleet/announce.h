// What the log and the events say of Redis being reachable. A loss is said at once; a return
// only once it has held for `settle_ms`. While a Redis Cluster slot has no master, a node
// reconnects (the live masters answer) and fails again at its next write to that slot, about
// five times a second until a replica is promoted: said as it happens, that was a pair of lines
// per flap. Now it is one "unreachable", then one "reached" with the count of reconnects that
// did not hold. Only what is said waits: the node uses Redis as soon as it answers.
#pragma once

#include <cstdint>

namespace gh::fleet {

class Announcer {
 public:
  explicit Announcer(std::int64_t settle_ms) : settle_ms_(settle_ms) {}

  struct Say {
    bool now = false;         // something is to be said
    bool up = false;          // what: reached (true) or unreachable (false)
    std::uint32_t flaps = 0;  // up: reconnects that failed again before this one held
  };

  // The node reached Redis (connected, subscribed) at `now_ms`. The first time ever, and after
  // nothing was said yet, it is said at once; after a loss, by tick() once it has held.
  Say reached(std::int64_t now_ms);
  // The node lost Redis (or failed to reach it).
  Say lost(std::int64_t now_ms);
  // Called on every tick: says a return that has held long enough.
  Say tick(std::int64_t now_ms);

  bool said_up() const { return said_ == Said::Up; }

 private:
  enum class Said : std::uint8_t { Nothing, Up, Down };
  std::int64_t settle_ms_;
  Said said_ = Said::Nothing;
  bool up_ = false;
  std::int64_t up_since_ms_ = 0;
  std::uint32_t flaps_ = 0;
};

}  // namespace gh::fleet
