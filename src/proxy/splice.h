// The byte copy of an upgraded connection (a WebSocket after its 101): client and upstream
// spliced both ways, nothing parsed. Each direction has one bounded buffer: a full buffer stops
// reading the side that fills it until the other side took bytes (back-pressure), so a peer that
// does not read pins one buffer, no more. The splice ends when either side closes and what it sent
// was delivered (as nginx ends an upgraded connection), on an error, when a direction goes over its
// byte limit, or when no byte moved for the idle timeout. Pure logic over `SplicePeer`s: the
// session gives its client side (plain or TLS) and the upstream exchange its connection.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "core/buffer.h"
#include "proxy/splice-t.h"

namespace gh::proxy {

// One side of a splice, with recv/send conventions: > 0 bytes moved, 0 end of stream (reads),
// -1 and errno (EAGAIN: nothing more now, and the side forgets its readiness until its next
// readiness event; EINTR: try again).
class SplicePeer {
 public:
  virtual bool splice_readable() const = 0;
  virtual bool splice_writable() const = 0;
  virtual ssize_t splice_read(char* p, std::size_t n) = 0;
  virtual ssize_t splice_write(const char* p, std::size_t n) = 0;

 protected:
  ~SplicePeer() = default;
};

class Splice {
 public:
  // `to_upstream` and `to_client` (not owned) may hold bytes already: the client's sent behind
  // its request head, the 101 head and the upstream's bytes behind it. `*_early` of those bytes
  // count against the limits (the 101 head does not).
  void start(core::Buffer* to_upstream, core::Buffer* to_client, std::uint64_t upstream_early,
             std::uint64_t client_early, const SpliceLimits& limits, std::int64_t now_ms);
  // One read and one write per direction, as readiness allows. True when a byte moved or a side
  // ended: call again until false (then wait for readiness or the deadline).
  bool pump(SplicePeer& client, SplicePeer& upstream, std::int64_t now_ms);
  // The idle deadline has come (a timer): ends the splice when no byte moved since.
  bool expire(std::int64_t now_ms);
  void stop() {
    if (outcome_ == SpliceOutcome::Open) outcome_ = SpliceOutcome::Shutdown;
  }

  bool active() const { return outcome_ == SpliceOutcome::Open; }
  SpliceOutcome outcome() const { return outcome_; }
  std::int64_t deadline_ms() const { return last_progress_ms_ + limits_.idle_timeout_ms; }
  // Bytes of the new protocol delivered, per direction (the 101 head ahead of them is not).
  std::uint64_t bytes_to_upstream() const { return up_.written; }
  std::uint64_t bytes_to_client() const {
    return down_.written > head_bytes_ ? down_.written - head_bytes_ : 0;
  }

 private:
  struct Flow {
    core::Buffer* buf = nullptr;
    std::uint64_t read = 0;     // counted against the limit
    std::uint64_t written = 0;  // delivered to the other side
    bool eof = false;
  };
  bool flow(Flow& f, SplicePeer& from, SplicePeer& to);

  Flow up_{};                     // client -> upstream
  Flow down_{};                   // upstream -> client
  std::uint64_t head_bytes_ = 0;  // what to_client held ahead of the upstream's early bytes
  SpliceLimits limits_{};
  SpliceOutcome outcome_ = SpliceOutcome::Open;
  std::int64_t last_progress_ms_ = 0;
};

}  // namespace gh::proxy
