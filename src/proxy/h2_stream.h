// One HTTP/2 stream: one request through the decision pipeline, as the connection (H2Session)
// hands it its head, body and the upstream's progress. Internal to proxy/: the connection and
// the stream are one protocol, and no other module has a use for a stream on its own.
#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gate/exchange.h"
#include "http/parser.h"
#include "net/timer.h"
#include "proxy/h2_session.h"
#include "proxy/observe.h"
#include "proxy/upstream_exchange.h"
#include "proxy/worker.h"
#include "stages/admission/limiter.h"

namespace gh::proxy {

// Per stream, read by the stream and by the connection (the connection's numbers are in
// h2_session.cc).
inline constexpr std::uint32_t kInitialWindow = 65535;  // per stream: bounds a stream's unread body
inline constexpr std::uint64_t kDiscardBytes = 64 * 1024;  // request body read after our answer

struct H2Stream final : public UpstreamExchange::Owner, public Await::Owner {
  enum class State : std::uint8_t { Head, Deciding, Hold, Queued, Upstream, Answered, Closed };

  H2Stream(H2Session& c, std::int32_t stream_id);
  ~H2Stream();

  H2Session& conn;
  std::int32_t id;
  H2Stream* next = nullptr;
  State state = State::Head;
  // The head as HTTP/1.1 text, parsed by src/http into `req` (views into `text`).
  std::string text;
  std::string cookies;  // cookie fields, joined with "; " (RFC 9113 8.2.3)
  std::string authority, host, method, path, scheme;
  std::string pseudo_order;  // e.g. "masp", for the fingerprint
  bool regular_seen = false;
  bool head_error = false;
  // HPACK lets a few bytes name a large table entry again and again: what the head decodes to
  // is counted, and past limits.max_head_bytes nothing more is kept (431).
  std::size_t head_bytes = 0;
  bool head_too_large = false;
  http::RequestHead req{};
  bool chunked = false;   // no content-length: the upstream gets a chunked body
  bool end_seen = false;  // END_STREAM received
  std::string body;       // request DATA not yet forwarded (bounded by the stream window)
  std::uint64_t body_total = 0;
  std::uint64_t body_sent = 0;
  bool req_done = false;  // whole request in the upstream buffer
  gate::Exchange x;
  SnapshotHold* hold = nullptr;
  bool exchange_open = false;
  std::uint32_t body_want = 0;
  Await await;  // parked for an admission slot (State::Queued) or the fleet's store (State::Hold)
  RequestText rtext;
  std::int64_t start_ms = 0;
  int local_status = 0;
  UpstreamExchange ux;
  core::Buffer* resp = nullptr;  // response body from the upstream, for DATA frames
  std::string local;             // our own answer's body
  std::size_t local_off = 0;
  bool deferred = false;  // the data provider said DEFERRED: resume when bytes come
  // Answered before the request ended: the rest of the body is read and dropped, up to
  // kDiscardBytes, then the stream is reset with NO_ERROR (RFC 9113 8.1). Not at once: nghttp2
  // would send the reset ahead of the answer, and curl 7.88 drops an answer whose stream is
  // reset while it still uploads.
  std::uint64_t discarded = 0;
  bool head_only = false;
  std::uint64_t bytes_out = 0;
  net::Timer hold_timer;

  // -- head -----------------------------------------------------------------------------------
  void header(std::string_view name, std::string_view value);
  bool convert(bool end_stream);

  // -- the pipeline -----------------------------------------------------------------------------
  void begin();
  void carry(const gate::Decision& d);
  bool try_decide();
  void on_hold_expired();
  static void on_hold_timer(void* self);
  bool await_parked() const override;
  void await_over(const gate::Decision& next, Await::Resume how) override;
  void await_granted() override;
  bool forward_pending = false;
  void forward();
  bool pump_request_body();

  // -- the upstream's side ---------------------------------------------------------------------
  void upstream_progress() override;
  bool upstream_head(const http::ResponseHead& h) override;
  void upstream_failed(int status, std::string_view detail, std::uint32_t retry_after) override;
  bool pump();
  void give_back_body();
  void resume();
  ssize_t read_body(std::uint8_t* buf, std::size_t len, std::uint32_t* flags);
  static ssize_t on_read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t len,
                              std::uint32_t* flags, nghttp2_data_source* src, void*);
  void submit(const nghttp2_nv* nv, std::size_t count, bool has_body);
  void submit_local(std::string_view head_text, bool has_body);
  void respond(const stages::Answer& a);
  void answer_now(const stages::Answer& a);
  void end_exchange(int status);
};

}  // namespace gh::proxy
