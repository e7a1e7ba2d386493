#include "proxy/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "gate/pipeline.h"
#include "h2_stream.h"
#include "http/parser.h"
#include "policy/snapshot.h"
#include "proxy/worker.h"

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
constexpr std::int32_t kConnectionWindow = 256 * 1024;  // all streams' unread bodies together
constexpr std::int64_t kLingerMs = 1'000;               // after GOAWAY: drain, then close
constexpr std::size_t kLingerBytes = 256 * 1024;
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
}  // namespace

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
