#include "h2_stream.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "gate/pipeline.h"
#include "http/parser.h"
#include "policy/snapshot.h"
#include "proxy/observe.h"
#include "proxy/rewrite.h"
#include "proxy/upstream_exchange.h"
#include "proxy/worker.h"
#include "stages/admission/limiter.h"

namespace gh::proxy {

namespace {
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

// A response's HTTP/2 fields: `:status`, then each field with its name lowercased into one
// reused buffer (sized before the first name goes in, so no pointer into it moves) and its value
// as it is. nghttp2 copies both before it returns: no allocation is left per response. What it is
// given is end to end already (rewrite.h drops the hop-by-hop fields).
class NvList final : public FieldSink {
 public:
  static constexpr std::size_t kCapacity = http::kMaxHeaderFields + 32;

  NvList(unsigned status, std::size_t name_bytes) {
    if (lowered().size() < name_bytes) lowered().resize(name_bytes);
    status_[0] = static_cast<char>('0' + status / 100 % 10);
    status_[1] = static_cast<char>('0' + status / 10 % 10);
    status_[2] = static_cast<char>('0' + status % 10);
    nv_[count_++] = {reinterpret_cast<std::uint8_t*>(const_cast<char*>(":status")),
                     reinterpret_cast<std::uint8_t*>(status_), 7, 3, NGHTTP2_NV_FLAG_NONE};
  }
  void field(std::string_view name, std::string_view value) override {
    if (count_ == nv_.size() || used_ + name.size() > lowered().size()) {
      overflow_ = true;
      return;
    }
    char* out = lowered().data() + used_;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      out[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
    }
    used_ += name.size();
    nv_[count_++] = {reinterpret_cast<std::uint8_t*>(out),
                     reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                     value.size(), NGHTTP2_NV_FLAG_NONE};
  }
  bool overflow() const { return overflow_; }
  const nghttp2_nv* data() const { return nv_.data(); }
  std::size_t size() const { return count_; }

 private:
  static std::string& lowered() {
    thread_local std::string buffer;
    return buffer;
  }
  std::array<nghttp2_nv, kCapacity + 1> nv_;
  std::size_t count_ = 0;
  std::size_t used_ = 0;
  bool overflow_ = false;
  char status_[4] = {};
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  return r;
}
}  // namespace

// ---- one stream: one request through the pipeline -------------------------------------------

H2Stream::H2Stream(H2Session& c, std::int32_t stream_id)
    : conn(c), id(stream_id), await(c.worker(), x, *this), ux(c.worker(), *this) {
  hold_timer.owner = this;
  hold_timer.callback = &H2Stream::on_hold_timer;
}
H2Stream::~H2Stream() {
  ux.close();
  ux.end();
  ux.update_timer(false);
  conn.worker().loop().timers().cancel(hold_timer);
  end_exchange(0);
  if (resp != nullptr) conn.worker().buffers().release(resp);
}

// -- head -----------------------------------------------------------------------------------
void H2Stream::header(std::string_view name, std::string_view value) {
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
bool H2Stream::convert(bool end_stream) {
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
    answer_now(stages::refusal(static_cast<std::uint16_t>(http::status_for(e)), http::describe(e)));
    return false;
  }
  if (end_stream && req.body == http::BodyKind::ContentLength && req.content_length != 0) {
    answer_now(stages::refusal(400, "content-length but no body"));
    return false;
  }
  return true;
}

// -- the pipeline -----------------------------------------------------------------------------
void H2Stream::begin() {
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

void H2Stream::carry(const gate::Decision& d) {
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
    case gate::Step::Await:
      // Parked like a hold: the slot, the reply or the deadline (hold_timer) ends it.
      if (await.park(d)) {
        state = d.step == gate::Step::AwaitSlot ? State::Queued : State::Hold;
        w.loop().timers().arm(hold_timer, d.until_ms);
      }
      return;
    case gate::Step::Drop:
      // Unanswered, as an HTTP/1.1 drop closes unanswered; the connection's other streams go on.
      nghttp2_submit_rst_stream(conn.ng(), NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
      end_exchange(0);
      state = State::Closed;
      return;
  }
}

bool H2Stream::try_decide() {
  if (state != State::Deciding || body_want == 0) return false;
  const std::size_t want = std::min<std::size_t>({body_want, 64 * 1024, kInitialWindow});
  if (!end_seen && body.size() < want) return false;
  const bool complete = end_seen && body.size() <= want;
  const std::string_view prefix = std::string_view(body).substr(0, want);
  body_want = 0;
  carry(conn.worker().pipeline().body(x, prefix, complete, conn.worker().clock()));
  return true;
}

void H2Stream::on_hold_expired() {
  if (await.expire()) return;
  Worker& w = conn.worker();
  state = State::Deciding;
  carry(w.pipeline().hold_over(x, w.clock()));
}

void H2Stream::on_hold_timer(void* self) {
  auto* s = static_cast<H2Stream*>(self);
  if (s->state != State::Hold && s->state != State::Queued) return;
  s->on_hold_expired();
  s->conn.drive();
}

bool H2Stream::await_parked() const {
  return exchange_open && (state == State::Queued || state == State::Hold);
}

void H2Stream::await_over(const gate::Decision& next, Await::Resume how) {
  conn.worker().loop().timers().cancel(hold_timer);
  state = State::Deciding;
  carry(next);
  if (how == Await::Resume::Now) conn.drive();
  if (how == Await::Resume::Soon) conn.drive_soon();
}

void H2Stream::await_granted() {
  conn.worker().loop().timers().cancel(hold_timer);
  state = State::Deciding;
  // Granted from inside another connection's step: carry on from the loop, not its stack.
  forward_pending = true;
  conn.drive_soon();
}

void H2Stream::forward() {
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
bool H2Stream::pump_request_body() {
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
void H2Stream::upstream_progress() {
  conn.drive_soon();
}

bool H2Stream::upstream_head(const http::ResponseHead& h) {
  // The head's end-to-end fields, Via and the pipeline's fields, as HTTP/2 fields at once (no
  // HTTP/1.1 text made and read again).
  const std::string_view extra = x.response_fields();
  std::size_t names = 3 + extra.size();  // "via" and at most the extra lines' bytes
  for (std::uint16_t i = 0; i < h.field_count; ++i) names += h.fields[i].name.size();
  NvList nv(h.status % 1000u, names);
  response_fields(h, extra, nv);
  if (nv.overflow()) {
    upstream_failed(502, "upstream response head has too many fields", 0);
    return false;
  }
  if (resp == nullptr) resp = conn.worker().buffers().acquire();
  const bool body = !head_only && h.body != http::BodyKind::None &&
                    !(h.body == http::BodyKind::ContentLength && h.content_length == 0);
  submit(nv.data(), nv.size(), body);
  return true;
}

void H2Stream::upstream_failed(int status, std::string_view detail, std::uint32_t retry_after) {
  if (ux.head_done()) {
    // Part of the response is out: reset the stream, the only signal left.
    nghttp2_submit_rst_stream(conn.ng(), NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
    state = State::Closed;
    return;
  }
  respond(stages::refusal(static_cast<std::uint16_t>(status), detail, retry_after));
}

bool H2Stream::pump() {
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
void H2Stream::give_back_body() {
  if (body.empty()) return;
  nghttp2_session_consume(conn.ng(), id, body.size());
  body.clear();
}

void H2Stream::resume() {
  if (!deferred) return;
  deferred = false;
  nghttp2_session_resume_data(conn.ng(), id);
}

// The data provider: our answer's body, or the upstream's as it arrives.
ssize_t H2Stream::read_body(std::uint8_t* buf, std::size_t len, std::uint32_t* flags) {
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

ssize_t H2Stream::on_read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t len,
                               std::uint32_t* flags, nghttp2_data_source* src, void*) {
  return static_cast<H2Stream*>(src->ptr)->read_body(buf, len, flags);
}

void H2Stream::submit(const nghttp2_nv* nv, std::size_t count, bool has_body) {
  nghttp2_data_provider prd;
  prd.source.ptr = this;
  prd.read_callback = &H2Stream::on_read_body;
  if (nghttp2_submit_response(conn.ng(), id, nv, count, has_body ? &prd : nullptr) != 0) {
    nghttp2_submit_rst_stream(conn.ng(), NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  }
}

// Our own answer's head, written as HTTP/1.1 by rewrite.h (the same bytes an HTTP/1.1 client
// gets), read back into fields; one that does not read back is our 502.
void H2Stream::submit_local(std::string_view head_text, bool has_body) {
  http::ResponseHead h{};
  http::HeadLimits limits;
  limits.max_head_bytes = head_text.size() + 1;
  const bool parsed = http::parse_response(head_text, limits, http::Method::Get, h).status ==
                      http::ParseStatus::Complete;
  NvList nv(parsed ? h.status % 1000u : 502u, head_text.size());
  for (std::uint16_t i = 0; parsed && i < h.field_count; ++i) {
    // HTTP/1.1's framing (Content-Length stays: it is end to end).
    if (!hop_by_hop(h.fields[i].name)) nv.field(h.fields[i].name, h.fields[i].value);
  }
  submit(nv.data(), nv.size(), has_body);
}

// Our own answer (the pipeline's, or the transport's): rendered as HTTP/1.1 by rewrite.h,
// then sent as HTTP/2.
void H2Stream::respond(const stages::Answer& a) {
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
    write_local_response(a.status == 200 ? 500 : a.status, "page too large for the response buffer",
                         false, false, a.retry_after_s, {}, *tmp);
  }
  const std::string_view all = tmp->view();
  const std::size_t head_end = all.find("\r\n\r\n");
  const std::string_view head =
      head_end == std::string_view::npos ? all : all.substr(0, head_end + 4);
  local.assign(head_end == std::string_view::npos ? std::string_view{} : all.substr(head_end + 4));
  if (head_only) local.clear();
  local_off = 0;
  w.stats().responses_local.add();
  local_status = a.status;
  submit_local(head, !local.empty());
  w.buffers().release(tmp);
  give_back_body();

  end_exchange(a.status);
  state = State::Answered;
}

// A head refused before the pipeline saw it: answered and logged like a malformed HTTP/1.1 head.
void H2Stream::answer_now(const stages::Answer& a) {
  respond(a);
  record_exchange(conn.worker(), {.status = a.status,
                                  .client = conn.peer().ip,
                                  .start_ms = conn.worker().loop().now_ms(),
                                  .bytes_in = text.size(),
                                  .bytes_out = local.size()});
}

void H2Stream::end_exchange(int status) {
  Worker& w = conn.worker();
  await.leave();  // a slot or a reply that comes later finds no one
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

}  // namespace gh::proxy
