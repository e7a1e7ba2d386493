#include "proxy/upstream_exchange.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "core/clock.h"
#include "gate/pipeline.h"
#include "http/upgrade.h"
#include "net/socket.h"
#include "policy/snapshot.h"
#include "proxy/worker.h"

namespace gh::proxy {

namespace {
// Room kept in the sink for a chunk header and its CRLF.
constexpr std::size_t kChunkOverhead = 24;

// A request may go to a second connection only if sending it twice is harmless (RFC 9110 9.2.2)
// and it has no body: an admitted sign-up must reach the app once.
bool retryable(const http::RequestHead& req) {
  if (req.body != http::BodyKind::None) return false;
  switch (req.method) {
    case http::Method::Get:
    case http::Method::Head:
    case http::Method::Options:
    case http::Method::Trace:
      return true;
    default:
      return false;
  }
}
}  // namespace

UpstreamExchange::UpstreamExchange(Worker& worker, Owner& owner) : worker_(worker), owner_(owner) {
  timer_.owner = this;
  timer_.callback = &UpstreamExchange::on_timer;
}

UpstreamExchange::~UpstreamExchange() {
  // The server's use is not given back here: a worker being torn down has freed its balancers
  // already (the owner calls end() while they live).
  close();
  worker_.loop().timers().cancel(timer_);
  release_buffers();
}

void UpstreamExchange::reset() {
  // Each exchange picks from its own route's upstream, in the generation it started on.
  drop_peer();
  balancer_ = nullptr;
  up_ = nullptr;
  req_ = nullptr;
  replayable_ = false;
  head_done_ = done_ = eof_ = cut_short_ = switched_ = false;
  retried_ = moved_ = false;
  chunked_.reset();
  remaining_ = 0;
  request_sent_ms_ = 0;
}

core::Buffer& UpstreamExchange::request_out() {
  if (out_ == nullptr) out_ = worker_.buffers().acquire();
  return *out_;
}

bool UpstreamExchange::forward_head(gate::Exchange& x, SnapshotHold* hold,
                                    const http::RequestHead& req, const ForwardContext& ctx,
                                    bool replayable) {
  x_ = &x;
  hold_ = hold;
  req_ = &req;
  ctx_ = ctx;
  replayable_ = replayable;
  core::Buffer& out = request_out();
  out.clear();
  return write_request_head(req, ctx, out);
}

bool UpstreamExchange::connect(net::Balancer::Peer* to) {
  const std::int64_t now = worker_.loop().now_ms();
  if (balancer_ == nullptr) {
    const std::size_t index = x_->route->upstream_index;
    if (index >= hold_->balancers.size()) {
      fail(502, "no upstream for this route");
      return false;
    }
    balancer_ = hold_->balancers[index];
  }
  net::Balancer::Peer* peer = to != nullptr ? to : balancer_->pick(now);
  if (peer == nullptr) {
    // Every server is down or ejected: one clear answer with a time to come back, not a 502
    // per request. The upstream's name stays in the log and the events, not in the answer.
    worker_.stats().upstream_unavailable.add();
    fail(503,
         "no server of this service is available right now (all are down or failing); "
         "retry after the time in Retry-After",
         balancer_->retry_after_s(now));
    return false;
  }
  drop_peer();
  balancer_->use(peer);
  chosen_ = peer;
  peer->endpoint->requests.fetch_add(1, std::memory_order_relaxed);
  std::string error;
  auto r = worker_.upstreams().acquire(peer->endpoint->address, x_->upstream->max_connections, this,
                                       &up_, &error);
  if (r == net::UpstreamPool::Acquire::Busy) {
    worker_.stats().upstream_busy.add();
    fail(503, "upstream at its connection limit", 1);
    return false;
  }
  if (r == net::UpstreamPool::Acquire::Failed) return connect_failed(error, 502);
  progress_ms_ = now;
  request_sent_ms_ = 0;
  return true;
}

bool UpstreamExchange::connect_failed(std::string_view why, int status) {
  worker_.stats().upstream_connect_failures.add();
  blame(why);
  if (up_ != nullptr) {
    worker_.upstreams().close(up_);
    up_ = nullptr;
  }
  // Nothing was sent (we write only once connected): any request may go elsewhere, once.
  net::Balancer::Peer* other =
      moved_ || balancer_ == nullptr ? nullptr : balancer_->pick(worker_.loop().now_ms(), chosen_);
  if (other == nullptr) {
    fail(status, status == 504 ? "upstream connect timed out" : "cannot connect to upstream");
    return false;
  }
  moved_ = true;
  worker_.stats().upstream_retried_elsewhere.add();
  return connect(other);
}

void UpstreamExchange::blame(std::string_view why) {
  if (chosen_ == nullptr || balancer_ == nullptr) return;
  if (balancer_->group().failed(*chosen_->endpoint, worker_.loop().now_ms(), why)) {
    worker_.stats().upstream_ejections.add();
  }
}

void UpstreamExchange::end() {
  drop_peer();
}

void UpstreamExchange::drop_peer() {
  if (chosen_ == nullptr) return;
  balancer_->release(chosen_);
  chosen_ = nullptr;
}

void UpstreamExchange::fail(int status, std::string_view detail, std::uint32_t retry_after) {
  close();
  owner_.upstream_failed(status, detail, retry_after);
}

void UpstreamExchange::on_upstream_events(std::uint32_t events) {
  if (up_ == nullptr) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_->readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_->hangup = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) up_->writable = true;
  if (!up_->connected) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (const int err = net::connect_error(up_->fd); err != 0) {
      connect_failed(std::strerror(err), 502);
      owner_.upstream_progress();
      return;
    }
    up_->connected = true;
    progress_ms_ = worker_.loop().now_ms();
  }
  owner_.upstream_progress();
}

bool UpstreamExchange::write(bool request_done) {
  if (up_ == nullptr || !up_->connected || !up_->writable || out_ == nullptr || out_->empty())
    return false;
  ssize_t n = worker_.loop().send(up_->fd, out_->read_ptr(), out_->readable());
  if (n > 0) {
    out_->consume(static_cast<std::size_t>(n));
    progress_ms_ = worker_.loop().now_ms();
    if (out_->empty() && request_done) request_sent_ms_ = progress_ms_;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    up_->writable = false;
    return false;
  }
  if (n < 0 && errno == EINTR) return true;
  // The upstream went away while we were sending: maybe it already answered (e.g. 413).
  eof_ = true;
  up_->writable = false;
  return true;
}

bool UpstreamExchange::read() {
  if (up_ == nullptr || !up_->connected || !up_->readable || eof_) return false;
  if (in_ == nullptr) in_ = worker_.buffers().acquire();
  if (in_->writable() == 0) {
    in_->compact();
    if (in_->writable() == 0) return false;
  }
  const std::size_t want = in_->writable();
  ssize_t n = ::recv(up_->fd, in_->write_ptr(), want, 0);
  if (n > 0) {
    in_->commit(static_cast<std::size_t>(n));
    // A short read drained the socket: the next byte raises a new edge (not after a hang-up).
    if (static_cast<std::size_t>(n) < want && !up_->hangup) up_->readable = false;
    progress_ms_ = worker_.loop().now_ms();
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    up_->readable = false;
    return false;
  }
  if (n < 0 && errno == EINTR) return true;
  eof_ = true;  // FIN or reset: what is buffered is all there will be
  return true;
}

bool UpstreamExchange::pump_head() {
  if (head_done_) return false;
  if (in_ == nullptr || in_->empty()) {
    if (eof_) {
      // Closed before answering. A reused keep-alive connection may have been closed by the
      // upstream just as we sent: one retry on a fresh connection, for retryable requests only.
      if (up_ != nullptr && up_->reused && !retried_ && replayable_ && retryable(*req_)) {
        worker_.stats().upstream_retries.add();
        retried_ = true;
        worker_.upstreams().close(up_);
        up_ = nullptr;
        eof_ = false;
        out_->clear();
        write_request_head(*req_, ctx_, *out_);
        return connect();
      }
      // A fresh connection closed unanswered is the server's doing; a reused one may simply
      // have met the server's keep-alive timeout.
      if (up_ != nullptr && !up_->reused) blame("closed the connection without answering");
      fail(502, "upstream closed the connection without answering");
    }
    return false;
  }
  const policy::LimitsConfig& lim = hold_->snapshot->config.limits;
  http::HeadLimits limits;
  limits.max_head_bytes = lim.max_head_bytes;
  limits.max_fields = lim.max_header_fields;
  limits.max_target_bytes = lim.max_target_bytes;
  http::ParseResult r = http::parse_response(in_->view(), limits, req_->method, resp_);
  if (r.status == http::ParseStatus::NeedMore) {
    if (eof_) {
      blame("closed the connection mid-head");
      fail(502, "upstream closed the connection mid-head");
    } else if (in_->writable() == 0) {
      blame("response head too large");
      fail(502, "upstream response head too large");
    }
    return false;
  }
  if (r.status == http::ParseStatus::Error) {
    blame(http::describe(r.error));
    fail(502, http::describe(r.error));
    return false;
  }
  if (resp_.status == 101) {
    // Only the switch the route opted into and the client asked for; anything else would splice
    // a protocol nobody chose.
    if (x_->upgrade.empty() || !http::switch_accepted(resp_, x_->upgrade)) {
      fail(502, x_->upgrade.empty() ? "upstream switched protocols unasked"
                                    : "upstream switched to another protocol than asked for");
      return false;
    }
  } else if (resp_.status < 200) {
    in_->consume(r.consumed);  // interim responses: 100-continue is answered by us
    return true;
  }
  // The pipeline settles what depends on the answer (count_when limits, the device token of a
  // login, admission feedback); passive health counts the statuses the upstream lists.
  {
    const gate::Clock now = worker_.clock();
    const std::int64_t latency = request_sent_ms_ != 0 ? now.mono_ms - request_sent_ms_ : 0;
    worker_.pipeline().settle(*x_, resp_, latency * 1000, now);
    if (chosen_ != nullptr) {
      const auto& counted = x_->upstream->ejection.statuses;
      if (std::find(counted.begin(), counted.end(), resp_.status) != counted.end()) {
        blame("answered " + std::to_string(resp_.status));
      } else {
        balancer_->group().succeeded(*chosen_->endpoint, now.mono_ms);
      }
    }
  }
  if (!owner_.upstream_head(resp_)) return false;
  in_->consume(r.consumed);
  head_done_ = true;
  worker_.stats().responses_proxied.add();
  if (resp_.status == 101) {
    switched_ = true;  // no body: what follows is the new protocol's, spliced by the owner
    return true;
  }
  remaining_ = resp_.body == http::BodyKind::ContentLength ? resp_.content_length : 0;
  if (resp_.body == http::BodyKind::None ||
      (resp_.body == http::BodyKind::ContentLength && remaining_ == 0)) {
    done_ = true;
  }
  return true;
}

bool UpstreamExchange::pump_body(core::Buffer& sink, bool rechunk) {
  bool progress = false;
  if (!head_done_ || done_ || switched_ || in_ == nullptr) return false;
  switch (resp_.body) {
    case http::BodyKind::ContentLength: {
      std::size_t n = std::min<std::uint64_t>(remaining_, in_->readable());
      n = std::min(n, sink.writable());
      if (n > 0) {
        sink.append({in_->read_ptr(), n});
        in_->consume(n);
        remaining_ -= n;
        progress = true;
      }
      if (remaining_ == 0) done_ = true;
      break;
    }
    case http::BodyKind::Chunked:
      while (!in_->empty() && sink.writable() > kChunkOverhead) {
        std::string_view feed = in_->view().substr(0, sink.writable() - kChunkOverhead);
        http::ChunkedDecoder::Step s = chunked_.step(feed);
        if (s.status == http::ParseStatus::Error) {
          cut_short_ = true;  // the head is out: all we can do is cut the response short
          done_ = true;
          eof_ = true;
          return true;
        }
        if (!s.data.empty()) {
          if (rechunk) write_chunk_header(s.data.size(), sink);
          sink.append(s.data);
          if (rechunk) sink.append("\r\n");
        }
        in_->consume(s.consumed);
        progress |= s.consumed > 0;
        if (s.status == http::ParseStatus::Complete) {
          if (rechunk) sink.append("0\r\n\r\n");
          done_ = true;
          break;
        }
        if (s.consumed == 0) break;
      }
      break;
    case http::BodyKind::UntilClose: {
      std::size_t n = std::min(in_->readable(), sink.writable());
      if (n > 0) {
        sink.append({in_->read_ptr(), n});
        in_->consume(n);
        progress = true;
      }
      if (eof_ && in_->empty()) done_ = true;
      break;
    }
    case http::BodyKind::None:
      done_ = true;
      break;
  }
  if (!done_ && eof_ && in_->empty()) {
    // Truncated by the upstream: pass on what came, then close so the client sees it short.
    cut_short_ = true;
    done_ = true;
    progress = true;
  }
  return progress;
}

void UpstreamExchange::finish(bool request_done) {
  if (up_ == nullptr) return;
  // Bytes after the response (a body behind a 204, a second answer) must not reach the next
  // client: a connection that became readable again since our last short read is not reused.
  const bool reusable =
      resp_.keep_alive && request_done && !eof_ && resp_.body != http::BodyKind::UntilClose &&
      (out_ == nullptr || out_->empty()) && (in_ == nullptr || in_->empty()) && !up_->readable;
  worker_.upstreams().release(up_, reusable, x_->upstream->max_idle_connections,
                              x_->upstream->keepalive_timeout);
  up_ = nullptr;
}

bool UpstreamExchange::splice_readable() const {
  return up_ != nullptr && up_->readable;
}

bool UpstreamExchange::splice_writable() const {
  return up_ != nullptr && up_->writable;
}

ssize_t UpstreamExchange::splice_read(char* p, std::size_t n) {
  if (up_ == nullptr || eof_) return 0;
  const ssize_t r = ::recv(up_->fd, p, n, 0);
  if (r == 0) eof_ = true;
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) up_->readable = false;
  return r;
}

ssize_t UpstreamExchange::splice_write(const char* p, std::size_t n) {
  if (up_ == nullptr) {
    errno = EPIPE;
    return -1;
  }
  // Request bytes a short send left behind go before anything of the new protocol.
  while (out_ != nullptr && !out_->empty()) {
    const ssize_t r = worker_.loop().send(up_->fd, out_->read_ptr(), out_->readable());
    if (r <= 0) {
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) up_->writable = false;
      return r < 0 ? r : 0;
    }
    out_->consume(static_cast<std::size_t>(r));
  }
  const ssize_t r = worker_.loop().send(up_->fd, p, n);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) up_->writable = false;
  return r;
}

void UpstreamExchange::close() {
  if (up_ == nullptr) return;
  worker_.upstreams().close(up_);
  up_ = nullptr;
}

void UpstreamExchange::clear_request() {
  if (out_ != nullptr) out_->clear();
}

void UpstreamExchange::release_idle_buffers() {
  for (core::Buffer** b : {&in_, &out_}) {
    if (*b != nullptr && (*b)->empty()) {
      worker_.buffers().release(*b);
      *b = nullptr;
    }
  }
}

void UpstreamExchange::release_buffers() {
  for (core::Buffer** b : {&in_, &out_}) {
    worker_.buffers().release(*b);
    *b = nullptr;
  }
}

void UpstreamExchange::update_timer(bool active) {
  std::int64_t deadline = 0;
  const policy::UpstreamConfig* upstream = x_ != nullptr ? x_->upstream : nullptr;
  if (active && up_ != nullptr && upstream != nullptr) {
    if (!up_->connected) {
      deadline = progress_ms_ + upstream->connect_timeout;
    } else if (!head_done_ && request_sent_ms_ != 0) {
      deadline = request_sent_ms_ + upstream->first_byte_timeout;
    } else if (!(in_ != nullptr && in_->writable() == 0)) {
      // A full buffer means the client is slow; the client's send deadline governs then.
      deadline = progress_ms_ + upstream->idle_timeout;
    }
  }
  net::TimerWheel& wheel = worker_.loop().timers();
  if (deadline == 0) {
    wheel.cancel(timer_);
  } else if (!timer_.armed || timer_.deadline_ms != deadline) {
    wheel.arm(timer_, deadline);
  }
}

void UpstreamExchange::on_timer(void* self) {
  auto* u = static_cast<UpstreamExchange*>(self);
  if (u->up_ == nullptr) return;
  u->worker_.stats().upstream_timeouts.add();
  if (!u->up_->connected) {
    u->connect_failed("connect timed out", 504);
  } else {
    u->blame(u->head_done_ ? "idle mid-response" : "no answer in time");
    u->fail(504, "upstream did not answer in time");
  }
  u->owner_.upstream_progress();
}

}  // namespace gh::proxy
