// A real redis-server on loopback for tests: a free port (redis cannot take port 0), no
// persistence, killed when the object goes. Header-only, shared by the unit and integration tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace gh::test {

class RedisServer {
 public:
  // Starts on a free port; port() is 0 when it could not start (redis-server missing).
  RedisServer() {
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = free_port();
      if (port_ != 0) start();
    }
  }
  ~RedisServer() { kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return pid_ > 0 ? port_ : 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // SIGKILL: Redis gone at once, as in a crash.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Pauses it (SIGSTOP): connections stay open, nothing answers: a slow Redis.
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }
  // Starts again on the same port, empty.
  bool restart() {
    kill();
    start();
    return pid_ > 0;
  }

  // redis-cli against it; the output.
  std::string cli(const std::vector<std::string>& args) const {
    std::string cmd = "redis-cli -h 127.0.0.1 -p " + std::to_string(port_);
    for (const std::string& a : args) cmd += " '" + a + "'";
    return run(cmd + " 2>&1");
  }

  // Shared with tests/redis_cluster.h: a shell command's output without its last newline, a
  // free loopback port (0 when none was found), whether something listens on a loopback port.
  static std::string run(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
      ::pclose(f);
    }
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  static std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
    return port;
  }
  static bool answers_on(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

 private:
  bool answers() const { return answers_on(port_); }

  void start() {
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_WRONLY);  // its banner and warnings: not ours
      if (null >= 0) {
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Bounded: 5 s for it to listen.
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken, or no binary
        pid_ = -1;
        return;
      }
      if (answers()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill();
  }

  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace gh::test
