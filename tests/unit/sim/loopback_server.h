// A stand-in HTTP server on 127.0.0.1 (an ephemeral port) for the simulator's tests: its thread
// accepts one connection at a time, hands it to `serve` with the peer's address, and closes it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace gh::sim {

class LoopbackServer {
 public:
  using Serve = std::function<void(int fd, const std::string& peer)>;

  explicit LoopbackServer(Serve serve) : serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 512) == 0;
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  bool bound() const { return bound_; }
  std::uint16_t port() const { return port_; }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      const int c = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (c < 0) continue;
      char ip[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
      serve_(c, ip);
      ::close(c);
    }
  }

  Serve serve_;
  int fd_ = -1;
  bool bound_ = false;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One request read from `fd`: the head, and as much body as its Content-Length announces; what
// arrived when the peer closed or stayed silent for 2 s.
inline std::string read_request(int fd) {
  std::string req;
  char buf[4096];
  std::size_t need = std::string::npos;
  while (req.size() < need) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    req.append(buf, static_cast<std::size_t>(n));
    const auto end = req.find("\r\n\r\n");
    if (end == std::string::npos || need != std::string::npos) continue;
    const auto cl = req.find("Content-Length: ");
    need = end + 4 + (cl == std::string::npos || cl > end ? 0 : std::stoul(req.substr(cl + 16)));
  }
  return req;
}

}  // namespace gh::sim
