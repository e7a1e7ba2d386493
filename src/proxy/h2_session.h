// One HTTP/2 client connection (RFC 9113, server side, on nghttp2): frames in through
// nghttp2_session_mem_recv, frames out through mem_send, the session's want_read/want_write
// deciding when it is over. Each stream is one request through the same decision pipeline as an
// HTTP/1.1 request (gate/Pipeline: routes, limits, challenges, waiting room, admission), its
// head converted to HTTP/1.1 text and parsed by src/http with the same strictness; a forwarded
// stream goes to the upstream pool over HTTP/1.1 (upstream_exchange.h), the pipeline's own
// answers become HTTP/2 responses. The floods HTTP/2 allows are counted per connection and a
// connection that trips a budget is closed with GOAWAY (h2_session.cc states the numbers).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "client/address-t.h"
#include "core/buffer.h"
#include "net/timer.h"

struct nghttp2_session;

namespace gh::proxy {

class Worker;
struct H2Stream;

// The connected client byte stream an HTTP/2 session runs on: a plain socket (h2c with prior
// knowledge), or TLS once ALPN chose "h2". Both calls behave as recv/send on a non-blocking
// socket: > 0 bytes moved, 0 the peer closed (read), -1 with errno (EAGAIN: not now).
class ClientTransport {
 public:
  virtual ssize_t transport_read(char* p, std::size_t n) = 0;
  virtual ssize_t transport_write(const char* p, std::size_t n) = 0;
  // No more bytes from us (after GOAWAY); reading goes on.
  virtual void transport_shutdown_write() = 0;
  // The connection is over: the transport closes and releases what it holds.
  virtual void transport_close() = 0;
  // Over TLS (X-Forwarded-Proto: https, Secure cookies), and the ClientHello's JA4 (empty on
  // clear text): properties of the connection every stream carries.
  virtual bool transport_tls() const { return false; }
  virtual std::string_view transport_ja4() const { return {}; }

 protected:
  ~ClientTransport() = default;
};

// Why a connection was cut with GOAWAY (metrics: gatehouse_h2_connections_cut_total{reason}).
enum class H2Cut : std::uint8_t {
  RapidReset,     // client RST_STREAMs over budget (CVE-2023-44487)
  ServerResets,   // streams we had to reset (malformed, refused) over budget (CVE-2025-8671)
  ControlFlood,   // SETTINGS, PING, PRIORITY, empty DATA / CONTINUATION, WINDOW_UPDATE over budget
  StreamBurst,    // too many new streams in one read pass
  ProtocolError,  // a connection error nghttp2 detected (includes CONTINUATION floods)
};

class H2Session {
 public:
  H2Session(Worker& worker, ClientTransport& transport, const client::SocketAddress& peer);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Starts the session: sends our SETTINGS; `preread` are bytes already read from the
  // transport (e.g. after PROXY protocol). False: it could not start (the caller closes).
  bool start(std::string_view preread = {});
  // The transport became readable / writable (edge-triggered).
  void on_io(bool readable, bool writable, bool hangup);
  // Graceful stop: GOAWAY, finish the streams in flight, close.
  void begin_shutdown();
  // Closes at once (transport_close is called).
  void close();
  bool open() const { return open_; }

  // The connection's HTTP/2 fingerprint (Akamai form: SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo
  // order), fixed by its first request; empty before.
  std::string_view fingerprint() const { return fingerprint_; }

  // For streams (h2_session.cc).
  Worker& worker() { return worker_; }
  const client::SocketAddress& peer() const { return peer_; }
  bool over_tls() const { return transport_.transport_tls(); }
  std::string_view ja4() const { return transport_.transport_ja4(); }
  nghttp2_session* ng() { return ng_; }
  void drive();
  void drive_soon();          // from the loop, after the current work (safe if the session is gone)
  void stream_reset_by_us();  // counts a server-side reset against its budget
  void cut(H2Cut why);
  void stream_closed(H2Stream* s);

  // nghttp2 callbacks (static trampolines in h2_session.cc).
  int on_begin_headers(std::int32_t id);
  int on_header(H2Stream* s, std::string_view name, std::string_view value);
  int on_frame_recv(const void* frame);
  int on_begin_frame(const void* hd);
  int on_data_chunk(std::int32_t id, std::string_view data);
  int on_stream_close(std::int32_t id, std::uint32_t error);
  int on_frame_send(const void* frame);
  void note_settings(const void* frame);

 private:
  struct Bucket {  // a budget: `burst` at once, refilled at `per_s` per second
    double tokens = 0;
    std::int64_t at_ms = 0;
    bool take(std::int64_t now_ms, double burst, double per_s);
  };

  bool read();
  bool flush();
  void update_timer();
  void reap();
  void linger();
  static void on_timer(void* self);

  Worker& worker_;
  ClientTransport& transport_;
  client::SocketAddress peer_;
  nghttp2_session* ng_ = nullptr;
  bool open_ = false;
  bool readable_ = false;
  bool writable_ = false;
  bool hangup_ = false;
  bool eof_ = false;
  bool driving_ = false;
  bool again_ = false;
  bool drive_queued_ = false;  // a drive_soon() is pending: one per batch is enough
  bool cutting_ = false;       // GOAWAY queued: flush it, then close
  bool shutting_down_ = false;
  core::Buffer* out_ = nullptr;  // frames nghttp2 produced, not yet written
  std::string spill_;            // a frame that did not fit while the client was not reading
  bool lingering_ = false;
  std::size_t linger_budget_ = 0;
  H2Stream* streams_ = nullptr;  // live streams (intrusive list)
  H2Stream* dead_ = nullptr;     // closed streams, freed after the current pass
  std::uint32_t live_ = 0;
  std::uint32_t requests_ = 0;
  std::uint32_t new_in_pass_ = 0;
  Bucket client_resets_;
  Bucket server_resets_;
  Bucket control_;
  std::int64_t progress_ms_ = 0;  // last byte read or written
  std::int64_t started_ms_ = 0;
  net::Timer timer_;
  std::shared_ptr<H2Session*> alive_ = std::make_shared<H2Session*>(this);

  // Fingerprint parts, gathered until the first request's head is complete.
  std::string fp_settings_;
  std::uint32_t fp_window_ = 0;
  std::string fp_priority_;
  std::string fingerprint_;
  bool fp_settings_seen_ = false;

  friend struct H2Stream;
};

}  // namespace gh::proxy
