// Request parsing and input validation for the demo app: pure functions, no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gh::demo {

// application/x-www-form-urlencoded; the first occurrence of a name wins.
std::map<std::string, std::string> parse_urlencoded(std::string_view body);

// "Application/JSON; charset=utf-8" -> "application/json".
std::string media_type(std::string_view content_type);

// Value of cookie `name` in a Cookie header, if present.
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

// X-Sim-Population: absent -> "direct"; [a-z0-9_-]{1,32} -> itself; anything else -> "unknown".
std::string population_of(const std::string* header);

// Each returns an empty string when valid, else a message fit to show next to the field.
std::string check_username(std::string_view s);
std::string check_email(std::string_view s);
std::string check_password(std::string_view s);

std::string html_escape(std::string_view s);

}  // namespace gh::demo
