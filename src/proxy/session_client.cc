// The HTTP/1.1 session's client transport: the connection from accept to its first request (the
// PROXY header, the TLS handshake, the hand-over to HTTP/2), the bytes read from and written to
// the client socket (through TLS when the listener terminates it), and its end (lingering close,
// graceful shutdown, close). The request flow is session.cc; an upgraded connection's splice is
// session_splice.cc.
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "client/proxy_protocol.h"
#include "proxy/session.h"
#include "proxy/worker.h"
#include "tls/client_hello.h"

namespace gh::proxy {

namespace {
constexpr std::uint32_t kClientEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr std::int64_t kLingerMs = 2'000;
constexpr std::size_t kLingerBytes = 256 * 1024;
}  // namespace

void Session::start(int fd, const client::SocketAddress& peer, bool proxy_protocol, bool counted,
                    policy::DecideFor decide, bool http2, tls::ServerContextPtr tls) {
  h2_.reset();
  ja4_len_ = false;
  x_.ja4 = {};  // the exchange outlives connections: a fingerprint belongs to one
  fd_ = fd;
  decide_ = decide;
  http2_ = http2;
  peer_ = peer;
  counted_ip_ = peer.ip;
  counted_ = counted;
  phase_ = proxy_protocol ? Phase::ProxyHeader : Phase::Head;
  client_readable_ = client_writable_ = client_eof_ = client_hangup_ = false;
  close_after_ = shutting_down_ = redrive_pending_ = false;
  requests_ = 0;
  head_len_ = 0;
  ++serial_;
  const std::int64_t now = worker_.loop().now_ms();
  head_start_ms_ = client_progress_ms_ = now;
  tls_on_ = tls != nullptr;
  if (tls_on_) {
    // Counted from accept: a connection that never sends a byte holds a handshake place too.
    handshaking_ = true;
    worker_.handshake_begun();
    handshake_timeout_ms_ = tls->config().handshake_timeout;
    phase_ = Phase::Handshake;
    if (!tls_.start(std::move(tls), fd_)) {
      close_now();
      return;
    }
  }
  if (!worker_.loop().add(fd_, this, kClientEvents)) {
    close_now();
    return;
  }
  if (http2_ && !proxy_protocol && !tls_on_) {
    start_h2();
    return;
  }
  update_timers();
}

void Session::start_h2(std::string_view preread) {
  worker_.loop().timers().cancel(client_timer_);
  h2_ = std::make_unique<H2Session>(worker_, *this, peer_);
  if (!h2_->start(preread)) close_now();
}

ssize_t Session::transport_read(char* p, std::size_t n) {
  return client_recv(p, n);
}

ssize_t Session::transport_write(const char* p, std::size_t n) {
  return client_send(p, n);
}

void Session::transport_shutdown_write() {
  if (tls_on_) tls_.shutdown();  // close_notify before the FIN
  worker_.loop().shutdown_write(fd_);
}

void Session::transport_close() {
  close_now();
}

void Session::on_events(std::uint32_t events) {
  if (fd_ < 0) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_readable_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_hangup_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) client_writable_ = true;
  // A TLS read may wait for the socket to take its answer (a TLS 1.3 key update).
  if (tls_on_ && (events & EPOLLOUT) && tls_.read_wants_write()) client_readable_ = true;
  if (h2_ != nullptr) {
    h2_->on_io(client_readable_, client_writable_, client_hangup_);
    client_readable_ = client_writable_ = false;  // the H2 session keeps its own edge state
    return;
  }
  drive();
}

// ---- client socket --------------------------------------------------------------------------

bool Session::read_client() {
  if (!client_readable_ || client_eof_) return false;
  if (in_ == nullptr) in_ = worker_.buffers().acquire();
  if (in_->writable() == 0) {
    // A head must be contiguous; moving bytes is only safe while no head is referenced.
    if (head_len_ != 0) return false;
    in_->compact();
    if (in_->writable() == 0) return false;
  }
  const bool was_empty = in_->empty();
  const std::size_t want = in_->writable();
  ssize_t n = client_recv(in_->write_ptr(), want);
  if (n > 0) {
    in_->commit(static_cast<std::size_t>(n));
    // A short read drained the socket: the next byte raises a new edge, so the recv that would
    // only say EAGAIN is skipped. Not after a hang-up, whose edge is already consumed, nor over
    // TLS, which returns one record at a time.
    if (static_cast<std::size_t>(n) < want && !client_hangup_ && !tls_on_) {
      client_readable_ = false;
    }
    client_progress_ms_ = worker_.loop().now_ms();
    if (phase_ == Phase::Head && was_empty && requests_ > 0) head_start_ms_ = client_progress_ms_;
    return true;
  }
  if (n == 0) {
    client_eof_ = true;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    client_readable_ = false;
    return false;
  }
  if (errno == EINTR) return true;
  close_now();
  return false;
}

// ---- TLS ------------------------------------------------------------------------------------

bool Session::handshake() {
  switch (tls_.handshake()) {
    case tls::TlsConn::Step::Done: {
      // The fingerprint is read from the raw hello (OpenSSL's view hides GREASE and extensions
      // it does not know). A hello our reader finds malformed is refused: otherwise a client
      // could go unfingerprinted by sending one that OpenSSL tolerates.
      thread_local tls::ClientHello hello;
      const tls::HelloResult parsed = tls::parse_client_hello(tls_.client_hello(), hello);
      if (parsed.status == tls::HelloStatus::Error) break;
      if (parsed.status == tls::HelloStatus::Complete) {
        if (auto j = tls::ja4(hello)) {
          ja4_ = *j;
          ja4_len_ = true;
          x_.ja4 = ja4_.view();
        }
      }
      end_handshake(true);
      phase_ = Phase::Head;
      head_start_ms_ = client_progress_ms_ = worker_.loop().now_ms();
      if (http2_ && tls_.alpn() == "h2") {
        client_readable_ = true;  // the preface may already sit in OpenSSL's buffer
        start_h2();
        if (h2_ != nullptr && h2_->open()) h2_->on_io(true, true, client_hangup_);
        return false;
      }
      return true;
    }
    case tls::TlsConn::Step::WantRead:
      client_readable_ = false;
      return false;
    case tls::TlsConn::Step::WantWrite:
      client_writable_ = false;
      return false;
    case tls::TlsConn::Step::Failed:
      break;
  }
  close_now();  // counted as failed there
  return false;
}

void Session::end_handshake(bool ok) {
  handshaking_ = false;
  worker_.handshake_ended();
  gate::WorkerStats& st = worker_.stats();
  if (!ok) {
    st.tls_handshakes_failed.add();
    return;
  }
  st.tls_handshakes_ok.add();
  if (tls_.resumed()) st.tls_resumed.add();
  const bool ktls = tls_.ktls_send();
  if (ktls) st.tls_ktls_send.add();
  // Whether the kernel took the record layer over is known only once a handshake is done.
  static std::atomic<bool> said{false};
  if (!said.exchange(true, std::memory_order_relaxed)) {
    spdlog::info("tls: first handshake done ({}); kernel TLS for sends: {}", tls_.version(),
                 ktls ? "on" : "off (the kernel offers none here, or tls.ktls is false)");
  }
}

ssize_t Session::client_recv(void* buf, std::size_t len) {
  return tls_on_ ? tls_.read(buf, len) : ::recv(fd_, buf, len, 0);
}

ssize_t Session::client_send(const void* buf, std::size_t len) {
  return tls_on_ ? tls_.write(buf, len) : worker_.loop().send(fd_, buf, len);
}

bool Session::write_client() {
  if (out_ == nullptr || out_->empty() || !client_writable_) return false;
  ssize_t n = client_send(out_->read_ptr(), out_->readable());
  if (n > 0) {
    out_->consume(static_cast<std::size_t>(n));
    client_progress_ms_ = worker_.loop().now_ms();
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    client_writable_ = false;
    return false;
  }
  if (n < 0 && errno == EINTR) return true;
  close_now();  // the client is gone: nothing left to say to it
  return false;
}

bool Session::parse_proxy_header() {
  if (in_ == nullptr || in_->empty()) {
    if (client_eof_) close_now();
    return false;
  }
  client::ProxyHeaderResult r = client::parse_proxy_header(in_->view());
  if (r.status == client::ProxyStatus::NeedMore) {
    if (client_eof_) close_now();
    return false;
  }
  if (r.status == client::ProxyStatus::Error) {
    // Not our load balancer speaking: refuse without an HTTP answer it would not expect.
    worker_.stats().requests_refused_parse.add();
    close_now();
    return false;
  }
  if (!r.local) peer_ = r.source;
  in_->consume(r.consumed);
  phase_ = Phase::Head;
  if (http2_) {
    // What followed the PROXY header is the start of the HTTP/2 preface.
    const std::string rest(in_->view());
    worker_.buffers().release(in_);
    in_ = nullptr;
    client_readable_ = true;  // more may wait in the socket: the H2 session reads on
    start_h2(rest);
    if (h2_ != nullptr && h2_->open()) h2_->on_io(true, true, client_hangup_);
    return false;
  }
  return true;
}

// ---- closing --------------------------------------------------------------------------------

void Session::start_linger() {
  if (tls_on_) tls_.shutdown();  // close_notify before the FIN
  worker_.loop().shutdown_write(fd_);
  phase_ = Phase::Linger;
  linger_until_ms_ = worker_.loop().now_ms() + kLingerMs;
  linger_budget_ = kLingerBytes;
}

bool Session::linger_read() {
  if (!client_readable_) return false;
  char sink[4096];
  ssize_t n = client_recv(sink, sizeof sink);
  if (n > 0 && static_cast<std::size_t>(n) < linger_budget_) {
    linger_budget_ -= static_cast<std::size_t>(n);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    client_readable_ = false;
    return false;
  }
  close_now();  // EOF, error, or the client kept sending past the budget
  return false;
}

void Session::begin_shutdown() {
  shutting_down_ = true;
  if (h2_ != nullptr) {
    h2_->begin_shutdown();
    return;
  }
  if (phase_ == Phase::Splice) {
    // An upgraded connection has no end of exchange to wait for: the client reconnects.
    splice_.stop();
    end_splice();
    return;
  }
  // Mid-handshake there is no request to finish.
  if (phase_ == Phase::Handshake || (phase_ == Phase::Head && (in_ == nullptr || in_->empty()) &&
                                     (out_ == nullptr || out_->empty()))) {
    close_now();
    return;
  }
  close_after_ = true;
}

void Session::close_now() {
  if (fd_ < 0) return;
  // The H2 session closes its streams first, then calls transport_close(), back here.
  if (h2_ != nullptr && h2_->open()) {
    h2_->close();
    return;
  }
  ux_.close();
  if (handshaking_) end_handshake(false);
  if (tls_on_) {
    tls_.shutdown();
    tls_.reset();
    tls_on_ = false;
  }
  worker_.loop().close(fd_);
  fd_ = -1;
  worker_.loop().timers().cancel(client_timer_);
  ux_.update_timer(false);
  end_exchange();  // counts the head still held in in_ (the access log's bytes_in)
  head_len_ = 0;
  for (core::Buffer** b : {&in_, &out_}) {
    worker_.buffers().release(*b);
    *b = nullptr;
  }
  ux_.release_buffers();
  if (counted_) {
    worker_.counter().release(counted_ip_);
    counted_ = false;
  }
  worker_.session_closed(this);
}

void Session::release_idle_buffers() {
  // Between requests a connection keeps no buffer it does not need: idle keep-alive connections
  // then cost a few hundred bytes each, not tens of KiB.
  for (core::Buffer** b : {&in_, &out_}) {
    if (*b != nullptr && (*b)->empty()) {
      worker_.buffers().release(*b);
      *b = nullptr;
    }
  }
  ux_.release_idle_buffers();
}

}  // namespace gh::proxy
