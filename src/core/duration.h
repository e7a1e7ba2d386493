// The one duration formatter, in the three spellings Gatehouse writes: the config's syntax (in
// messages about config values, the admin API and event reasons), a compact approximation (ctl's
// tables), and whole minutes in words (the Markdown report).
#pragma once

#include <cstdint>
#include <string>

namespace gh::core {

enum class DurationStyle : std::uint8_t {
  // Exact, in the config's syntax: the largest of d, h, m, s and ms that divides the value.
  // 1500 ms -> "1500ms", 90 s -> "90s", 120 s -> "2m", 3600 s -> "1h", 86400 s -> "1d"; 0 -> "0s".
  Config,
  // Rounded down to whole seconds and written in the two largest units from the first non-zero
  // one: 42 s -> "42s", 3552 s -> "59m12s", 3601 s -> "1h", 3660 s -> "1h1m", 2d 4h 59s -> "2d4h";
  // under a second -> "0s".
  Compact,
  // Rounded down to whole minutes, in words: "6 min", "1 h 05 min".
  Minutes,
};

// The units, largest first. `largest` caps the unit Config and Compact may use: Config with
// Second writes 60 000 ms as "60s", not "1m".
enum class TimeUnit : std::uint8_t { Day, Hour, Minute, Second };

// `ms` below zero is written as zero.
std::string format_duration(std::int64_t ms, DurationStyle style, TimeUnit largest = TimeUnit::Day);

}  // namespace gh::core
