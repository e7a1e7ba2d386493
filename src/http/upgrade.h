// The protocol switch of HTTP/1.1 (RFC 9110 7.8): what a request asks to switch to, and whether a
// 101 answer accepts exactly that. Pure functions over parsed heads.
#pragma once

#include <string_view>

#include "http/message-t.h"

namespace gh::http {

// The protocol an upgrade request names (`Upgrade: websocket`): the Upgrade field's value when
// the head is an upgrade request (Connection lists `upgrade`) and names exactly one protocol in
// one field; empty otherwise. Offering several protocols is refused by the callers: the switch
// Gatehouse splices must be the one the route opted into, not one the upstream picks.
std::string_view upgrade_protocol(const RequestHead& head);

// Whether a 101 answer switches to `protocol`: one Upgrade field naming it (case-insensitive)
// and a Connection field listing `upgrade`.
bool switch_accepted(const ResponseHead& resp, std::string_view protocol);

}  // namespace gh::http
