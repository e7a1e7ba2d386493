// One client connection and the exchanges on it: read a head, ask the pipeline (gate/) what to
// do, carry its Decision out (forward to an upstream with the bodies streamed both ways under
// backpressure, or write its answer), answer in order, keep alive or close. The session decides
// nothing about the request itself: it is the HTTP/1.1 transport of the pipeline's decisions.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "client/address-t.h"
#include "core/buffer.h"
#include "gate/decision-t.h"
#include "gate/exchange.h"
#include "http/message-t.h"
#include "http/parser.h"
#include "net/event_loop.h"
#include "net/timer.h"
#include "net/upstream_group.h"
#include "net/upstream_pool.h"
#include "policy/config-t.h"
#include "proxy/h2_session.h"
#include "proxy/observe.h"
#include "proxy/splice.h"
#include "proxy/upstream_exchange.h"
#include "proxy/worker.h"
#include "stages/admission/priority-t.h"
#include "stages/answer-t.h"
#include "tls/conn.h"
#include "tls/ja4.h"

namespace gh::admission {
class Limiter;
}

namespace gh::proxy {

class Worker;
struct SnapshotHold;

class Session final : public net::Handler,
                      public UpstreamExchange::Owner,
                      public Await::Owner,
                      public ClientTransport,
                      public SplicePeer {
 public:
  explicit Session(Worker& worker);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Takes ownership of an accepted, non-blocking socket.
  // `counted`: the connection holds a slot in the per-client counter, released on close.
  // `decide`: the listener answers a proxy in front instead of forwarding (decide.cc).
  // `http2`: the listener speaks HTTP/2 (h2c with prior knowledge on clear text; over TLS, when
  // ALPN chose "h2").
  // `tls`: the listener terminates TLS with these contexts (the handshake comes first).
  void start(int fd, const client::SocketAddress& peer, bool proxy_protocol, bool counted,
             policy::DecideFor decide = policy::DecideFor::None, bool http2 = false,
             tls::ServerContextPtr tls = nullptr);
  // From now on this connection speaks HTTP/2 (h2_session.h): prior knowledge on an h2c
  // listener, or TLS whose ALPN chose "h2". `preread`: bytes already read past the handshake.
  void start_h2(std::string_view preread = {});
  void on_events(std::uint32_t events) override;
  // Graceful stop: close now when idle, otherwise after the current response.
  void begin_shutdown();
  void force_close() { close_now(); }
  // The client transport (plain socket here) for an HTTP/2 session.
  ssize_t transport_read(char* p, std::size_t n) override;
  ssize_t transport_write(const char* p, std::size_t n) override;
  void transport_shutdown_write() override;
  void transport_close() override;
  bool transport_tls() const override { return tls_on_; }
  std::string_view transport_ja4() const override {
    return ja4_len_ ? ja4_.view() : std::string_view();
  }
  // The client side of a splice (an upgraded connection), through TLS when the listener has it.
  bool splice_readable() const override { return client_readable_; }
  bool splice_writable() const override { return client_writable_; }
  ssize_t splice_read(char* p, std::size_t n) override;
  ssize_t splice_write(const char* p, std::size_t n) override;
  bool open() const { return fd_ >= 0; }
  // The TLS side of the connection (ClientHello, ALPN, SNI), or nullptr over clear text.
  const tls::TlsConn* tls() const { return tls_on_ ? &tls_ : nullptr; }

  // Intrusive list of the worker's live sessions.
  Session* prev = nullptr;
  Session* next = nullptr;
  std::uint64_t listener = 0;  // the listener it came from (a removed one drains its sessions)

 private:
  enum class Phase : std::uint8_t {
    ProxyHeader,  // waiting for a PROXY protocol header
    Handshake,    // TLS handshake (tls.handshake_timeout)
    Head,         // reading a request head (idle keep-alive when nothing is buffered)
    Upstream,     // deciding (a pipeline that asked for the body waits for it), then the exchange
    Hold,         // the pipeline holds the request (delay, tarpit) or it waits for a slot
    Flush,        // response fully buffered: send it, then keep alive or close
    Linger,       // response sent and write side shut: drain the client before close
    Splice,       // the upstream switched protocols (101): bytes copied both ways until either ends
  };

  void drive();
  bool step();
  bool read_client();
  bool write_client();
  bool parse_proxy_header();
  bool handshake();
  void end_handshake(bool ok);
  // The client socket, through TLS when the listener terminates it; recv/send conventions.
  ssize_t client_recv(void* buf, std::size_t len);
  ssize_t client_send(const void* buf, std::size_t len);
  bool parse_head();
  void begin_exchange();
  // The pipeline's decision, carried out on this connection.
  void carry(const gate::Decision& d);
  bool try_decide();  // NeedBody: hands the body prefix over once enough of it is here
  void forward();     // serialise the head, start the body, connect upstream
  // The one place an answer Gatehouse writes itself becomes bytes: the pipeline's, and the
  // transport's own (parse errors, timeouts, upstream failures).
  void respond(const stages::Answer& a);
  void redrive_soon();
  void on_hold_expired();
  // A request parked for an admission slot or for the fleet's store (await_ knows which).
  bool await_parked() const override;
  void await_over(const gate::Decision& next, Await::Resume how) override;
  void await_granted() override;
  void maybe_send_continue();
  bool pump_request_body();
  bool pump_response();
  // The upstream side (upstream_exchange.h) reports here.
  void upstream_progress() override;
  bool upstream_head(const http::ResponseHead& resp) override;
  void upstream_failed(int status, std::string_view detail, std::uint32_t retry_after) override;
  void finish_exchange();
  void start_splice();
  bool pump_splice();
  void end_splice();
  void end_exchange();
  // The decision service (decide.cc): the request the proxy in front asks about, the answer
  // that lets it pass, a refusal in the form that proxy understands, and nginx's fetch of it.
  const http::RequestHead& describe_original();
  void allow();
  bool answer_fetch();
  stages::Answer for_host(const stages::Answer& a);
  void start_linger();
  bool linger_read();
  void close_now();
  void update_timers();
  void release_idle_buffers();
  static void on_client_timer(void* self);

  Worker& worker_;
  int fd_ = -1;
  tls::TlsConn tls_;
  bool tls_on_ = false;
  bool handshaking_ = false;  // counted in the worker's handshakes in progress
  tls::Ja4 ja4_{};            // the ClientHello's fingerprint, once the handshake is done
  bool ja4_len_ = false;      // ja4_ holds this connection's
  std::int64_t handshake_timeout_ms_ = 0;
  Phase phase_ = Phase::Head;
  client::SocketAddress peer_;    // socket peer, or the PROXY protocol source
  client::IpAddress counted_ip_;  // the address counted at accept
  bool counted_ = false;          // holds a slot in the per-client connection counter
  bool redrive_pending_ = false;
  std::uint64_t serial_ = 0;      // changes on every start(): deferred work checks it
  bool client_readable_ = false;  // edge-triggered readiness
  bool client_writable_ = false;
  bool client_eof_ = false;     // client sent FIN (read returned 0)
  bool client_hangup_ = false;  // epoll reported RDHUP/HUP/ERR: read until 0, never assume drained
  bool close_after_ = false;    // close once the current response is out
  bool shutting_down_ = false;
  std::uint32_t requests_ = 0;

  core::Buffer* in_ = nullptr;   // client -> us
  core::Buffer* out_ = nullptr;  // us -> client

  // Decision service: the listener's proxy, and the original request a subrequest describes.
  policy::DecideFor decide_ = policy::DecideFor::None;
  bool http2_ = false;
  // An HTTP/2 connection: the session only carries its bytes. Freed at the next start().
  std::unique_ptr<H2Session> h2_;
  bool subrequest_ = false;  // the request carried X-Original-* / X-Forwarded-Method/Uri
  bool allowed_ = false;     // answered "pass": the application's answer is not ours to count
  std::string original_text_;
  http::RequestHead original_{};
  std::string answer_id_;
  std::array<char, 768> allow_fields_;

  // Current exchange: what the pipeline decided, and the transport's own state.
  gate::Exchange x_;
  SnapshotHold* hold_ = nullptr;
  bool exchange_open_ = false;  // begin_exchange ran and end_exchange has not
  bool deciding_ = false;       // the pipeline waits for the body prefix it asked for
  std::uint32_t body_want_ = 0;
  std::int64_t hold_until_ms_ = 0;
  Await await_;                          // parked for an admission slot or the fleet's store
  int local_status_ = 0;                 // the status of an answer Gatehouse wrote
  UpstreamExchange ux_;                  // the upstream side of a forwarded request
  Splice splice_;                        // Phase::Splice: in_ to the upstream, out_ to us
  std::uint64_t splice_up_counted_ = 0;  // bytes already added to the worker's counters
  std::uint64_t splice_down_counted_ = 0;
  http::RequestHead req_{};
  std::size_t head_len_ = 0;         // bytes of the request head still held at the front of in_
  RequestText text_;                 // method, path and user agent, for the access log
  std::uint64_t in_mark_ = 0;        // in_->consumed_total() when the exchange began
  std::uint64_t out_mark_ = 0;       // out_->added_total() when the exchange (or answer) began
  std::uint64_t req_remaining_ = 0;  // Content-Length body bytes left to forward
  std::uint64_t req_body_bytes_ = 0;
  http::ChunkedDecoder req_chunked_;
  bool req_done_ = false;  // whole request copied to the upstream's buffer
  bool resp_chunked_out_ = false;
  bool send_continue_ = false;
  bool continue_sent_ = false;
  bool head_only_ = false;           // HEAD request: our own responses carry no body
  bool linger_after_flush_ = false;  // unread request bytes may follow: drain before close

  // Deadlines.
  std::int64_t head_start_ms_ = 0;
  std::int64_t client_progress_ms_ = 0;
  std::int64_t linger_until_ms_ = 0;
  std::size_t linger_budget_ = 0;
  net::Timer client_timer_;
};

}  // namespace gh::proxy
