#include "net/resolve.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "client/address.h"
#include "net/upstream-t.h"

namespace gh::net {

namespace {
bool valid_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.' ||
      host.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}
}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<HostPort> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  const std::string shown = "'" + std::string(text.substr(0, 300)) + "'";
  HostPort out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("expected [IPv6]:port, got " + shown);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    auto ip = client::parse_ip(host);
    if (!ip || ip->is_v4) return fail("not an IPv6 address in brackets: " + shown);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected host:port, got " + shown);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("an IPv6 address needs brackets, as in [::1]:8080: " + shown);
    }
  }
  auto p = client::parse_port(port);
  if (!p) return fail("expected a port 1-65535 after the colon, got " + shown);
  if (*p == 0) return fail("port 0 is not allowed here");
  out.host = std::string(host);
  out.port = *p;
  if (auto ip = client::parse_ip(host)) {
    out.literal = true;
    out.address = client::SocketAddress{*ip, *p};
    return out;
  }
  if (!valid_name(host)) {
    return fail("expected a host name (letters, digits, '-', '_', '.') or an IP address, got " +
                shown);
  }
  return out;
}

bool address_less(const client::SocketAddress& a, const client::SocketAddress& b) {
  if (a.ip.is_v4 != b.ip.is_v4) return a.ip.is_v4;
  if (a.ip.bytes != b.ip.bytes) return a.ip.bytes < b.ip.bytes;
  return a.port < b.port;
}

bool resolve(const std::string& host, std::uint16_t port, std::vector<client::SocketAddress>& out,
             std::string* error, bool* truncated) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No AI_ADDRCONFIG: it hides every address on a host whose only interface is loopback.
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    if (error != nullptr) *error = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    return false;
  }
  std::vector<client::SocketAddress> found;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, std::min<std::size_t>(ai->ai_addrlen, sizeof ss));
    auto a = client::from_sockaddr(ss, ai->ai_addrlen);
    if (!a) continue;
    a->port = port;
    found.push_back(*a);
  }
  ::freeaddrinfo(res);
  std::sort(found.begin(), found.end(), address_less);
  found.erase(std::unique(found.begin(), found.end()), found.end());
  if (found.empty()) {
    if (error != nullptr) *error = "no IPv4 or IPv6 address";
    return false;
  }
  const bool cut = found.size() > kMaxAddressesPerName;
  if (cut) found.resize(kMaxAddressesPerName);
  if (truncated != nullptr) *truncated = cut;
  out = std::move(found);
  return true;
}

std::string server_text(const UpstreamServer& s) {
  const bool v6 = s.literal && s.host.find(':') != std::string::npos;
  return (v6 ? "[" + s.host + "]" : s.host) + ":" + std::to_string(s.port);
}

}  // namespace gh::net
