// Per-worker pool of keep-alive connections to upstream servers. An idle pooled connection stays
// registered in epoll, so an upstream that closes it is noticed at once and it is never handed
// out stale — the main cause of failed non-idempotent requests through a proxy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/address-t.h"
#include "net/event_loop.h"
#include "net/timer.h"

namespace gh::net {

class UpstreamUser {
 public:
  virtual ~UpstreamUser() = default;
  virtual void on_upstream_events(std::uint32_t events) = 0;
};

class UpstreamPool;
struct ServerPool;

class UpstreamConn final : public Handler {
 public:
  void on_events(std::uint32_t events) override;

  int fd = -1;
  bool connected = false;  // connect() completed
  bool reused = false;     // served a request before this one
  bool readable = false;   // edge-triggered readiness, cleared on EAGAIN
  bool writable = false;
  bool hangup = false;           // RDHUP/HUP/ERR seen
  UpstreamUser* user = nullptr;  // null while idle in the pool
  ServerPool* server = nullptr;
  UpstreamPool* pool = nullptr;
  Timer idle_timer;
  std::uint32_t pool_index = 0;  // position in server->idle while idle
};

struct ServerPool {
  client::SocketAddress address;
  std::vector<UpstreamConn*> idle;  // LIFO: the warmest connection first
  std::uint32_t open = 0;           // idle + in use
  std::uint32_t refs = 0;           // balancer peers naming this address (ref/unref)
  bool retired = false;             // named once, by no peer now: drained, then forgotten
};

class UpstreamPool {
 public:
  explicit UpstreamPool(EventLoop& loop) : loop_(loop) {}
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  enum class Acquire : std::uint8_t { Ok, Busy, Failed };
  // Hands out an idle connection to `addr` or starts a new one. Busy when `max_open` are open.
  Acquire acquire(const client::SocketAddress& addr, std::uint32_t max_open, UpstreamUser* user,
                  UpstreamConn** out, std::string* error);
  // Returns a connection after a complete exchange; closes it when not reusable or too many idle.
  void release(UpstreamConn* conn, bool reusable, std::uint32_t max_idle, std::int64_t idle_ms);
  // Closes a connection (error, or response not read to its end).
  void close(UpstreamConn* conn);
  void close_idle();
  // A balancer names `addr` (ref) or stops naming it (unref). An address no peer names is
  // drained: its idle connections close now, busy ones when their exchange ends, then its
  // entry is forgotten (addresses come and go with DNS).
  void ref(const client::SocketAddress& addr);
  void unref(const client::SocketAddress& addr);

  std::size_t idle_count() const;
  std::size_t open_count() const;
  std::size_t server_count() const { return servers_.size(); }

 private:
  friend class UpstreamConn;
  ServerPool& server_for(const client::SocketAddress& addr);
  void remove_idle(UpstreamConn* conn);
  void forget_if_drained(ServerPool& server);
  static void on_idle_timeout(void* owner);

  EventLoop& loop_;
  std::vector<ServerPool*> servers_;  // few upstream servers: a linear search is fastest
  std::vector<UpstreamConn*> spare_;  // recycled connection objects
};

}  // namespace gh::net
