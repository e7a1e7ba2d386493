#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "client/address.h"

namespace gh::net {

static std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// A non-blocking TCP socket of addr's family, and addr in `ss`; -1 (and `error`) when it fails.
static int tcp_socket(const client::SocketAddress& addr, sockaddr_storage& ss, socklen_t& len,
                      std::string* error) {
  len = client::to_sockaddr(addr, ss);
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && error) *error = errno_text("socket");
  return fd;
}

int listen_tcp(const client::SocketAddress& addr, bool reuse_port, int backlog,
               std::string* error) {
  sockaddr_storage ss;
  socklen_t len = 0;
  int fd = tcp_socket(addr, ss, len, error);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (!addr.ip.is_v4) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Linux copies TCP_NODELAY from the listening socket to every socket accept() returns: set
  // once here, it saves a setsockopt per connection.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (error) *error = errno_text("bind");
    close(fd);
    return -1;
  }
  if (listen(fd, backlog) != 0) {
    if (error) *error = errno_text("listen");
    close(fd);
    return -1;
  }
  return fd;
}

int connect_tcp(const client::SocketAddress& addr, std::string* error) {
  sockaddr_storage ss;
  socklen_t len = 0;
  int fd = tcp_socket(addr, ss, len, error);
  if (fd < 0) return -1;
  set_nodelay(fd);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    if (error) *error = errno_text("connect");
    close(fd);
    return -1;
  }
  return fd;
}

int connect_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

client::SocketAddress local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return client::from_sockaddr(ss, len).value_or(client::SocketAddress{});
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void close_reset(int fd) {
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

}  // namespace gh::net
