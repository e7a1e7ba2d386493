// Test fixtures for integration tests on real loopback sockets: a recording origin, a raw client,
// and an in-process Gatehouse built from a YAML string. Everything binds port 0.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "policy/snapshot.h"
#include "proxy/server.h"

namespace gh::test {

// A request as the origin received it, parsed by the origin's own small strict reader (not the
// product's parser), so framing mistakes of the proxy show up as garbage here.
struct OriginRequest {
  std::string method;
  std::string target;
  std::string version;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  bool chunked = false;
  std::size_t connection_id = 0;

  std::string header(const std::string& lower_name) const;
  std::size_t count(const std::string& lower_name) const;
};

struct OriginReply {
  std::string raw;  // full raw response to send; empty = build from the fields below
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;
  bool close_after = false;  // close the connection after replying
  bool close_without_reply = false;
  std::chrono::milliseconds delay{0};
};

class Origin {
 public:
  using Handler = std::function<OriginReply(const OriginRequest&)>;
  explicit Origin(Handler handler = {});
  // On a given port (one an earlier origin had: a server that comes back).
  Origin(Handler handler, std::uint16_t port);
  ~Origin();
  std::uint16_t port() const { return port_; }
  std::vector<OriginRequest> requests() const;
  std::size_t request_count() const;
  std::size_t connection_count() const { return connections_.load(); }
  std::string garbage() const;  // bytes the origin could not parse as a request
  void set_handler(Handler handler);

 private:
  void accept_loop();
  void serve(int fd, std::size_t id);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> connections_{0};
  mutable std::mutex mu_;
  Handler handler_;
  std::vector<OriginRequest> requests_;
  std::string garbage_;
  std::thread acceptor_;
  std::vector<std::thread> threads_;
  std::vector<int> fds_;
};

struct ClientResponse {
  int status = 0;
  std::string head;
  std::string body;
  std::string header(const std::string& lower_name) const;
};

// A socket connected to 127.0.0.1:port, from `source` (a 127.x.y.z address) when given, with a
// receive timeout when `recv_timeout` is above 0; -1 when it could not connect.
int connect_loopback(std::uint16_t port, std::chrono::milliseconds recv_timeout,
                     const char* source = nullptr);

// A blocking client socket with a receive timeout (every read is bounded).
class RawClient {
 public:
  // Connects to 127.0.0.1:port, from `source` when given (any 127.x.y.z is a loopback address).
  explicit RawClient(std::uint16_t port, const char* source = nullptr);
  ~RawClient();
  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Reads one response (Content-Length, chunked, or until close). status 0 = nothing came.
  ClientResponse read_response(bool head_request = false);
  // True when the server closed the connection (EOF or reset) within the timeout.
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));
  std::string read_all(std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));
  int fd() const { return fd_; }

 private:
  bool fill();
  int fd_ = -1;
  std::string buf_;
};

// Runs `io` again while it fails with EINTR, at most 100 times. A blocking socket call under
// SO_RCVTIMEO is not restarted after an interruption, and a ring's teardown interrupts the tasks
// that created or used it (io_uring's exit work queues task work on each, as a signal would):
// this thread created the rings of every in-process server it stopped.
template <class Io>
auto restart_on_eintr(Io io) {
  auto r = io();
  for (int i = 0; i < 100 && r < 0 && errno == EINTR; ++i) r = io();
  return r;
}

// Gatehouse in-process with a config given as YAML; "@ORIGIN@" is replaced by the origin port.
// Unless the YAML has a `bans:` section, each shield gets a ban journal of its own in a fresh
// temporary directory, so tests never see each other's bans.
class Shield {
 public:
  explicit Shield(const std::string& yaml);
  ~Shield();
  std::uint16_t port(std::size_t listener = 0) const { return server_->ports().at(listener); }
  proxy::Server& server() { return *server_; }
  void reload(const std::string& yaml);
  policy::SnapshotPtr load(const std::string& yaml) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::unique_ptr<proxy::Server> server_;
};

// A browser-like request: Host, a browser User-Agent, `extra` fields (each ending in CRLF), and
// for a body (or any POST) a urlencoded Content-Type and Content-Length.
inline constexpr const char* kBrowserUa = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0";
std::string request(const std::string& method, const std::string& path, const std::string& extra,
                    const std::string& body = "");
// One request on a fresh connection (from `source`, a 127.x.y.z address, when given).
ClientResponse roundtrip(std::uint16_t port, const std::string& raw, const char* source = nullptr);
// "name=value" of the response's first Set-Cookie for `name`, or "".
std::string set_cookie(const ClientResponse& r, const std::string& name);
std::string cookie_header(const std::string& pairs);

std::string replace_all(std::string s, const std::string& from, const std::string& to);
// A minimal config: one listener on port 0, one upstream at the origin port, one worker.
std::string basic_config(std::uint16_t origin_port, const std::string& extra = "");
// Polls `pred` every 10 ms for at most `timeout`.
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

}  // namespace gh::test
