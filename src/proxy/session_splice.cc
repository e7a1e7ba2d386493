// The HTTP/1.1 session's side of an upgraded connection (a WebSocket after its 101): the hand-over
// from the exchange to the splice, the splice's turns, its end, and the client side it reads and
// writes. The splice itself (both directions, idle and byte limits) is splice.cc.
#include <cerrno>

#include "gate/pipeline.h"
#include "policy/snapshot.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace gh::proxy {

void Session::start_splice() {
  const gate::Clock now = worker_.clock();
  // The 101 is the request's answer: its admission slot and device place go back now, not when
  // the connection ends hours later (ARCHITECTURE.md, "Upgraded connections"). The exchange is
  // recorded at the end, once, with the bytes of the whole connection.
  worker_.pipeline().end(x_, 101, now);
  worker_.stats().upgrade_splices.add();  // before any way out below: open = started - ended
  if (head_len_ != 0) {
    in_->consume(head_len_);  // what follows the head is the client's first bytes of the protocol
    head_len_ = 0;
    x_.head = nullptr;  // its views are gone with it
    x_.upgrade = {};
  }
  // The upstream's bytes behind its 101 follow the 101 to the client.
  std::uint64_t early = 0;
  if (core::Buffer* b = ux_.response_buffer(); b != nullptr && !b->empty()) {
    if (b->readable() > out_->writable()) out_->compact();
    if (b->readable() > out_->writable()) {
      worker_.stats().upgrade_ended_error.add();
      close_now();
      return;
    }
    early = b->readable();
    out_->append(b->view());
    b->clear();
  }
  const policy::RouteConfig& route = *x_.route;
  splice_.start(in_, out_, in_->readable(), early,
                SpliceLimits{route.upgrade_idle_timeout, route.upgrade_max_bytes}, now.mono_ms);
  splice_up_counted_ = splice_down_counted_ = 0;
  phase_ = Phase::Splice;
  if (!splice_.active()) end_splice();
}

bool Session::pump_splice() {
  const bool progress = splice_.pump(*this, ux_, worker_.loop().now_ms());
  gate::WorkerStats& st = worker_.stats();
  st.upgrade_bytes_to_upstream.add(splice_.bytes_to_upstream() - splice_up_counted_);
  st.upgrade_bytes_to_client.add(splice_.bytes_to_client() - splice_down_counted_);
  splice_up_counted_ = splice_.bytes_to_upstream();
  splice_down_counted_ = splice_.bytes_to_client();
  if (!splice_.active()) {
    end_splice();
    return false;
  }
  return progress;
}

void Session::end_splice() {
  gate::WorkerStats& st = worker_.stats();
  switch (splice_.outcome()) {
    case SpliceOutcome::Open:
      return;
    case SpliceOutcome::Closed:
      st.upgrade_ended_closed.add();
      break;
    case SpliceOutcome::Idle:
      st.upgrade_ended_idle.add();
      break;
    case SpliceOutcome::Limit:
      st.upgrade_ended_limit.add();
      break;
    case SpliceOutcome::Error:
      st.upgrade_ended_error.add();
      break;
    case SpliceOutcome::Shutdown:
      st.upgrade_ended_shutdown.add();
      break;
  }
  close_now();  // both sides; the upstream connection carried another protocol: never pooled
}

ssize_t Session::splice_read(char* p, std::size_t n) {
  if (client_eof_) return 0;
  const ssize_t r = client_recv(p, n);
  if (r == 0) client_eof_ = true;
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) client_readable_ = false;
  return r;
}

ssize_t Session::splice_write(const char* p, std::size_t n) {
  const ssize_t r = client_send(p, n);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) client_writable_ = false;
  return r;
}
}  // namespace gh::proxy
