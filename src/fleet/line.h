// The fleet's one waiting line, kept in Redis (docs/ARCHITECTURE.md, "One line for the fleet"):
// one Lua script decides a visit on Redis's clock, atomically, over four keys of one route under
// one hash tag (one slot in a Cluster):
//   <prefix>room:{<scope>}:line    sorted set: score = first-seen µs (signed ticket), member = id
//   <prefix>room:{<scope>}:seen    sorted set: the same ids, scored by their last visit (gone)
//   <prefix>room:{<scope>}:new     sorted set: first visits told to wait, not back yet (short)
//   <prefix>room:{<scope>}:bucket  GCRA state of the fleet's new_users_per_minute, whole
// A place is due when the bucket holds a unit for it and for everyone ahead of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::fleet {

struct Reply;

struct LineAsk {
  std::uint32_t scope = 0;    // the route's scope (challenge::scope_of(name)): its keys' hash tag
  std::string id;             // the ticket's id, 32 lowercase hex digits
  bool ticket = false;        // a returning ticket (joins the line); false: a first visit
  bool open = true;           // the node has room for a session (max_active): false, never due
  std::int64_t first_us = 0;  // first-seen, µs since the epoch
  std::int64_t interval_us = 1;  // one admission each (60 s / new_users_per_minute)
  // The units the bucket holds while nobody waits (the burst a calm room lets in at once), and
  // what it may hold while people wait: one refresh's worth at least, so that a line whose
  // holders come back once a refresh still moves at the rate.
  std::uint32_t burst = 1;
  std::uint32_t hold = 1;
  std::uint32_t max_queue = 1;
  std::int64_t gone_ms = 1;  // a place not visited for this long is dropped
  std::int64_t back_ms = 1;  // how long a first visit told to wait is expected back
};

// At most this many first visits told to wait are remembered (a cookie-dropping flood fills it
// and is forgotten back_ms later; it never takes a place in the line).
inline constexpr std::uint32_t kMaxNewcomers = 1024;
// Gone places dropped per call, at most (the rest on the next calls).
inline constexpr std::uint32_t kMaxGonePerCall = 32;

std::string_view line_script();
// EVALSHA <sha> 4 <keys> <args>; argv[3] is the key the question is routed by.
std::vector<std::string> line_argv(std::string_view prefix, const LineAsk& a);

struct LineAnswer {
  enum class Verdict : std::uint8_t { Wait, Due, Full } verdict = Verdict::Wait;
  std::uint32_t position = 0;  // Wait: 1 = next
};
// The script's {verdict, position}: {1, 0} due (charged, out of the line), {0, p >= 1} wait at
// place p, {2, 0} the line is full. nullopt: anything else (read as untrusted).
std::optional<LineAnswer> decode_line(const Reply& r);

}  // namespace gh::fleet
