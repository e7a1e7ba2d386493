// One client connection and the exchanges on it: read a head, pick a route, forward to an
// upstream, stream the body both ways with backpressure, answer in order, keep alive or close.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "client/address-t.h"
#include "core/buffer.h"
#include "http/message-t.h"
#include "http/parser.h"
#include "net/event_loop.h"
#include "net/timer.h"
#include "net/upstream_pool.h"
#include "stages/admission/priority-t.h"
#include "stages/challenge/token-t.h"
#include "stages/ratelimit/stage.h"
#include "stages/verdict-t.h"

namespace gh::policy {
struct RouteConfig;
struct UpstreamConfig;
}  // namespace gh::policy

namespace gh::admission {
class Limiter;
}

namespace gh::residents {
class DeviceGuard;
}

namespace gh::proxy {

class Worker;
struct SnapshotHold;
struct RouteDefence;

class Session final : public net::Handler, public net::UpstreamUser {
 public:
  explicit Session(Worker& worker);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Takes ownership of an accepted, non-blocking socket.
  // `counted`: the connection holds a slot in the per-client counter, released on close.
  void start(int fd, const client::SocketAddress& peer, bool proxy_protocol, bool counted);
  void on_events(std::uint32_t events) override;
  void on_upstream_events(std::uint32_t events) override;
  // Graceful stop: close now when idle, otherwise after the current response.
  void begin_shutdown();
  void force_close() { close_now(); }
  // Admission control (from the worker): a slot was granted to this waiting request, or the
  // request is shed (queue timeout, or evicted by a higher class).
  void admission_granted(admission::Limiter* limiter, admission::Priority p);
  void admission_shed();
  bool open() const { return fd_ >= 0; }

  // Intrusive list of the worker's live sessions.
  Session* prev = nullptr;
  Session* next = nullptr;

 private:
  enum class Phase : std::uint8_t {
    ProxyHeader,  // waiting for a PROXY protocol header
    Head,         // reading a request head (idle keep-alive when nothing is buffered)
    Upstream,     // deciding (limits that key on the body wait for it), then the exchange
    Hold,         // a limit delays the request or tarpits the connection
    Flush,        // response fully buffered: send it, then keep alive or close
    Linger,       // response sent and write side shut: drain the client before close
  };

  void drive();
  bool step();
  bool read_client();
  bool write_client();
  bool read_upstream();
  bool write_upstream();
  bool parse_proxy_header();
  bool parse_head();
  void begin_exchange();
  bool try_decide();  // body-keyed limits: decide once enough of the body is here
  // False: the request was refused or held. `body_complete`: the prefix is the whole body.
  bool decide(std::string_view body_prefix, bool body_complete);
  void forward();  // serialise the head, start the body, connect upstream
  // Who is asking: device token (resident), clearance (verified), score (suspect).
  void classify(std::string_view path);
  // The challenge, sign-up mode and admission gates; false when the request was answered here
  // or waits for a slot.
  bool pass_gates();
  void answer_challenge(std::uint8_t level);
  void answer_gatehouse(std::string_view body);  // /.gatehouse/... (challenge answers, script)
  void grant_clearance(std::uint32_t scope, std::string_view return_path);
  // retry_after 0: none, or 5 s for a 503.
  void refuse_challenge_answer(std::string_view why, int status = 403,
                               std::uint32_t retry_after = 0);
  bool waiting_room();
  void respond_page(int status, std::string_view content_type, std::string_view body,
                    std::uint32_t retry_after = 0, std::string_view extra_fields = {});
  bool wants_json() const;
  std::string_view user_agent() const;
  std::uint64_t binding();  // binding_, computed on first use
  std::string_view cookie(std::string_view name, std::array<std::uint8_t, 257>& buf) const;
  void note_refusal();
  void release_slot();
  void issue_device_token();
  bool login_succeeded() const;
  std::uint8_t challenge_bits(std::uint8_t level) const;
  void redrive_soon();
  void on_hold_expired();
  void refuse_rate_limited(bool close);
  void maybe_send_continue();
  bool connect_upstream();
  bool pump_request_body();
  bool pump_response();
  bool parse_response_head();
  void finish_exchange();
  void end_exchange();
  void respond_local(int status, std::string_view detail, bool close, std::uint32_t retry_after = 0,
                     std::string_view extra_fields = {});
  void fail_upstream(int status, std::string_view detail, std::uint32_t retry_after = 0);
  void release_upstream(bool reusable);
  void start_linger();
  bool linger_read();
  void close_now();
  void update_timers();
  void acquire_buffers();
  void release_idle_buffers();
  static void on_client_timer(void* self);
  static void on_upstream_timer(void* self);

  Worker& worker_;
  int fd_ = -1;
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

  core::Buffer* in_ = nullptr;      // client -> us
  core::Buffer* out_ = nullptr;     // us -> client
  core::Buffer* up_in_ = nullptr;   // upstream -> us
  core::Buffer* up_out_ = nullptr;  // us -> upstream

  // Current exchange.
  SnapshotHold* hold_ = nullptr;
  const policy::RouteConfig* route_ = nullptr;
  const policy::UpstreamConfig* upstream_cfg_ = nullptr;
  const ratelimit::RouteLimits* limits_ = nullptr;
  ratelimit::PendingCounts pending_counts_;  // count_when limits, settled on the response status
  stages::Verdict verdict_;                  // the decision of the current request (for logs)
  client::IpAddress client_ip_;              // resolved client (X-Forwarded-For from trusted peers)
  bool peer_trusted_ = false;                // the peer is a trusted proxy (this exchange's config)
  bool deciding_ = false;                    // waiting for the body prefix body-keyed limits need
  bool has_body_ = false;
  bool hold_forward_ = false;  // Hold ends by forwarding (delay) or refusing (tarpit)
  std::int64_t hold_until_ms_ = 0;
  net::UpstreamConn* up_ = nullptr;
  http::RequestHead req_{};
  http::ResponseHead resp_{};
  std::size_t head_len_ = 0;         // bytes of the request head still held at the front of in_
  std::uint64_t req_remaining_ = 0;  // Content-Length body bytes left to forward
  std::uint64_t req_body_bytes_ = 0;
  std::uint64_t body_limit_ = 0;
  http::ChunkedDecoder req_chunked_;
  http::ChunkedDecoder resp_chunked_;
  std::uint64_t resp_remaining_ = 0;
  bool req_done_ = false;        // whole request copied to up_out_
  bool resp_head_done_ = false;  // response head sent towards the client
  bool resp_done_ = false;       // whole response copied to out_
  bool resp_chunked_out_ = false;
  bool upstream_eof_ = false;
  bool retried_ = false;
  bool send_continue_ = false;
  bool continue_sent_ = false;
  bool head_only_ = false;           // HEAD request: our own responses carry no body
  bool linger_after_flush_ = false;  // unread request bytes may follow: drain before close

  // Defences of the current exchange.
  const RouteDefence* rdef_ = nullptr;
  policy::ClientClass class_ = policy::ClientClass::Anonymous;
  client::Cidr prefix_{};      // the client's prefix (clients.ipv4_prefix / ipv6_prefix)
  std::uint64_t binding_ = 0;  // prefix + user agent, what tokens are bound to
  bool has_binding_ = false;
  std::uint64_t device_subject_ = 0;  // account hash of a valid device token
  residents::DeviceGuard* device_guard_ = nullptr;  // holds an in-flight place of this device
  challenge::TokenId device_id_{};
  std::uint64_t account_hash_ = 0;    // the account a login names (body), when read
  bool has_account_ = false;
  bool signup_route_ = false;
  bool allow_listed_ = false;
  bool want_challenge_ = false;  // reputation asked for a challenge
  std::uint8_t challenge_level_ = 1;
  bool gates_done_ = false;
  bool gatehouse_request_ = false;       // /.gatehouse/...: answered here, body read first
  std::uint32_t body_want_ = 0;          // body prefix bytes wanted before deciding
  std::array<char, 32> clearance_id_{};  // hex id of a valid clearance (a limit key part)
  std::uint8_t clearance_len_ = 0;
  std::array<char, 256> resp_fields_{};  // Set-Cookie lines added to the forwarded response
  std::size_t resp_fields_len_ = 0;
  admission::Limiter* slot_ = nullptr;        // holds a slot of this limiter
  admission::Limiter* queued_for_ = nullptr;  // waiting for a slot of this limiter
  admission::Priority slot_priority_ = admission::Priority::AnonymousOther;
  std::int64_t rtt_us_ = -1;  // request sent -> response head
  bool upstream_ok_ = false;

  // Deadlines.
  std::int64_t head_start_ms_ = 0;
  std::int64_t client_progress_ms_ = 0;
  std::int64_t upstream_progress_ms_ = 0;
  std::int64_t request_sent_ms_ = 0;
  std::int64_t linger_until_ms_ = 0;
  std::size_t linger_budget_ = 0;
  net::Timer client_timer_;
  net::Timer upstream_timer_;
};

}  // namespace gh::proxy
