#include "net/upstream_pool.h"

#include <sys/epoll.h>
#include <unistd.h>

#include "net/socket.h"

namespace gh::net {

namespace {
constexpr std::uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
}

void UpstreamConn::on_events(std::uint32_t events) {
  if (fd < 0) return;  // closed earlier in this epoll batch
  if (user != nullptr) {
    user->on_upstream_events(events);
    return;
  }
  // Idle in the pool: any event (a byte, a FIN, an error) makes the connection unusable.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) pool->close(this);
}

UpstreamPool::~UpstreamPool() {
  for (ServerPool* s : servers_) {
    for (UpstreamConn* c : s->idle) {
      ::close(c->fd);
      delete c;
    }
    delete s;
  }
  for (UpstreamConn* c : spare_) delete c;
}

ServerPool& UpstreamPool::server_for(const client::SocketAddress& addr) {
  for (ServerPool* s : servers_) {
    if (s->address == addr) return *s;
  }
  auto* s = new ServerPool();
  s->address = addr;
  servers_.push_back(s);
  return *s;
}

UpstreamPool::Acquire UpstreamPool::acquire(const client::SocketAddress& addr,
                                            std::uint32_t max_open, UpstreamUser* user,
                                            UpstreamConn** out, std::string* error) {
  ServerPool& server = server_for(addr);
  // No balancer names it (a request of an older endpoint set): use once, pool nothing.
  if (server.refs == 0) server.retired = true;
  if (!server.idle.empty()) {
    UpstreamConn* c = server.idle.back();
    server.idle.pop_back();
    loop_.timers().cancel(c->idle_timer);
    c->user = user;
    c->reused = true;
    *out = c;
    return Acquire::Ok;
  }
  if (server.open >= max_open) return Acquire::Busy;
  int fd = connect_tcp(addr, error);
  if (fd < 0) return Acquire::Failed;
  UpstreamConn* c;
  if (!spare_.empty()) {
    c = spare_.back();
    spare_.pop_back();
  } else {
    c = new UpstreamConn();
  }
  *c = UpstreamConn();
  c->fd = fd;
  c->user = user;
  c->server = &server;
  c->pool = this;
  c->idle_timer.owner = c;
  c->idle_timer.callback = &UpstreamPool::on_idle_timeout;
  if (!loop_.add(fd, c, kEvents)) {
    ::close(fd);
    spare_.push_back(c);
    if (error) *error = "epoll add failed";
    return Acquire::Failed;
  }
  ++server.open;
  *out = c;
  return Acquire::Ok;
}

void UpstreamPool::release(UpstreamConn* c, bool reusable, std::uint32_t max_idle,
                           std::int64_t idle_ms) {
  ServerPool& server = *c->server;
  if (!reusable || !c->connected || server.idle.size() >= max_idle || server.retired) {
    close(c);
    return;
  }
  c->user = nullptr;
  c->pool_index = static_cast<std::uint32_t>(server.idle.size());
  server.idle.push_back(c);
  loop_.timers().arm(c->idle_timer, loop_.now_ms() + idle_ms);
}

void UpstreamPool::remove_idle(UpstreamConn* c) {
  auto& idle = c->server->idle;
  for (std::size_t i = 0; i < idle.size(); ++i) {
    if (idle[i] == c) {
      idle.erase(idle.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
  }
}

void UpstreamPool::close(UpstreamConn* c) {
  if (c->user == nullptr) remove_idle(c);
  loop_.timers().cancel(c->idle_timer);
  loop_.close(c->fd);
  c->fd = -1;
  c->user = nullptr;
  ServerPool& server = *c->server;
  --server.open;
  c->server = nullptr;
  forget_if_drained(server);
  // Recycle only after the current epoll batch: it may still carry an event for this object.
  loop_.defer([this, c] { spare_.push_back(c); });
}

void UpstreamPool::ref(const client::SocketAddress& addr) {
  ServerPool& server = server_for(addr);
  ++server.refs;
  server.retired = false;
}

void UpstreamPool::unref(const client::SocketAddress& addr) {
  ServerPool& server = server_for(addr);
  if (server.refs > 0) --server.refs;
  if (server.refs != 0) return;
  while (!server.idle.empty()) close(server.idle.back());
  server.retired = true;  // busy connections close when released; then it is forgotten
  forget_if_drained(server);
}

void UpstreamPool::forget_if_drained(ServerPool& server) {
  if (!server.retired || server.open != 0 || server.refs != 0) return;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i] == &server) {
      servers_.erase(servers_.begin() + static_cast<std::ptrdiff_t>(i));
      delete &server;
      return;
    }
  }
}

void UpstreamPool::on_idle_timeout(void* owner) {
  auto* c = static_cast<UpstreamConn*>(owner);
  c->pool->close(c);
}

void UpstreamPool::close_idle() {
  for (ServerPool* s : servers_) {
    while (!s->idle.empty()) close(s->idle.back());
  }
}

std::size_t UpstreamPool::idle_count() const {
  std::size_t n = 0;
  for (const ServerPool* s : servers_) n += s->idle.size();
  return n;
}

std::size_t UpstreamPool::open_count() const {
  std::size_t n = 0;
  for (const ServerPool* s : servers_) n += s->open;
  return n;
}

}  // namespace gh::net
