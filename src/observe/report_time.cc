// Times as the report's --since and --until take them (report.h): absolute UTC dates and times,
// or relative, back from now.
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/clock.h"
#include "observe/report.h"

namespace gh::observe {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  // Exactly n digits.
  bool digits(int n, std::int64_t& out) {
    out = 0;
    for (int k = 0; k < n; ++k) {
      const char c = peek();
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
      ++i_;
    }
    return true;
  }
  std::string_view rest() const { return s_.substr(std::min(i_, s_.size())); }
  std::size_t pos() const { return i_; }
  void advance(std::size_t n) { i_ += n; }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::int64_t> parse_absolute(std::string_view text) {
  Cursor c(text);
  std::int64_t y, mo, d;
  if (!c.digits(4, y) || !c.eat('-') || !c.digits(2, mo) || !c.eat('-') || !c.digits(2, d)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, static_cast<unsigned>(mo))) {
    return std::nullopt;
  }
  const std::int64_t day_ms =
      days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86'400'000;
  if (c.done()) return day_ms;
  const bool rfc_t = c.peek() == 'T' || c.peek() == 't';
  if (!rfc_t && c.peek() != ' ') return std::nullopt;
  c.advance(1);
  std::int64_t h, mi, sec = 0, ms = 0;
  if (!c.digits(2, h) || !c.eat(':') || !c.digits(2, mi)) return std::nullopt;
  bool has_seconds = false;
  if (c.eat(':')) {
    if (!c.digits(2, sec)) return std::nullopt;
    has_seconds = true;
    if (c.eat('.')) {
      // Fraction: milliseconds from the first three digits, the rest read and ignored.
      int n = 0;
      while (c.peek() >= '0' && c.peek() <= '9') {
        if (n < 3) ms = ms * 10 + (c.peek() - '0');
        ++n;
        c.advance(1);
      }
      if (n == 0) return std::nullopt;
      for (; n < 3; ++n) ms *= 10;
    }
  }
  // leap second 60 is accepted as RFC 3339 allows it, and counts as :59.999's successor
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::int64_t offset_min = 0;
  if (c.eat('Z') || c.eat('z')) {
  } else if (c.peek() == '+' || c.peek() == '-') {
    const bool minus = c.peek() == '-';
    c.advance(1);
    std::int64_t oh, om;
    if (!c.digits(2, oh) || !c.eat(':') || !c.digits(2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = (minus ? -1 : 1) * (oh * 60 + om);
  } else if (rfc_t) {
    return std::nullopt;  // RFC 3339 needs the offset
  }
  if (!c.done()) return std::nullopt;
  (void)has_seconds;
  return day_ms + ((h * 60 + mi - offset_min) * 60 + sec) * 1000 + ms;
}

std::optional<std::int64_t> parse_relative(std::string_view text, std::int64_t now_ms) {
  bool ago = false;
  if (!text.empty() && text.front() == '-') {
    text.remove_prefix(1);
    ago = true;
  }
  constexpr std::string_view kAgo = "ago";
  if (text.size() > kAgo.size() && text.substr(text.size() - kAgo.size()) == kAgo) {
    if (ago) return std::nullopt;  // "-2h ago": which way?
    text = trim(text.substr(0, text.size() - kAgo.size()));
  }
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    int digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (++digits > 9) return std::nullopt;
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    if (digits == 0 || i >= text.size()) return std::nullopt;
    std::int64_t unit = 0;
    switch (text[i]) {
      case 's':
        unit = 1000;
        break;
      case 'm':
        unit = 60'000;
        break;
      case 'h':
        unit = 3'600'000;
        break;
      case 'd':
        unit = 86'400'000;
        break;
      case 'w':
        unit = 7 * 86'400'000LL;
        break;
      default:
        return std::nullopt;
    }
    ++i;
    total += n * unit;
    if (total > 100LL * 366 * 86'400'000) return std::nullopt;
  }
  return now_ms - total;
}

}  // namespace

std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now_ms) {
  text = trim(text);
  if (text.empty() || text.size() > 64) return std::nullopt;
  if (text == "now") return now_ms;
  if (text.size() >= 10 && text[4] == '-' && text[0] >= '0' && text[0] <= '9') {
    return parse_absolute(text);
  }
  return parse_relative(text, now_ms);
}

std::optional<std::int64_t> parse_time(std::string_view text) {
  return parse_time(text, core::wall_ms());
}

}  // namespace gh::observe
