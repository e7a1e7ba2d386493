#include "fleet/redis.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sys/epoll.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "fleet/reply.h"

namespace gh::fleet {

std::string script_sha(std::string_view script) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(script.data(), script.size(), md, &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

struct RedisConnection::Pending {
  RedisConnection* conn = nullptr;
  Callback cb;
  bool subscription = false;
};

RedisConnection::RedisConnection(net::EventLoop& loop, Options options, OnDown on_down)
    : loop_(loop), options_(std::move(options)), on_down_(std::move(on_down)) {}

RedisConnection::~RedisConnection() {
  close();
}

bool RedisConnection::connect(std::string* error) {
  close();
  established_ = false;
  closing_ = false;
  sent_ms_.clear();
  redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
  if (ac == nullptr) {
    if (error) *error = "out of memory";
    return false;
  }
  if (ac->err != 0) {
    if (error) *error = ac->errstr;
    redisAsyncFree(ac);
    return false;
  }
  ac_ = ac;
  ac->data = this;
  fd_ = ac->c.fd;
  ac->ev.data = this;
  ac->ev.addRead = &ev_add_read;
  ac->ev.delRead = &ev_del_read;
  ac->ev.addWrite = &ev_add_write;
  ac->ev.delWrite = &ev_del_write;
  ac->ev.cleanup = &ev_cleanup;
  redisAsyncSetConnectCallback(ac, &on_connect);
  redisAsyncSetDisconnectCallback(ac, &on_disconnect);
  connect_started_ms_ = loop_.now_ms();
  // Writable tells a non-blocking connect completed.
  want_write_ = true;
  update_interest();
  return true;
}

bool RedisConnection::send(const std::vector<std::string>& argv, Pending* p) {
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  sent_ms_.push_back(loop_.now_ms());
  if (redisAsyncCommandArgv(ac_, &on_reply, p, static_cast<int>(argv.size()), args.data(),
                            lens.data()) != REDIS_OK) {
    sent_ms_.pop_back();
    return false;
  }
  return true;
}

bool RedisConnection::command(const std::vector<std::string>& argv, Callback cb) {
  if (ac_ == nullptr || argv.empty()) return false;
  auto* p = new Pending{this, std::move(cb), false};
  if (!send(argv, p)) {
    delete p;
    return false;
  }
  return true;
}

bool RedisConnection::subscribe(const std::string& channel, OnMessage on_message, Callback cb) {
  if (ac_ == nullptr) return false;
  on_message_ = std::move(on_message);
  // Owned by the context from here: freed when hiredis hands it back with nullptr.
  auto* p = new Pending{this, std::move(cb), true};
  if (!send({"SUBSCRIBE", channel}, p)) {
    delete p;
    return false;
  }
  return true;
}

void RedisConnection::on_reply(redisAsyncContext* ac, void* r, void* privdata) {
  auto* p = static_cast<Pending*>(privdata);
  if (p == nullptr) return;
  RedisConnection* self = p->conn;
  auto* raw = static_cast<redisReply*>(r);
  if (p->subscription) {
    if (raw == nullptr) {  // the context is going: the last call
      delete p;
      return;
    }
    std::optional<Reply> reply = copy_reply(raw);
    const bool message = reply && reply->type == Reply::Type::Array &&
                         reply->elements.size() == 3 && reply->elements[0].is_string() &&
                         reply->elements[0].str == "message" && reply->elements[1].is_string() &&
                         reply->elements[2].is_string();
    if (message) {
      if (self->on_message_) self->on_message_(reply->elements[1].str, reply->elements[2].str);
      return;
    }
    // The confirmation (or anything else in its place): answers the SUBSCRIBE command.
    if (!self->sent_ms_.empty()) self->sent_ms_.pop_front();
    if (p->cb) {
      Callback cb = std::move(p->cb);
      p->cb = nullptr;
      cb(reply ? &*reply : nullptr);
    }
    return;
  }
  std::unique_ptr<Pending> owned(p);
  if (!self->sent_ms_.empty()) self->sent_ms_.pop_front();
  (void)ac;
  if (raw == nullptr) {
    if (p->cb) p->cb(nullptr);
    return;
  }
  std::optional<Reply> reply = copy_reply(raw);
  if (p->cb) p->cb(reply ? &*reply : nullptr);
}

void RedisConnection::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) return;
  if (status == REDIS_OK) {
    self->established_ = true;
    self->established_ms_ = self->loop_.now_ms();
    return;
  }
  // hiredis frees the context after this returns.
  const std::string why = std::string("connect failed: ") + ac->errstr;
  self->ac_ = nullptr;
  if (!self->closing_ && self->on_down_) self->on_down_(why);
}

void RedisConnection::on_disconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) return;
  const std::string why = status == REDIS_OK ? std::string("connection closed")
                                             : std::string("connection lost: ") + ac->errstr;
  self->ac_ = nullptr;
  self->established_ = false;
  if (!self->closing_ && self->on_down_) self->on_down_(why);
}

void RedisConnection::fail(const std::string& why) {
  close();
  if (on_down_) on_down_(why);
}

void RedisConnection::close() {
  if (ac_ == nullptr) return;
  closing_ = true;
  redisAsyncContext* ac = ac_;
  redisAsyncFree(ac);  // pending callbacks get nullptr; cleanup takes the fd off the loop
  ac_ = nullptr;
  established_ = false;
  sent_ms_.clear();
}

void RedisConnection::check(std::int64_t now_ms) {
  if (ac_ == nullptr) return;
  if (!established_ && now_ms - connect_started_ms_ > options_.connect_timeout_ms) {
    fail("connect timed out after " + std::to_string(options_.connect_timeout_ms) + " ms");
    return;
  }
  // A command queued while connecting (the cluster client opens connections for the command at
  // hand) is timed from the connect: until then connect_timeout is the bound.
  if (established_ && !sent_ms_.empty() &&
      now_ms - std::max(sent_ms_.front(), established_ms_) > options_.command_timeout_ms) {
    fail("no reply within " + std::to_string(options_.command_timeout_ms) + " ms");
  }
}

void RedisConnection::on_events(std::uint32_t events) {
  if (ac_ == nullptr) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) redisAsyncHandleRead(ac_);
  if (ac_ != nullptr && (events & EPOLLOUT)) redisAsyncHandleWrite(ac_);
}

void RedisConnection::update_interest() {
  if (fd_ < 0) return;
  std::uint32_t ev = 0;
  if (want_read_) ev |= EPOLLIN | EPOLLRDHUP;
  if (want_write_) ev |= EPOLLOUT;
  if (!registered_) {
    registered_ = loop_.add(fd_, this, ev);
  } else {
    loop_.modify(fd_, this, ev);
  }
}

void RedisConnection::ev_add_read(void* data) {
  auto* self = static_cast<RedisConnection*>(data);
  if (self->want_read_) return;
  self->want_read_ = true;
  self->update_interest();
}

void RedisConnection::ev_del_read(void* data) {
  auto* self = static_cast<RedisConnection*>(data);
  if (!self->want_read_) return;
  self->want_read_ = false;
  self->update_interest();
}

void RedisConnection::ev_add_write(void* data) {
  auto* self = static_cast<RedisConnection*>(data);
  if (self->want_write_) return;
  self->want_write_ = true;
  self->update_interest();
}

void RedisConnection::ev_del_write(void* data) {
  auto* self = static_cast<RedisConnection*>(data);
  if (!self->want_write_) return;
  self->want_write_ = false;
  self->update_interest();
}

void RedisConnection::ev_cleanup(void* data) {
  auto* self = static_cast<RedisConnection*>(data);
  if (self->registered_ && self->fd_ >= 0) self->loop_.remove(self->fd_);
  self->registered_ = false;
  self->fd_ = -1;
  self->want_read_ = false;
  self->want_write_ = false;
  self->ac_ = nullptr;
}

}  // namespace gh::fleet
