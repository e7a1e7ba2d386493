#include "control/text.h"

#include <limits>

#include "client/address.h"
#include "config/values.h"

namespace gh::control {

namespace {

constexpr std::uint64_t kSecond = 1000;

}  // namespace

std::string quote(std::string_view s, std::size_t max) {
  std::string out = "'";
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out + "'";
}

std::optional<std::uint64_t> parse_duration_ms(std::string_view text, std::string* error) {
  return policy::parse_duration_ms(text, error);  // one syntax for config, API and ctl
}

std::optional<std::int64_t> parse_ban_seconds(std::string_view text, std::string* error) {
  auto ms = parse_duration_ms(text, error);
  if (!ms) return std::nullopt;
  const std::uint64_t lo = static_cast<std::uint64_t>(kMinBanSeconds) * kSecond;
  const std::uint64_t hi = static_cast<std::uint64_t>(kMaxBanSeconds) * kSecond;
  if (*ms < lo || *ms > hi) {
    if (error) *error = "must be between 1s and 365d, got " + quote(text, 40);
    return std::nullopt;
  }
  if (*ms % kSecond != 0) {
    if (error) *error = "must be whole seconds, got " + quote(text, 40);
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*ms / kSecond);
}

bool is_loopback(const client::IpAddress& ip) {
  if (ip.is_v4) return ip.bytes[12] == 127;
  for (std::size_t i = 0; i < 15; ++i) {
    if (ip.bytes[i] != 0) return false;
  }
  return ip.bytes[15] == 1;
}

bool host_is_literal(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !client::parse_port(rest.substr(1)))) return false;
    return client::parse_ip(host.substr(1, close - 1)).has_value();
  }
  // A bare IPv6 address (some clients send one without brackets; "::1:9090" is also one).
  if (host.find(':') != host.rfind(':')) return client::parse_ip(host).has_value();
  std::string_view name = host;
  if (const auto colon = host.find(':'); colon != std::string_view::npos) {
    if (!client::parse_port(host.substr(colon + 1))) return false;
    name = host.substr(0, colon);
  }
  if (name.size() == 9) {
    std::string lower(name);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (lower == "localhost") return true;
  }
  return client::parse_ip(name).has_value() && name.find(':') == std::string_view::npos;
}

}  // namespace gh::control
