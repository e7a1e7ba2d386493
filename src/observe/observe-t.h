// Plain types of the operator's view: events, the figures counted per second and per minute, and
// the fixed-size text used where attacker-chosen strings must not allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::observe {

// Something an operator wants on the timeline: mode_change, ban, unban, reload, start, stop,
// trigger, ... Rare (at most a few per second), so each one is written to disk at once.
struct Event {
  std::int64_t at_ms = 0;  // wall clock, ms since the Unix epoch
  std::string kind;
  std::string route;  // empty when not about one route
  std::string message;
  nlohmann::json data;  // null or an object with details (cidr, from, to, by, ...)
};

// What happened to a request, for counting. Order is the JSON order.
enum class Verdict : std::uint8_t {
  Passed,       // went upstream
  RateLimited,  // refused, delayed-then-refused, tarpitted or dropped by a rate limit
  Challenged,   // answered with the proof-of-work challenge
  Queued,       // answered with the waiting room
  Shed,         // refused by admission control (503)
  Banned,       // refused: client banned (request or accept)
  Denied,       // refused: deny list
  Closed,       // refused: sign-up closed
};
inline constexpr std::size_t kVerdicts = 8;
inline constexpr std::array<std::string_view, kVerdicts> kVerdictNames = {
    "passed", "rate_limited", "challenged", "queued", "shed", "banned", "denied", "closed"};

// Same order as policy::ClientClass (lowest priority first), so the lead can index by
// static_cast<std::size_t>(client_class).
inline constexpr std::size_t kClasses = 4;
inline constexpr std::array<std::string_view, kClasses> kClassNames = {"suspect", "anonymous",
                                                                       "verified", "resident"};

// Same order as policy::SignupMode.
inline constexpr std::array<std::string_view, 4> kModeNames = {"open", "challenge", "queue",
                                                               "closed"};

// The counters shared by one second (SecondSeries) and one minute (Minute).
struct Figures {
  std::array<std::uint64_t, kVerdicts> verdicts{};
  std::array<std::uint64_t, kClasses> class_requests{};
  std::array<std::uint64_t, kClasses> class_served{};  // of those, passed upstream
  std::uint32_t latency_p50_ms = 0;                    // upstream first byte
  std::uint32_t latency_p99_ms = 0;
  std::uint64_t newcomers_admitted = 0;  // let out of the waiting room
  std::uint64_t queue_length = 0;        // second: at the sample; minute: the largest
  std::uint64_t login_requests = 0;      // on routes of class login
  std::uint64_t login_failed = 0;        // of those, answered 401 or 403 by the app
  std::uint64_t login_limited = 0;       // of those, refused 429 by a limit
  std::uint64_t head_timeouts = 0;       // 408 on a head not sent in time (slow clients)
  // Sign-ups the application accepted, by what they paid: none, base, surcharged (risk bits);
  // the expected hashes they paid (base, surcharged) and their solve time.
  std::array<std::uint64_t, 3> signup_accounts{};
  std::array<std::uint64_t, 2> signup_hashes{};
  std::uint64_t signup_solve_ms = 0;

  std::uint64_t requests() const {
    std::uint64_t n = 0;
    for (auto v : verdicts) n += v;
    return n;
  }
  std::uint64_t& verdict(Verdict v) { return verdicts[static_cast<std::size_t>(v)]; }
  std::uint64_t verdict(Verdict v) const { return verdicts[static_cast<std::size_t>(v)]; }
};

// One entry of a heavy-hitter list: `count` over-estimates the true count by at most `error`.
struct TopItem {
  std::string key;
  std::uint64_t count = 0;
  std::uint64_t error = 0;
  bool operator==(const TopItem&) const = default;
};

// The heaviest clients right now, per dimension (GET /v1/top, and each minute on disk).
struct Offenders {
  std::vector<TopItem> prefixes;     // client prefix text, e.g. 203.0.113.0/24
  std::vector<TopItem> asns;         // "AS64496"
  std::vector<TopItem> user_agents;  // truncated to 128 bytes
  std::vector<TopItem> accounts;     // login / sign-up account names
  bool operator==(const Offenders&) const = default;
};

// One minute of aggregates, as kept in <state_dir>/minutes.jsonl.
struct Minute {
  std::int64_t at_ms = 0;  // start of the minute, wall clock ms
  Figures figures;
  std::uint64_t peak_rps = 0;                   // largest one-second request count in the minute
  std::uint64_t distinct_prefixes = 0;          // client prefixes seen (estimate)
  std::map<std::string, std::uint64_t> routes;  // requests per route name
  std::map<std::string, std::string> modes;     // sign-up route -> mode at the minute's end
  Offenders top;
  // With cluster:, the fleet as this node heard it during the minute (the nodes' heartbeats).
  struct Fleet {
    std::uint64_t live_max = 0;  // live nodes, this one included: the most in a second
    std::uint64_t live_min = 0;  // and the fewest
    std::uint64_t gone_max = 0;
    std::uint64_t peak_rps = 0;      // the fleet's summed requests per second, the highest
    std::uint64_t peak_refused = 0;  // its summed refusals per second, the highest
    bool operator==(const Fleet&) const = default;
  };
  std::optional<Fleet> fleet;
};

// Text of at most N bytes held inline: records on the access-log ring must be plain data.
template <std::size_t N>
struct FixedText {
  static_assert(N < 65536);
  std::uint16_t size = 0;
  char bytes[N];

  void set(std::string_view s) {
    size = static_cast<std::uint16_t>(s.size() < N ? s.size() : N);
    if (size != 0) std::memcpy(bytes, s.data(), size);
  }
  std::string_view view() const { return {bytes, size}; }
};

}  // namespace gh::observe
