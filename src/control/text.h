// Small text helpers shared by the admin API and `gatehouse ctl`: durations in the config's
// syntax, and address checks. Durations are written by core::format_duration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "client/address-t.h"

namespace gh::control {

// The config's duration syntax (docs/CONFIG.md): a whole number with ms, s, m, h or d
// ("500ms", "10s", "1h", "30d"). Milliseconds; nullopt with a message on error.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text, std::string* error);

inline constexpr std::int64_t kMinBanSeconds = 1;
inline constexpr std::int64_t kMaxBanSeconds = std::int64_t{365} * 86'400;

// A ban duration: the syntax above, 1s..365d, whole seconds. Seconds.
std::optional<std::int64_t> parse_ban_seconds(std::string_view text, std::string* error);

bool is_loopback(const client::IpAddress& ip);

// 'text' for an error message: control characters become '?', cut after `max` bytes with "...".
std::string quote(std::string_view s, std::size_t max = 60);

// True when a Host field names the server by address (an IP literal or "localhost", with an
// optional port), not by a DNS name: a web page can make a browser send requests to 127.0.0.1
// under a name it controls (DNS rebinding); such requests carry that name in Host.
bool host_is_literal(std::string_view host);

}  // namespace gh::control
