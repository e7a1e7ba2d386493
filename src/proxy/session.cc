#include "proxy/session.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "client/address.h"
#include "client/proxy_protocol.h"
#include "client/resolve.h"
#include "core/clock.h"
#include "net/socket.h"
#include "policy/snapshot.h"
#include "proxy/rewrite.h"
#include "proxy/server.h"
#include "proxy/worker.h"
#include "stages/admission/limiter.h"
#include "stages/challenge/binding.h"
#include "stages/challenge/form.h"
#include "stages/challenge/pages.h"
#include "stages/challenge/pow.h"
#include "stages/residents/device_guard.h"
#include "stages/ratelimit/fields.h"
#include "stages/waitroom/pages.h"

namespace gh::proxy {

namespace {
constexpr std::uint32_t kClientEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
// Steps per wake-up before yielding to other connections; the rest is re-driven after the batch.
constexpr int kMaxSteps = 256;
constexpr std::int64_t kLingerMs = 2'000;
constexpr std::size_t kLingerBytes = 256 * 1024;
// Room kept in up_out_/out_ for a chunk header and its CRLF.
constexpr std::size_t kChunkOverhead = 24;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kGatehousePrefix = "/.gatehouse/";
constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kJson = "application/json";
// Clearance scopes: earned on a sign-up route (short-lived, good everywhere) or elsewhere
// (longer-lived, not good for sign-up).
constexpr std::uint32_t kSignupScope = 1;

// Whether the response sets cookie `name` to a value (not a deletion: empty, Max-Age=0).
bool sets_cookie(const http::ResponseHead& resp, std::string_view name) {
  for (std::uint16_t i = 0; i < resp.field_count; ++i) {
    if (!http::iequals(resp.fields[i].name, "set-cookie")) continue;
    std::string_view v = resp.fields[i].value;
    const std::size_t eq = v.find('=');
    if (eq == std::string_view::npos || v.substr(0, eq) != name) continue;
    const std::size_t semi = v.find(';', eq);
    const std::string_view value = v.substr(eq + 1, semi == std::string_view::npos ? semi : semi - eq - 1);
    if (value.empty() || value == "\"\"") continue;
    std::string_view attrs = semi == std::string_view::npos ? std::string_view{} : v.substr(semi);
    bool deleted = false;
    while (!attrs.empty()) {
      attrs.remove_prefix(1);  // ';'
      const std::size_t next = std::min(attrs.find(';'), attrs.size());
      std::string_view a = attrs.substr(0, next);
      while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
      if (a.size() >= 8 && http::iequals(a.substr(0, 8), "max-age=")) {
        deleted = deleted || a.substr(8).starts_with('0') || a.substr(8).starts_with('-');
      }
      attrs.remove_prefix(next);
    }
    if (!deleted) return true;
  }
  return false;
}

// The path of a Location value: "/account" from "/account" or "https://host/account?x".
std::string_view location_path(std::string_view location) {
  const std::size_t scheme = location.find("://");
  if (scheme != std::string_view::npos && location.find('/') > scheme) {
    const std::size_t slash = location.find('/', scheme + 3);
    location = slash == std::string_view::npos ? std::string_view("/") : location.substr(slash);
  }
  return location;
}

// A request may go to a second connection only if sending it twice is harmless (RFC 9110 9.2.2)
// and it has no body: an admitted sign-up must reach the app once.
bool retryable(const http::RequestHead& req) {
  if (req.body != http::BodyKind::None) return false;
  switch (req.method) {
    case http::Method::Get:
    case http::Method::Head:
    case http::Method::Options:
    case http::Method::Trace:
      return true;
    default:
      return false;
  }
}
}  // namespace

Session::Session(Worker& worker) : worker_(worker) {
  client_timer_.owner = this;
  client_timer_.callback = &Session::on_client_timer;
  upstream_timer_.owner = this;
  upstream_timer_.callback = &Session::on_upstream_timer;
}

Session::~Session() {
  close_now();
}

void Session::start(int fd, const client::SocketAddress& peer, bool proxy_protocol, bool counted) {
  fd_ = fd;
  peer_ = peer;
  counted_ip_ = peer.ip;
  counted_ = counted;
  phase_ = proxy_protocol ? Phase::ProxyHeader : Phase::Head;
  client_readable_ = client_writable_ = client_eof_ = client_hangup_ = false;
  close_after_ = shutting_down_ = redrive_pending_ = false;
  requests_ = 0;
  head_len_ = 0;
  ++serial_;
  const std::int64_t now = worker_.loop().now_ms();
  head_start_ms_ = client_progress_ms_ = now;
  if (!worker_.loop().add(fd_, this, kClientEvents)) {
    close_now();
    return;
  }
  update_timers();
}

void Session::on_events(std::uint32_t events) {
  if (fd_ < 0) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_readable_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_hangup_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) client_writable_ = true;
  drive();
}

void Session::on_upstream_events(std::uint32_t events) {
  if (fd_ < 0 || up_ == nullptr) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_->readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_->hangup = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) up_->writable = true;
  if (!up_->connected) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (net::connect_error(up_->fd) != 0) {
      worker_.stats().upstream_connect_failures.add();
      fail_upstream(502, "cannot connect to upstream");
      drive();
      return;
    }
    up_->connected = true;
    upstream_progress_ms_ = worker_.loop().now_ms();
  }
  drive();
}

void Session::drive() {
  int steps = 0;
  while (fd_ >= 0 && step()) {
    if (++steps == kMaxSteps) {
      // Fairness: let other connections run, and come back after this epoll batch. Edge-triggered
      // readiness would not wake us again for bytes already buffered.
      redrive_soon();
      break;
    }
  }
  if (fd_ >= 0) update_timers();
}

bool Session::step() {
  bool progress = false;
  switch (phase_) {
    case Phase::ProxyHeader:
      progress |= read_client();
      progress |= parse_proxy_header();
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
      progress |= write_upstream();
      progress |= read_upstream();
      progress |= pump_response();
      if (phase_ == Phase::Upstream && resp_done_) {
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

// ---- client socket --------------------------------------------------------------------------

bool Session::read_client() {
  if (!client_readable_ || client_eof_) return false;
  if (in_ == nullptr) in_ = worker_.buffers().acquire();
  if (in_->writable() == 0) {
    // A head must be contiguous; moving bytes is only safe while no head is referenced.
    if (head_len_ != 0) return false;
    in_->compact();
    if (in_->writable() == 0) return false;
  }
  const bool was_empty = in_->empty();
  const std::size_t want = in_->writable();
  ssize_t n = ::recv(fd_, in_->write_ptr(), want, 0);
  if (n > 0) {
    in_->commit(static_cast<std::size_t>(n));
    // A short read drained the socket: the next byte raises a new edge, so the recv that would
    // only say EAGAIN is skipped. Not after a hang-up, whose edge is already consumed.
    if (static_cast<std::size_t>(n) < want && !client_hangup_) client_readable_ = false;
    client_progress_ms_ = worker_.loop().now_ms();
    if (phase_ == Phase::Head && was_empty && requests_ > 0) head_start_ms_ = client_progress_ms_;
    return true;
  }
  if (n == 0) {
    client_eof_ = true;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    client_readable_ = false;
    return false;
  }
  if (errno == EINTR) return true;
  close_now();
  return false;
}

bool Session::write_client() {
  if (out_ == nullptr || out_->empty() || !client_writable_) return false;
  ssize_t n = ::send(fd_, out_->read_ptr(), out_->readable(), MSG_NOSIGNAL);
  if (n > 0) {
    out_->consume(static_cast<std::size_t>(n));
    client_progress_ms_ = worker_.loop().now_ms();
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    client_writable_ = false;
    return false;
  }
  if (n < 0 && errno == EINTR) return true;
  close_now();  // the client is gone: nothing left to say to it
  return false;
}

bool Session::parse_proxy_header() {
  if (in_ == nullptr || in_->empty()) {
    if (client_eof_) close_now();
    return false;
  }
  client::ProxyHeaderResult r = client::parse_proxy_header(in_->view());
  if (r.status == client::ProxyStatus::NeedMore) {
    if (client_eof_) close_now();
    return false;
  }
  if (r.status == client::ProxyStatus::Error) {
    // Not our load balancer speaking: refuse without an HTTP answer it would not expect.
    worker_.stats().requests_refused_parse.add();
    close_now();
    return false;
  }
  if (!r.local) peer_ = r.source;
  in_->consume(r.consumed);
  phase_ = Phase::Head;
  return true;
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
    respond_local(http::status_for(r.error), http::describe(r.error), true);
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
  hold_ = worker_.hold();
  const Runtime& rt = *hold_->runtime;
  const policy::Config& cfg = hold_->snapshot->config;

  route_ = nullptr;
  limits_ = nullptr;
  up_ = nullptr;
  req_done_ = resp_head_done_ = resp_done_ = resp_chunked_out_ = false;
  upstream_eof_ = retried_ = send_continue_ = continue_sent_ = linger_after_flush_ = false;
  deciding_ = false;
  req_body_bytes_ = 0;
  req_chunked_.reset();
  resp_chunked_.reset();
  pending_counts_.clear();
  verdict_ = stages::Verdict{};
  rdef_ = nullptr;
  class_ = policy::ClientClass::Anonymous;
  device_subject_ = account_hash_ = 0;
  has_account_ = signup_route_ = allow_listed_ = want_challenge_ = gates_done_ = false;
  gatehouse_request_ = false;
  challenge_level_ = 1;
  clearance_len_ = 0;
  resp_fields_len_ = 0;
  rtt_us_ = -1;
  upstream_ok_ = false;
  head_only_ = req_.method == http::Method::Head;
  if (!req_.keep_alive || shutting_down_ || worker_.stopping()) close_after_ = true;
  has_body_ = req_.body == http::BodyKind::Chunked ||
              (req_.body == http::BodyKind::ContentLength && req_.content_length > 0);
  phase_ = Phase::Upstream;

  if (req_.method == http::Method::Connect || req_.upgrade) {
    // Tunnels would carry bytes no stage could inspect.
    respond_local(501, "tunnels and protocol upgrades are not supported", true);
    return;
  }

  // Who is asking: the socket peer, or what a trusted proxy in front of us says it saw.
  client_ip_ = peer_.ip;
  peer_trusted_ =
      hold_->trust.trusted(peer_.ip);  // once per exchange: forward() and retries reuse it
  if (peer_trusted_) {
    std::array<std::string_view, 16> xff;
    std::size_t n = 0;
    for (std::uint16_t i = 0; i < req_.field_count && n < xff.size(); ++i) {
      if (http::iequals(req_.fields[i].name, "x-forwarded-for")) xff[n++] = req_.fields[i].value;
    }
    if (n != 0) client_ip_ = client::resolve_client(peer_.ip, {xff.data(), n}, hold_->trust);
  }

  // Lists, then bans: refused before any route or limit work.
  bool& allow_listed = allow_listed_;
  if (auto m = rt.lists->lookup(client_ip_)) {
    if (m->entry.action == lists::Action::Deny) {
      worker_.stats().requests_denied_list.add();
      respond_local(403, "client address is in a deny list", has_body_);
      return;
    }
    allow_listed = true;  // monitoring, partners, office ranges: no limits, no bans
  }
  if (!allow_listed) {
    const std::int64_t now_s = core::wall_seconds();
    if (auto ban = worker_.server().bans()->is_banned(client_ip_, now_s)) {
      worker_.stats().requests_banned.add();
      const std::int64_t left = ban->expiry - now_s;
      respond_local(403, "client address is banned", has_body_,
                    static_cast<std::uint32_t>(std::clamp<std::int64_t>(left, 1, 86'400)));
      return;
    }
  }

  // Routes match the canonical path (/%73ignup and /SIGNUP are /signup), so re-encoding cannot
  // dodge a route's limits; a path with two readings is refused. It goes upstream as sent.
  std::span<char> scratch = worker_.scratch();
  const http::PathResult canon = http::canonical_path(
      req_.path, policy::path_options(cfg.routing), scratch.data(), scratch.size());
  if (canon.error != http::PathError::None) {
    worker_.stats().requests_refused_parse.add();
    respond_local(400, http::describe(canon.error), true);
    return;
  }
  const std::string_view path = canon.path;
  const policy::ClientsConfig& cc = cfg.clients;
  prefix_ = client::prefix_of(client_ip_, cc.ipv4_prefix, cc.ipv6_prefix);
  has_binding_ = false;  // computed on first use: most requests carry no token
  if (path.starts_with(kGatehousePrefix)) {
    // Gatehouse's own endpoints (challenge answers and script): never forwarded.
    gatehouse_request_ = true;
    if (req_.method == http::Method::Post && has_body_) {
      if (req_.body == http::BodyKind::ContentLength && req_.content_length > 4096) {
        respond_local(413, "challenge answer too large", true);
        return;
      }
      body_want_ = 4096;
      deciding_ = true;
      try_decide();
      return;
    }
    answer_gatehouse({});
    return;
  }
  route_ = hold_->snapshot->routes.match(req_.host, req_.method, path);
  if (route_ == nullptr) {
    respond_local(404, "no route for this request", has_body_);
    return;
  }
  rdef_ = &rt.defence.routes[rt.route_index(route_)];
  signup_route_ = route_->route_class == policy::RouteClass::Signup;
  rdef_->window->record_request(worker_.loop().now_ms());
  classify(path);
  if (fd_ < 0 || phase_ != Phase::Upstream) return;  // refused by reputation
  body_limit_ = route_->max_body_bytes != 0 ? route_->max_body_bytes : cfg.limits.max_body_bytes;
  if (req_.body == http::BodyKind::ContentLength && req_.content_length > body_limit_) {
    respond_local(413, "request body exceeds the limit of this route", true);
    return;
  }
  req_remaining_ = req_.body == http::BodyKind::ContentLength ? req_.content_length : 0;
  upstream_cfg_ = &cfg.upstreams[route_->upstream_index];

  const ratelimit::RouteLimits* limits = allow_listed ? nullptr : rt.limits_for(route_);
  limits_ = limits != nullptr && !limits->empty() ? limits : nullptr;
  const policy::ResidentsConfig& res = cfg.residents;
  const bool account_in_body = route_->route_class == policy::RouteClass::Login && res.enabled &&
                               res.account.kind == policy::KeyPartKind::BodyField;
  if (has_body_ && ((limits_ != nullptr && limits_->needs_body()) || account_in_body)) {
    body_want_ = route_->body_key_bytes;
    deciding_ = true;  // step() reads on and calls try_decide()
    try_decide();
    return;
  }
  if (!decide({}, !has_body_)) return;
  forward();
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
  if (gatehouse_request_) {
    answer_gatehouse(complete ? prefix : std::string_view{});
    return true;
  }
  if (decide(prefix, complete)) forward();
  return true;
}

bool Session::decide(std::string_view body_prefix, bool body_complete) {
  ratelimit::KeyInputs in;
  in.client = client_ip_;
  in.client_prefix = prefix_;
  in.head = &req_;
  in.route_name = route_->name;
  in.body = body_prefix;
  in.body_complete = body_complete;
  const policy::ResidentsConfig& res = hold_->snapshot->config.residents;
  if (route_->route_class == policy::RouteClass::Login && res.enabled) {
    // The account this login names: a device token only vouches for its own account (a device
    // of one user does not lift the failure limits off another's).
    std::array<std::uint8_t, ratelimit::kMaxPartBytes + 1> buf;
    std::string_view account;
    if (ratelimit::part_value(res.account, in, buf, account)) {
      has_account_ = true;
      account_hash_ = challenge::account_hash(account);
    }
    if (class_ == policy::ClientClass::Resident &&
        (!has_account_ || account_hash_ != device_subject_)) {
      class_ = policy::ClientClass::Anonymous;
    }
  }
  in.client_class = class_;
  in.clearance = {clearance_id_.data(), clearance_len_};
  if (limits_ == nullptr) return true;
  const core::Nanos now = worker_.loop().now_ms() * 1'000'000;
  verdict_ = limits_->check(in, now, pending_counts_);
  WorkerStats& st = worker_.stats();
  if (verdict_.outcome == stages::Outcome::RejectedDryRun) st.ratelimit_dry_run.add();
  switch (verdict_.action) {
    case stages::Action::Continue:
      st.ratelimit_passed.add();
      return true;
    case stages::Action::Delay:
    case stages::Action::Tarpit: {
      // Hold the request: a delay then forwards it, a tarpit then refuses and closes.
      const bool delay = verdict_.action == stages::Action::Delay;
      (delay ? st.ratelimit_delayed : st.ratelimit_tarpitted).add();
      phase_ = Phase::Hold;
      hold_forward_ = delay;
      hold_until_ms_ = worker_.loop().now_ms() + verdict_.wait_ms;
      return false;
    }
    case stages::Action::Drop:
      st.ratelimit_dropped.add();
      close_now();
      return false;
    case stages::Action::Challenge:
      answer_challenge(verdict_.challenge_level);
      return false;
    case stages::Action::Reject:
      break;
  }
  st.ratelimit_rejected.add();
  note_refusal();
  if (verdict_.ban) {
    st.bans_requested.add();
    worker_.server().request_ban(client_ip_, verdict_.ban_ms, verdict_.ban_max_ms, verdict_.rule);
  }
  refuse_rate_limited(has_body_ && !req_done_);
  return false;
}

// The refusal of a limit: its status with Retry-After and the RateLimit fields of the policy
// closest to its end.
void Session::refuse_rate_limited(bool close) {
  char fields[256];
  std::size_t n = 0;
  if (verdict_.has_ratelimit) {
    const auto& r = verdict_.ratelimit;
    n = format_ratelimit_fields(r.policy, r.quota, r.window_s, r.remaining, r.reset_s, fields,
                                sizeof fields);
  }
  respond_local(verdict_.status, "rate limit exceeded", close,
                std::max<std::uint32_t>(verdict_.retry_after_s, 1), {fields, n});
}

void Session::on_hold_expired() {
  if (queued_for_ != nullptr) {
    admission_shed();
    return;
  }
  if (hold_forward_) {
    phase_ = Phase::Upstream;
    forward();
    return;
  }
  // Tarpit: the client waited for nothing; the refusal closes the connection.
  phase_ = Phase::Upstream;
  refuse_rate_limited(true);
  linger_after_flush_ = false;
}

void Session::forward() {
  if (!gates_done_ && !pass_gates()) return;
  if (up_out_ == nullptr) up_out_ = worker_.buffers().acquire();
  up_out_->clear();
  ForwardContext ctx{peer_.ip, peer_trusted_};
  if (!write_request_head(req_, ctx, *up_out_)) {
    respond_local(431, "request head too large to forward", true);
    return;
  }
  send_continue_ = send_continue_ || (req_.expect_continue && has_body_ &&
                                      req_.version_minor == 1 && !continue_sent_);
  if (has_body_) {
    // The head is serialised; its bytes can go, and the body streams from the front of in_.
    in_->consume(head_len_);
    head_len_ = 0;
    // Body bytes that came with the head are checked first: an invalid first chunk or an
    // oversized body is refused before the upstream is contacted at all.
    pump_request_body();
    if (fd_ < 0 || phase_ != Phase::Upstream) return;
  } else {
    req_done_ = true;  // the head stays in in_ until the response starts, for a possible retry
  }
  connect_upstream();
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

bool Session::connect_upstream() {
  const auto& servers = upstream_cfg_->servers;
  const client::SocketAddress& addr = servers[worker_.next_round_robin() % servers.size()];
  std::string error;
  auto r = worker_.upstreams().acquire(addr, upstream_cfg_->max_connections, this, &up_, &error);
  if (r == net::UpstreamPool::Acquire::Busy) {
    worker_.stats().upstream_busy.add();
    fail_upstream(503, "upstream at its connection limit", 1);
    return false;
  }
  if (r == net::UpstreamPool::Acquire::Failed) {
    worker_.stats().upstream_connect_failures.add();
    fail_upstream(502, "cannot connect to upstream");
    return false;
  }
  upstream_progress_ms_ = worker_.loop().now_ms();
  request_sent_ms_ = 0;
  return true;
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
  if (req_.body == http::BodyKind::ContentLength) {
    std::size_t n = std::min<std::uint64_t>(req_remaining_, in_->readable());
    n = std::min(n, up_out_->writable());
    if (n == 0) return false;
    up_out_->append({in_->read_ptr(), n});
    in_->consume(n);
    req_remaining_ -= n;
    if (req_remaining_ == 0) req_done_ = true;
    return true;
  }
  // Chunked: decode strictly, re-chunk what we forward (extensions and trailers are dropped).
  while (!in_->empty() && up_out_->writable() > kChunkOverhead) {
    std::string_view feed = in_->view().substr(0, up_out_->writable() - kChunkOverhead);
    http::ChunkedDecoder::Step s = req_chunked_.step(feed);
    if (s.status == http::ParseStatus::Error) {
      worker_.stats().requests_refused_parse.add();
      if (!resp_head_done_) {
        respond_local(400, http::describe(s.error), true);
      } else {
        close_now();
      }
      return false;
    }
    if (!s.data.empty()) {
      req_body_bytes_ += s.data.size();
      if (req_body_bytes_ > body_limit_) {
        if (!resp_head_done_) {
          respond_local(413, "request body exceeds the limit of this route", true);
        } else {
          close_now();
        }
        return false;
      }
      write_chunk_header(s.data.size(), *up_out_);
      up_out_->append(s.data);
      up_out_->append("\r\n");
    }
    in_->consume(s.consumed);
    progress |= s.consumed > 0;
    if (s.status == http::ParseStatus::Complete) {
      up_out_->append("0\r\n\r\n");
      req_done_ = true;
      break;
    }
    if (s.consumed == 0) break;
  }
  return progress;
}

// ---- upstream socket ------------------------------------------------------------------------

bool Session::write_upstream() {
  if (up_ == nullptr || !up_->connected || !up_->writable || up_out_ == nullptr || up_out_->empty())
    return false;
  ssize_t n = ::send(up_->fd, up_out_->read_ptr(), up_out_->readable(), MSG_NOSIGNAL);
  if (n > 0) {
    up_out_->consume(static_cast<std::size_t>(n));
    upstream_progress_ms_ = worker_.loop().now_ms();
    if (up_out_->empty() && req_done_) request_sent_ms_ = upstream_progress_ms_;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    up_->writable = false;
    return false;
  }
  if (n < 0 && errno == EINTR) return true;
  // The upstream went away while we were sending: maybe it already answered (e.g. 413).
  upstream_eof_ = true;
  up_->writable = false;
  return true;
}

bool Session::read_upstream() {
  if (up_ == nullptr || !up_->connected || !up_->readable || upstream_eof_) return false;
  if (up_in_ == nullptr) up_in_ = worker_.buffers().acquire();
  if (up_in_->writable() == 0) {
    up_in_->compact();
    if (up_in_->writable() == 0) return false;
  }
  const std::size_t want = up_in_->writable();
  ssize_t n = ::recv(up_->fd, up_in_->write_ptr(), want, 0);
  if (n > 0) {
    up_in_->commit(static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) < want && !up_->hangup) up_->readable = false;  // as above
    upstream_progress_ms_ = worker_.loop().now_ms();
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    up_->readable = false;
    return false;
  }
  if (n < 0 && errno == EINTR) return true;
  upstream_eof_ = true;  // FIN or reset: what is buffered is all there will be
  return true;
}

bool Session::parse_response_head() {
  if (up_in_ == nullptr || up_in_->empty()) {
    if (upstream_eof_) {
      // Closed before answering. A reused keep-alive connection may have been closed by the
      // upstream just as we sent: one retry on a fresh connection, for retryable requests only.
      if (up_ != nullptr && up_->reused && !retried_ && retryable(req_) && head_len_ != 0) {
        worker_.stats().upstream_retries.add();
        retried_ = true;
        worker_.upstreams().close(up_);
        up_ = nullptr;
        upstream_eof_ = false;
        up_out_->clear();
        ForwardContext ctx{peer_.ip, peer_trusted_};
        write_request_head(req_, ctx, *up_out_);
        return connect_upstream();
      }
      fail_upstream(502, "upstream closed the connection without answering");
    }
    return false;
  }
  const policy::LimitsConfig& lim = hold_->snapshot->config.limits;
  http::HeadLimits limits;
  limits.max_head_bytes = lim.max_head_bytes;
  limits.max_fields = lim.max_header_fields;
  limits.max_target_bytes = lim.max_target_bytes;
  http::ParseResult r = http::parse_response(up_in_->view(), limits, req_.method, resp_);
  if (r.status == http::ParseStatus::NeedMore) {
    if (upstream_eof_)
      fail_upstream(502, "upstream closed the connection mid-head");
    else if (up_in_->writable() == 0)
      fail_upstream(502, "upstream response head too large");
    return false;
  }
  if (r.status == http::ParseStatus::Error) {
    fail_upstream(502, http::describe(r.error));
    return false;
  }
  if (resp_.status < 200) {
    if (resp_.status == 101) {
      fail_upstream(502, "upstream switched protocols");
      return false;
    }
    up_in_->consume(r.consumed);  // interim responses: 100-continue is answered by us
    return true;
  }
  // A bodyless request's head stays in in_ until the exchange ends (end_exchange consumes it):
  // nothing more is read from the client meanwhile, and the access log can still name its path
  // and user agent.
  if (pending_counts_.size != 0) {
    ratelimit::RouteLimits::settle(pending_counts_, resp_.status,
                                   worker_.loop().now_ms() * 1'000'000);
  }
  {
    const std::int64_t now = worker_.loop().now_ms();
    const std::int64_t latency = request_sent_ms_ != 0 ? now - request_sent_ms_ : 0;
    rtt_us_ = latency * 1000;
    upstream_ok_ = resp_.status < 502 || resp_.status > 504;
    if (rdef_ != nullptr) {
      rdef_->window->record_answer(
          now, static_cast<std::uint32_t>(std::max<std::int64_t>(0, latency)), resp_.status >= 500);
    }
    if (class_ == policy::ClientClass::Resident) {
      (resp_.status >= 500 ? worker_.stats().resident_answers_failed
                           : worker_.stats().resident_answers_ok)
          .add();
    }
    // Only a POST logs in; a GET carrying a body (or any other method) mints nothing.
    if (has_account_ && req_.method == http::Method::Post && route_ != nullptr &&
        route_->route_class == policy::RouteClass::Login) {
      issue_device_token();
    }
  }
  // The client connection ends after this response when either side asked, when the body is
  // delimited by close, or when the client's request body was not read to its end.
  if (resp_.body == http::BodyKind::UntilClose || !req_done_) close_after_ = true;
  if (resp_.body == http::BodyKind::Chunked && req_.version_minor == 0) close_after_ = true;
  if (!req_done_) linger_after_flush_ = true;
  resp_chunked_out_ = resp_.body == http::BodyKind::Chunked && req_.version_minor == 1;
  if (out_ == nullptr) out_ = worker_.buffers().acquire();
  send_continue_ = false;
  if (!write_response_head(resp_, req_.version_minor, close_after_, *out_,
                           {resp_fields_.data(), resp_fields_len_})) {
    // The answer to an earlier pipelined request may still fill out_: retry once it has left.
    if (!out_->empty()) return false;
    fail_upstream(502, "upstream response head too large");
    return false;
  }
  up_in_->consume(r.consumed);
  resp_head_done_ = true;
  worker_.stats().responses_proxied.add();
  resp_remaining_ = resp_.body == http::BodyKind::ContentLength ? resp_.content_length : 0;
  if (resp_.body == http::BodyKind::None ||
      (resp_.body == http::BodyKind::ContentLength && resp_remaining_ == 0)) {
    resp_done_ = true;
  }
  return true;
}

bool Session::pump_response() {
  bool progress = false;
  if (!resp_head_done_) {
    progress = parse_response_head();
    if (!resp_head_done_ || phase_ != Phase::Upstream) return progress;
  }
  if (resp_done_ || up_in_ == nullptr) return progress;
  switch (resp_.body) {
    case http::BodyKind::ContentLength: {
      std::size_t n = std::min<std::uint64_t>(resp_remaining_, up_in_->readable());
      n = std::min(n, out_->writable());
      if (n > 0) {
        out_->append({up_in_->read_ptr(), n});
        up_in_->consume(n);
        resp_remaining_ -= n;
        progress = true;
      }
      if (resp_remaining_ == 0) resp_done_ = true;
      break;
    }
    case http::BodyKind::Chunked:
      while (!up_in_->empty() && out_->writable() > kChunkOverhead) {
        std::string_view feed = up_in_->view().substr(0, out_->writable() - kChunkOverhead);
        http::ChunkedDecoder::Step s = resp_chunked_.step(feed);
        if (s.status == http::ParseStatus::Error) {
          close_after_ = true;  // the head is out: all we can do is cut the response short
          resp_done_ = true;
          upstream_eof_ = true;
          return true;
        }
        if (!s.data.empty()) {
          if (resp_chunked_out_) write_chunk_header(s.data.size(), *out_);
          out_->append(s.data);
          if (resp_chunked_out_) out_->append("\r\n");
        }
        up_in_->consume(s.consumed);
        progress |= s.consumed > 0;
        if (s.status == http::ParseStatus::Complete) {
          if (resp_chunked_out_) out_->append("0\r\n\r\n");
          resp_done_ = true;
          break;
        }
        if (s.consumed == 0) break;
      }
      break;
    case http::BodyKind::UntilClose: {
      std::size_t n = std::min(up_in_->readable(), out_->writable());
      if (n > 0) {
        out_->append({up_in_->read_ptr(), n});
        up_in_->consume(n);
        progress = true;
      }
      if (upstream_eof_ && up_in_->empty()) resp_done_ = true;
      break;
    }
    case http::BodyKind::None:
      resp_done_ = true;
      break;
  }
  if (!resp_done_ && upstream_eof_ && up_in_->empty()) {
    // Truncated by the upstream: pass on what came, then close so the client sees it short.
    close_after_ = true;
    resp_done_ = true;
    progress = true;
  }
  return progress;
}

void Session::finish_exchange() {
  // Bytes after the response (a body behind a 204, a second answer) must not reach the next
  // client: a connection that became readable again since our last short read is not reused.
  const bool reusable =
      resp_.keep_alive && req_done_ && !upstream_eof_ && resp_.body != http::BodyKind::UntilClose &&
      (up_out_ == nullptr || up_out_->empty()) && (up_in_ == nullptr || up_in_->empty()) &&
      (up_ == nullptr || !up_->readable);
  release_upstream(reusable);
  if (!req_done_) close_after_ = true;
  end_exchange();
  phase_ = Phase::Flush;
}

void Session::end_exchange() {
  // count_when limits charged on arrival are settled by what the client got, when Gatehouse
  // answered itself (an upstream failure, a shed): a 503 is no failed login.
  if (pending_counts_.size != 0 && !resp_head_done_ && worker_.observe().local_status != 0) {
    ratelimit::RouteLimits::settle(pending_counts_,
                                   static_cast<std::uint16_t>(worker_.observe().local_status),
                                   worker_.loop().now_ms() * 1'000'000);
  }
  if (hold_ != nullptr || worker_.observe().local_status != 0) {  // operator's view: observe.h
    record_exchange(
        worker_, {hold_ != nullptr ? hold_->runtime.get() : nullptr, route_, class_,
                  resp_head_done_, resp_head_done_ ? resp_.status : worker_.observe().local_status,
                  verdict_.action, client_ip_, prefix_, &req_, head_len_ != 0, head_start_ms_,
                  rtt_us_, has_account_, account_hash_, req_body_bytes_});
  }
  release_slot();
  if (device_guard_ != nullptr) {
    device_guard_->release(device_id_);
    device_guard_ = nullptr;
  }
  if (head_len_ != 0 && in_ != nullptr) {
    in_->consume(head_len_);
    head_len_ = 0;
  }
  if (hold_ != nullptr) {
    worker_.unhold(hold_);
    hold_ = nullptr;
  }
  route_ = nullptr;
  upstream_cfg_ = nullptr;
  rdef_ = nullptr;
}

void Session::release_upstream(bool reusable) {
  if (up_ == nullptr) return;
  worker_.upstreams().release(up_, reusable, upstream_cfg_->max_idle_connections,
                              upstream_cfg_->keepalive_timeout);
  up_ = nullptr;
}

void Session::fail_upstream(int status, std::string_view detail, std::uint32_t retry_after) {
  if (up_ != nullptr) {
    worker_.upstreams().close(up_);
    up_ = nullptr;
  }
  if (resp_head_done_) {
    close_now();  // part of the response is out: cutting the connection is the only signal left
    return;
  }
  respond_local(status, detail, close_after_ || !req_done_, retry_after);
}

void Session::respond_local(int status, std::string_view detail, bool close,
                            std::uint32_t retry_after, std::string_view extra_fields) {
  if (up_ != nullptr) {
    worker_.upstreams().close(up_);
    up_ = nullptr;
  }
  if (up_out_ != nullptr) up_out_->clear();
  if (close) {
    close_after_ = true;
    // Unread request bytes may still be arriving: drain them so our answer is not lost to a RST.
    linger_after_flush_ = true;
  }
  if (out_ == nullptr) out_ = worker_.buffers().acquire();
  send_continue_ = false;
  worker_.stats().responses_local.add();
  worker_.observe().local_status = status;
  if (!write_local_response(status, detail, close_after_, head_only_, retry_after, extra_fields,
                            *out_)) {
    close_now();
    return;
  }
  end_exchange();
  phase_ = Phase::Flush;
}

// ---- defences: classes, challenges, sign-up modes, admission ---------------------------------

std::uint64_t Session::binding() {
  if (!has_binding_) {
    binding_ = challenge::binding_of(prefix_, user_agent());
    has_binding_ = true;
  }
  return binding_;
}

std::string_view Session::user_agent() const {
  for (std::uint16_t i = 0; i < req_.field_count; ++i) {
    if (http::iequals(req_.fields[i].name, "user-agent")) return req_.fields[i].value;
  }
  return {};
}

bool Session::wants_json() const {
  for (std::uint16_t i = 0; i < req_.field_count; ++i) {
    if (http::iequals(req_.fields[i].name, "accept"))
      return waitroom::wants_json(req_.fields[i].value);
  }
  return false;
}

std::string_view Session::cookie(std::string_view name, std::array<std::uint8_t, 257>& buf) const {
  ratelimit::fields::ValueSink sink(ratelimit::fields::ValueSink::Mode::Exact, buf.data());
  std::size_t len = 0;
  if (ratelimit::fields::find_cookie(req_, name, sink) != ratelimit::fields::Found::Value ||
      !sink.finish(len)) {
    return {};  // absent, or sent twice with different values: no token at all
  }
  return {reinterpret_cast<const char*>(buf.data()), len};
}

void Session::classify(std::string_view path) {
  const policy::Config& cfg = hold_->snapshot->config;
  const DefenceState& state = *hold_->runtime->state;
  const std::int64_t now = core::wall_ms();
  std::array<std::uint8_t, 257> buf;
  challenge::Token tok;
  // Sign-up is for newcomers: a device token opens nothing there (not a closed or queued
  // sign-up, not the challenge), so a stolen or shared one cannot register accounts.
  if (cfg.residents.enabled && !signup_route_) {
    std::string_view text = cookie(cfg.residents.cookie, buf);
    // Device tokens are bound to the prefix only: a browser update must not log residents out.
    if (!text.empty() &&
        state.codec().decode(text, challenge::TokenKind::Device, now,
                             challenge::binding_of(prefix_, {}), tok) == challenge::Check::Ok) {
      // One token may not carry a crowd: over its rate or in-flight cap it is served as anyone.
      residents::DeviceGuard* guard = hold_->runtime->defence.devices.get();
      if (guard != nullptr && guard->admit(tok.id, worker_.loop().now_ms() * 1'000'000) ==
                                  residents::DeviceGuard::Admit::Ok) {
        class_ = policy::ClientClass::Resident;
        device_subject_ = tok.subject;
        device_guard_ = guard;
        device_id_ = tok.id;
      } else {
        worker_.stats().device_tokens_demoted.add();
      }
    }
  }
  std::string_view text = cookie(cfg.challenge.cookie, buf);
  if (!text.empty() &&
      state.codec().decode(text, challenge::TokenKind::Clearance, now, binding(), tok) ==
          challenge::Check::Ok &&
      (tok.scope == kSignupScope || !signup_route_)) {
    // Browsing clearances are long-lived; sign-up needs a fresh, short one of its own scope.
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < tok.id.size(); ++i) {
      clearance_id_[2 * i] = kHex[tok.id[i] >> 4];
      clearance_id_[2 * i + 1] = kHex[tok.id[i] & 15];
    }
    clearance_len_ = static_cast<std::uint8_t>(2 * tok.id.size());
    if (class_ != policy::ClientClass::Resident) class_ = policy::ClientClass::Verified;
  }
  const Defence& d = hold_->runtime->defence;
  if (d.scorer != nullptr && !allow_listed_ && class_ != policy::ClientClass::Resident) {
    reputation::Request r{&req_, client_ip_, path};
    const std::uint32_t recent =
        hold_->runtime->state->refusals().recent(prefix_, worker_.loop().now_ms());
    const reputation::Score score = d.scorer->score(r, recent);
    switch (score.action) {
      case policy::ReputationAction::Deny:
        worker_.stats().reputation_denied.add();
        note_refusal();
        respond_local(403, "refused by the bot policy", has_body_);
        return;
      case policy::ReputationAction::Allow:
        worker_.stats().reputation_allowed.add();
        allow_listed_ = true;  // known good clients: no limits, no challenges
        break;
      case policy::ReputationAction::Challenge:
        want_challenge_ = true;
        challenge_level_ = score.level;
        break;
      case policy::ReputationAction::Weigh:
        break;
    }
    if (score.suspect && class_ == policy::ClientClass::Anonymous) {
      class_ = policy::ClientClass::Suspect;
    }
  }
  WorkerStats& st = worker_.stats();
  switch (class_) {
    case policy::ClientClass::Resident:
      st.class_resident.add();
      break;
    case policy::ClientClass::Verified:
      st.class_verified.add();
      break;
    case policy::ClientClass::Anonymous:
      st.class_anonymous.add();
      break;
    case policy::ClientClass::Suspect:
      st.class_suspect.add();
      break;
  }
}

void Session::note_refusal() {
  if (hold_ != nullptr && hold_->runtime->state != nullptr) {
    hold_->runtime->state->refusals().note(prefix_, worker_.loop().now_ms());
  }
}

void Session::respond_page(int status, std::string_view content_type, std::string_view body,
                           std::uint32_t retry_after, std::string_view extra_fields) {
  const bool close = has_body_ && !req_done_;
  if (close) {
    close_after_ = true;
    linger_after_flush_ = true;
  }
  if (out_ == nullptr) out_ = worker_.buffers().acquire();
  send_continue_ = false;
  worker_.stats().responses_local.add();
  worker_.observe().local_status = status;
  if (!write_local_page(status, content_type, body, close_after_, head_only_, retry_after,
                        extra_fields, *out_)) {
    // Larger than the buffer: the plain refusal still says what happened.
    respond_local(status == 200 ? 500 : status, "page too large for the response buffer", true,
                  retry_after);
    return;
  }
  end_exchange();
  phase_ = Phase::Flush;
}

bool Session::pass_gates() {
  gates_done_ = true;
  const policy::Config& cfg = hold_->snapshot->config;
  const bool newcomer = class_ != policy::ClientClass::Resident;
  if (!allow_listed_ && newcomer) {
    const policy::SignupMode mode =
        signup_route_ && rdef_->mode != nullptr ? rdef_->mode->mode() : policy::SignupMode::Open;
    if (class_ != policy::ClientClass::Verified &&
        (want_challenge_ || route_->require_clearance || mode == policy::SignupMode::Challenge)) {
      answer_challenge(want_challenge_ ? challenge_level_ : 1);
      return false;
    }
    if (mode == policy::SignupMode::Closed) {
      worker_.stats().signup_closed.add();
      waitroom::ClosedPage page;
      page.retry_after_s = route_->signup.closed_retry_after_s;
      page.theme_css = hold_->runtime->defence.theme_css;
      page.login_url = "/login";
      const bool json = wants_json();
      const std::string body = json ? waitroom::closed_json(page) : waitroom::closed_page(page);
      respond_page(503, json ? kJson : kHtml, body, page.retry_after_s);
      return false;
    }
    if (mode == policy::SignupMode::Queue && !waiting_room()) return false;
  }
  admission::Limiter* limiter = rdef_ != nullptr ? rdef_->limiter : nullptr;
  if (limiter == nullptr) return true;
  const admission::Priority p = admission::priority_of(class_, signup_route_);
  if (limiter->try_acquire(p)) {
    slot_ = limiter;
    slot_priority_ = p;
    return true;
  }
  const policy::AdmissionConfig& ac = cfg.upstreams[route_->upstream_index].admission;
  switch (worker_.queue_for_slot(limiter, this, p, ac)) {
    case Worker::AdmissionQueue::Push::Queued:
    case Worker::AdmissionQueue::Push::QueuedEvicting:
      worker_.stats().admission_queued.add();
      queued_for_ = limiter;
      slot_priority_ = p;
      phase_ = Phase::Hold;
      hold_forward_ = true;
      hold_until_ms_ = worker_.loop().now_ms() + ac.queue_timeout + 50;  // backstop of the queue's
      return false;
    case Worker::AdmissionQueue::Push::Refused:
      break;
  }
  slot_priority_ = p;
  admission_shed();
  return false;
}

void Session::admission_granted(admission::Limiter* limiter, admission::Priority p) {
  queued_for_ = nullptr;
  slot_ = limiter;
  slot_priority_ = p;
  if (fd_ < 0 || phase_ != Phase::Hold) {
    release_slot();
    return;
  }
  // Granted from inside another session's step: go on after it, not on its stack.
  const std::uint64_t serial = serial_;
  worker_.loop().defer([this, serial] {
    if (serial_ != serial || fd_ < 0 || phase_ != Phase::Hold || slot_ == nullptr) return;
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

void Session::admission_shed() {
  if (queued_for_ != nullptr) {
    worker_.leave_slot_queue(queued_for_, this);
    queued_for_ = nullptr;
  }
  if (fd_ < 0 || route_ == nullptr) return;
  worker_.stats().admission_shed.add();
  if (class_ == policy::ClientClass::Resident) worker_.stats().resident_answers_failed.add();
  if (rdef_ != nullptr) rdef_->window->record_shed(worker_.loop().now_ms());
  const std::uint32_t retry =
      hold_->snapshot->config.upstreams[route_->upstream_index].admission.retry_after_s;
  const bool was_holding = phase_ == Phase::Hold;
  phase_ = Phase::Upstream;
  respond_local(503, "over capacity, try again shortly", has_body_ && !req_done_, retry);
  if (was_holding && fd_ >= 0) redrive_soon();
}

void Session::release_slot() {
  if (queued_for_ != nullptr) {
    worker_.leave_slot_queue(queued_for_, this);
    queued_for_ = nullptr;
  }
  if (slot_ == nullptr) return;
  admission::Limiter* l = slot_;
  slot_ = nullptr;
  l->release(slot_priority_, rtt_us_, upstream_ok_ || rtt_us_ < 0, worker_.loop().now_ms());
  worker_.admit_waiting(l);
}

std::uint8_t Session::challenge_bits(std::uint8_t level) const {
  const policy::ChallengeConfig& c = hold_->snapshot->config.challenge;
  // Pressure: the route's request rate picks the base difficulty (mCaptcha's levels); each
  // ladder level above 1 adds two bits (4x the work).
  const std::uint32_t rate =
      rdef_ != nullptr && rdef_->rate != nullptr ? rdef_->rate->load(std::memory_order_relaxed) : 0;
  std::uint8_t bits = c.levels.empty() ? 16 : c.levels.front().bits;
  for (const policy::ChallengeLevel& l : c.levels) {
    if (rate >= l.rate) bits = l.bits;
  }
  const int extra = level > 1 ? 2 * (level - 1) : 0;
  return static_cast<std::uint8_t>(std::min<int>(c.max_bits, bits + extra));
}

void Session::answer_challenge(std::uint8_t level) {
  const policy::ChallengeConfig& c = hold_->snapshot->config.challenge;
  const DefenceState& state = *hold_->runtime->state;
  const std::int64_t now = core::wall_ms();
  std::optional<challenge::Token> tok =
      challenge::new_token(challenge::TokenKind::Challenge, now, c.challenge_lifetime);
  if (!tok) {
    respond_local(503, "cannot issue a challenge now", has_body_);
    return;
  }
  tok->scope = signup_route_ ? kSignupScope : 0;  // what the clearance will be good for
  tok->binding = binding();
  tok->level = level;
  tok->bits = level == 0 ? 0 : challenge_bits(level);
  std::array<char, challenge::kTokenTextSize> text;
  const std::size_t n = state.codec().encode(*tok, text);
  challenge::ChallengePage page;
  page.token = {text.data(), n};
  page.bits = tok->bits;
  page.level = level;
  // A GET comes back to where it was going; anything else to the same path (a form re-shown).
  page.return_path = req_.method == http::Method::Get ? req_.target : req_.path;
  page.wait_ms = challenge::nojs_wait_ms(c.refresh_wait, level);
  page.expires_in_ms = c.challenge_lifetime;
  page.theme_css = hold_->runtime->defence.theme_css;
  worker_.stats().challenges_issued.add();
  std::string& body = worker_.page();
  const bool json = wants_json();
  if (json) {
    challenge::render_challenge_json(page, body);
  } else if (level == 0) {
    challenge::render_wait_page(page, body);
  } else {
    challenge::render_pow_page(page, body);
  }
  respond_page(403, json ? kJson : kHtml, body);
}

void Session::refuse_challenge_answer(std::string_view why, int status, std::uint32_t retry_after) {
  worker_.stats().challenges_failed.add();
  note_refusal();
  if (retry_after == 0 && status == 503) retry_after = 5;
  if (wants_json()) {
    std::string& body = worker_.page();
    body = "{\"error\":\"challenge_refused\",\"reason\":\"";
    body += why;
    body += "\"}";
    respond_page(status, kJson, body, retry_after);
    return;
  }
  respond_local(status, why, has_body_ && !req_done_, retry_after);
}

void Session::answer_gatehouse(std::string_view body) {
  std::span<char> scratch = worker_.scratch();
  const std::string_view path =
      http::canonical_path(req_.path, policy::path_options(hold_->snapshot->config.routing),
                           scratch.data(), scratch.size())
          .path;
  const bool get = req_.method == http::Method::Get || req_.method == http::Method::Head;
  if (path == challenge::kScriptPath && get) {
    respond_page(200, "text/javascript; charset=utf-8", challenge::challenge_script());
    return;
  }
  if (path != challenge::kChallengePath || !(get || req_.method == http::Method::Post)) {
    respond_local(404, "no such Gatehouse endpoint", has_body_ && !req_done_);
    return;
  }
  challenge::Solution sol;
  const challenge::FormStatus fs = get ? challenge::parse_wait_query(req_.query, sol)
                                       : challenge::parse_solution_form(body, sol);
  if (fs != challenge::FormStatus::Ok) {
    refuse_challenge_answer(req_.method == http::Method::Post && body.empty()
                                ? "the answer must be a urlencoded form of at most 4 KiB"
                                : "malformed challenge answer",
                            400);
    return;
  }
  const policy::ChallengeConfig& c = hold_->snapshot->config.challenge;
  DefenceState& state = *hold_->runtime->state;
  const std::int64_t now = core::wall_ms();
  challenge::Token tok;
  switch (state.codec().decode(sol.token(), challenge::TokenKind::Challenge, now, binding(), tok)) {
    case challenge::Check::Ok:
      break;
    case challenge::Check::Expired:
      refuse_challenge_answer("the challenge expired; load the page again");
      return;
    case challenge::Check::WrongBinding:
      refuse_challenge_answer("the challenge was issued to another network or browser");
      return;
    default:
      refuse_challenge_answer("not a valid challenge");
      return;
  }
  if (get) {
    // The no-JavaScript path: the wait itself is the cost; coming back early is refused.
    const std::int64_t wait = challenge::nojs_wait_ms(c.refresh_wait, tok.level);
    if (now < tok.issued_ms + wait) {
      worker_.stats().challenges_failed.add();
      challenge::ChallengePage page;
      page.token = sol.token();
      page.level = 0;
      page.return_path = sol.return_path();
      page.wait_ms = tok.issued_ms + wait - now;
      page.expires_in_ms = tok.expiry_ms - now;
      page.theme_css = hold_->runtime->defence.theme_css;
      std::string& out = worker_.page();
      const bool json = wants_json();
      if (json) {
        challenge::render_challenge_json(page, out);
      } else {
        challenge::render_wait_page(page, out);
      }
      respond_page(429, json ? kJson : kHtml, out,
                   static_cast<std::uint32_t>((page.wait_ms + 999) / 1000));
      return;
    }
  } else if (tok.level == 0 || !challenge::pow_valid(sol.token(), sol.nonce(), tok.bits)) {
    refuse_challenge_answer("the proof of work does not solve the challenge");
    return;
  }
  std::int64_t free_at = now;
  switch (state.spent().claim(tok.id, prefix_, c.spent_per_prefix, tok.expiry_ms, now, &free_at)) {
    case challenge::SpentSet::Claim::Fresh:
      break;
    case challenge::SpentSet::Claim::Replay:
      refuse_challenge_answer("this challenge was already used");
      return;
    case challenge::SpentSet::Claim::PrefixFull: {
      // This network holds its share of the single-use set; other networks still solve.
      const auto wait_s =
          static_cast<std::uint32_t>(std::max<std::int64_t>(1, (free_at - now + 999) / 1000));
      refuse_challenge_answer("too many challenges solved from your network; try again in " +
                                  std::to_string(wait_s) + " s",
                              429, wait_s);
      return;
    }
    case challenge::SpentSet::Claim::Full:
      refuse_challenge_answer("too many challenges in flight, try again shortly", 503);
      return;
  }
  grant_clearance(tok.scope, sol.return_path());
}

void Session::grant_clearance(std::uint32_t scope, std::string_view return_path) {
  const policy::ChallengeConfig& c = hold_->snapshot->config.challenge;
  const DefenceState& state = *hold_->runtime->state;
  const std::int64_t now = core::wall_ms();
  const std::int64_t lifetime =
      scope == kSignupScope ? c.signup_clearance_lifetime : c.clearance_lifetime;
  std::optional<challenge::Token> tok =
      challenge::new_token(challenge::TokenKind::Clearance, now, lifetime);
  if (!tok) {
    respond_local(503, "cannot issue a clearance now", has_body_ && !req_done_);
    return;
  }
  tok->scope = scope;
  tok->binding = binding();
  std::array<char, challenge::kTokenTextSize> text;
  const std::string_view value{text.data(), state.codec().encode(*tok, text)};
  worker_.stats().challenges_solved.add();
  char fields[512];
  const std::string_view set_cookie{
      fields, format_set_cookie(c.cookie, value, lifetime / 1000, fields, sizeof fields)};
  std::string& body = worker_.page();
  if (wants_json()) {
    body = "{\"clearance\":\"";
    body += value;
    body += "\",\"cookie\":\"";
    body += c.cookie;
    body += "\",\"expires_in\":";
    body += std::to_string(lifetime / 1000);
    body += "}";
    respond_page(200, kJson, body, 0, set_cookie);
    return;
  }
  // Back to where the visitor was going. The path is checked same-origin (never an open redirect).
  std::string location(set_cookie);
  location += "Location: ";
  location += challenge::safe_return_path(return_path) ? return_path : std::string_view("/");
  location += "\r\n";
  body = "Solved. Continue to ";
  body += challenge::safe_return_path(return_path) ? return_path : std::string_view("/");
  body += "\n";
  respond_page(303, "text/plain; charset=utf-8", body, 0, location);
}

bool Session::waiting_room() {
  const DefenceState& state = *hold_->runtime->state;
  const policy::WaitingRoomConfig& wr = route_->signup.waiting_room;
  const std::int64_t now = core::wall_ms();
  const std::string_view name = "gh_ticket";
  std::array<std::uint8_t, 257> buf;
  challenge::Token tok;
  bool fresh = false;
  std::string_view text = cookie(name, buf);
  const bool valid = !text.empty() &&
                     state.codec().decode(text, challenge::TokenKind::Ticket, now, binding(),
                                          tok) == challenge::Check::Ok &&
                     tok.scope == rdef_->scope;
  waitroom::Visit v;
  v.prefix = prefix_;
  v.submission = req_.method != http::Method::Get && req_.method != http::Method::Head;
  waitroom::Answer a;
  if (valid) {
    v.id = tok.id;
    v.first_seen_ms = tok.issued_ms;
    a = rdef_->room->visit(v, now);
  }
  if (!valid || a.kind == waitroom::Answer::Kind::Spent) {
    // No ticket, or one forged, expired, for another route, moved to another prefix or
    // browser, or used up: a new place at the back of the line.
    std::optional<challenge::Token> t =
        challenge::new_token(challenge::TokenKind::Ticket, now, wr.ticket_lifetime);
    if (!t) {
      respond_local(503, "cannot issue a queue ticket now", has_body_);
      return false;
    }
    tok = *t;
    tok.scope = rdef_->scope;
    tok.binding = binding();
    fresh = true;
    v.id = tok.id;
    v.first_seen_ms = tok.issued_ms;
    // A first visit takes no place until its ticket comes back: a client that drops cookies
    // would otherwise take a new place on every request (the line is ordered by first-seen
    // time, so the person loses nothing by the round trip).
    a = rdef_->room->preview(v, now);
    if (a.kind == waitroom::Answer::Kind::Admitted) a = rdef_->room->visit(v, now);
  }
  char fields[256];
  std::size_t fields_len = 0;
  if (fresh) {
    std::array<char, challenge::kTokenTextSize> ttext;
    const std::size_t tn = state.codec().encode(tok, ttext);
    fields_len = format_set_cookie(name, {ttext.data(), tn}, wr.ticket_lifetime / 1000, fields,
                                   sizeof fields);
  }
  const bool json = wants_json();
  switch (a.kind) {
    case waitroom::Answer::Kind::Admitted:
      worker_.stats().waitroom_admitted.add();
      if (fields_len != 0 && fields_len <= resp_fields_.size() - resp_fields_len_) {
        std::memcpy(resp_fields_.data() + resp_fields_len_, fields, fields_len);
        resp_fields_len_ += fields_len;
      }
      return true;
    case waitroom::Answer::Kind::Waiting: {
      worker_.stats().waitroom_queued.add();
      waitroom::QueuePage page;
      page.position = a.position;
      page.eta_s = a.eta_s;
      page.refresh_s = (wr.refresh + 999) / 1000;
      page.theme_css = hold_->runtime->defence.theme_css;
      const std::string body = json ? waitroom::queue_json(page) : waitroom::queue_page(page);
      respond_page(json ? 202 : 200, json ? kJson : kHtml, body, page.refresh_s,
                   {fields, fields_len});
      return false;
    }
    case waitroom::Answer::Kind::Spent:  // not from a fresh ticket's first visit; as full
    case waitroom::Answer::Kind::QueueFull:
    case waitroom::Answer::Kind::PrefixFull: {
      worker_.stats().waitroom_full.add();
      note_refusal();
      waitroom::FullPage page;
      page.reason = a.kind;
      page.theme_css = hold_->runtime->defence.theme_css;
      const std::string body = json ? waitroom::full_json(page) : waitroom::full_page(page);
      respond_page(503, json ? kJson : kHtml, body, page.retry_after_s);
      return false;
    }
  }
  return false;
}

// The application's own word that this login worked: a listed status AND its session cookie
// set and/or a redirect to where logged-in users go. A status alone proves nothing (a 200 may
// be the login form shown again).
bool Session::login_succeeded() const {
  const policy::ResidentsConfig& res = hold_->snapshot->config.residents;
  if (res.success_cookie.empty() && res.success_location.empty()) return false;
  if (std::find(res.success_status.begin(), res.success_status.end(), resp_.status) ==
      res.success_status.end()) {
    return false;
  }
  if (!res.success_cookie.empty() && !sets_cookie(resp_, res.success_cookie)) return false;
  if (!res.success_location.empty()) {
    const bool redirect = resp_.status >= 300 && resp_.status < 400;
    if (!redirect) return !res.success_cookie.empty();  // judged by the cookie alone
    std::string_view location;
    for (std::uint16_t i = 0; i < resp_.field_count; ++i) {
      if (http::iequals(resp_.fields[i].name, "location")) location = resp_.fields[i].value;
    }
    if (!location_path(location).starts_with(res.success_location)) return false;
  }
  return true;
}

void Session::issue_device_token() {
  const policy::ResidentsConfig& res = hold_->snapshot->config.residents;
  if (!login_succeeded()) return;
  const DefenceState& state = *hold_->runtime->state;
  std::optional<challenge::Token> tok =
      challenge::new_token(challenge::TokenKind::Device, core::wall_ms(), res.lifetime);
  if (!tok) return;
  tok->binding = challenge::binding_of(prefix_, {});
  tok->subject = account_hash_;
  std::array<char, challenge::kTokenTextSize> text;
  const std::size_t tn = state.codec().encode(*tok, text);
  const std::size_t n = format_set_cookie(res.cookie, {text.data(), tn}, res.lifetime / 1000,
                                          resp_fields_.data() + resp_fields_len_,
                                          resp_fields_.size() - resp_fields_len_);
  if (n != 0) {
    resp_fields_len_ += n;
    worker_.stats().device_tokens_issued.add();
  }
}

// ---- closing --------------------------------------------------------------------------------

void Session::start_linger() {
  ::shutdown(fd_, SHUT_WR);
  phase_ = Phase::Linger;
  linger_until_ms_ = worker_.loop().now_ms() + kLingerMs;
  linger_budget_ = kLingerBytes;
}

bool Session::linger_read() {
  if (!client_readable_) return false;
  char sink[4096];
  ssize_t n = ::recv(fd_, sink, sizeof sink, 0);
  if (n > 0 && static_cast<std::size_t>(n) < linger_budget_) {
    linger_budget_ -= static_cast<std::size_t>(n);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    client_readable_ = false;
    return false;
  }
  close_now();  // EOF, error, or the client kept sending past the budget
  return false;
}

void Session::begin_shutdown() {
  shutting_down_ = true;
  if (phase_ == Phase::Head && (in_ == nullptr || in_->empty()) &&
      (out_ == nullptr || out_->empty())) {
    close_now();
    return;
  }
  close_after_ = true;
}

void Session::close_now() {
  if (fd_ < 0) return;
  if (up_ != nullptr) {
    worker_.upstreams().close(up_);
    up_ = nullptr;
  }
  worker_.loop().remove(fd_);
  ::close(fd_);
  fd_ = -1;
  worker_.loop().timers().cancel(client_timer_);
  worker_.loop().timers().cancel(upstream_timer_);
  head_len_ = 0;
  end_exchange();
  for (core::Buffer** b : {&in_, &out_, &up_in_, &up_out_}) {
    worker_.buffers().release(*b);
    *b = nullptr;
  }
  if (counted_) {
    worker_.counter().release(counted_ip_);
    counted_ = false;
  }
  worker_.session_closed(this);
}

void Session::release_idle_buffers() {
  // Between requests a connection keeps no buffer it does not need: idle keep-alive connections
  // then cost a few hundred bytes each, not tens of KiB.
  for (core::Buffer** b : {&in_, &out_, &up_in_, &up_out_}) {
    if (*b != nullptr && (*b)->empty()) {
      worker_.buffers().release(*b);
      *b = nullptr;
    }
  }
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
  }
  net::TimerWheel& wheel = worker_.loop().timers();
  if (client_deadline == 0) {
    wheel.cancel(client_timer_);
  } else if (!client_timer_.armed || client_timer_.deadline_ms != client_deadline) {
    wheel.arm(client_timer_, client_deadline);
  }

  std::int64_t upstream_deadline = 0;
  if (phase_ == Phase::Upstream && up_ != nullptr && upstream_cfg_ != nullptr) {
    if (!up_->connected) {
      upstream_deadline = upstream_progress_ms_ + upstream_cfg_->connect_timeout;
    } else if (!resp_head_done_ && request_sent_ms_ != 0) {
      upstream_deadline = request_sent_ms_ + upstream_cfg_->first_byte_timeout;
    } else if (!(up_in_ != nullptr && up_in_->writable() == 0)) {
      // A full up_in_ means the client is slow; the client's send deadline governs then.
      upstream_deadline = upstream_progress_ms_ + upstream_cfg_->idle_timeout;
    }
  }
  if (upstream_deadline == 0) {
    wheel.cancel(upstream_timer_);
  } else if (!upstream_timer_.armed || upstream_timer_.deadline_ms != upstream_deadline) {
    wheel.arm(upstream_timer_, upstream_deadline);
  }
}

void Session::on_client_timer(void* self) {
  auto* s = static_cast<Session*>(self);
  if (s->fd_ < 0) return;
  if (s->phase_ == Phase::Hold) {
    s->on_hold_expired();
    if (s->fd_ >= 0) s->drive();
    return;
  }
  s->worker_.stats().client_timeouts.add();
  const bool partial_head = s->phase_ == Phase::Head && s->in_ != nullptr && !s->in_->empty() &&
                            (s->out_ == nullptr || s->out_->empty());
  const bool body_stalled = s->phase_ == Phase::Upstream && !s->req_done_ && !s->resp_head_done_;
  if (partial_head || body_stalled) {
    s->head_only_ = false;
    s->respond_local(
        408, partial_head ? "request head not received in time" : "request body stalled", true);
    s->linger_after_flush_ = false;  // a client this slow does not get a drain period
    s->drive();
    return;
  }
  s->close_now();
}

void Session::on_upstream_timer(void* self) {
  auto* s = static_cast<Session*>(self);
  if (s->fd_ < 0 || s->up_ == nullptr) return;
  s->worker_.stats().upstream_timeouts.add();
  s->fail_upstream(
      504, s->up_->connected ? "upstream did not answer in time" : "upstream connect timed out");
  if (s->fd_ >= 0) s->drive();
}

}  // namespace gh::proxy
