#include "net/listen_check.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string_view>

#include "client/address.h"

namespace gh::net {

namespace {

constexpr std::size_t kMaxProcesses = 8192;  // bounds the /proc walk on a crowded host
constexpr std::size_t kMaxFds = 1 << 18;

std::uint32_t hex32(std::string_view s) {
  std::uint32_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= static_cast<std::uint32_t>(c - '0');
    else if (c >= 'A' && c <= 'F')
      v |= static_cast<std::uint32_t>(c - 'A' + 10);
    else if (c >= 'a' && c <= 'f')
      v |= static_cast<std::uint32_t>(c - 'a' + 10);
  }
  return v;
}

// "0100007F:1F90" (IPv4) or 32 hex digits ":" port (IPv6), as the kernel prints them: each
// 32-bit word in the host's byte order.
bool parse_local(std::string_view text, client::IpAddress& ip, std::uint16_t& port) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view hex = text.substr(0, colon);
  port = static_cast<std::uint16_t>(hex32(text.substr(colon + 1)));
  if (hex.size() == 8) {
    const std::uint32_t w = hex32(hex);
    std::uint8_t b[4];
    std::memcpy(b, &w, 4);
    ip = client::make_ipv4(b[0], b[1], b[2], b[3]);
    return true;
  }
  if (hex.size() != 32) return false;
  ip = client::IpAddress{};
  for (int i = 0; i < 4; ++i) {
    const std::uint32_t w = hex32(hex.substr(static_cast<std::size_t>(i) * 8, 8));
    std::memcpy(ip.bytes.data() + i * 4, &w, 4);
  }
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  ip.is_v4 = std::memcmp(ip.bytes.data(), kMapped, 12) == 0;
  return true;
}

bool wildcard(const client::IpAddress& ip) {
  if (ip.is_v4)
    return ip.bytes[12] == 0 && ip.bytes[13] == 0 && ip.bytes[14] == 0 && ip.bytes[15] == 0;
  for (std::uint8_t b : ip.bytes) {
    if (b != 0) return false;
  }
  return true;
}

// Inodes of listening sockets on `port` whose address overlaps `ip`. `same_family`: IPv4 with
// IPv4 only, since an IPv6-only wildcard ([::], as nginx binds it) does not overlap 0.0.0.0 and
// /proc does not say which [::] sockets are IPv6-only.
void listening_inodes(const char* file, const client::SocketAddress& addr, bool same_family,
                      std::set<unsigned long>& out) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    // sl local rem st tx:rx tr:when retr uid timeout inode
    std::string_view rest(line);
    std::string_view fields[10];
    std::size_t n = 0;
    while (n < 10) {
      const std::size_t b = rest.find_first_not_of(' ');
      if (b == std::string_view::npos) break;
      rest.remove_prefix(b);
      const std::size_t e = rest.find(' ');
      fields[n++] = rest.substr(0, e);
      if (e == std::string_view::npos) break;
      rest.remove_prefix(e);
    }
    if (n < 10 || fields[3] != "0A") continue;  // TCP_LISTEN
    client::IpAddress ip;
    std::uint16_t port = 0;
    if (!parse_local(fields[1], ip, port) || port != addr.port) continue;
    if (same_family && ip.is_v4 != addr.ip.is_v4) continue;
    if (!(ip == addr.ip || wildcard(ip) || wildcard(addr.ip))) continue;
    out.insert(std::strtoul(std::string(fields[9]).c_str(), nullptr, 10));
  }
}

// The processes holding one of `inodes` (as far as /proc shows them), but `skip`.
void find_owners(const std::set<unsigned long>& inodes, pid_t skip,
                 std::vector<ListenerOwner>* owners) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  std::size_t processes = 0;
  std::size_t fds = 0;
  while (dirent* d = ::readdir(proc)) {
    if (d->d_name[0] < '1' || d->d_name[0] > '9') continue;
    if (++processes > kMaxProcesses || fds > kMaxFds) break;
    const pid_t pid = static_cast<pid_t>(std::strtol(d->d_name, nullptr, 10));
    if (pid == skip) continue;
    const std::string dir = std::string("/proc/") + d->d_name + "/fd";
    DIR* fdd = ::opendir(dir.c_str());
    if (fdd == nullptr) continue;  // another user's process
    bool found = false;
    while (dirent* f = ::readdir(fdd)) {
      if (f->d_name[0] == '.' || ++fds > kMaxFds) continue;
      char target[64];
      const std::string link = dir + "/" + f->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 8) continue;
      target[n] = '\0';
      if (std::strncmp(target, "socket:[", 8) != 0) continue;
      if (inodes.count(std::strtoul(target + 8, nullptr, 10)) != 0) {
        found = true;
        break;
      }
    }
    ::closedir(fdd);
    if (!found) continue;
    ListenerOwner o;
    o.pid = pid;
    std::ifstream comm(std::string("/proc/") + d->d_name + "/comm");
    std::getline(comm, o.name);
    owners->push_back(std::move(o));
  }
  ::closedir(proc);
}

}  // namespace

bool shared_with_another(const client::SocketAddress& addr, std::vector<ListenerOwner>* owners) {
  std::set<unsigned long> inodes;
  listening_inodes("/proc/net/tcp", addr, true, inodes);
  listening_inodes("/proc/net/tcp6", addr, true, inodes);
  inodes.erase(0);
  if (inodes.empty()) return false;
  // Ours (this listener's sockets, another of ours on an overlapping address) are no sharing.
  if (DIR* self = ::opendir("/proc/self/fd")) {
    while (dirent* f = ::readdir(self)) {
      if (f->d_name[0] == '.') continue;
      char target[64];
      const std::string link = std::string("/proc/self/fd/") + f->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 8) continue;
      target[n] = '\0';
      if (std::strncmp(target, "socket:[", 8) == 0) {
        inodes.erase(std::strtoul(target + 8, nullptr, 10));
      }
    }
    ::closedir(self);
  }
  if (inodes.empty()) return false;
  if (owners != nullptr) find_owners(inodes, ::getpid(), owners);
  return true;
}

bool address_served(const client::SocketAddress& addr, std::vector<ListenerOwner>* owners) {
  sockaddr_storage ss;
  const socklen_t len = client::to_sockaddr(addr, ss);
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  // SO_REUSEADDR (as the real listeners have) passes over TIME_WAIT leftovers; no SO_REUSEPORT,
  // so any listener on the address refuses us.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!addr.ip.is_v4) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  const bool in_use = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno == EADDRINUSE;
  ::close(fd);
  if (!in_use || owners == nullptr) return in_use;

  std::set<unsigned long> inodes;
  listening_inodes("/proc/net/tcp", addr, false, inodes);
  listening_inodes("/proc/net/tcp6", addr, false, inodes);
  inodes.erase(0);
  if (inodes.empty()) return true;
  find_owners(inodes, 0, owners);
  return true;
}

std::string describe_owners(const std::vector<ListenerOwner>& owners) {
  if (owners.empty()) return "a process this user cannot see";
  std::string s = owners.size() == 1 ? "pid " : "pids ";
  for (std::size_t i = 0; i < owners.size(); ++i) {
    if (i != 0) s += ", ";
    s += std::to_string(owners[i].pid);
    if (!owners[i].name.empty()) s += " (" + owners[i].name + ")";
  }
  return s;
}

}  // namespace gh::net
