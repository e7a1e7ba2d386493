#include "core/duration.h"

#include <algorithm>
#include <span>
#include <string_view>

namespace gh::core {

namespace {

struct Unit {
  std::int64_t ms;
  std::string_view name;
};

// Largest first, in TimeUnit's order, then the millisecond (never a `largest`).
constexpr Unit kUnits[] = {
    {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};

std::string count_of(std::int64_t n, const Unit& u) {
  return std::to_string(n) + std::string(u.name);
}

}  // namespace

std::string format_duration(std::int64_t ms, DurationStyle style, TimeUnit largest) {
  ms = std::max<std::int64_t>(ms, 0);
  std::span<const Unit> units = std::span(kUnits).subspan(static_cast<std::size_t>(largest));
  switch (style) {
    case DurationStyle::Config:
      if (ms == 0) return "0s";
      for (const Unit& u : units) {
        if (ms % u.ms == 0) return count_of(ms / u.ms, u);
      }
      break;  // unreachable: every value is a whole number of ms
    case DurationStyle::Compact: {
      units = units.first(units.size() - 1);  // whole seconds
      std::string out;
      for (std::size_t i = 0; i < units.size(); ++i) {
        const std::int64_t n = ms / units[i].ms;
        if (n == 0) continue;
        out = count_of(n, units[i]);
        // The next unit ends it, even when it is zero.
        if (i + 1 < units.size()) {
          const std::int64_t m = ms % units[i].ms / units[i + 1].ms;
          if (m > 0) out += count_of(m, units[i + 1]);
        }
        return out;
      }
      return "0s";
    }
    case DurationStyle::Minutes: {
      const std::int64_t minutes = ms / 60'000;
      if (minutes < 60) return std::to_string(minutes) + " min";
      const std::int64_t rest = minutes % 60;
      return std::to_string(minutes / 60) + (rest < 10 ? " h 0" : " h ") + std::to_string(rest) +
             " min";
    }
  }
  return std::to_string(ms) + "ms";
}

}  // namespace gh::core
