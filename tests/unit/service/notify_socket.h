// A service manager's end of sd_notify(3) for tests: a unix datagram socket in a fresh temporary
// directory, whose path goes into NOTIFY_SOCKET. Every read is bounded in time.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace gh::test {

class NotifySocket {
 public:
  NotifySocket() {
    char tmpl[] = "/tmp/gh-notify-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

  // The next message, or "" when none came within `timeout`.
  std::string next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  // Messages until one contains `needle` (returned), or "" after `timeout` in all; every
  // message read is kept in seen().
  std::string until(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      std::string m = next(left);
      if (m.empty()) return {};
      seen_.push_back(m);
      if (m.find(needle) != std::string::npos) return m;
    }
  }
  // Messages that arrive within `window`.
  std::vector<std::string> drain(std::chrono::milliseconds window) {
    std::vector<std::string> out;
    const auto end = std::chrono::steady_clock::now() + window;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      std::string m = next(left);
      if (!m.empty()) out.push_back(m);
    }
  }
  const std::vector<std::string>& seen() const { return seen_; }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> seen_;
};

}  // namespace gh::test
