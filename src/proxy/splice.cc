#include "proxy/splice.h"

#include <algorithm>
#include <cerrno>

namespace gh::proxy {

namespace {
bool would_block() {
  return errno == EAGAIN || errno == EWOULDBLOCK;
}
}  // namespace

void Splice::start(core::Buffer* to_upstream, core::Buffer* to_client, std::uint64_t upstream_early,
                   std::uint64_t client_early, const SpliceLimits& limits, std::int64_t now_ms) {
  up_ = Flow{.buf = to_upstream, .read = upstream_early};
  down_ = Flow{.buf = to_client, .read = client_early};
  head_bytes_ =
      to_client->readable() - std::min<std::uint64_t>(client_early, to_client->readable());
  limits_ = limits;
  outcome_ = SpliceOutcome::Open;
  last_progress_ms_ = now_ms;
  if (up_.read > limits_.max_bytes || down_.read > limits_.max_bytes) {
    outcome_ = SpliceOutcome::Limit;
  }
}

bool Splice::pump(SplicePeer& client, SplicePeer& upstream, std::int64_t now_ms) {
  if (outcome_ != SpliceOutcome::Open) return false;
  bool progress = flow(up_, client, upstream);
  if (outcome_ == SpliceOutcome::Open) progress |= flow(down_, upstream, client);
  if (progress) last_progress_ms_ = now_ms;
  return progress && outcome_ == SpliceOutcome::Open;
}

bool Splice::expire(std::int64_t now_ms) {
  if (outcome_ == SpliceOutcome::Open && now_ms >= deadline_ms()) outcome_ = SpliceOutcome::Idle;
  return outcome_ != SpliceOutcome::Open;
}

bool Splice::flow(Flow& f, SplicePeer& from, SplicePeer& to) {
  bool progress = false;
  // Deliver first: it makes room for the next read.
  if (!f.buf->empty() && to.splice_writable()) {
    const ssize_t n = to.splice_write(f.buf->read_ptr(), f.buf->readable());
    if (n > 0) {
      f.buf->consume(static_cast<std::size_t>(n));
      f.written += static_cast<std::uint64_t>(n);
      progress = true;
    } else if (n < 0 && errno == EINTR) {
      progress = true;
    } else if (!(n < 0 && would_block())) {
      outcome_ = SpliceOutcome::Error;
      return true;
    }
  }
  if (!f.eof && from.splice_readable()) {
    if (f.buf->writable() == 0) f.buf->compact();
    // A full buffer is back-pressure: `from` is read again once `to` has taken bytes.
    if (f.buf->writable() != 0) {
      const std::uint64_t allowed = limits_.max_bytes - f.read;
      // One byte over the allowance is enough to know the limit is crossed.
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(f.buf->writable(), allowed + 1));
      const ssize_t n = from.splice_read(f.buf->write_ptr(), want);
      if (n > 0) {
        if (static_cast<std::uint64_t>(n) > allowed) {
          outcome_ = SpliceOutcome::Limit;
          return true;
        }
        f.buf->commit(static_cast<std::size_t>(n));
        f.read += static_cast<std::uint64_t>(n);
        progress = true;
      } else if (n == 0) {
        f.eof = true;
        progress = true;
      } else if (errno == EINTR) {
        progress = true;
      } else if (!would_block()) {
        outcome_ = SpliceOutcome::Error;
        return true;
      }
    }
  }
  // Either side's end of stream ends both once its bytes are out: a WebSocket has said its
  // Close by then, and a half-open splice would only hold two sockets.
  if (f.eof && f.buf->empty()) outcome_ = SpliceOutcome::Closed;
  return progress;
}

}  // namespace gh::proxy
