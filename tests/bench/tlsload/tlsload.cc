// bench_tlsload: a TLS handshake load generator for scripts/bench (scenarios tls-full and
// tls-resumed). Every connection: TCP connect, TLS handshake, one small HTTP/1.1 request with
// `Connection: close`, read the whole answer, close; then the slot opens the next connection.
//
//   bench_tlsload --port N [--host 127.0.0.1] [--connections 64] [--seconds 10] [--max 5000000]
//                 [--resume] [--sources 64] [--path /] [--sni localhost]
//
// --resume: after the first full handshake, every connection offers the newest session (ticket)
//   the server sent, as a returning browser does (several connections may offer the same one);
//   a handshake the server did not resume counts as `full`. Without it every handshake is a full
//   one (no session offered).
// --sources K: connection i binds 127.1.0.1 + (i mod K) before connect, so the server sees K
//   client addresses and per-address connection caps measure what a spread of clients costs,
//   not the cap (loopback: every 127.0.0.0/8 address is local).
//
// One thread, one epoll loop, non-blocking sockets, OpenSSL 3 (certificates are not verified:
// the bench measures the server's handshake, and a verification on our side would only slow the
// load side). Handshake latency is from connect() to the handshake's end (TCP handshake
// included). Stops after --max completed connections or --seconds; a connection that has not
// finished 5 s after connect() is an error. Prints one line at the end:
//   done elapsed=S handshakes=N full=N resumed=N 2xx=N other=N errors=N rate=R
//        p50_us=N p90_us=N p99_us=N max_us=N version=TLSv1.3
// (rate = completed request/answer cycles per second). Exit 0 if at least one cycle completed,
// 1 otherwise, 2 on usage. Traffic goes only to 127.0.0.0/8.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../http1.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kConnDeadline = std::chrono::seconds(5);
constexpr size_t kMaxAnswer = 1 << 20;             // an answer larger than this is an error
constexpr uint64_t kMaxErrorsInRow = 1000;         // nothing listening: end the run
constexpr size_t kMaxLatencySamples = 20'000'000;  // 80 MB at most

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 64;
  uint64_t seconds = 10;
  uint64_t max = 5'000'000;
  bool resume = false;
  uint32_t sources = 64;
  std::string path = "/";
  std::string sni = "localhost";
};

[[noreturn]] void usage(const char* argv0, const char* error) {
  if (error) std::fprintf(stderr, "bench_tlsload: %s\n", error);
  std::fprintf(stderr,
               "usage: %s --port N [--host 127.0.0.1] [--connections N] [--seconds N] [--max N] "
               "[--resume] [--sources K] [--path /] [--sni NAME]\n",
               argv0);
  std::exit(2);
}

uint64_t number(const char* argv0, const char* s, uint64_t lo, uint64_t hi) {
  return bench::number(s, lo, hi, [&](const char* e) { usage(argv0, e); });
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--resume") {
      o.resume = true;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0], "option without a value");
    const char* v = argv[++i];
    if (a == "--host")
      o.host = v;
    else if (a == "--port")
      o.port = static_cast<int>(number(argv[0], v, 1, 65535));
    else if (a == "--connections")
      o.connections = static_cast<int>(number(argv[0], v, 1, 10000));
    else if (a == "--seconds")
      o.seconds = number(argv[0], v, 1, 3600);
    else if (a == "--max")
      o.max = number(argv[0], v, 1, 1'000'000'000ULL);
    else if (a == "--sources")
      o.sources = static_cast<uint32_t>(number(argv[0], v, 1, 60000));
    else if (a == "--path")
      o.path = v;
    else if (a == "--sni")
      o.sni = v;
    else
      usage(argv[0], "unknown option");
  }
  if (o.port == 0) usage(argv[0], "--port is required");
  if (o.path.empty() || o.path[0] != '/' || o.path.find_first_of(" \r\n") != std::string::npos)
    usage(argv[0], "--path must start with / and hold no spaces");
  return o;
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

// The newest session the server gave us, taken when an answer is complete (TLS 1.3 sends its
// tickets after the handshake, before the answer). No client session cache: with one, OpenSSL
// marks the session a connection resumed unresumable when a new ticket arrives, and the
// connections still offering it would fall back to full handshakes.
SSL_SESSION* g_session = nullptr;

struct Slot {
  enum class State { kIdle, kHandshake, kWrite, kRead };
  State state = State::kIdle;
  int fd = -1;
  SSL* ssl = nullptr;
  Clock::time_point started;
  size_t written = 0;
  std::string in;
};

struct Totals {
  uint64_t completed = 0, full = 0, resumed = 0, ok2xx = 0, other = 0, errors = 0;
  uint64_t errors_in_row = 0;
  std::string version;  // of the first handshake
  std::vector<uint32_t> latency_us;
};

class Load {
 public:
  Load(const Options& o, SSL_CTX* ctx, int ep, in_addr dst)
      : o_(o), ctx_(ctx), ep_(ep), dst_(dst), slots_(o.connections) {
    request_ = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.sni +
               "\r\nUser-Agent: bench_tlsload\r\nConnection: close\r\n\r\n";
  }

  Totals& totals() { return t_; }
  Slot& slot(size_t i) { return slots_[i]; }
  size_t size() const { return slots_.size(); }

  void open(size_t i) {
    Slot& s = slots_[i];
    s = Slot{};
    s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) return fail(i);
    int one = 1;
    ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The kernel picks the port at connect, per (source, destination): no port is reserved by bind.
    ::setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) + (1u << 16) + 1 + (next_source_++ % o_.sources));
    if (::bind(s.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return fail(i);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(o_.port));
    dst.sin_addr = dst_;
    s.started = Clock::now();
    if (::connect(s.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS)
      return fail(i);
    s.ssl = SSL_new(ctx_);
    if (!s.ssl || SSL_set_fd(s.ssl, s.fd) != 1) return fail(i);
    SSL_set_tlsext_host_name(s.ssl, o_.sni.c_str());
    SSL_set_connect_state(s.ssl);
    if (o_.resume && g_session) SSL_set_session(s.ssl, g_session);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.u64 = i;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev) != 0) return fail(i);
    s.state = Slot::State::kHandshake;
  }

  // Drives slot i as far as it goes without blocking.
  void step(size_t i) {
    Slot& s = slots_[i];
    if (s.state == Slot::State::kHandshake) {
      int r = SSL_do_handshake(s.ssl);
      if (r != 1) return wait_or_fail(i, r);
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s.started);
      if (t_.latency_us.size() < kMaxLatencySamples)
        t_.latency_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us.count(), UINT32_MAX)));
      (SSL_session_reused(s.ssl) ? t_.resumed : t_.full)++;
      if (t_.version.empty()) t_.version = SSL_get_version(s.ssl);
      s.state = Slot::State::kWrite;
    }
    if (s.state == Slot::State::kWrite) {
      size_t n = 0;
      int r = SSL_write_ex(s.ssl, request_.data(), request_.size(), &n);
      if (r != 1) return wait_or_fail(i, r);
      s.state = Slot::State::kRead;
    }
    if (s.state == Slot::State::kRead) {
      char buf[16384];
      for (;;) {
        size_t n = 0;
        int r = SSL_read_ex(s.ssl, buf, sizeof buf, &n);
        if (r == 1) {
          s.in.append(buf, n);
          if (s.in.size() > kMaxAnswer) return fail(i);
          if (answer_complete(s.in)) return done(i);
          continue;
        }
        int e = SSL_get_error(s.ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        // The server closed: a complete answer framed by the close is fine.
        if ((e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL) && head_end(s.in) != 0)
          return done(i);
        return fail(i);
      }
    }
  }

  void expire(Clock::time_point now) {
    for (size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].state != Slot::State::kIdle && now - slots_[i].started > kConnDeadline) fail(i);
  }

  void close_all() {
    for (size_t i = 0; i < slots_.size(); ++i) release(slots_[i]);
  }

 private:
  static size_t head_end(const std::string& in) {
    size_t p = in.find("\r\n\r\n");
    return p == std::string::npos ? 0 : p + 4;
  }

  // Content-Length framed answers end at their length; others at the server's close.
  static bool answer_complete(const std::string& in) {
    size_t end = head_end(in);
    if (end == 0) return false;
    uint64_t length = 0;
    bool have = false;
    // The head without its empty line: for_each_field wants every line a field.
    bench::for_each_field(std::string_view(in).substr(0, end - 2),
                          [&](std::string_view name, std::string_view value) {
                            if (bench::iequals(name, "content-length"))
                              have = bench::parse_dec(value, length);
                            return true;
                          });
    return have && in.size() >= end + length;
  }

  void done(size_t i) {
    Slot& s = slots_[i];
    if (o_.resume) {
      if (SSL_SESSION* fresh = SSL_get1_session(s.ssl)) {
        if (g_session) SSL_SESSION_free(g_session);
        g_session = fresh;
      }
    }
    bool ok = s.in.size() >= 12 && s.in.compare(0, 5, "HTTP/") == 0 && s.in[9] == '2';
    (ok ? t_.ok2xx : t_.other)++;
    t_.completed++;
    t_.errors_in_row = 0;
    release(s);
  }

  void wait_or_fail(size_t i, int r) {
    int e = SSL_get_error(slots_[i].ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    fail(i);
  }

  void fail(size_t i) {
    t_.errors++;
    t_.errors_in_row++;
    ERR_clear_error();
    release(slots_[i]);
  }

  static void release(Slot& s) {
    if (s.ssl) {
      // No close_notify on the wire (the answer is in, the server closes anyway), but marked as
      // shut down: OpenSSL makes the session of a connection freed otherwise unresumable.
      SSL_set_shutdown(s.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
      SSL_free(s.ssl);
    }
    if (s.fd >= 0) ::close(s.fd);  // leaves the epoll set with it
    s.ssl = nullptr;
    s.fd = -1;
    s.state = Slot::State::kIdle;
  }

  const Options& o_;
  SSL_CTX* ctx_;
  int ep_;
  in_addr dst_;
  std::vector<Slot> slots_;
  std::string request_;
  uint64_t next_source_ = 0;
  Totals t_;
};

uint32_t percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  in_addr dst{};
  if (::inet_pton(AF_INET, o.host.c_str(), &dst) != 1 || (ntohl(dst.s_addr) >> 24) != 127) {
    std::fprintf(stderr, "bench_tlsload: --host must be an address in 127.0.0.0/8\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return 1;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return 1;
  Load load(o, ctx, ep, dst);
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(o.seconds);
  Totals& t = load.totals();
  t.latency_us.reserve(std::min<uint64_t>(o.max, 4'000'000));
  uint64_t opened = 0;
  auto refill = [&] {
    for (size_t i = 0; i < load.size(); ++i) {
      // With --resume, only one connection runs until the first session arrives.
      if (o.resume && !g_session && opened > t.errors && i > 0) break;
      if (load.slot(i).state == Slot::State::kIdle && opened < o.max) {
        ++opened;
        load.open(i);
        if (load.slot(i).state != Slot::State::kIdle) load.step(i);
      }
    }
  };
  epoll_event evs[256];
  auto last_expire = start;
  while (!g_stop && Clock::now() < end && t.completed + t.errors < o.max &&
         t.errors_in_row < kMaxErrorsInRow) {
    refill();
    int n = ::epoll_wait(ep, evs, 256, 50);
    if (n < 0 && errno != EINTR) break;
    for (int k = 0; k < n; ++k) load.step(static_cast<size_t>(evs[k].data.u64));
    auto now = Clock::now();
    if (now - last_expire > std::chrono::milliseconds(100)) {
      load.expire(now);
      last_expire = now;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  load.close_all();
  auto& lat = t.latency_us;
  uint32_t p50 = percentile(lat, 0.50), p90 = percentile(lat, 0.90), p99 = percentile(lat, 0.99);
  uint32_t mx = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  std::printf(
      "done elapsed=%.3f handshakes=%llu full=%llu resumed=%llu 2xx=%llu other=%llu errors=%llu "
      "rate=%.1f p50_us=%u p90_us=%u p99_us=%u max_us=%u version=%s\n",
      elapsed, static_cast<unsigned long long>(t.full + t.resumed),
      static_cast<unsigned long long>(t.full), static_cast<unsigned long long>(t.resumed),
      static_cast<unsigned long long>(t.ok2xx), static_cast<unsigned long long>(t.other),
      static_cast<unsigned long long>(t.errors), elapsed > 0 ? t.completed / elapsed : 0.0, p50,
      p90, p99, mx, t.version.empty() ? "-" : t.version.c_str());
  if (g_session) SSL_SESSION_free(g_session);
  SSL_CTX_free(ctx);
  ::close(ep);
  return t.completed > 0 ? 0 : 1;
}
