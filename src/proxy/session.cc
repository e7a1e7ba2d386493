// The HTTP/1.1 session's request flow: a parsed head goes to the pipeline (gate/), and its
// decision is carried out here (forward with the bodies streamed both ways, hold, park for a
// slot or the fleet, answer), then the exchange is recorded and the deadlines of each phase are
// kept. The client socket and TLS are session_client.cc; an upgraded connection is
// session_splice.cc; the decision service's side is decide.cc.
#include "proxy/session.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/clock.h"
#include "gate/pipeline.h"
#include "net/socket.h"
#include "policy/snapshot.h"
#include "proxy/observe.h"
#include "proxy/rewrite.h"
#include "proxy/server.h"
#include "proxy/worker.h"
#include "stages/admission/limiter.h"

namespace gh::proxy {

namespace {
// Steps per wake-up before yielding to other connections; the rest is re-driven after the batch.
constexpr int kMaxSteps = 256;
// Room kept in the upstream buffer for a chunk header and its CRLF.
constexpr std::size_t kChunkOverhead = 24;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The transport's own refusals (framing, timeouts): the connection cannot carry on after them.
stages::Answer closing_refusal(std::uint16_t status, std::string_view detail) {
  stages::Answer a = stages::refusal(status, detail);
  a.close = true;
  return a;
}
}  // namespace

Session::Session(Worker& worker) : worker_(worker), await_(worker, x_, *this), ux_(worker, *this) {
  client_timer_.owner = this;
  client_timer_.callback = &Session::on_client_timer;
}

Session::~Session() {
  close_now();
}

void Session::upstream_progress() {
  if (fd_ >= 0) drive();
}

void Session::drive() {
  if (h2_ != nullptr) return;
  int steps = 0;
  while (fd_ >= 0 && step()) {
    if (++steps == kMaxSteps) {
      // Fairness: let other connections run, and come back after this epoll batch. Edge-triggered
      // readiness would not wake us again for bytes already buffered.
      redrive_soon();
      break;
    }
  }
  if (fd_ >= 0 && h2_ == nullptr) update_timers();
}

bool Session::step() {
  if (h2_ != nullptr) return false;  // an HTTP/2 connection: H2Session drives it
  bool progress = false;
  switch (phase_) {
    case Phase::ProxyHeader:
      progress |= read_client();
      progress |= parse_proxy_header();
      break;
    case Phase::Handshake:
      progress |= handshake();
      break;
    case Phase::Head:
      // Pipelined requests are answered in order. The next head is taken while the previous
      // answer still waits in out_ (so answers leave together), but only while out_ is at
      // least half free: a client that never reads pins one buffer, no more.
      if (out_ == nullptr || out_->writable() >= out_->capacity() / 2) {
        progress |= read_client();
        progress |= parse_head();
      }
      break;
    case Phase::Upstream:
      if (!req_done_) progress |= read_client();
      if (deciding_) {
        progress |= try_decide();
        break;
      }
      progress |= pump_request_body();
      if (phase_ != Phase::Upstream) break;
      progress |= ux_.write(req_done_);
      progress |= ux_.read();
      progress |= pump_response();
      if (phase_ == Phase::Upstream && ux_.switched()) {
        start_splice();
        return fd_ >= 0;
      }
      if (phase_ == Phase::Upstream && ux_.done()) {
        finish_exchange();
        progress = true;
      }
      break;
    case Phase::Flush:
    case Phase::Hold:
      break;
    case Phase::Linger:
      progress |= linger_read();
      break;
    case Phase::Splice:
      return pump_splice();  // the splice writes the client itself
  }
  if (fd_ < 0) return false;
  // Send once nothing more can be produced now (answers to pipelined requests then share one
  // send), or when out_ is filling up (streaming).
  if (!progress || (out_ != nullptr && out_->writable() < out_->capacity() / 2)) {
    progress |= write_client();
  }
  if (fd_ >= 0 && phase_ == Phase::Flush && close_after_ && (out_ == nullptr || out_->empty())) {
    if (linger_after_flush_) {
      start_linger();
    } else {
      close_now();
      return false;
    }
    progress = true;
  } else if (fd_ >= 0 && phase_ == Phase::Flush && !close_after_) {
    phase_ = Phase::Head;
    client_progress_ms_ = worker_.loop().now_ms();
    if (in_ != nullptr && !in_->empty()) head_start_ms_ = client_progress_ms_;
    release_idle_buffers();
    progress = true;
  }
  return progress && fd_ >= 0;
}

bool Session::parse_head() {
  if (in_ == nullptr || in_->empty()) {
    if (client_eof_) close_now();
    return false;
  }
  const policy::LimitsConfig& lim = worker_.current().snapshot->config.limits;
  http::HeadLimits limits;
  limits.max_head_bytes = lim.max_head_bytes;
  limits.max_fields = lim.max_header_fields;
  limits.max_target_bytes = lim.max_target_bytes;
  http::ParseResult r = http::parse_request(in_->view(), limits, req_);
  if (r.status == http::ParseStatus::NeedMore) {
    if (client_eof_) {
      close_now();  // half a head, then FIN: nobody is waiting for an answer
      return false;
    }
    if (in_->writable() == 0) in_->compact();
    return false;
  }
  if (r.status == http::ParseStatus::Error) {
    worker_.stats().requests_refused_parse.add();
    head_only_ = false;
    stages::Answer a = stages::refusal(static_cast<std::uint16_t>(http::status_for(r.error)),
                                       http::describe(r.error));
    a.close = true;
    respond(a);
    return true;
  }
  head_len_ = r.consumed;
  begin_exchange();
  return true;
}

// ---- one exchange ---------------------------------------------------------------------------

void Session::begin_exchange() {
  ++requests_;
  worker_.stats().requests.add();
  text_.set(req_);  // the access log's view; the head's bytes may be gone at the end
  in_mark_ = in_->consumed_total();
  out_mark_ = out_ != nullptr ? out_->added_total() : 0;
  hold_ = worker_.hold();
  exchange_open_ = true;
  ux_.reset();
  req_done_ = resp_chunked_out_ = false;
  send_continue_ = continue_sent_ = linger_after_flush_ = false;
  deciding_ = false;
  local_status_ = 0;
  req_body_bytes_ = 0;
  req_chunked_.reset();
  head_only_ = req_.method == http::Method::Head;
  if (!req_.keep_alive || shutting_down_ || worker_.stopping()) close_after_ = true;
  req_remaining_ = req_.body == http::BodyKind::ContentLength ? req_.content_length : 0;
  phase_ = Phase::Upstream;
  allowed_ = subrequest_ = false;
  if (decide_ == policy::DecideFor::None) {
    carry(worker_.pipeline().begin(x_, *hold_->runtime, req_, peer_.ip, worker_.clock(),
                                   gate::Via::Inline, tls_on_));
    return;
  }
  // The decision service (decide.cc): decide on the request the proxy in front describes.
  x_.reset();
  if (answer_fetch()) return;
  const http::RequestHead& original = describe_original();
  if (subrequest_) text_.set(original);
  if (subrequest_ && original.target.empty()) {
    respond(stages::refusal(400, "the request the proxy describes is malformed"));
    return;
  }
  carry(worker_.pipeline().begin(x_, *hold_->runtime, original, peer_.ip, worker_.clock(),
                                 gate::Via::Decide, tls_on_));
}

void Session::carry(const gate::Decision& d) {
  switch (d.step) {
    case gate::Step::Forward:
      if (decide_ != policy::DecideFor::None) {
        allow();  // a decision service says "pass"; the proxy in front forwards
      } else {
        forward();
      }
      return;
    case gate::Step::Respond:
      respond(d.answer);
      return;
    case gate::Step::NeedBody:
      body_want_ = d.body_bytes;
      deciding_ = true;  // step() reads on and calls try_decide()
      try_decide();
      return;
    case gate::Step::Hold:
      phase_ = Phase::Hold;
      hold_until_ms_ = d.until_ms;
      return;
    case gate::Step::AwaitSlot:
    case gate::Step::Await:
      // Parked like a hold: the slot, the reply or the deadline (the client timer) ends it.
      if (await_.park(d)) {
        phase_ = Phase::Hold;
        hold_until_ms_ = d.until_ms;
      }
      return;
    case gate::Step::Drop:
      close_now();
      return;
  }
}

// Body fields (username, email) are read from the first bytes of the body, held back until the
// limits have decided: a refused sign-up never reaches the upstream, not even partly.
bool Session::try_decide() {
  if (!deciding_) return false;
  maybe_send_continue();
  const std::size_t room = in_->capacity() > head_len_ + 1 ? in_->capacity() - head_len_ - 1 : 0;
  const std::size_t want = std::min<std::size_t>({body_want_, room, 64 * 1024});
  std::string_view body = in_->view().substr(head_len_);
  bool ready = client_eof_ || in_->writable() == 0;
  bool complete = false;  // the prefix is the whole body
  std::string_view prefix;
  char scratch[8192];
  if (req_.body == http::BodyKind::ContentLength) {
    const std::size_t need = std::min<std::uint64_t>(want, req_.content_length);
    prefix = body.substr(0, std::min(need, body.size()));
    ready = ready || body.size() >= need;
    complete = prefix.size() == req_.content_length;
  } else {
    // De-chunk a copy of what has arrived; the real decoder runs again when forwarding.
    http::ChunkedDecoder probe;
    std::size_t got = 0;
    bool cut = false;
    const std::size_t cap = std::min(want, sizeof scratch);
    while (!body.empty() && got < cap) {
      http::ChunkedDecoder::Step st = probe.step(body);
      if (st.status == http::ParseStatus::Error) {
        ready = true;  // forwarding will refuse it with 400
        break;
      }
      std::size_t take = std::min(st.data.size(), cap - got);
      cut = cut || take < st.data.size();
      if (take != 0) std::memcpy(scratch + got, st.data.data(), take);
      got += take;
      body.remove_prefix(st.consumed);
      if (st.status == http::ParseStatus::Complete) {
        ready = true;
        complete = !cut;
        break;
      }
      if (st.consumed == 0) break;
    }
    prefix = {scratch, got};
    ready = ready || got >= cap;
  }
  if (!ready) return false;
  deciding_ = false;
  carry(worker_.pipeline().body(x_, prefix, complete, worker_.clock()));
  return true;
}

void Session::on_hold_expired() {
  if (await_.expire()) return;
  phase_ = Phase::Upstream;
  const bool tarpit = !x_.hold_forwards;
  carry(worker_.pipeline().hold_over(x_, worker_.clock()));
  if (tarpit) linger_after_flush_ = false;  // the client waited for nothing: no drain either
}

void Session::forward() {
  const bool has_body = x_.has_body;
  // Without a body the head stays in in_ until the exchange ends: a retry can send it again.
  if (!ux_.forward_head(x_, hold_, req_,
                        ForwardContext{peer_.ip, x_.peer_trusted, tls_on_, x_.upgrade},
                        !has_body)) {
    respond(closing_refusal(431, "request head too large to forward"));
    return;
  }
  send_continue_ = send_continue_ ||
                   (req_.expect_continue && has_body && req_.version_minor == 1 && !continue_sent_);
  if (has_body) {
    // The head is serialised; its bytes can go, and the body streams from the front of in_.
    x_.head = nullptr;
    in_->consume(head_len_);
    head_len_ = 0;
    // Body bytes that came with the head are checked first: an invalid first chunk or an
    // oversized body is refused before the upstream is contacted at all.
    pump_request_body();
    if (fd_ < 0 || phase_ != Phase::Upstream) return;
  } else {
    req_done_ = true;  // the head stays in in_ until the response starts, for a possible retry
  }
  ux_.connect();
}

void Session::maybe_send_continue() {
  if (!send_continue_ && !(deciding_ && req_.expect_continue && req_.version_minor == 1)) return;
  if (continue_sent_) {
    send_continue_ = false;
    return;
  }
  // The body is wanted: say so, or a client waiting for 100 Continue never sends it.
  if (out_ == nullptr) out_ = worker_.buffers().acquire();
  out_->append(kContinue);
  send_continue_ = false;
  continue_sent_ = true;
}

bool Session::pump_request_body() {
  if (req_done_) return false;
  if (client_eof_ && (in_ == nullptr || in_->empty())) {
    close_now();  // the client gave up mid-body: the upstream must not see a partial request
    return false;
  }
  maybe_send_continue();
  if (in_ == nullptr || in_->empty()) return false;
  bool progress = false;
  core::Buffer& up_out = ux_.request_out();
  if (req_.body == http::BodyKind::ContentLength) {
    std::size_t n = std::min<std::uint64_t>(req_remaining_, in_->readable());
    n = std::min(n, up_out.writable());
    if (n == 0) return false;
    up_out.append({in_->read_ptr(), n});
    in_->consume(n);
    req_remaining_ -= n;
    if (req_remaining_ == 0) req_done_ = true;
    return true;
  }
  // Chunked: decode strictly, re-chunk what we forward (extensions and trailers are dropped).
  while (!in_->empty() && up_out.writable() > kChunkOverhead) {
    std::string_view feed = in_->view().substr(0, up_out.writable() - kChunkOverhead);
    http::ChunkedDecoder::Step s = req_chunked_.step(feed);
    if (s.status == http::ParseStatus::Error) {
      worker_.stats().requests_refused_parse.add();
      if (!ux_.head_done()) {
        respond(closing_refusal(400, http::describe(s.error)));
      } else {
        close_now();
      }
      return false;
    }
    if (!s.data.empty()) {
      req_body_bytes_ += s.data.size();
      if (req_body_bytes_ > x_.body_limit) {
        if (!ux_.head_done()) {
          respond(closing_refusal(413, "request body exceeds the limit of this route"));
        } else {
          close_now();
        }
        return false;
      }
      write_chunk_header(s.data.size(), up_out);
      up_out.append(s.data);
      up_out.append("\r\n");
    }
    in_->consume(s.consumed);
    progress |= s.consumed > 0;
    if (s.status == http::ParseStatus::Complete) {
      up_out.append("0\r\n\r\n");
      req_done_ = true;
      break;
    }
    if (s.consumed == 0) break;
  }
  return progress;
}

// ---- the upstream's answer ------------------------------------------------------------------

bool Session::upstream_head(const http::ResponseHead& resp) {
  if (resp.status == 101) {
    // The switch the route opted into (upstream_exchange.cc checked it names x_.upgrade).
    if (out_ == nullptr) out_ = worker_.buffers().acquire();
    if (!write_switch_head(resp, x_.upgrade, *out_)) {
      if (out_->empty()) upstream_failed(502, "upstream response head too large", 0);
      return false;
    }
    return true;
  }
  // A bodyless request's head stays in in_ until the exchange ends (end_exchange consumes it):
  // nothing more is read from the client meanwhile, and the access log can still name its path
  // and user agent.
  // The client connection ends after this response when either side asked, when the body is
  // delimited by close, or when the client's request body was not read to its end.
  if (resp.body == http::BodyKind::UntilClose || !req_done_) close_after_ = true;
  if (resp.body == http::BodyKind::Chunked && req_.version_minor == 0) close_after_ = true;
  if (!req_done_) linger_after_flush_ = true;
  resp_chunked_out_ = resp.body == http::BodyKind::Chunked && req_.version_minor == 1;
  if (out_ == nullptr) out_ = worker_.buffers().acquire();
  send_continue_ = false;
  if (!write_response_head(resp, req_.version_minor, close_after_, *out_, x_.response_fields())) {
    // The answer to an earlier pipelined request may still fill out_: retry once it has left.
    if (out_->empty()) upstream_failed(502, "upstream response head too large", 0);
    return false;
  }
  return true;
}

bool Session::pump_response() {
  bool progress = false;
  if (!ux_.head_done()) {
    progress = ux_.pump_head();
    if (!ux_.head_done() || phase_ != Phase::Upstream) return progress;
  }
  progress |= ux_.pump_body(*out_, resp_chunked_out_);
  if (ux_.cut_short()) close_after_ = true;
  return progress;
}

void Session::finish_exchange() {
  ux_.finish(req_done_);
  if (!req_done_) close_after_ = true;
  end_exchange();
  phase_ = Phase::Flush;
}

void Session::end_exchange() {
  if (exchange_open_) {
    exchange_open_ = false;
    const int status = ux_.head_done() ? ux_.response().status : local_status_;
    // A decision service's "pass" is not the application's answer: nothing to settle by it.
    worker_.pipeline().end(x_, allowed_ ? 0 : status, worker_.clock());
    // The operator's view (observe.h): counts, heavy hitters, the access log.
    ExchangeInfo info =
        exchange_info(x_, hold_->runtime.get(), ux_.head_done(), status, &text_, head_start_ms_);
    info.bytes_in = (in_ != nullptr ? in_->consumed_total() - in_mark_ : 0) + head_len_;
    info.bytes_out = (out_ != nullptr ? out_->added_total() : 0) - out_mark_;
    info.spliced = phase_ == Phase::Splice;
    record_exchange(worker_, info);
  } else if (local_status_ != 0) {  // an answer outside any exchange (a malformed head, 408)
    record_exchange(worker_,
                    {.status = local_status_,
                     .client = peer_.ip,
                     .start_ms = head_start_ms_,
                     .bytes_in = in_ != nullptr ? in_->readable() : 0,
                     .bytes_out = (out_ != nullptr ? out_->added_total() : 0) - out_mark_});
  }
  local_status_ = 0;
  await_.leave();  // a slot or a reply that comes later finds no one
  ux_.end();
  if (head_len_ != 0 && in_ != nullptr) {
    in_->consume(head_len_);
    head_len_ = 0;
  }
  if (hold_ != nullptr) {
    worker_.unhold(hold_);
    hold_ = nullptr;
  }
}

void Session::upstream_failed(int status, std::string_view detail, std::uint32_t retry_after) {
  if (ux_.head_done()) {
    close_now();  // part of the response is out: cutting the connection is the only signal left
    return;
  }
  stages::Answer a = stages::refusal(static_cast<std::uint16_t>(status), detail, retry_after);
  a.close = close_after_ || !req_done_;
  respond(a);
}

void Session::respond(const stages::Answer& answer) {
  // A decision service's refusal travels in the form its proxy understands (decide.cc).
  const stages::Answer a =
      decide_ != policy::DecideFor::None && !allowed_ && exchange_open_ ? for_host(answer) : answer;
  ux_.close();
  ux_.clear_request();
  // An unread request body may still be arriving: close after the answer, and drain the client
  // meanwhile so the answer is not lost to a RST.
  const bool body_left = exchange_open_ && !req_done_ &&
                         (req_.body == http::BodyKind::Chunked ||
                          (req_.body == http::BodyKind::ContentLength && req_.content_length > 0));
  if (a.close || body_left) {
    close_after_ = true;
    linger_after_flush_ = true;
  }
  if (out_ == nullptr) out_ = worker_.buffers().acquire();
  if (!exchange_open_) out_mark_ = out_->added_total();  // a malformed head's answer, a 408
  send_continue_ = false;
  worker_.stats().responses_local.add();
  local_status_ = a.status;
  const bool ok = a.content_type.empty()
                      ? write_local_response(a.status, a.detail, close_after_, head_only_,
                                             a.retry_after_s, a.fields, *out_)
                      : write_local_page(a.status, a.content_type, a.body, close_after_, head_only_,
                                         a.retry_after_s, a.fields, *out_);
  if (!ok) {
    if (a.content_type.empty()) {
      close_now();
      return;
    }
    // Larger than the buffer: the plain refusal still says what happened.
    stages::Answer plain =
        stages::refusal(a.status == 200 ? 500 : a.status, "page too large for the response buffer",
                        a.retry_after_s);
    plain.close = true;
    respond(plain);
    return;
  }
  end_exchange();
  phase_ = Phase::Flush;
}

// ---- admission ------------------------------------------------------------------------------

bool Session::await_parked() const {
  return fd_ >= 0 && phase_ == Phase::Hold && exchange_open_;
}

void Session::await_over(const gate::Decision& next, Await::Resume how) {
  phase_ = Phase::Upstream;
  carry(next);
  if (fd_ < 0) return;
  if (how == Await::Resume::Now) drive();
  if (how == Await::Resume::Soon) redrive_soon();
}

void Session::await_granted() {
  // Granted from inside another session's step: go on after it, not on its stack.
  const std::uint64_t serial = serial_;
  worker_.loop().defer([this, serial] {
    if (serial_ != serial || fd_ < 0 || phase_ != Phase::Hold || x_.slot == nullptr) return;
    phase_ = Phase::Upstream;
    forward();
    if (fd_ >= 0) drive();
  });
}

void Session::redrive_soon() {
  if (redrive_pending_) return;
  redrive_pending_ = true;
  const std::uint64_t serial = serial_;
  worker_.loop().defer([this, serial] {
    if (serial_ != serial || fd_ < 0) return;
    redrive_pending_ = false;
    drive();
  });
}

// ---- deadlines ------------------------------------------------------------------------------

void Session::update_timers() {
  const policy::LimitsConfig& lim =
      (hold_ != nullptr ? hold_->snapshot : worker_.current().snapshot)->config.limits;
  const bool sending = out_ != nullptr && !out_->empty();
  std::int64_t client_deadline = 0;
  switch (phase_) {
    case Phase::ProxyHeader:
      client_deadline = head_start_ms_ + lim.head_timeout;
      break;
    case Phase::Handshake:
      client_deadline = head_start_ms_ + handshake_timeout_ms_;
      break;
    case Phase::Head:
      if (sending) {
        client_deadline = client_progress_ms_ + lim.send_timeout;
      } else if (requests_ == 0 || (in_ != nullptr && !in_->empty())) {
        client_deadline = head_start_ms_ + lim.head_timeout;  // the whole head, not per byte
      } else {
        client_deadline = client_progress_ms_ + lim.keepalive_timeout;
      }
      break;
    case Phase::Upstream:
      if (!req_done_) {
        client_deadline = client_progress_ms_ + lim.body_idle_timeout;
      } else if (sending) {
        client_deadline = client_progress_ms_ + lim.send_timeout;
      }
      break;
    case Phase::Flush:
      client_deadline = client_progress_ms_ + lim.send_timeout;
      break;
    case Phase::Hold:
      client_deadline = hold_until_ms_;
      break;
    case Phase::Linger:
      client_deadline = linger_until_ms_;
      break;
    case Phase::Splice:
      client_deadline = splice_.deadline_ms();
      break;
  }
  net::TimerWheel& wheel = worker_.loop().timers();
  if (client_deadline == 0) {
    wheel.cancel(client_timer_);
  } else if (!client_timer_.armed || client_timer_.deadline_ms != client_deadline) {
    wheel.arm(client_timer_, client_deadline);
  }

  ux_.update_timer(phase_ == Phase::Upstream);
}

void Session::on_client_timer(void* self) {
  auto* s = static_cast<Session*>(self);
  if (s->fd_ < 0) return;
  if (s->phase_ == Phase::Hold) {
    s->on_hold_expired();
    if (s->fd_ >= 0) s->drive();
    return;
  }
  if (s->phase_ == Phase::Splice) {
    if (s->splice_.expire(s->worker_.loop().now_ms())) {
      s->end_splice();
    } else {
      s->update_timers();  // bytes moved since the timer was set: the deadline moved with them
    }
    return;
  }
  if (s->phase_ == Phase::Handshake) {
    // A stalled handshake is cut without a word: there is no channel to answer on yet.
    s->worker_.stats().tls_handshakes_timed_out.add();
    s->handshaking_ = false;
    s->worker_.handshake_ended();
    s->close_now();
    return;
  }
  s->worker_.stats().client_timeouts.add();
  const bool partial_head = s->phase_ == Phase::Head && s->in_ != nullptr && !s->in_->empty() &&
                            (s->out_ == nullptr || s->out_->empty());
  const bool body_stalled = s->phase_ == Phase::Upstream && !s->req_done_ && !s->ux_.head_done();
  if (partial_head || body_stalled) {
    s->head_only_ = false;
    s->respond(closing_refusal(
        408, partial_head ? "request head not received in time" : "request body stalled"));
    s->linger_after_flush_ = false;  // a client this slow does not get a drain period
    s->drive();
    return;
  }
  s->close_now();
}

}  // namespace gh::proxy
