// The answers a waiting or refused newcomer sees: small accessible HTML pages that work without
// JavaScript, and JSON for API clients. Status codes and Retry-After are the caller's: queue
// 202 (JSON) or 200 (HTML), closed 503, full 503, each with Retry-After.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "stages/waitroom/waitroom-t.h"

namespace gh::waitroom {

std::string queue_page(const QueuePage& p);
// {"status":"queued","position":12,"eta_seconds":40,"retry_after":20}; eta_seconds is null when
// unknown.
std::string queue_json(const QueuePage& p);

std::string closed_page(const ClosedPage& p);
// {"error":"signup_closed","message":"...","retry_after":1800}
std::string closed_json(const ClosedPage& p);

std::string full_page(const FullPage& p);
// {"error":"queue_full"|"prefix_full","message":"...","retry_after":N}
std::string full_json(const FullPage& p);

// True when the Accept header ranks application/json above text/html (q-values, the most
// specific matching range gives each its q; at equal q, JSON named outright beats HTML reached
// through a wildcard; any other tie, or no header, means HTML).
bool wants_json(std::string_view accept_header);

// "less than a minute", "about 2 minutes", "about 3 hours"; "unknown" for kEtaUnknown.
std::string eta_words(std::uint32_t seconds);

// HTML-escapes & < > " ' into out.
void append_escaped(std::string& out, std::string_view text);

}  // namespace gh::waitroom
