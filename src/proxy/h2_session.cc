#include "proxy/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gate/pipeline.h"
#include "http/parser.h"
#include "policy/snapshot.h"
#include "proxy/observe.h"
#include "proxy/rewrite.h"
#include "proxy/upstream_exchange.h"
#include "proxy/worker.h"
#include "stages/admission/limiter.h"

namespace gh::proxy {

// The numbers. nginx (1.25.3+): 128 concurrent streams, at most 2 x that many new streams per
// event-loop pass, 1,000 requests per connection. nghttp2 1.52 (Debian's backport): client
// resets 1,000 at once then 33/s, 8 CONTINUATION frames per head, 32 SETTINGS entries, 1,000
// queued control answers (PING/SETTINGS ACKs). Envoy: 100 concurrent streams by default, a
// connection whose streams were more than half reset prematurely is closed. Ours are stricter
// on resets since a shield sits in front of sign-ups and logins, not of media sites.
namespace {
constexpr std::uint32_t kMaxConcurrentStreams = 128;
constexpr std::uint32_t kMaxNewStreamsPerPass = 2 * kMaxConcurrentStreams;
constexpr std::uint32_t kMaxRequestsPerConnection = 1000;
constexpr std::uint32_t kInitialWindow = 65535;         // per stream: bounds a stream's unread body
constexpr std::int32_t kConnectionWindow = 256 * 1024;  // all streams' unread bodies together
constexpr std::int64_t kLingerMs = 1'000;               // after GOAWAY: drain, then close
constexpr std::size_t kLingerBytes = 256 * 1024;
constexpr std::uint64_t kDiscardBytes = 64 * 1024;  // request body read after our answer
// Client RST_STREAMs: 200 at once, then 20/s (nghttp2's own limit, 1,000 then 33/s, stays on).
constexpr double kClientResetBurst = 200, kClientResetRate = 20;
// Streams we reset (malformed head, refused stream, oversized body): "MadeYouReset".
constexpr double kServerResetBurst = 100, kServerResetRate = 10;
// SETTINGS, PING, PRIORITY, WINDOW_UPDATE, empty DATA frames without END_STREAM, RST for
// idle streams: 1,000 at once, then 100/s.
constexpr double kControlBurst = 1000, kControlRate = 100;
constexpr std::size_t kOutHighWater = 64 * 1024;  // stop producing frames past this
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr int kMaxPasses = 64;

// Fields that are HTTP/1.1's own framing or hop-by-hop: never copied into an HTTP/2 response.
bool hop_by_hop(std::string_view name) {
  static constexpr std::string_view kHop[] = {"connection",        "keep-alive", "proxy-connection",
                                              "transfer-encoding", "upgrade",    "te"};
  for (std::string_view h : kHop) {
    if (name.size() == h.size() && std::equal(name.begin(), name.end(), h.begin(),
                                              [](char a, char b) { return (a | 0x20) == b; })) {
      return true;
    }
  }
  return false;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  return r;
}
}  // namespace

// ---- one stream: one request through the pipeline -------------------------------------------

struct H2Stream final : public UpstreamExchange::Owner, public SlotWaiter, public StoreWaiter {
  enum class State : std::uint8_t { Head, Deciding, Hold, Queued, Upstream, Answered, Closed };

  H2Stream(H2Session& c, std::int32_t stream_id) : conn(c), id(stream_id), ux(c.worker(), *this) {
    hold_timer.owner = this;
    hold_timer.callback = &H2Stream::on_hold_timer;
  }
  ~H2Stream() {
    ux.close();
    ux.end();
    ux.update_timer(false);
    conn.worker().loop().timers().cancel(hold_timer);
    end_exchange(0);
    if (resp != nullptr) conn.worker().buffers().release(resp);
  }

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
  admission::Limiter* queued_for = nullptr;
  std::uint64_t store_ticket = 0;  // waiting for the fleet's store (Await)
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
  void header(std::string_view name, std::string_view value) {
    head_bytes += name.size() + value.size() + 4;
    if (head_too_large ||
        head_bytes > conn.worker().current().snapshot->config.limits.max_head_bytes) {
      head_too_large = true;
      return;
    }
    if (!name.empty() && name[0] == ':') {
      if (regular_seen) head_error = true;  // nghttp2 refuses this already; belt and braces
      if (name == ":method") {
        method = value;
        pseudo_order += 'm';
      } else if (name == ":path") {
        path = value;
        pseudo_order += 'p';
      } else if (name == ":authority") {
        authority = value;
        pseudo_order += 'a';
      } else if (name == ":scheme") {
        scheme = value;
        pseudo_order += 's';
      } else {
        head_error = true;
      }
      return;
    }
    regular_seen = true;
    if (name == "cookie") {
      if (!cookies.empty()) cookies += "; ";
      cookies += value;
      return;
    }
    if (name == "host") {
      if (!host.empty()) head_error = true;
      host = value;
      return;
    }
    // Connection-specific fields are malformed in HTTP/2 (RFC 9113 8.2.2); nghttp2 refuses
    // them before we see them. "te: trailers" is allowed there and means nothing upstream.
    if (hop_by_hop(name)) {
      if (name != "te") head_error = true;
      return;
    }
    text.append(name).append(": ").append(value).append("\r\n");
  }

  // Builds the HTTP/1.1 head and parses it with src/http's rules. False: refused (answered).
  bool convert(bool end_stream) {
    end_seen = end_stream;
    if (head_too_large) {
      conn.worker().stats().requests_refused_parse.add();
      answer_now(stages::refusal(431, http::describe(http::ParseError::HeadTooLarge)));
      return false;
    }
    if (head_error || method.empty() || path.empty() || scheme.empty()) {
      nghttp2_submit_rst_stream(conn.ng(), NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
      return false;
    }
    // :authority and Host name the same origin (RFC 9113 8.3.1); without either, no Host.
    if (!authority.empty() && !host.empty() && lower(authority) != lower(host)) {
      answer_now(stages::refusal(400, ":authority and Host disagree"));
      return false;
    }
    std::string fields = std::move(text);
    text.clear();
    text.reserve(fields.size() + path.size() + 96);
    text.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
    text.append("Host: ").append(authority.empty() ? host : authority).append("\r\n");
    text.append(fields);
    if (!cookies.empty()) text.append("Cookie: ").append(cookies).append("\r\n");
    const bool has_length = fields.rfind("content-length:", 0) == 0 ||
                            fields.find("\r\ncontent-length:") != std::string::npos;
    chunked = !end_stream && !has_length;
    if (chunked) text.append("Transfer-Encoding: chunked\r\n");
    text.append("\r\n");
    end_seen = end_stream;
    const policy::LimitsConfig& lim = conn.worker().current().snapshot->config.limits;
    http::HeadLimits limits;
    limits.max_head_bytes = lim.max_head_bytes;
    limits.max_fields = lim.max_header_fields;
    limits.max_target_bytes = lim.max_target_bytes;
    http::ParseResult r = http::parse_request(text, limits, req);
    if (r.status != http::ParseStatus::Complete || r.consumed != text.size()) {
      conn.worker().stats().requests_refused_parse.add();
      const http::ParseError e =
          r.status == http::ParseStatus::Error ? r.error : http::ParseError::BadRequestLine;
      answer_now(
          stages::refusal(static_cast<std::uint16_t>(http::status_for(e)), http::describe(e)));
      return false;
    }
    if (end_stream && req.body == http::BodyKind::ContentLength && req.content_length != 0) {
      answer_now(stages::refusal(400, "content-length but no body"));
      return false;
    }
    return true;
  }

  // -- the pipeline -----------------------------------------------------------------------------
  void begin() {
    Worker& w = conn.worker();
    w.stats().requests.add();
    w.stats().h2_streams.add();
    rtext.set(req);
    start_ms = w.loop().now_ms();
    hold = w.hold();
    exchange_open = true;
    head_only = req.method == http::Method::Head;
    ux.reset();
    state = State::Deciding;
    carry(w.pipeline().begin(x, *hold->runtime, req, conn.peer().ip, w.clock(), gate::Via::Inline,
                             conn.over_tls()));
  }

  void carry(const gate::Decision& d) {
    Worker& w = conn.worker();
    switch (d.step) {
      case gate::Step::Forward:
        forward();
        return;
      case gate::Step::Respond:
        respond(d.answer);
        return;
      case gate::Step::NeedBody:
        body_want = d.body_bytes;
        state = State::Deciding;
        try_decide();
        return;
      case gate::Step::Hold:
        state = State::Hold;
        w.loop().timers().arm(hold_timer, d.until_ms);
        return;
      case gate::Step::AwaitSlot:
        switch (w.queue_for_slot(d.limiter, this, d.priority, *d.admission)) {
          case Worker::AdmissionQueue::Push::Queued:
          case Worker::AdmissionQueue::Push::QueuedEvicting:
            w.stats().admission_queued.add();
            queued_for = d.limiter;
            state = State::Queued;
            w.loop().timers().arm(hold_timer, d.until_ms);
            return;
          case Worker::AdmissionQueue::Push::Refused:
            break;
        }
        carry(w.pipeline().shed(x, w.clock()));
        return;
      case gate::Step::Await:
        // Parked like a hold; the reply (store_replied) or the deadline ends it.
        store_ticket = w.await_store(*d.store, *d.query, this);
        if (store_ticket == 0) {
          carry(w.pipeline().awaited(x, {}, w.clock()));
          return;
        }
        state = State::Hold;
        w.loop().timers().arm(hold_timer, d.until_ms);
        return;
      case gate::Step::Drop:
        // Unanswered, as an HTTP/1.1 drop closes unanswered; the connection's other streams go on.
        nghttp2_submit_rst_stream(conn.ng(), NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
        end_exchange(0);
        state = State::Closed;
        return;
    }
  }

  bool try_decide() {
    if (state != State::Deciding || body_want == 0) return false;
    const std::size_t want = std::min<std::size_t>({body_want, 64 * 1024, kInitialWindow});
    if (!end_seen && body.size() < want) return false;
    const bool complete = end_seen && body.size() <= want;
    const std::string_view prefix = std::string_view(body).substr(0, want);
    body_want = 0;
    carry(conn.worker().pipeline().body(x, prefix, complete, conn.worker().clock()));
    return true;
  }

  void store_replied(const gate::StoreReply& reply) override {
    store_ticket = 0;
    if (state != State::Hold || !exchange_open) return;
    Worker& w = conn.worker();
    w.loop().timers().cancel(hold_timer);
    state = State::Deciding;
    carry(w.pipeline().awaited(x, reply, w.clock()));
    conn.drive();
  }

  void on_hold_expired() {
    Worker& w = conn.worker();
    if (store_ticket != 0) {
      w.leave_store(store_ticket);
      store_ticket = 0;
      state = State::Deciding;
      gate::StoreReply timed_out;
      timed_out.answer = gate::StoreAnswer::TimedOut;
      carry(w.pipeline().awaited(x, timed_out, w.clock()));
      return;
    }
    if (queued_for != nullptr) {
      admission_shed();
      return;
    }
    state = State::Deciding;
    carry(w.pipeline().hold_over(x, w.clock()));
  }

  static void on_hold_timer(void* self) {
    auto* s = static_cast<H2Stream*>(self);
    if (s->state != State::Hold && s->state != State::Queued) return;
    s->on_hold_expired();
    s->conn.drive();
  }

  void admission_granted(admission::Limiter* limiter, admission::Priority p) override {
    Worker& w = conn.worker();
    queued_for = nullptr;
    if (state != State::Queued || !exchange_open) {
      limiter->release(p, -1, true, w.loop().now_ms());
      return;
    }
    w.pipeline().granted(x, limiter, p, w.clock());
    w.loop().timers().cancel(hold_timer);
    state = State::Deciding;
    // Granted from inside another connection's step: carry on from the loop, not its stack.
    forward_pending = true;
    conn.drive_soon();
  }
  bool forward_pending = false;

  void admission_shed() override {
    Worker& w = conn.worker();
    if (queued_for != nullptr) {
      w.leave_slot_queue(queued_for, this);
      queued_for = nullptr;
    }
    if (!exchange_open || state != State::Queued) return;
    w.loop().timers().cancel(hold_timer);
    state = State::Deciding;
    carry(w.pipeline().shed(x, w.clock()));
    conn.drive_soon();
  }

  void forward() {
    ForwardContext ctx{conn.peer().ip, x.peer_trusted, conn.over_tls()};
    if (!ux.forward_head(x, hold, req, ctx, !x.has_body)) {
      respond(stages::refusal(431, "request head too large to forward"));
      return;
    }
    // The converted head lives as long as the stream: x.head stays valid (unlike HTTP/1.1's).
    state = State::Upstream;
    if (!x.has_body) {
      give_back_body();
      req_done = true;
    }
    pump_request_body();
    if (state != State::Upstream) return;
    ux.connect();
  }

  // Moves received DATA into the upstream's buffer, framed as the converted head declared, and
  // gives the client its window back for what went.
  bool pump_request_body() {
    if (req_done || state != State::Upstream) return false;
    core::Buffer& out = ux.request_out();
    std::size_t moved = 0;
    if (!chunked) {
      const std::size_t n = std::min(body.size(), out.writable());
      out.append(std::string_view(body).substr(0, n));
      moved = n;
    } else if (!body.empty() && out.writable() > 32) {
      const std::size_t n = std::min(body.size(), out.writable() - 32);
      write_chunk_header(n, out);
      out.append(std::string_view(body).substr(0, n));
      out.append("\r\n");
      moved = n;
    }
    if (moved != 0) {
      body.erase(0, moved);
      body_sent += moved;
      nghttp2_session_consume(conn.ng(), id, moved);
    }
    if (end_seen && body.empty()) {
      if (chunked) {
        if (out.writable() < 5) return moved != 0;
        out.append("0\r\n\r\n");
      }
      req_done = true;
    }
    return moved != 0 || req_done;
  }

  // -- the upstream's side ---------------------------------------------------------------------
  // After the loop's batch, not now: the answers of several streams that arrive in one batch
  // then leave in one TLS record and one write (one each per answer before).
  void upstream_progress() override { conn.drive_soon(); }

  bool upstream_head(const http::ResponseHead& h) override {
    // The head as HTTP/1.1 (hop-by-hop removed, Via and the pipeline's fields added), then as
    // HTTP/2 fields.
    core::Buffer* tmp = conn.worker().buffers().acquire();
    const bool ok = write_response_head(h, 1, false, *tmp, x.response_fields());
    if (!ok) {
      conn.worker().buffers().release(tmp);
      upstream_failed(502, "upstream response head too large", 0);
      return false;
    }
    if (resp == nullptr) resp = conn.worker().buffers().acquire();
    const bool body = !head_only && h.body != http::BodyKind::None &&
                      !(h.body == http::BodyKind::ContentLength && h.content_length == 0);
    submit(tmp->view(), body, /*from_upstream=*/true);
    conn.worker().buffers().release(tmp);
    return true;
  }

  void upstream_failed(int status, std::string_view detail, std::uint32_t retry_after) override {
    if (ux.head_done()) {
      // Part of the response is out: reset the stream, the only signal left.
      nghttp2_submit_rst_stream(conn.ng(), NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
      state = State::Closed;
      return;
    }
    respond(stages::refusal(static_cast<std::uint16_t>(status), detail, retry_after));
  }

  bool pump() {
    if (state == State::Deciding && forward_pending) {
      forward_pending = false;
      forward();
      return true;
    }
    if (state == State::Deciding) return try_decide();
    if (state != State::Upstream) return false;
    bool progress = pump_request_body();
    progress |= ux.write(req_done);
    progress |= ux.read();
    if (!ux.head_done()) {
      progress |= ux.pump_head();
      if (state != State::Upstream || !ux.head_done()) {
        ux.update_timer(state == State::Upstream);
        return progress;
      }
    }
    if (resp != nullptr && !ux.done()) {
      if (resp->writable() == 0) resp->compact();
      const bool moved = ux.pump_body(*resp, false);
      progress |= moved;
    }
    if ((resp != nullptr && !resp->empty()) || ux.done()) resume();
    if (ux.done()) {
      ux.finish(req_done);
      state = State::Answered;
    }
    ux.update_timer(state == State::Upstream);
    return progress;
  }

  // Received body bytes that will never go upstream: the client gets their window back.
  void give_back_body() {
    if (body.empty()) return;
    nghttp2_session_consume(conn.ng(), id, body.size());
    body.clear();
  }

  void resume() {
    if (!deferred) return;
    deferred = false;
    nghttp2_session_resume_data(conn.ng(), id);
  }

  // The data provider: our answer's body, or the upstream's as it arrives.
  ssize_t read_body(std::uint8_t* buf, std::size_t len, std::uint32_t* flags) {
    if (resp == nullptr || local_status != 0) {
      const std::size_t n = std::min(len, local.size() - local_off);
      std::memcpy(buf, local.data() + local_off, n);
      local_off += n;
      bytes_out += n;
      if (local_off == local.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    }
    const std::size_t n = std::min(len, resp->readable());
    if (n != 0) {
      std::memcpy(buf, resp->read_ptr(), n);
      resp->consume(n);
      bytes_out += n;
    }
    if (resp->empty() && ux.done()) {
      // A truncated upstream body must not end cleanly: the stream is reset instead.
      if (ux.cut_short()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    }
    if (n == 0) {
      deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
  }

  static ssize_t on_read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t len,
                              std::uint32_t* flags, nghttp2_data_source* src, void*) {
    return static_cast<H2Stream*>(src->ptr)->read_body(buf, len, flags);
  }

  // Submits a response from an HTTP/1.1 head in `head_text` (status line and fields).
  void submit(std::string_view head_text, bool has_body, bool from_upstream) {
    http::ResponseHead h{};
    http::HeadLimits limits;
    limits.max_head_bytes = head_text.size() + 1;
    http::ParseResult r = http::parse_response(head_text, limits, http::Method::Get, h);
    // The fields on the stack and their lowercased names in one reused buffer (names are parts
    // of the head, so the head's size bounds them): nghttp2 copies both before it returns, and
    // no allocation is left per response (the profile had vector growth and strings here).
    std::array<nghttp2_nv, http::kMaxHeaderFields + 1> nv;
    std::size_t count = 0;
    thread_local std::string lowered;
    if (lowered.size() < head_text.size()) lowered.resize(head_text.size());
    // Three digits (the parser accepts only 100-999); a failed parse is our 502.
    const unsigned code = r.status == http::ParseStatus::Complete ? h.status % 1000u : 502u;
    char status[4] = {static_cast<char>('0' + code / 100), static_cast<char>('0' + code / 10 % 10),
                      static_cast<char>('0' + code % 10), '\0'};
    nv[count++] = {reinterpret_cast<std::uint8_t*>(const_cast<char*>(":status")),
                   reinterpret_cast<std::uint8_t*>(status), 7, 3, NGHTTP2_NV_FLAG_NONE};
    if (r.status == http::ParseStatus::Complete) {
      char* out = lowered.data();
      for (std::uint16_t i = 0; i < h.field_count; ++i) {
        const http::Field& f = h.fields[i];
        if (hop_by_hop(f.name)) continue;
        char* name = out;
        for (char c : f.name) *out++ = c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
        nv[count++] = {reinterpret_cast<std::uint8_t*>(name),
                       reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.value.data())),
                       f.name.size(), f.value.size(), NGHTTP2_NV_FLAG_NONE};
      }
    }
    (void)from_upstream;
    nghttp2_data_provider prd;
    prd.source.ptr = this;
    prd.read_callback = &H2Stream::on_read_body;
    if (nghttp2_submit_response(conn.ng(), id, nv.data(), count, has_body ? &prd : nullptr) != 0) {
      nghttp2_submit_rst_stream(conn.ng(), NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
    }
  }

  // Our own answer (the pipeline's, or the transport's): rendered as HTTP/1.1 by rewrite.h,
  // then sent as HTTP/2.
  void respond(const stages::Answer& a) {
    Worker& w = conn.worker();
    ux.close();
    ux.clear_request();
    core::Buffer* tmp = w.buffers().acquire();
    bool ok = a.content_type.empty() ? write_local_response(a.status, a.detail, false, false,
                                                            a.retry_after_s, a.fields, *tmp)
                                     : write_local_page(a.status, a.content_type, a.body, false,
                                                        false, a.retry_after_s, a.fields, *tmp);
    if (!ok) {
      tmp->clear();
      write_local_response(a.status == 200 ? 500 : a.status,
                           "page too large for the response buffer", false, false, a.retry_after_s,
                           {}, *tmp);
    }
    const std::string_view all = tmp->view();
    const std::size_t head_end = all.find("\r\n\r\n");
    const std::string_view head =
        head_end == std::string_view::npos ? all : all.substr(0, head_end + 4);
    local.assign(head_end == std::string_view::npos ? std::string_view{}
                                                    : all.substr(head_end + 4));
    if (head_only) local.clear();
    local_off = 0;
    w.stats().responses_local.add();
    local_status = a.status;
    submit(head, !local.empty(), false);
    w.buffers().release(tmp);
    give_back_body();

    end_exchange(a.status);
    state = State::Answered;
  }

  // A head refused before the pipeline saw it: answered and logged like a malformed HTTP/1.1 head.
  void answer_now(const stages::Answer& a) {
    respond(a);
    record_exchange(conn.worker(), {.status = a.status,
                                    .client = conn.peer().ip,
                                    .start_ms = conn.worker().loop().now_ms(),
                                    .bytes_in = text.size(),
                                    .bytes_out = local.size()});
  }

  void end_exchange(int status) {
    Worker& w = conn.worker();
    if (queued_for != nullptr) {
      w.leave_slot_queue(queued_for, this);
      queued_for = nullptr;
    }
    if (store_ticket != 0) {  // a reply that comes later finds no one
      w.leave_store(store_ticket);
      store_ticket = 0;
    }
    if (!exchange_open) return;
    exchange_open = false;
    const int st = ux.head_done() ? ux.response().status : status;
    w.pipeline().end(x, st, w.clock());
    ExchangeInfo info = exchange_info(x, hold->runtime.get(), ux.head_done(), st, &rtext, start_ms);
    info.bytes_in = text.size() + body_total;
    info.bytes_out = bytes_out;
    record_exchange(w, info);
    w.unhold(hold);
    hold = nullptr;
  }
};

// ---- nghttp2 trampolines ---------------------------------------------------------------------

namespace {
H2Session* sess(void* user) {
  return static_cast<H2Session*>(user);
}

int cb_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return sess(user)->on_begin_headers(frame->hd.stream_id);
}

int cb_header(nghttp2_session* ng, const nghttp2_frame* frame, const std::uint8_t* name,
              std::size_t namelen, const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
              void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto* s = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id));
  if (s == nullptr) return 0;
  return sess(user)->on_header(s, {reinterpret_cast<const char*>(name), namelen},
                               {reinterpret_cast<const char*>(value), valuelen});
}

int cb_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  return sess(user)->on_frame_recv(frame);
}

int cb_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
  return sess(user)->on_begin_frame(hd);
}

int cb_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                  std::size_t len, void* user) {
  return sess(user)->on_data_chunk(id, {reinterpret_cast<const char*>(data), len});
}

int cb_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t error, void* user) {
  return sess(user)->on_stream_close(id, error);
}

int cb_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  return sess(user)->on_frame_send(frame);
}

}  // namespace

// ---- the connection --------------------------------------------------------------------------

bool H2Session::Bucket::take(std::int64_t now_ms, double burst, double per_s) {
  if (at_ms == 0) {
    tokens = burst;
  } else {
    tokens = std::min(burst, tokens + static_cast<double>(now_ms - at_ms) * per_s / 1000.0);
  }
  at_ms = now_ms;
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

H2Session::H2Session(Worker& worker, ClientTransport& transport, const client::SocketAddress& peer)
    : worker_(worker), transport_(transport), peer_(peer) {
  timer_.owner = this;
  timer_.callback = &H2Session::on_timer;
}

H2Session::~H2Session() {
  close();
}

bool H2Session::start(std::string_view preread) {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, cb_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cb_frame_recv);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, cb_begin_frame);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, cb_frame_send);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // We give the window back only as the body goes upstream: a stream buffers at most its window.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  const policy::LimitsConfig& lim = worker_.current().snapshot->config.limits;
  nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
  nghttp2_option_set_max_continuations(opt, 8);
  const int rv = nghttp2_session_server_new2(&ng_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return false;
  open_ = true;
  const nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kInitialWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(lim.max_head_bytes)},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
  // The connection window bounds what all streams together may have sent and we not yet
  // forwarded (bodies held while the pipeline decides, or while the upstream is slow).
  nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  started_ms_ = progress_ms_ = worker_.loop().now_ms();
  worker_.stats().h2_connections.add();
  if (!preread.empty()) {
    const ssize_t n = nghttp2_session_mem_recv(
        ng_, reinterpret_cast<const std::uint8_t*>(preread.data()), preread.size());
    if (n < 0) {
      cut(H2Cut::ProtocolError);
    }
  }
  drive();
  return open_;
}

void H2Session::on_io(bool readable, bool writable, bool hangup) {
  readable_ = readable_ || readable;
  writable_ = writable_ || writable;
  hangup_ = hangup_ || hangup;
  drive();
}

int H2Session::on_begin_headers(std::int32_t id) {
  if (cutting_) return 0;
  if (shutting_down_) {
    nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  // nginx's 2023 rule: new streams per read pass are bounded, whatever the reset rate.
  if (++new_in_pass_ > kMaxNewStreamsPerPass) {
    cut(H2Cut::StreamBurst);
    return 0;
  }
  if (++requests_ > kMaxRequestsPerConnection) {
    // Graceful: the client opens a new connection for the rest.
    nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    shutting_down_ = true;
    return 0;
  }
  auto* s = new H2Stream(*this, id);
  s->next = streams_;
  streams_ = s;
  ++live_;
  nghttp2_session_set_stream_user_data(ng_, id, s);
  return 0;
}

int H2Session::on_header(H2Stream* s, std::string_view name, std::string_view value) {
  s->header(name, value);
  return 0;
}

void H2Session::note_settings(const void* f) {
  const auto* frame = static_cast<const nghttp2_frame*>(f);
  if (fp_settings_seen_ || (frame->hd.flags & NGHTTP2_FLAG_ACK)) return;
  fp_settings_seen_ = true;
  for (std::size_t i = 0; i < frame->settings.niv; ++i) {
    if (i != 0) fp_settings_ += ';';
    fp_settings_ += std::to_string(frame->settings.iv[i].settings_id) + ':' +
                    std::to_string(frame->settings.iv[i].value);
  }
}

int H2Session::on_begin_frame(const void* h) {
  const auto* hd = static_cast<const nghttp2_frame_hd*>(h);
  const std::int64_t now = worker_.loop().now_ms();
  bool control = false;
  switch (hd->type) {
    case NGHTTP2_SETTINGS:
    case NGHTTP2_PING:
    case NGHTTP2_PRIORITY:
    case NGHTTP2_WINDOW_UPDATE:
      control = true;
      break;
    case NGHTTP2_DATA:
    case NGHTTP2_CONTINUATION:
      control =
          hd->length == 0 && !(hd->flags & (NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS));
      break;
    default:
      break;
  }
  // Over budget: GOAWAY is queued and nothing more is read; the frames left in the current read
  // are still parsed (a failed callback would leave nghttp2 unable to send the GOAWAY).
  if (control && !control_.take(now, kControlBurst, kControlRate)) cut(H2Cut::ControlFlood);
  return 0;
}

int H2Session::on_frame_recv(const void* f) {
  const auto* frame = static_cast<const nghttp2_frame*>(f);
  const std::int64_t now = worker_.loop().now_ms();
  switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
      note_settings(frame);
      return 0;
    case NGHTTP2_WINDOW_UPDATE:
      if (frame->hd.stream_id == 0 && fingerprint_.empty() && fp_window_ == 0) {
        fp_window_ = static_cast<std::uint32_t>(frame->window_update.window_size_increment);
      }
      return 0;
    case NGHTTP2_PRIORITY:
      if (fingerprint_.empty() && fp_priority_.size() < 256) {
        if (!fp_priority_.empty()) fp_priority_ += ',';
        fp_priority_ += std::to_string(frame->hd.stream_id) + ':' +
                        std::to_string(frame->priority.pri_spec.exclusive) + ':' +
                        std::to_string(frame->priority.pri_spec.stream_id) + ':' +
                        std::to_string(frame->priority.pri_spec.weight);
      }
      return 0;
    case NGHTTP2_RST_STREAM:
      worker_.stats().h2_client_resets.add();
      if (!client_resets_.take(now, kClientResetBurst, kClientResetRate)) {
        cut(H2Cut::RapidReset);
      }
      return 0;
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
      break;
    default:
      return 0;
  }
  auto* s = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(ng_, frame->hd.stream_id));
  if (s == nullptr || s->state == H2Stream::State::Closed) return 0;
  const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  if (frame->hd.type == NGHTTP2_HEADERS) {
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      // Trailers: nothing of them goes upstream; they end the body.
      if (end_stream) s->end_seen = true;
      return 0;
    }
    if (fingerprint_.empty()) {
      fingerprint_ = (fp_settings_.empty() ? std::string("0") : fp_settings_) + '|' +
                     std::to_string(fp_window_) + '|' +
                     (fp_priority_.empty() ? std::string("0") : fp_priority_) + '|';
      for (std::size_t i = 0; i < s->pseudo_order.size(); ++i) {
        if (i != 0) fingerprint_ += ',';
        fingerprint_ += s->pseudo_order[i];
      }
    }
    if (!s->convert(end_stream)) return 0;
    s->x.h2_fingerprint = fingerprint_;
    s->x.ja4 = ja4();
    s->begin();
    return 0;
  }
  if (end_stream) s->end_seen = true;
  return 0;
}

int H2Session::on_data_chunk(std::int32_t id, std::string_view data) {
  auto* s = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(ng_, id));
  if (s == nullptr || s->state == H2Stream::State::Closed ||
      s->state == H2Stream::State::Answered) {
    nghttp2_session_consume(ng_, id, data.size());  // not wanted: the window goes back
    if (s != nullptr && s->state == H2Stream::State::Answered) {
      s->discarded += data.size();
      if (s->discarded > kDiscardBytes && s->discarded - data.size() <= kDiscardBytes) {
        nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
      }
    }
    return 0;
  }
  s->body_total += data.size();
  if (s->req.body == http::BodyKind::ContentLength && s->body_total > s->req.content_length) {
    nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
    s->state = H2Stream::State::Closed;
    return 0;
  }
  if (s->chunked && s->exchange_open && s->x.body_limit != 0 && s->body_total > s->x.body_limit &&
      !s->ux.head_done()) {
    nghttp2_session_consume(ng_, id, data.size());
    s->respond(stages::refusal(413, "request body exceeds the limit of this route"));
    return 0;
  }
  s->body.append(data);
  return 0;
}

int H2Session::on_stream_close(std::int32_t id, std::uint32_t) {
  auto* s = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(ng_, id));
  if (s == nullptr) return 0;
  nghttp2_session_set_stream_user_data(ng_, id, nullptr);
  stream_closed(s);
  return 0;
}

int H2Session::on_frame_send(const void* f) {
  const auto* frame = static_cast<const nghttp2_frame*>(f);
  // Every stream we reset with an error was provoked by the client (a malformed head, a stream
  // over the concurrency limit, a flow-control error, a body longer than announced): whoever
  // provokes them by the hundred is making us do work for nothing ("MadeYouReset").
  // INTERNAL_ERROR (an upstream failed mid-answer) and CANCEL are ours, not provoked.
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    const std::uint32_t code = frame->rst_stream.error_code;
    if (code != NGHTTP2_NO_ERROR && code != NGHTTP2_CANCEL && code != NGHTTP2_INTERNAL_ERROR) {
      worker_.stats().h2_server_resets.add();
      stream_reset_by_us();
    }
  }
  // nghttp2 ended the connection itself (a protocol error, or one of its own flood limits).
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
      !cutting_) {
    cut(frame->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM ? H2Cut::ControlFlood
                                                              : H2Cut::ProtocolError);
  }
  return 0;
}

void H2Session::stream_reset_by_us() {
  if (!server_resets_.take(worker_.loop().now_ms(), kServerResetBurst, kServerResetRate)) {
    cut(H2Cut::ServerResets);
  }
}

void H2Session::stream_closed(H2Stream* s) {
  // Unlink now; free after the pass (callbacks up the stack may still name it).
  for (H2Stream** p = &streams_; *p != nullptr; p = &(*p)->next) {
    if (*p == s) {
      *p = s->next;
      break;
    }
  }
  --live_;
  if (!s->body.empty()) {
    nghttp2_session_consume_connection(ng_, s->body.size());
    s->body.clear();
  }
  s->ux.close();
  s->ux.update_timer(false);
  worker_.loop().timers().cancel(s->hold_timer);
  s->end_exchange(0);
  s->state = H2Stream::State::Closed;
  s->next = dead_;
  dead_ = s;
}

void H2Session::cut(H2Cut why) {
  if (cutting_) return;
  cutting_ = true;
  gate::WorkerStats& st = worker_.stats();
  const char* name = "protocol_error";
  switch (why) {
    case H2Cut::RapidReset:
      st.h2_cut_rapid_reset.add();
      name = "rapid_reset";
      break;
    case H2Cut::ServerResets:
      st.h2_cut_server_resets.add();
      name = "server_resets";
      break;
    case H2Cut::ControlFlood:
      st.h2_cut_control_flood.add();
      name = "control_flood";
      break;
    case H2Cut::StreamBurst:
      st.h2_cut_stream_burst.add();
      name = "stream_burst";
      break;
    case H2Cut::ProtocolError:
      st.h2_cut_protocol_error.add();
      name = "protocol_error";
      break;
  }
  worker_.h2_cut_event(name, peer_.ip);
  if (ng_ != nullptr) {
    nghttp2_session_terminate_session(
        ng_, why == H2Cut::ProtocolError ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

bool H2Session::read() {
  if (!readable_ || eof_ || cutting_) return false;
  char buf[kReadChunk];
  const ssize_t n = transport_.transport_read(buf, sizeof buf);
  if (n > 0) {
    // A short read drains a socket, but not TLS: one record comes out per read, and what
    // OpenSSL already holds raises no epoll event.
    if (static_cast<std::size_t>(n) < sizeof buf && !hangup_ && !transport_.transport_tls()) {
      readable_ = false;
    }
    progress_ms_ = worker_.loop().now_ms();
    const ssize_t r = nghttp2_session_mem_recv(ng_, reinterpret_cast<std::uint8_t*>(buf),
                                               static_cast<std::size_t>(n));
    if (r < 0 && !cutting_) {
      // nghttp2 found a connection error (it queued GOAWAY itself, e.g. a CONTINUATION flood or
      // its own reset-rate limit) or a callback gave up.
      cut(r == NGHTTP2_ERR_FLOODED ? H2Cut::ControlFlood : H2Cut::ProtocolError);
    }
    return true;
  }
  if (n == 0) {
    eof_ = true;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    readable_ = false;
    return false;
  }
  if (errno == EINTR) return true;
  eof_ = true;
  return true;
}

bool H2Session::flush() {
  bool progress = false;
  if (out_ == nullptr) out_ = worker_.buffers().acquire();
  // Produce while there is room; nghttp2 keeps what we do not take.
  while (out_->readable() < kOutHighWater && out_->writable() > 0) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(ng_, &data);
    if (n < 0) {
      cut(H2Cut::ProtocolError);
      break;
    }
    if (n == 0) break;
    // mem_send's bytes are valid until the next call: copy them all, writing out when full.
    std::size_t left = static_cast<std::size_t>(n);
    const char* p = reinterpret_cast<const char*>(data);
    while (left != 0) {
      if (out_->writable() == 0) out_->compact();
      if (out_->writable() == 0) {
        const ssize_t w = transport_.transport_write(out_->read_ptr(), out_->readable());
        if (w > 0) {
          out_->consume(static_cast<std::size_t>(w));
          continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          // Blocked with bytes nghttp2 no longer holds: keep them beside the buffer.
          spill_.append(p, left);
          left = 0;
          writable_ = false;
          break;
        }
        eof_ = true;
        return true;
      }
      const std::size_t k = out_->append({p, left});
      p += k;
      left -= k;
    }
    progress = true;
    if (!spill_.empty()) break;
  }
  // Write what is buffered.
  while (writable_ && (!out_->empty() || !spill_.empty())) {
    const char* p = out_->empty() ? spill_.data() : out_->read_ptr();
    const std::size_t len = out_->empty() ? spill_.size() : out_->readable();
    const ssize_t w = transport_.transport_write(p, len);
    if (w > 0) {
      if (out_->empty()) {
        spill_.erase(0, static_cast<std::size_t>(w));
      } else {
        out_->consume(static_cast<std::size_t>(w));
        if (out_->empty() && !spill_.empty()) {
          const std::size_t k = out_->append(spill_);
          spill_.erase(0, k);
        }
      }
      progress_ms_ = worker_.loop().now_ms();
      progress = true;
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      writable_ = false;
      break;
    }
    if (w < 0 && errno == EINTR) continue;
    eof_ = true;  // the client is gone
    return true;
  }
  return progress;
}

void H2Session::drive() {
  if (!open_) return;
  if (lingering_) {
    linger();
    return;
  }
  if (driving_) {
    again_ = true;
    return;
  }
  driving_ = true;
  new_in_pass_ = 0;
  for (int pass = 0; pass < kMaxPasses && open_; ++pass) {
    again_ = false;
    bool progress = read();
    for (H2Stream* s = streams_; s != nullptr; s = s->next) progress |= s->pump();
    progress |= flush();
    reap();
    if (eof_) break;
    if (!progress && !again_) break;
  }
  driving_ = false;
  const bool pending = (out_ != nullptr && !out_->empty()) || !spill_.empty();
  if (eof_) {
    close();
    return;
  }
  if (!pending && !cutting_ && !nghttp2_session_want_read(ng_) &&
      !nghttp2_session_want_write(ng_)) {
    close();
    return;
  }
  if (cutting_ && !pending && !nghttp2_session_want_write(ng_)) {
    // GOAWAY is out: shut our side and drain the client for a moment, so the GOAWAY is not
    // lost to a reset caused by the flood still arriving in our receive buffer.
    linger();
    return;
  }
  if (again_) drive_soon();
  update_timer();
}

void H2Session::linger() {
  if (!lingering_) {
    lingering_ = true;
    linger_budget_ = kLingerBytes;
    transport_.transport_shutdown_write();
    worker_.loop().timers().arm(timer_, worker_.loop().now_ms() + kLingerMs);
  }
  char sink[4096];
  while (readable_) {
    const ssize_t n = transport_.transport_read(sink, sizeof sink);
    if (n > 0 && static_cast<std::size_t>(n) < linger_budget_) {
      linger_budget_ -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      readable_ = false;
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    close();  // EOF, error, or past the budget
    return;
  }
}

void H2Session::drive_soon() {
  if (drive_queued_) return;
  drive_queued_ = true;
  // The session may be gone by the time the loop runs this: the weak token says.
  worker_.loop().defer([alive = std::weak_ptr<H2Session*>(alive_)] {
    if (auto p = alive.lock()) {
      (*p)->drive_queued_ = false;  // first: the drive may ask for the next batch
      (*p)->drive();
    }
  });
}

void H2Session::reap() {
  while (dead_ != nullptr) {
    H2Stream* s = dead_;
    dead_ = s->next;
    delete s;
  }
}

void H2Session::begin_shutdown() {
  if (!open_ || shutting_down_) return;
  shutting_down_ = true;
  nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  if (live_ == 0) cutting_ = true;
  drive();
}

void H2Session::close() {
  if (!open_) return;
  open_ = false;
  worker_.loop().timers().cancel(timer_);
  while (streams_ != nullptr) {
    H2Stream* s = streams_;
    streams_ = s->next;
    delete s;
  }
  reap();
  live_ = 0;
  if (ng_ != nullptr) {
    nghttp2_session_del(ng_);
    ng_ = nullptr;
  }
  worker_.buffers().release(out_);
  out_ = nullptr;
  spill_.clear();
  transport_.transport_close();
}

void H2Session::update_timer() {
  if (!open_ || lingering_) return;
  const policy::LimitsConfig& lim = worker_.current().snapshot->config.limits;
  const bool pending = (out_ != nullptr && !out_->empty()) || !spill_.empty();
  std::int64_t deadline;
  if (cutting_) {
    deadline = progress_ms_ + kLingerMs;  // a GOAWAY the client does not read: give up
  } else if (pending) {
    deadline = progress_ms_ + lim.send_timeout;
  } else if (live_ == 0) {
    deadline = progress_ms_ + (requests_ == 0 ? lim.head_timeout : lim.keepalive_timeout);
  } else {
    deadline = progress_ms_ + lim.body_idle_timeout;
    for (H2Stream* s = streams_; s != nullptr; s = s->next) {
      // A stream waiting for its upstream or its hold is not the client's delay.
      // Answered: what is left is the client's body (or its reading our answer).
      if (s->state != H2Stream::State::Head && s->state != H2Stream::State::Deciding &&
          s->state != H2Stream::State::Answered) {
        deadline = 0;
        break;
      }
    }
  }
  net::TimerWheel& wheel = worker_.loop().timers();
  if (deadline == 0) {
    wheel.cancel(timer_);
  } else if (!timer_.armed || timer_.deadline_ms != deadline) {
    wheel.arm(timer_, deadline);
  }
}

void H2Session::on_timer(void* self) {
  auto* c = static_cast<H2Session*>(self);
  if (!c->open_) return;
  c->worker_.stats().client_timeouts.add();
  if (c->cutting_ || c->lingering_) {
    c->close();
    return;
  }
  c->cutting_ = true;
  nghttp2_session_terminate_session(c->ng_, NGHTTP2_NO_ERROR);
  c->drive();
  if (c->open_) {
    // Give the GOAWAY a moment to leave, then close regardless.
    c->worker_.loop().timers().arm(c->timer_, c->worker_.loop().now_ms() + 1000);
  }
}

}  // namespace gh::proxy
