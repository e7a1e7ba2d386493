// The sign-up gates of a route's mode as answers: `closed` (registrations paused) and `queue`
// (the waiting room, through a signed first-seen ticket). Nothing here touches a socket.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/address-t.h"
#include "http/fields.h"
#include "stages/answer-t.h"
#include "stages/challenge/token.h"
#include "stages/waitroom/config-t.h"
#include "stages/waitroom/room.h"

namespace gh::waitroom {

inline constexpr std::string_view kTicketCookie = "gh_ticket";
// Token::level of a ticket whose place a node of the fleet admitted: every node lets it through
// (it is signed with the fleet's shared key). Such a ticket lives session_idle from its last
// renewal, and is renewed once half of that has passed. Only in a fleet: a node alone keeps
// its sessions in memory, as it always did, and ignores the mark.
inline constexpr std::uint8_t kTicketAdmitted = 1;

// 503 with Retry-After: registrations are paused (page or JSON).
stages::Answer closed(std::uint32_t retry_after_s, bool json, std::string_view theme_css,
                      std::string& page);
// The same for a sign-up route's section (policy::SignupConfig: its closed_retry_after_s),
// taken without naming the type, which is admission/'s, above this stage.
template <class Signup>
requires requires(const Signup& s) {
  { s.closed_retry_after_s } -> std::convertible_to<std::uint32_t>;
}
stages::Answer closed(const Signup& signup, bool json, std::string_view theme_css,
                      std::string& page) {
  return closed(signup.closed_retry_after_s, json, theme_css, page);
}

struct TicketContext {
  Room& room;
  const challenge::TokenCodec& codec;
  const policy::WaitingRoomConfig& config;
  std::uint32_t scope = 0;    // challenge::scope_of(route name): a ticket is good for one route
  std::uint64_t binding = 0;  // binding_of(prefix, user agent)
  client::Cidr prefix;
  bool submission = false;  // not a GET/HEAD (counts against max_signups_per_ticket)
  bool json = false;
  std::string_view theme_css;
  std::int64_t wall_ms = 0;
  std::string_view ticket;  // the client's gh_ticket cookie, empty when none
  std::string& page;
  http::FieldWriter& fields;
  bool secure = false;       // the client came over TLS: the ticket cookie is Secure
  std::int64_t wall_us = 0;  // wall_ms to the microsecond (0: not known): a new ticket's order
  // In a fleet whose line is in Redis: its verdict on this visit (Local: none, the room decides),
  // the position it gave (Wait), whether the line was full; and the ticket a first visit was
  // asked about (line_visit), which it is given.
  LineVerdict line = LineVerdict::Local;
  std::uint32_t line_position = 0;
  bool line_full = false;
  const challenge::Token* fresh = nullptr;
};

// What the fleet's line in Redis is asked about a visit (before pass()).
struct LineVisit {
  bool ask = false;           // false: the room decides (an admitted ticket, a session here)
  bool ticket = false;        // a returning ticket (it joins the line); false: a first visit
  bool open = true;           // this node has room for a session (max_active): if not, never due
  TicketId id{};              // the ticket's; a first visit's: the fresh ticket `fresh` minted here
  std::int64_t first_us = 0;  // first-seen in µs (clamped as the room clamps it)
};
// Reads the visit's ticket as pass() does; a first visit (no valid ticket) gets its ticket
// minted into `fresh` now: the line ranks it by that ticket's time and remembers its id.
LineVisit line_visit(const TicketContext& t, challenge::Token& fresh);

struct TicketAnswer {
  bool admitted = false;  // forward; `fields` may hold a fresh ticket for the response
  stages::Answer answer;  // otherwise: the queue page (200 / 202 JSON) or a refusal (503)
  Answer::Kind kind = Answer::Kind::Waiting;
};

// A visit to the waiting room of a route in `queue` mode.
TicketAnswer pass(const TicketContext& t);

}  // namespace gh::waitroom
