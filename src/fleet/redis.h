// One connection to Redis on a net::EventLoop, through hiredis's asynchronous API (its parser,
// its command encoder, its pipelining) with our adapter onto the loop. hiredis 0.14 has no
// timeouts of its own: the owner calls check() on every timer tick, and a connect or a command
// older than its timeout drops the connection (every pending callback then gets nullptr).
// Not thread-safe: the loop's thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/reply-t.h"
#include "net/event_loop.h"

struct redisAsyncContext;
struct redisReply;

namespace gh::fleet {

// The name Redis gives a Lua script (its SHA-1 in lowercase hex), for EVALSHA.
std::string script_sha(std::string_view script);

class RedisConnection : public net::Handler {
 public:
  // reply nullptr: the command failed (timeout, connection lost, a reply beyond bounds).
  using Callback = std::function<void(const Reply* reply)>;
  // A message pushed on a subscription: channel, payload.
  using OnMessage = std::function<void(std::string_view channel, std::string_view payload)>;
  // The connection is gone (why); the owner may connect() again later.
  using OnDown = std::function<void(const std::string& why)>;

  struct Options {
    std::string host;
    std::uint16_t port = 6379;
    std::int64_t connect_timeout_ms = 250;
    std::int64_t command_timeout_ms = 20;
  };

  RedisConnection(net::EventLoop& loop, Options options, OnDown on_down);
  ~RedisConnection() override;
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Starts a non-blocking connect. Commands may be queued at once (hiredis sends them when
  // connected). False when the attempt fails at once (why in `error`).
  bool connect(std::string* error);
  bool open() const { return ac_ != nullptr; }
  // True once the connect completed.
  bool established() const { return established_; }
  // Queues one command (pipelined behind those in flight). False when not open.
  bool command(const std::vector<std::string>& argv, Callback cb);
  // SUBSCRIBE: every message on `channel` goes to on_message. The confirmation counts as a
  // command (cb gets it). Commands other than (UN)SUBSCRIBE and PING are refused by Redis after.
  bool subscribe(const std::string& channel, OnMessage on_message, Callback cb);
  // Timeouts: drops the connection when the connect or the oldest command is too old.
  void check(std::int64_t now_ms);
  // Drops the connection (pending callbacks get nullptr), without calling on_down.
  void close();
  std::size_t pending() const { return sent_ms_.size(); }

  void on_events(std::uint32_t events) override;

 private:
  struct Pending;
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void ev_add_read(void* data);
  static void ev_del_read(void* data);
  static void ev_add_write(void* data);
  static void ev_del_write(void* data);
  static void ev_cleanup(void* data);
  void update_interest();
  void fail(const std::string& why);
  bool send(const std::vector<std::string>& argv, Pending* p);

  net::EventLoop& loop_;
  Options options_;
  OnDown on_down_;
  OnMessage on_message_;
  redisAsyncContext* ac_ = nullptr;
  int fd_ = -1;
  bool registered_ = false;
  bool want_read_ = false;
  bool want_write_ = false;
  bool established_ = false;
  bool closing_ = false;  // close() in progress: on_down is not called
  std::int64_t connect_started_ms_ = 0;
  std::int64_t established_ms_ = 0;
  std::deque<std::int64_t> sent_ms_;  // send time of each command awaiting its reply, in order
};

}  // namespace gh::fleet
