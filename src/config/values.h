// The configuration's value syntaxes (sizes, durations, rates, names) and the wording of messages
// about them, shared by every section's loader and by other parts that read the same spellings
// (admin API, ctl).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gh::policy {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;
inline constexpr std::uint64_t kSecond = 1000;
inline constexpr std::uint64_t kMinute = 60 * kSecond;
inline constexpr std::uint64_t kHour = 60 * kMinute;
inline constexpr std::uint64_t kDay = 24 * kHour;
inline constexpr std::uint64_t kMaxTimeout = 24 * kHour;

// A whole number with ms, s, m, h or d ("500ms", "10s", "1h", "30d"), in milliseconds. On error
// nullopt, and `why` (when given) says what is wrong, in the words the config loader uses.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text, std::string* why);

// ASCII lower case of one character.
char lower(char c);
// The closest candidate within a couple of edits, else "".
std::string_view closest(std::string_view word, std::span<const std::string_view> candidates);
// " (did you mean 'x'?)" for the closest candidate, else "".
std::string suggest(std::string_view word, std::span<const std::string_view> candidates);
// 's' in quotes, control characters replaced and cut at 80 characters: one line for any input.
std::string quote(std::string_view s);

std::string format_size(std::uint64_t n);       // "16KiB"
std::string format_duration(std::uint64_t ms);  // "30d", "24h", "500ms"
std::string format_count(std::uint64_t n);

// Whole decimal numbers only: no sign, no spaces.
std::optional<std::uint64_t> parse_integer(std::string_view s);
// In bytes; `why` says what is wrong otherwise.
std::optional<std::uint64_t> parse_size(std::string_view text, std::string& why);
// In milliseconds; `why` says what is wrong otherwise.
std::optional<std::uint64_t> parse_duration(std::string_view text, std::string& why);

struct Rate {
  std::uint64_t count = 0;
  std::uint64_t period_ms = 0;
};

// "N/UNIT" or "N/<k>UNIT": 5/min, 100/15min, 1000/day. Ranges are the caller's.
std::optional<Rate> parse_rate(std::string_view text, std::string& why);

// A field name as HTTP spells it: a token (RFC 9110 5.6.2).
bool valid_token(std::string_view s);
// Visible ASCII, no space.
bool printable(std::string_view s);
// A name of the config's own things: 1-64 letters, digits, '_', '-' or '.'.
bool valid_name(std::string_view name);
// Printable ASCII without space, '?' or '#': a path as the parser hands it to the router.
bool valid_path(std::string_view path);

}  // namespace gh::policy
