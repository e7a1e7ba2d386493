// Plain types of the waiting room: what a visit carries, what the room answers, its counters,
// and what the pages show. Behaviour lives in room.h (the queue) and pages.h (the answers).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>

#include "client/address-t.h"

namespace gh::waitroom {

// The random id of a signed ticket (the cookie); chosen by the server, verified before we see it.
using TicketId = std::array<std::uint8_t, 16>;

// One request of a client holding a verified ticket.
struct Visit {
  TicketId id{};
  std::int64_t first_seen_ms = 0;  // from the ticket: FIFO order survives a restart through it
  client::Cidr prefix;             // the client's prefix (the per-prefix cap counts places by it)
  bool submission = false;         // not a GET/HEAD: counts against max_signups_per_ticket
};

// A fleet's one line (cluster:): what this node may admit from its own line, recomputed each
// second from every node's heartbeat (fleet/fleet_room.h). Off: the room is alone.
struct FleetShare {
  bool on = false;
  // Places first seen after this wait, whatever the credit: older ones elsewhere go first.
  std::int64_t cutoff_ms = std::numeric_limits<std::int64_t>::max();
  std::uint32_t per_minute = 0;  // this node's part of new_users_per_minute
  std::uint64_t max_active = 0;  // this node's part of max_active
};

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
