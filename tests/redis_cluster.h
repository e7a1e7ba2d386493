// A real Redis Cluster on loopback for tests: 3 masters with a replica each (6 redis-server
// processes on free ports, their cluster bus on free ports too), made with `redis-cli --cluster
// create`, cluster-node-timeout 1000 ms so a failover takes a few seconds; every process killed
// and the directory removed when the object goes. Header-only, shared by unit and integration
// tests.
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
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.h"

namespace gh::test {

class RedisCluster {
 public:
  static constexpr int kNodes = 6;

  // ok() is false when it could not be made (redis-server or redis-cli missing, no ports).
  RedisCluster() {
    char tmpl[] = "/tmp/gh-redis-cluster-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    std::vector<std::uint16_t> taken;
    for (int i = 0; i < kNodes; ++i) {
      Node n;
      n.port = free_port(taken);
      n.bus = free_port(taken);
      if (n.port == 0 || n.bus == 0 || !start(n, i)) return;
      nodes_.push_back(n);
    }
    std::string cmd = "redis-cli --cluster create";
    for (const Node& n : nodes_) cmd += " 127.0.0.1:" + std::to_string(n.port);
    cmd += " --cluster-replicas 1 --cluster-yes >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return;
    ok_ = wait_ok(15000) && wait_replicas(15000);
  }
  ~RedisCluster() {
    for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) kill(i);
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  bool ok() const { return ok_; }
  std::uint16_t port(int i) const { return nodes_[i].port; }
  std::string address(int i) const { return "127.0.0.1:" + std::to_string(nodes_[i].port); }
  bool alive(int i) const { return nodes_[i].pid > 0; }

  // SIGKILL, as in a crash.
  void kill(int i) {
    if (nodes_[i].pid <= 0) return;
    ::kill(nodes_[i].pid, SIGKILL);
    ::waitpid(nodes_[i].pid, nullptr, 0);
    nodes_[i].pid = -1;
  }

  // redis-cli against node i; the output without its last newline.
  std::string cli(int i, const std::string& args) const {
    return RedisServer::run("redis-cli -h 127.0.0.1 -p " + std::to_string(nodes_[i].port) + " " +
                            args + " 2>&1");
  }

  // The node (index) serving `slot` as master, as a live node sees it; -1 when none does.
  int master_of(int slot) const {
    for (int asker = 0; asker < static_cast<int>(nodes_.size()); ++asker) {
      if (!alive(asker)) continue;
      std::istringstream lines(cli(asker, "CLUSTER NODES"));
      std::string line;
      while (std::getline(lines, line)) {
        std::istringstream f(line);
        std::string id, addr, flags, master, ping, pong, epoch, link, range;
        f >> id >> addr >> flags >> master >> ping >> pong >> epoch >> link;
        if (flags.find("master") == std::string::npos || flags.find("fail") != std::string::npos)
          continue;
        while (f >> range) {
          const std::size_t dash = range.find('-');
          if (range.empty() || range[0] == '[') continue;  // a slot in migration
          const int a = std::atoi(range.c_str());
          const int b = dash == std::string::npos ? a : std::atoi(range.c_str() + dash + 1);
          if (slot < a || slot > b) continue;
          const int port = std::atoi(addr.c_str() + addr.find(':') + 1);
          for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
            if (nodes_[i].port == port) return i;
          }
        }
      }
      return -1;
    }
    return -1;
  }

  // Every live node says cluster_state:ok, within `ms`.
  bool wait_ok(int ms) const {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      bool all = true;
      for (int i = 0; i < static_cast<int>(nodes_.size()) && all; ++i) {
        if (alive(i)) all = cli(i, "CLUSTER INFO").find("cluster_state:ok") != std::string::npos;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Every master has its replica attached and in sync (a failover needs one), within `ms`.
  bool wait_replicas(int ms) const {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      int synced = 0;
      for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
        if (!alive(i)) continue;
        const std::string info = cli(i, "INFO replication");
        if (info.find("role:slave") != std::string::npos &&
            info.find("master_link_status:up") != std::string::npos) {
          ++synced;
        }
      }
      if (synced == kNodes / 2) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  struct Node {
    std::uint16_t port = 0, bus = 0;
    pid_t pid = -1;
  };

  static std::uint16_t free_port(std::vector<std::uint16_t>& taken) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const std::uint16_t port = RedisServer::free_port();
      bool dup = false;
      for (std::uint16_t t : taken) dup = dup || t == port;
      if (port != 0 && !dup) {
        taken.push_back(port);
        return port;
      }
    }
    return 0;
  }

  bool answers(std::uint16_t port) const { return RedisServer::answers_on(port); }

  bool start(Node& n, int i) {
    const std::string port = std::to_string(n.port);
    const std::string bus = std::to_string(n.bus);
    const std::string conf = dir_ + "/nodes-" + std::to_string(i) + ".conf";
    n.pid = ::fork();
    if (n.pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) {
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
      if (::chdir(dir_.c_str()) != 0) ::_exit(127);
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--cluster-port",
               bus.c_str(), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
               "--cluster-config-file", conf.c_str(), "--cluster-node-timeout", "1000", "--save",
               "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Bounded: 5 s for it to listen.
    for (int k = 0; k < 500; ++k) {
      int status = 0;
      if (::waitpid(n.pid, &status, WNOHANG) == n.pid) {
        n.pid = -1;
        return false;
      }
      if (answers(n.port)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(n.pid, SIGKILL);
    ::waitpid(n.pid, nullptr, 0);
    n.pid = -1;
    return false;
  }

  std::string dir_;
  std::vector<Node> nodes_;
  bool ok_ = false;
};

}  // namespace gh::test
