#include "client/proxy_protocol.h"

#include <cstring>

#include "client/address.h"

namespace gh::client {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr char kV2Signature[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                   '\n', 'Q',  'U',  'I',  'T',  '\n'};

ProxyHeaderResult error(std::uint8_t version) {
  ProxyHeaderResult r;
  r.status = ProxyStatus::Error;
  r.version = version;
  return r;
}

ProxyHeaderResult need_more(std::uint8_t version) {
  ProxyHeaderResult r;
  r.version = version;
  return r;
}

// True when the shorter of the two is a prefix of the other.
bool prefix_agrees(std::string_view have, std::string_view want) {
  std::size_t n = have.size() < want.size() ? have.size() : want.size();
  return have.substr(0, n) == want.substr(0, n);
}

bool is_v1_address_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
         c == ':' || c == ' ';
}

ProxyHeaderResult parse_v1(std::string_view buf) {
  if (!prefix_agrees(buf, kV1Prefix)) {
    return error(1);
  }
  if (buf.size() <= kV1Prefix.size()) {
    return need_more(1);
  }
  std::string_view rest = buf.substr(kV1Prefix.size());
  enum class Proto { Tcp4, Tcp6, Unknown } proto;
  std::string_view proto_text;
  if (prefix_agrees(rest, "TCP4 ")) {
    proto = Proto::Tcp4;
    proto_text = "TCP4 ";
  } else if (prefix_agrees(rest, "TCP6 ")) {
    proto = Proto::Tcp6;
    proto_text = "TCP6 ";
  } else if (prefix_agrees(rest, "UNKNOWN")) {
    proto = Proto::Unknown;
    proto_text = "UNKNOWN";
  } else {
    return error(1);
  }
  // Both "TCP4 " and "TCP6 " agree with a lone "TCP": wait for the digit.
  if (rest.size() < proto_text.size()) {
    return need_more(1);
  }

  const std::size_t limit = buf.size() < kProxyV1MaxBytes ? buf.size() : kProxyV1MaxBytes;
  const std::size_t body_start = kV1Prefix.size() + proto_text.size();
  std::size_t end = std::string_view::npos;  // index of '\r' of the CRLF
  int spaces = 0;
  for (std::size_t i = body_start; i < limit; ++i) {
    char c = buf[i];
    if (c == '\r') {
      if (i + 1 >= kProxyV1MaxBytes) {
        return error(1);  // no room left for the '\n'
      }
      if (i + 1 == buf.size()) {
        break;  // the '\n' may follow
      }
      if (buf[i + 1] != '\n') {
        return error(1);
      }
      end = i;
      break;
    }
    if (c == '\n') {
      return error(1);
    }
    if (proto == Proto::Unknown) {
      if (i == body_start && c != ' ') {
        return error(1);  // "UNKNOWNX"
      }
      continue;
    }
    if (!is_v1_address_char(c)) {
      return error(1);
    }
    if (c == ' ') {
      if (++spaces > 3 || buf[i - 1] == ' ') {
        return error(1);
      }
    }
  }
  if (end == std::string_view::npos) {
    return buf.size() >= kProxyV1MaxBytes ? error(1) : need_more(1);
  }

  ProxyHeaderResult r;
  r.version = 1;
  r.consumed = end + 2;
  if (proto == Proto::Unknown) {
    r.status = ProxyStatus::Complete;
    r.local = true;
    return r;
  }
  std::string_view fields[4];
  std::string_view line = buf.substr(body_start, end - body_start);
  for (int f = 0; f < 4; ++f) {
    std::size_t space = line.find(' ');
    if ((f < 3) == (space == std::string_view::npos)) {
      return error(1);
    }
    fields[f] = line.substr(0, space);
    if (fields[f].empty()) {
      return error(1);
    }
    if (f < 3) {
      line.remove_prefix(space + 1);
    }
  }
  bool want_v6 = proto == Proto::Tcp6;
  auto src = parse_ip(fields[0]);
  auto dst = parse_ip(fields[1]);
  auto sport = parse_port(fields[2]);
  auto dport = parse_port(fields[3]);
  if (!src || !dst || !sport || !dport) {
    return error(1);
  }
  // The family must match the keyword as written (a v4-mapped TCP6 address is still IPv6 text).
  for (int f = 0; f < 2; ++f) {
    bool v6_text = fields[f].find(':') != std::string_view::npos;
    if (v6_text != want_v6) {
      return error(1);
    }
  }
  r.status = ProxyStatus::Complete;
  r.source = SocketAddress{*src, *sport};
  r.destination = SocketAddress{*dst, *dport};
  return r;
}

std::uint16_t read_be16(const char* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) << 8 |
                                    static_cast<unsigned char>(p[1]));
}

IpAddress ip_from_bytes(const char* p, bool v6) {
  if (!v6) {
    auto b = [&](int i) { return static_cast<std::uint8_t>(p[i]); };
    return make_ipv4(b(0), b(1), b(2), b(3));
  }
  IpAddress ip;
  std::memcpy(ip.bytes.data(), p, 16);
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  ip.is_v4 = std::memcmp(ip.bytes.data(), kMapped, sizeof kMapped) == 0;
  return ip;
}

ProxyHeaderResult parse_v2(std::string_view buf) {
  std::size_t sig = buf.size() < sizeof kV2Signature ? buf.size() : sizeof kV2Signature;
  if (std::memcmp(buf.data(), kV2Signature, sig) != 0) {
    return error(2);
  }
  if (buf.size() <= 12) {
    return need_more(2);
  }
  const auto ver_cmd = static_cast<unsigned char>(buf[12]);
  if ((ver_cmd >> 4) != 2) {
    return error(2);
  }
  const unsigned command = ver_cmd & 0x0f;
  if (command > 1) {
    return error(2);  // only LOCAL (0) and PROXY (1) exist
  }
  if (buf.size() <= 13) {
    return need_more(2);
  }
  const auto fam = static_cast<unsigned char>(buf[13]);
  const unsigned family = fam >> 4;
  const unsigned transport = fam & 0x0f;
  // LOCAL ignores the family byte; PROXY must use a defined one.
  if (command == 1 && (family > 3 || transport > 2)) {
    return error(2);
  }
  if (buf.size() < kProxyV2HeaderBytes) {
    return need_more(2);
  }
  const std::size_t len = read_be16(buf.data() + 14);
  if (len > kProxyV2MaxPayload) {
    return error(2);
  }
  const bool inet = command == 1 && transport == 1 && (family == 1 || family == 2);
  const bool v6 = family == 2;
  if (inet && len < (v6 ? 36u : 12u)) {
    return error(2);  // too short for its own addresses
  }
  if (buf.size() < kProxyV2HeaderBytes + len) {
    return need_more(2);
  }

  ProxyHeaderResult r;
  r.status = ProxyStatus::Complete;
  r.version = 2;
  r.consumed = kProxyV2HeaderBytes + len;
  if (!inet) {
    r.local = true;
    return r;
  }
  const char* p = buf.data() + kProxyV2HeaderBytes;
  const std::size_t ip_len = v6 ? 16 : 4;
  r.source.ip = ip_from_bytes(p, v6);
  r.destination.ip = ip_from_bytes(p + ip_len, v6);
  r.source.port = read_be16(p + 2 * ip_len);
  r.destination.port = read_be16(p + 2 * ip_len + 2);
  return r;
}

}  // namespace

ProxyHeaderResult parse_proxy_header(std::string_view buf) {
  if (buf.empty()) {
    return need_more(0);
  }
  if (buf[0] == 'P') {
    return parse_v1(buf);
  }
  if (buf[0] == '\r') {
    return parse_v2(buf);
  }
  return error(0);
}

}  // namespace gh::client
