#include "stages/waitroom/gate.h"

#include <algorithm>
#include <optional>

#include "stages/waitroom/pages.h"

namespace gh::waitroom {

stages::Answer closed(std::uint32_t retry_after_s, bool json, std::string_view theme_css,
                      std::string& page) {
  ClosedPage p;
  p.retry_after_s = retry_after_s;
  p.theme_css = theme_css;
  p.login_url = "/login";
  page = json ? closed_json(p) : closed_page(p);
  return stages::page(503, json ? stages::kJson : stages::kHtml, page, p.retry_after_s);
}

namespace {

bool read_ticket(const TicketContext& t, challenge::Token& tok) {
  return !t.ticket.empty() &&
         t.codec.decode(t.ticket, challenge::TokenKind::Ticket, t.wall_ms, t.binding, tok) ==
             challenge::Check::Ok &&
         tok.scope == t.scope;
}

// A new place's ticket: first seen now, to the microsecond when known.
std::optional<challenge::Token> mint(const TicketContext& t) {
  std::optional<challenge::Token> tok =
      challenge::new_token(challenge::TokenKind::Ticket, t.wall_ms, t.config.ticket_lifetime);
  if (!tok) return tok;
  tok->scope = t.scope;
  tok->binding = t.binding;
  const std::int64_t sub_us = t.wall_us - t.wall_ms * 1000;  // 0-999 when both are given
  tok->subject = sub_us >= 0 && sub_us < 1000 ? static_cast<std::uint64_t>(sub_us) : 0;
  return tok;
}

std::uint16_t sub_us_of(const challenge::Token& tok) {
  return tok.subject < 1000 ? static_cast<std::uint16_t>(tok.subject) : 0;
}

TicketAnswer full(const TicketContext& t, Answer::Kind reason) {
  FullPage page;
  page.reason = reason;
  page.theme_css = t.theme_css;
  t.page = t.json ? full_json(page) : full_page(page);
  return {false,
          stages::page(503, t.json ? stages::kJson : stages::kHtml, t.page, page.retry_after_s),
          reason};
}

}  // namespace

LineVisit line_visit(const TicketContext& t, challenge::Token& fresh) {
  LineVisit l;
  challenge::Token tok;
  if (read_ticket(t, tok)) {
    if (tok.level == kTicketAdmitted || !t.room.in_line(tok.id)) return l;
    l.ticket = true;
    // Clamped as the room clamps it: no place ahead from the future, nor from a hoarded ticket.
    const std::int64_t first = Room::clamp_first_seen(tok.issued_ms, t.wall_ms, t.config);
    l.first_us = order_us(first, first == tok.issued_ms ? sub_us_of(tok) : 0);
  } else {
    std::optional<challenge::Token> minted = mint(t);
    if (!minted) return l;
    tok = fresh = *minted;
    l.first_us = order_us(tok.issued_ms, sub_us_of(tok));
  }
  l.ask = true;
  l.id = tok.id;
  l.open = t.room.has_room();
  return l;
}

TicketAnswer pass(const TicketContext& t) {
  if (t.line_full) return full(t, Answer::Kind::QueueFull);
  challenge::Token tok;
  const bool valid = t.fresh == nullptr && read_ticket(t, tok);
  const bool fleet = t.room.fleet();
  Visit v;
  v.prefix = t.prefix;
  v.submission = t.submission;
  Answer a;
  bool fresh = false;
  if (valid) {
    v.id = tok.id;
    v.first_seen_ms = tok.issued_ms;
    v.first_seen_us = sub_us_of(tok);
    v.admitted = fleet && tok.level == kTicketAdmitted;
    v.line = t.line;
    a = t.room.visit(v, t.wall_ms);
  }
  if (!valid || a.kind == Answer::Kind::Spent) {
    // No ticket, or one forged, expired, for another route, moved to another prefix or
    // browser, or used up: a new place at the back of the line.
    // (A first visit the fleet's line was asked about gets the ticket it was asked with.)
    const bool asked = t.fresh != nullptr && !valid;
    std::optional<challenge::Token> fresh_tok = asked ? std::optional(*t.fresh) : mint(t);
    if (!fresh_tok) {
      return {false, stages::refusal(503, "cannot issue a queue ticket now"),
              Answer::Kind::QueueFull};
    }
    tok = *fresh_tok;
    fresh = true;
    v.id = tok.id;
    v.first_seen_ms = tok.issued_ms;
    v.first_seen_us = static_cast<std::uint16_t>(tok.subject);
    // A first visit takes no place until its ticket comes back: a client that drops cookies
    // would otherwise take a new place on every request (the line is ordered by first-seen
    // time, so the person loses nothing by the round trip).
    // The fleet's line decides a first visit it was asked about; a Spent place's fresh start
    // is this room's.
    v.line = asked ? t.line : LineVerdict::Local;
    if (v.line == LineVerdict::Admit) {
      a = t.room.visit(v, t.wall_ms);
    } else {
      a = t.room.preview(v, t.wall_ms);
      if (a.kind == Answer::Kind::Admitted) {
        // Not due in the fleet's line: told to wait (its position below), taking no place.
        if (v.line == LineVerdict::Wait) {
          a.kind = Answer::Kind::Waiting;
        } else {
          a = t.room.visit(v, t.wall_ms);
        }
      }
    }
  }
  if (a.kind == Answer::Kind::Waiting && t.line == LineVerdict::Wait && t.line_position != 0) {
    // The fleet's line's position, not this node's view of it.
    a.position = t.line_position;
    a.eta_s = Room::eta_for(t.line_position - 1, t.config.new_users_per_minute,
                            Room::refresh_seconds(t.config));
  }
  std::uint64_t max_age_ms = t.config.ticket_lifetime;
  if (fleet && a.kind == Answer::Kind::Admitted) {
    // The admission travels with the ticket: the next request may reach another node.
    const std::int64_t idle = static_cast<std::int64_t>(t.config.session_idle);
    if (tok.level != kTicketAdmitted || tok.expiry_ms - t.wall_ms < idle / 2) {
      tok.level = kTicketAdmitted;
      tok.expiry_ms = t.wall_ms + idle;
      max_age_ms = t.config.session_idle;
      fresh = true;
    }
  }
  std::string_view cookie;
  if (fresh) {
    std::array<char, challenge::kTokenTextSize> text;
    const std::size_t n = t.codec.encode(tok, text);
    char line[256];
    const std::size_t len = http::format_set_cookie(kTicketCookie, {text.data(), n},
                                                    max_age_ms / 1000, line, sizeof line, t.secure);
    const std::size_t at = t.fields.len;
    t.fields.put({line, len});
    cookie = t.fields.view().substr(at);
  }
  switch (a.kind) {
    case Answer::Kind::Admitted:
      return {true, {}, a.kind};
    case Answer::Kind::Waiting: {
      QueuePage page;
      page.position = a.position;
      page.eta_s = a.eta_s;
      page.refresh_s = (t.config.refresh + 999) / 1000;
      page.theme_css = t.theme_css;
      t.page = t.json ? queue_json(page) : queue_page(page);
      return {false,
              stages::page(t.json ? 202 : 200, t.json ? stages::kJson : stages::kHtml, t.page,
                           page.refresh_s, cookie),
              a.kind};
    }
    case Answer::Kind::Spent:  // not from a fresh ticket's first visit; answered as full
    case Answer::Kind::QueueFull:
    case Answer::Kind::PrefixFull:
      return full(t, a.kind);
  }
  return {false, stages::refusal(503, "waiting room unavailable"), Answer::Kind::QueueFull};
}

}  // namespace gh::waitroom
