// Plain types of the waiting room: what a visit carries, what the room answers, its counters,
// and what the pages show. Behaviour lives in room.h (the queue) and pages.h (the answers).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "client/address-t.h"
#include "core/hash.h"

namespace gh::waitroom {

// The random id of a signed ticket (the cookie); chosen by the server, verified before we see it.
using TicketId = std::array<std::uint8_t, 16>;

// Who decides a visit: this room (alone, or Redis away: as always), or the fleet's line in Redis
// (stages/waitroom/README.md, "In a fleet"), whose verdict the room records.
enum class LineVerdict : std::uint8_t {
  Local,  // the room decides
  Admit,  // due in the fleet's line (charged there): a session here, whatever this bucket holds
  Wait,   // not due: the place is kept (or taken) here, never admitted by this visit
};

// One request of a client holding a verified ticket.
struct Visit {
  TicketId id{};
  std::int64_t first_seen_ms = 0;  // from the ticket: FIFO order survives a restart through it
  client::Cidr prefix;             // the client's prefix (the per-prefix cap counts places by it)
  bool submission = false;         // not a GET/HEAD: counts against max_signups_per_ticket
  // In a fleet: the ticket says another node admitted it (signed): a session here too, counted
  // on the node that admitted it.
  bool admitted = false;
  // The microseconds of first_seen_ms's millisecond (0-999): two people who arrived within one
  // millisecond, on two nodes of a fleet, keep their order (ties go by ticket id).
  std::uint16_t first_seen_us = 0;
  LineVerdict line = LineVerdict::Local;
};

// The line's order: first-seen time in microseconds (what a tie is broken by is the caller's).
inline std::int64_t order_us(std::int64_t first_seen_ms, std::uint16_t sub_us) {
  return first_seen_ms * 1000 + (sub_us < 1000 ? sub_us : 0);
}

// A place in another node's line, as its heartbeat shows it (fleet/fleet_room.h).
struct FleetPlace {
  std::int64_t first_seen_ms = 0;
  TicketId id{};
  // The best holder_score among the other nodes holding it: the highest score admits it.
  std::uint64_t rival = 0;
  std::uint16_t first_seen_us = 0;  // as Visit's
};

// A fleet's one line (cluster:), recomputed each second from every node's heartbeat
// (fleet/fleet_room.h); off, the room is alone. The room keeps the fleet's bucket itself (the
// whole rate, debited for every admission any node reports) and ranks its places among the
// other nodes' (README.md, "In a fleet").
struct FleetShare {
  bool on = false;
  std::uint64_t self = 0;        // this node's hash (holder_score)
  std::uint64_t max_active = 0;  // the fleet's cap minus the sessions the other nodes hold
  std::uint32_t live = 1;        // live nodes, this one included: the burst is split by them
  // How long a place takes to reach every node's view (a heartbeat, a read, a tick): a place
  // waits at least this long, so that older ones elsewhere are known before it goes.
  std::int64_t settle_ms = 0;
  // The line is Redis's (the store answers): the room admits on its verdicts only, never from
  // tick(). Off (Redis away), the room admits as above again.
  bool line = false;
  // Sorted by (order_us, id), one per id, at most kMaxOthers.
  std::vector<FleetPlace> others;
};
inline constexpr std::size_t kMaxOthers = 64 * 64;  // 64 heads of 64 nodes

// Which of the nodes holding a place admits it when its holder is away: the one with the
// highest score (rendezvous hashing, so every node picks the same one from the same view).
inline std::uint64_t holder_score(const TicketId& id, std::uint64_t node) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < 8; ++i) x = x << 8 | id[i];
  return core::mix64(x ^ (node + 0x9e3779b97f4a7c15ULL)) | 1;  // never 0: 0 is "no rival"
}

// eta_s when no estimate can be made (admission rate 0).
inline constexpr std::uint32_t kEtaUnknown = std::numeric_limits<std::uint32_t>::max();

struct Answer {
  enum class Kind : std::uint8_t {
    Admitted,    // forward the request
    Waiting,     // queue page / 202 JSON
    QueueFull,   // 503 + Retry-After: max_queue places taken
    PrefixFull,  // 503 + Retry-After: the client's prefix holds max_per_prefix places
    Spent,       // the ticket's place served max_signups_per_ticket submissions: it is gone
  } kind = Kind::Waiting;
  std::uint32_t position = 0;  // Waiting: 1 = next; 0 otherwise
  std::uint32_t eta_s = 0;     // Waiting: estimated seconds (kEtaUnknown when rate is 0)
};

struct Stats {
  std::uint64_t queued = 0;                  // places in the line
  std::uint64_t active = 0;                  // admitted sessions alive (pending included)
  std::uint64_t pending = 0;                 // admitted from the line, not yet back to use it
  std::uint64_t admitted_total = 0;          // admissions since start (direct and from the line)
  std::uint64_t refused_full = 0;            // QueueFull answers
  std::uint64_t refused_prefix = 0;          // PrefixFull answers
  std::uint64_t gone_total = 0;              // places dropped for not refreshing
  std::uint64_t expired_total = 0;           // sessions ended by idleness (or pending never used)
  std::uint64_t revoked_total = 0;           // revoke() calls that found the id
  std::uint64_t spent_total = 0;             // places used up by max_signups_per_ticket
  std::uint64_t admission_rate_per_min = 0;  // admissions in the last 60 s
  std::int64_t oldest_wait_ms = 0;  // how long the head of the line has waited (0 if empty)
  std::uint64_t prefixes = 0;       // entries of the per-prefix count table
  // In a fleet: sessions admitted by other nodes and used here (not in `active`: the admitting
  // node counts them), and places this node learnt were admitted elsewhere.
  std::uint64_t guests = 0;
  std::uint64_t admitted_elsewhere_total = 0;
};

// One place of the line as the heartbeat shows it.
struct Head {
  std::int64_t first_seen_ms = 0;
  TicketId id{};
  std::uint16_t first_seen_us = 0;  // as Visit's
};

// What the queue page shows. Strings are interpolated HTML-escaped; theme_css is inlined in a
// <style> element with '<' neutralised. Views must outlive the render call only.
struct QueuePage {
  std::uint32_t position = 1;
  std::uint32_t eta_s = 0;
  std::uint32_t refresh_s = 20;
  std::string_view site_name;  // e.g. "Example Forum"; empty = generic wording
  std::string_view theme_css;  // operator's CSS, empty = built-in style only
  std::string_view lang = "en";
};

// Registrations paused (sign-up mode `closed`).
struct ClosedPage {
  std::uint32_t retry_after_s = 1'800;
  std::string_view site_name;
  std::string_view login_url;  // shown as a link when not empty
  std::string_view theme_css;
  std::string_view lang = "en";
};

// The line itself is full (QueueFull) or the client's network holds its share (PrefixFull).
struct FullPage {
  Answer::Kind reason = Answer::Kind::QueueFull;
  std::uint32_t retry_after_s = 60;
  std::string_view site_name;
  std::string_view theme_css;
  std::string_view lang = "en";
};

}  // namespace gh::waitroom
