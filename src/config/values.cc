#include "config/values.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include "core/duration.h"

namespace gh::policy {
namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  if (a.size() > 64 || b.size() > 64) {
    return std::numeric_limits<std::size_t>::max();
  }
  std::size_t row[65] = {};
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

// A unit of sizes or durations; a value is written in the first unit of a table (largest
// first) that divides it and that it exceeds `above` of.
struct Unit {
  std::uint64_t scale;
  std::string_view name;
  std::uint64_t above = 0;
};

constexpr Unit kSizeUnits[] = {{kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}, {1, "B"}};
constexpr Unit kDurationUnits[] = {
    {kDay, "d", kDay}, {kHour, "h"}, {kMinute, "m"}, {kSecond, "s"}, {1, "ms"}};

std::string format_units(std::uint64_t n, std::span<const Unit> units) {
  for (const Unit& u : units) {
    if (n > u.above && n % u.scale == 0) {
      return std::to_string(n / u.scale) + std::string(u.name);
    }
  }
  return std::to_string(n) + std::string(units.back().name);  // 0
}

// The scale of the unit spelled `name`; 0 when there is none.
std::uint64_t unit_scale(std::string_view name, std::span<const Unit> units) {
  auto it = std::find_if(units.begin(), units.end(), [&](const Unit& u) { return u.name == name; });
  return it == units.end() ? 0 : it->scale;
}

// n × scale; nullopt and "<what> 'text' is too large" when n is missing or the product overflows.
std::optional<std::uint64_t> scaled(std::optional<std::uint64_t> n, std::uint64_t scale,
                                    const char* what, std::string_view text, std::string& why) {
  if (!n || *n > std::numeric_limits<std::uint64_t>::max() / scale) {
    why = what + (" " + quote(text)) + " is too large";
    return std::nullopt;
  }
  return *n * scale;
}

// Leading decimal digits of `s` as a number; nullopt on no digits or overflow.
std::optional<std::uint64_t> leading_number(std::string_view s, std::size_t& digits) {
  digits = 0;
  std::uint64_t value = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
    unsigned d = unsigned(s[digits] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return std::nullopt;
    }
    value = value * 10 + d;
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  return value;
}

// "min" first: the closest-spelling hint for a typo like "mn" should not be "ms".
constexpr std::string_view kRateUnits[] = {"min",    "minute", "m",    "ms", "s",  "sec",
                                           "second", "h",      "hour", "d",  "day"};
constexpr std::uint64_t kRateUnitMs[] = {kMinute, kMinute, kMinute, 1,    kSecond, kSecond,
                                         kSecond, kHour,   kHour,   kDay, kDay};

}  // namespace

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view closest(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  std::size_t allowed = best.size() <= 4 ? 1 : 2;
  if (best.empty() || best_distance > allowed) {
    return "";
  }
  return best;
}

std::string suggest(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best = closest(word, candidates);
  return best.empty() ? std::string() : " (did you mean '" + std::string(best) + "'?)";
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 80;  // keep messages one line even for pasted junk
  std::string out = "'";
  for (char c : s.substr(0, kMax)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (s.size() > kMax) {
    out += "...";
  }
  out += "'";
  return out;
}

std::string format_size(std::uint64_t n) {
  return format_units(n, kSizeUnits);
}

std::string format_duration(std::uint64_t ms) {
  // "24h" stays "24h"; "720h" reads better as "30d".
  const auto capped = static_cast<std::int64_t>(std::min<std::uint64_t>(ms, INT64_MAX));
  return core::format_duration(capped, core::DurationStyle::Config,
                               ms > kDay ? core::TimeUnit::Day : core::TimeUnit::Hour);
}

std::string format_count(std::uint64_t n) {
  return std::to_string(n);
}

std::optional<std::uint64_t> parse_integer(std::string_view s) {
  std::size_t digits = 0;
  auto v = leading_number(s, digits);
  if (!v || digits != s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& why) {
  std::size_t digits = 0;
  auto n = leading_number(text, digits);
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') {
    unit.remove_prefix(1);
  }
  const std::uint64_t scale = unit_scale(unit.empty() ? "B" : unit, kSizeUnits);
  if (digits == 0 || scale == 0) {
    why = "invalid size " + quote(text) +
          ": use bytes or a whole number with B, KiB, MiB or GiB (1KiB = 1024 bytes)";
    // Decimal and shorthand units are refused rather than guessed: name the IEC one meant.
    std::string u;
    for (char c : unit) {
      u += lower(c);
    }
    if (digits > 0 && (u == "k" || u == "kb" || u == "kib")) {
      why += " (did you mean 'KiB'?)";
    }
    if (digits > 0 && (u == "m" || u == "mb" || u == "mib")) {
      why += " (did you mean 'MiB'?)";
    }
    if (digits > 0 && (u == "g" || u == "gb" || u == "gib")) {
      why += " (did you mean 'GiB'?)";
    }
    return std::nullopt;
  }
  return scaled(n, scale, "size", text, why);
}

std::optional<std::uint64_t> parse_duration(std::string_view text, std::string& why) {
  std::size_t digits = 0;
  auto n = leading_number(text, digits);
  std::string_view unit = text.substr(digits);
  const std::uint64_t scale = unit_scale(unit, kDurationUnits);
  if (digits > 0 && unit.empty()) {
    why = "invalid duration " + quote(text) + ": add a unit (ms, s, m, h, d)";
    return std::nullopt;
  }
  if (digits == 0 || scale == 0) {
    why = "invalid duration " + quote(text) +
          ": use a whole number with ms, s, m, h or d (e.g. 500ms, 10s, 2m)";
    return std::nullopt;
  }
  return scaled(n, scale, "duration", text, why);
}

std::optional<Rate> parse_rate(std::string_view text, std::string& why) {
  const std::string usage =
      ": use N/UNIT or N/<k>UNIT with UNIT ms, s, m (min), h or d (day)"
      " (e.g. 50/s, 5/min, 100/15min, 1000/day)";
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    why = "invalid rate " + quote(text) + usage;
    return std::nullopt;
  }
  auto count = parse_integer(text.substr(0, slash));
  std::string_view per = text.substr(slash + 1);
  std::size_t digits = 0;
  auto k = leading_number(per, digits);
  std::string_view unit = per.substr(digits);
  auto it = std::find(std::begin(kRateUnits), std::end(kRateUnits), unit);
  if (!count || (digits > 0 && !k) || it == std::end(kRateUnits)) {
    why = "invalid rate " + quote(text) + usage;
    if (count && (digits == 0 || k) && it == std::end(kRateUnits) && !unit.empty()) {
      why += suggest(unit, kRateUnits);
    }
    return std::nullopt;
  }
  Rate r;
  r.count = *count;
  const std::uint64_t scale = kRateUnitMs[it - std::begin(kRateUnits)];
  const std::uint64_t multiple = digits > 0 ? *k : 1;
  // Periods above 7 days are refused by the caller; the cap only keeps the product in range.
  r.period_ms = multiple > 366 * kDay ? 366 * kDay : multiple * scale;
  return r;
}

bool valid_token(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool valid_path(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return false;
  }
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '?' || c == '#') {
      return false;
    }
  }
  return true;
}

std::optional<std::uint64_t> parse_duration_ms(std::string_view text, std::string* why) {
  std::string reason;
  auto ms = parse_duration(text, reason);
  if (!ms && why != nullptr) *why = std::move(reason);
  return ms;
}

}  // namespace gh::policy
