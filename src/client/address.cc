#include "client/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <random>

#include "core/hash.h"

namespace gh::client {
namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool is_v4_mapped(const std::array<std::uint8_t, 16>& b) {
  return std::memcmp(b.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0;
}

bool parse_v4(std::string_view s, std::uint8_t out[4]) {
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') {
        return false;
      }
      ++i;
    }
    std::size_t start = i;
    unsigned value = 0;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) {
      value = value * 10 + unsigned(s[i++] - '0');
    }
    std::size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) {
      return false;
    }
    if (i < s.size() && is_digit(s[i])) {
      return false;  // a fourth digit
    }
    out[part] = static_cast<std::uint8_t>(value);
  }
  return i == s.size();
}

bool parse_v6(std::string_view s, std::array<std::uint8_t, 16>& out) {
  std::uint16_t head[8];
  std::uint16_t tail[8];
  int nh = 0;
  int nt = 0;
  bool compressed = false;
  const std::size_t n = s.size();
  std::size_t i = 0;
  if (n < 2) {
    return false;
  }
  if (s[0] == ':') {
    if (s[1] != ':') {
      return false;
    }
    compressed = true;
    i = 2;
  }
  while (i < n) {
    std::size_t j = i;
    while (j < n && s[j] != ':') {
      ++j;
    }
    std::string_view token = s.substr(i, j - i);
    if (token.find('.') != std::string_view::npos) {
      std::uint8_t v4[4];
      if (j != n || !parse_v4(token, v4)) {
        return false;
      }
      if (nh + nt + 2 > 8) {
        return false;
      }
      std::uint16_t* dst = compressed ? tail : head;
      int& count = compressed ? nt : nh;
      dst[count++] = static_cast<std::uint16_t>(v4[0] << 8 | v4[1]);
      dst[count++] = static_cast<std::uint16_t>(v4[2] << 8 | v4[3]);
      break;
    }
    if (token.empty() || token.size() > 4) {
      return false;
    }
    unsigned value = 0;
    for (char c : token) {
      int h = hex_value(c);
      if (h < 0) {
        return false;
      }
      value = value << 4 | unsigned(h);
    }
    if (nh + nt >= 8) {
      return false;
    }
    (compressed ? tail[nt++] : head[nh++]) = static_cast<std::uint16_t>(value);
    if (j == n) {
      break;
    }
    if (j + 1 < n && s[j + 1] == ':') {
      if (compressed) {
        return false;
      }
      compressed = true;
      i = j + 2;
    } else {
      i = j + 1;
      if (i == n) {
        return false;  // trailing single ':'
      }
    }
  }
  int total = nh + nt;
  if (compressed ? total > 7 : total != 8) {
    return false;
  }
  out.fill(0);
  for (std::size_t k = 0; k < static_cast<std::size_t>(nh); ++k) {
    out[2 * k] = static_cast<std::uint8_t>(head[k] >> 8);
    out[2 * k + 1] = static_cast<std::uint8_t>(head[k]);
  }
  for (int k = 0; k < nt; ++k) {
    const auto pos = static_cast<std::size_t>(8 - nt + k) * 2;
    out[pos] = static_cast<std::uint8_t>(tail[k] >> 8);
    out[pos + 1] = static_cast<std::uint8_t>(tail[k]);
  }
  return true;
}

// Clears every bit past the first `bits` of the 16-byte form.
void mask_bytes(std::array<std::uint8_t, 16>& b, unsigned bits) {
  for (unsigned i = 0; i < 16; ++i) {
    unsigned start = i * 8;
    if (bits >= start + 8) {
      continue;
    }
    unsigned keep = bits > start ? bits - start : 0;
    b[i] &= static_cast<std::uint8_t>(0xff00u >> keep);
  }
}

void append_uint(std::string& out, unsigned v) {
  char buf[8];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) {
    out.push_back(buf[--n]);
  }
}

}  // namespace

IpAddress make_ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  std::memcpy(ip.bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size());
  ip.bytes[12] = a;
  ip.bytes[13] = b;
  ip.bytes[14] = c;
  ip.bytes[15] = d;
  ip.is_v4 = true;
  return ip;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    std::uint8_t v4[4];
    if (!parse_v4(text, v4)) {
      return std::nullopt;
    }
    return make_ipv4(v4[0], v4[1], v4[2], v4[3]);
  }
  IpAddress ip;
  if (!parse_v6(text, ip.bytes)) {
    return std::nullopt;
  }
  ip.is_v4 = is_v4_mapped(ip.bytes);
  return ip;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  std::size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  bool v6_text = addr.find(':') != std::string_view::npos;
  auto ip = parse_ip(addr);
  if (!ip) {
    return std::nullopt;
  }
  unsigned width = v6_text ? 128 : 32;
  unsigned len = width;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) {
      return std::nullopt;
    }
    len = 0;
    for (char c : digits) {
      if (!is_digit(c)) {
        return std::nullopt;
      }
      len = len * 10 + unsigned(c - '0');
    }
    if (len > width) {
      return std::nullopt;
    }
  }
  Cidr cidr;
  cidr.address = *ip;
  if (v6_text && ip->is_v4) {
    if (len >= 96) {
      len -= 96;
    } else {
      cidr.address.is_v4 = false;  // wider than the mapped space: an IPv6 prefix
    }
  }
  cidr.prefix_len = static_cast<std::uint8_t>(len);
  mask_bytes(cidr.address.bytes, cidr.address.is_v4 ? 96 + len : len);
  return cidr;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : text) {
    if (!is_digit(c)) {
      return std::nullopt;
    }
    value = value * 10 + unsigned(c - '0');
  }
  if (value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

std::optional<SocketAddress> parse_socket_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) {
      return std::nullopt;  // brackets are for IPv6
    }
    port = text.substr(close + 2);
  } else {
    std::size_t colon = text.find(':');
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
      return std::nullopt;  // no port, or a bare IPv6 address (needs brackets)
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto p = parse_port(port);
  if (!p) {
    return std::nullopt;
  }
  SocketAddress out;
  out.port = *p;
  if (host == "localhost") {
    out.ip = make_ipv4(127, 0, 0, 1);
    return out;
  }
  auto ip = parse_ip(host);
  if (!ip) {
    return std::nullopt;
  }
  out.ip = *ip;
  return out;
}

std::string_view format_ip(const IpAddress& ip, char* buf, std::size_t cap) {
  const char* s = ip.is_v4
                      ? inet_ntop(AF_INET, ip.bytes.data() + 12, buf, static_cast<socklen_t>(cap))
                      : inet_ntop(AF_INET6, ip.bytes.data(), buf, static_cast<socklen_t>(cap));
  return s != nullptr ? std::string_view(s) : std::string_view("unknown");
}

std::string format_ip(const IpAddress& ip) {
  std::string out;
  if (ip.is_v4) {
    out.reserve(15);
    for (int i = 12; i < 16; ++i) {
      if (i > 12) {
        out.push_back('.');
      }
      append_uint(out, ip.bytes[static_cast<std::size_t>(i)]);
    }
    return out;
  }
  std::uint16_t groups[8];
  for (std::size_t i = 0; i < 8; ++i) {
    groups[i] = static_cast<std::uint16_t>(ip.bytes[2 * i] << 8 | ip.bytes[2 * i + 1]);
  }
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  int best = -1;
  int best_len = 1;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) {
      ++j;
    }
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(39);
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best + best_len) {
      out.push_back(':');
    }
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned nibble = (groups[i] >> shift) & 0xf;
      if (nibble == 0 && !started && shift > 0) {
        continue;
      }
      started = true;
      out.push_back(kHex[nibble]);
    }
  }
  return out;
}

std::string format_socket_address(const SocketAddress& address) {
  std::string out;
  if (address.ip.is_v4) {
    out = format_ip(address.ip);
  } else {
    out = "[" + format_ip(address.ip) + "]";
  }
  out.push_back(':');
  append_uint(out, address.port);
  return out;
}

std::string format_cidr(const Cidr& cidr) {
  std::string out = format_ip(cidr.address);
  out.push_back('/');
  append_uint(out, cidr.prefix_len);
  return out;
}

Cidr prefix_of(const IpAddress& ip, unsigned v4_len, unsigned v6_len) {
  Cidr cidr;
  cidr.address = ip;
  unsigned len = ip.is_v4 ? (v4_len > 32 ? 32 : v4_len) : (v6_len > 128 ? 128 : v6_len);
  cidr.prefix_len = static_cast<std::uint8_t>(len);
  mask_bytes(cidr.address.bytes, ip.is_v4 ? 96 + len : len);
  return cidr;
}

bool contains(const Cidr& cidr, const IpAddress& ip) {
  unsigned bits = cidr.address.is_v4 ? 96u + cidr.prefix_len : cidr.prefix_len;
  if (bits > 128) {
    bits = 128;
  }
  unsigned full = bits / 8;
  if (std::memcmp(cidr.address.bytes.data(), ip.bytes.data(), full) != 0) {
    return false;
  }
  unsigned rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (cidr.address.bytes[full] & mask) == (ip.bytes[full] & mask);
}

socklen_t to_sockaddr(const SocketAddress& address, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (address.ip.is_v4) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(address.port);
    std::memcpy(&sin.sin_addr, address.ip.bytes.data() + 12, 4);
    std::memcpy(&out, &sin, sizeof sin);
    return sizeof sin;
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(address.port);
  std::memcpy(&sin6.sin6_addr, address.ip.bytes.data(), 16);
  std::memcpy(&out, &sin6, sizeof sin6);
  return sizeof sin6;
}

std::optional<SocketAddress> from_sockaddr(const sockaddr_storage& in, socklen_t len) {
  SocketAddress out;
  if (in.ss_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in sin;
    std::memcpy(&sin, &in, sizeof sin);
    std::uint8_t b[4];
    std::memcpy(b, &sin.sin_addr, 4);
    out.ip = make_ipv4(b[0], b[1], b[2], b[3]);
    out.port = ntohs(sin.sin_port);
    return out;
  }
  if (in.ss_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, &in, sizeof sin6);
    std::memcpy(out.ip.bytes.data(), &sin6.sin6_addr, 16);
    out.ip.is_v4 = is_v4_mapped(out.ip.bytes);
    out.port = ntohs(sin6.sin6_port);
    return out;
  }
  return std::nullopt;
}

namespace {

std::uint64_t process_seed() {
  static const std::uint64_t seed = [] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }();
  return seed;
}

}  // namespace

std::size_t hash_key(const IpKey& key) noexcept {
  const std::uint64_t seed = process_seed();
  std::uint64_t h = core::mix64(key.lo ^ seed);
  h = core::mix64(h ^ key.hi ^ (seed << 29 | seed >> 35));
  return static_cast<std::size_t>(h);
}

}  // namespace gh::client
