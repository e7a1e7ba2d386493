#include "client/resolve.h"

#include <array>

#include "client/address.h"

namespace gh::client {
namespace {

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_ows(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// RFC 7239 obfport: "_" 1*(ALPHA / DIGIT / "." / "_" / "-").
bool is_obfuscated_port(std::string_view s) {
  if (s.size() < 2 || s[0] != '_') {
    return false;
  }
  for (char c : s.substr(1)) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// "[v6]" followed by nothing or ":port"; the bracketed text must be IPv6 syntax.
std::optional<IpAddress> parse_bracketed(std::string_view s, bool allow_obfuscated_port) {
  std::size_t close = s.find(']');
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view inner = s.substr(1, close - 1);
  if (inner.find(':') == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = s.substr(close + 1);
  if (!rest.empty()) {
    if (rest[0] != ':') {
      return std::nullopt;
    }
    std::string_view port = rest.substr(1);
    if (!parse_port(port) && !(allow_obfuscated_port && is_obfuscated_port(port))) {
      return std::nullopt;
    }
  }
  return parse_ip(inner);
}

// "a.b.c.d" or "a.b.c.d:port".
std::optional<IpAddress> parse_v4_with_port(std::string_view s, bool allow_obfuscated_port) {
  std::size_t colon = s.find(':');
  std::string_view host = s.substr(0, colon);
  if (host.find(':') != std::string_view::npos || host.find('.') == std::string_view::npos) {
    return std::nullopt;
  }
  if (colon != std::string_view::npos) {
    std::string_view port = s.substr(colon + 1);
    if (!parse_port(port) && !(allow_obfuscated_port && is_obfuscated_port(port))) {
      return std::nullopt;
    }
  }
  return parse_ip(host);
}

}  // namespace

std::optional<IpAddress> parse_xff_entry(std::string_view entry) {
  if (entry.empty()) {
    return std::nullopt;
  }
  if (entry[0] == '[') {
    return parse_bracketed(entry, false);
  }
  if (auto ip = parse_ip(entry)) {
    return ip;
  }
  return parse_v4_with_port(entry, false);
}

std::optional<IpAddress> parse_forwarded_node(std::string_view node) {
  if (node.empty()) {
    return std::nullopt;
  }
  if (node[0] == '[') {
    return parse_bracketed(node, true);
  }
  return parse_v4_with_port(node, true);
}

IpAddress resolve_client(const IpAddress& peer, std::span<const std::string_view> xff_field_values,
                         const ProxyTrust& trust) {
  if (!trust.trusted(peer)) {
    return peer;
  }
  IpAddress current = peer;
  std::size_t hops = 0;
  for (auto field = xff_field_values.rbegin(); field != xff_field_values.rend(); ++field) {
    std::string_view rest = *field;
    while (true) {
      std::size_t comma = rest.rfind(',');
      std::string_view element =
          trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
      if (!element.empty()) {  // empty list elements are ignored (RFC 9110 5.6.1)
        if (++hops > kMaxForwardedHops) {
          return current;
        }
        auto ip = parse_xff_entry(element);
        if (!ip) {
          return current;
        }
        current = *ip;
        if (!trust.trusted(current)) {
          return current;
        }
      }
      if (comma == std::string_view::npos) {
        break;
      }
      rest = rest.substr(0, comma);
    }
  }
  return current;
}

namespace {

// The for= node of one forwarded-element, or nullopt when the element is malformed or has none.
std::optional<IpAddress> forwarded_for(std::string_view element) {
  std::optional<IpAddress> result;
  bool seen_for = false;
  std::size_t i = 0;
  const std::size_t n = element.size();
  while (i <= n) {
    while (i < n && is_ows(element[i])) {
      ++i;
    }
    if (i == n) {
      break;
    }
    if (element[i] == ';') {  // empty pair
      ++i;
      continue;
    }
    std::size_t name_start = i;
    while (i < n && is_tchar(element[i])) {
      ++i;
    }
    std::string_view name = element.substr(name_start, i - name_start);
    if (name.empty() || i == n || element[i] != '=') {
      return std::nullopt;
    }
    ++i;
    // The node is at most "[" 39 "]:" 5 characters; obfuscated ports may add a little.
    char buf[96];
    std::size_t len = 0;
    bool overflow = false;
    if (i < n && element[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        char c = element[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i == n) {
            return std::nullopt;
          }
          c = element[i++];
        }
        if (len < sizeof buf) {
          buf[len++] = c;
        } else {
          overflow = true;
        }
      }
      if (!closed) {
        return std::nullopt;
      }
    } else {
      std::size_t start = i;
      while (i < n && is_tchar(element[i])) {
        if (len < sizeof buf) {
          buf[len++] = element[i];
        } else {
          overflow = true;
        }
        ++i;
      }
      if (i == start) {
        return std::nullopt;
      }
    }
    bool is_for = name.size() == 3 && (name[0] | 0x20) == 'f' && (name[1] | 0x20) == 'o' &&
                  (name[2] | 0x20) == 'r';
    if (is_for) {
      if (seen_for || overflow) {
        return std::nullopt;
      }
      seen_for = true;
      result = parse_forwarded_node(std::string_view(buf, len));
      if (!result) {
        return std::nullopt;
      }
    }
    while (i < n && is_ows(element[i])) {
      ++i;
    }
    if (i == n) {
      break;
    }
    if (element[i] != ';') {
      return std::nullopt;
    }
    ++i;
  }
  return result;
}

}  // namespace

IpAddress resolve_client_forwarded(const IpAddress& peer,
                                   std::span<const std::string_view> forwarded_field_values,
                                   const ProxyTrust& trust) {
  if (!trust.trusted(peer)) {
    return peer;
  }
  // Elements are split left to right (quoted strings may hide commas), keeping the rightmost ones.
  struct Slice {
    std::string_view text;
    bool broken = false;
  };
  std::array<Slice, kMaxForwardedHops> ring{};
  std::size_t total = 0;
  auto push = [&](std::string_view text, bool broken) {
    text = trim(text);
    if (text.empty() && !broken) {
      return;
    }
    ring[total % ring.size()] = Slice{text, broken};
    ++total;
  };
  for (std::string_view field : forwarded_field_values) {
    std::size_t start = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < field.size(); ++i) {
      char c = field[i];
      if (quoted) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          quoted = false;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        push(field.substr(start, i - start), false);
        start = i + 1;
      }
    }
    push(field.substr(start < field.size() ? start : field.size()), quoted);
  }
  IpAddress current = peer;
  std::size_t count = total < ring.size() ? total : ring.size();
  for (std::size_t k = 0; k < count; ++k) {
    const Slice& slice = ring[(total - 1 - k) % ring.size()];
    if (slice.broken) {
      return current;
    }
    auto ip = forwarded_for(slice.text);
    if (!ip) {
      return current;
    }
    current = *ip;
    if (!trust.trusted(current)) {
      return current;
    }
  }
  return current;
}

}  // namespace gh::client
