// bench_origin: a small, fast HTTP/1.1 origin for scripts/bench. It answers every request with
// "200 OK" and a fixed body, so that the proxy in front of it, never the origin, is what is measured.
//
//   bench_origin [--port N] [--threads N] [--body-bytes N]
//
// --port 0 (the default) binds any free port; the port is printed as "listening on PORT" on
// stdout. Each thread runs its own level-triggered epoll loop over one shared listening socket
// (EPOLLEXCLUSIVE). Requests may be pipelined; request bodies framed by Content-Length or chunked
// transfer coding are read and discarded. Buffers are bounded; a malformed request gets a 400 and
// the connection is closed. HEAD gets headers only; HTTP/1.0 and "Connection: close" are honoured.
//
// GET /__stats answers "requests N\n": the number of requests answered so far, all threads, the
// /__stats requests themselves not included. scripts/bench reads it before and after a measured
// window to show how many requests a proxy let through to the origin (e.g. none when refusing).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../http1.h"

namespace {

using bench::iequals;
using bench::trim;

constexpr size_t kMaxHeaderBytes = 16 * 1024;  // request line + headers
constexpr size_t kReadChunk = 64 * 1024;       // one read() at most; also the input bound
constexpr size_t kMaxPendingOutput = 1 << 20;  // stop reading while this much is unsent
constexpr int kMaxEvents = 256;
constexpr std::string_view kStatsPath = "/__stats";

std::atomic<uint64_t> g_requests{0};  // answered requests, /__stats excluded

struct Options {
  int port = 0;
  int threads = 1;
  size_t body_bytes = 64;
};

[[noreturn]] void usage(const char* argv0, const char* error) {
  if (error) std::fprintf(stderr, "bench_origin: %s\n", error);
  std::fprintf(stderr, "usage: %s [--port N] [--threads N] [--body-bytes N]\n", argv0);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  bench::for_each_option(argc, argv, [&](const char* e) { usage(argv[0], e); },
                         [&](std::string_view a, const char* text) {
    char* end = nullptr;
    long long v = std::strtoll(text, &end, 10);
    if (*end != '\0' || v < 0) usage(argv[0], "bad number");
    if (a == "--port" && v <= 65535) o.port = static_cast<int>(v);
    else if (a == "--threads" && v >= 1 && v <= 256) o.threads = static_cast<int>(v);
    else if (a == "--body-bytes" && v <= (64 << 20)) o.body_bytes = static_cast<size_t>(v);
    else usage(argv[0], "bad option or value");
  });
  return o;
}

struct Responses {
  std::string ok, ok_close, head, head_close;
  static constexpr std::string_view bad =
      "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  static constexpr std::string_view too_large =
      "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

  explicit Responses(size_t body_bytes) {
    std::string body(body_bytes, 'x');
    for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    if (!body.empty()) body.back() = '\n';
    std::string h = "HTTP/1.1 200 OK\r\nServer: bench_origin\r\nContent-Type: text/plain\r\n"
                    "Content-Length: " + std::to_string(body_bytes) + "\r\n";
    head = h + "\r\n";
    head_close = h + "Connection: close\r\n\r\n";
    ok = head + body;
    ok_close = head_close + body;
  }
};

// One connection: input is parsed in place; complete requests are answered into `out`, which is
// flushed once per read (so pipelined requests share one write).
struct Conn {
  enum class State { kHead, kBody, kChunked };
  int fd = -1;
  State state = State::kHead;
  uint64_t remaining = 0;  // body bytes left to discard
  bench::ChunkedBody chunked;
  bool head_request = false;
  bool stats_request = false;  // GET /__stats: answer the counter
  bool close_after = false;  // answer then close (Connection: close, HTTP/1.0, error)
  bool closing = false;      // no more input is parsed; close when `out` is flushed
  std::string in;
  std::string out;
  size_t out_off = 0;
  uint32_t events = 0;  // currently registered epoll events
};

class Worker {
 public:
  Worker(int listen_fd, const Responses& r) : listen_fd_(listen_fd), r_(r) {}

  void run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) { std::perror("epoll_create1"); std::exit(1); }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = listen_fd_;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, listen_fd_, &ev) < 0) { std::perror("epoll_ctl"); std::exit(1); }
    std::vector<char> buf(kReadChunk);
    epoll_event events[kMaxEvents];
    for (;;) {
      int n = epoll_wait(ep_, events, kMaxEvents, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        std::exit(1);
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) { accept_all(); continue; }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        Conn& c = *it->second;
        uint32_t e = events[i].events;
        if (e & EPOLLOUT) {
          if (!flush(c)) { close_conn(c); continue; }
        }
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          if (!on_readable(c, buf)) { close_conn(c); continue; }
        }
        if (!update_events(c)) close_conn(c);
      }
    }
  }

 private:
  void accept_all() {
    for (int k = 0; k < 64; ++k) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
        if (errno == EMFILE || errno == ENFILE) return;  // shed; the client retries
        std::perror("accept4");
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->events = EPOLLIN | EPOLLRDHUP;
      epoll_event ev{};
      ev.events = c->events;
      ev.data.fd = fd;
      if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) { ::close(fd); continue; }
      conns_[fd] = std::move(c);
    }
  }

  void close_conn(Conn& c) {
    int fd = c.fd;
    epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns_.erase(fd);  // destroys c
  }

  // Reads once (level-triggered: more data wakes us again), parses, flushes. False: close now.
  bool on_readable(Conn& c, std::vector<char>& buf) {
    if (c.closing || c.out.size() - c.out_off >= kMaxPendingOutput) return true;  // not reading
    ssize_t n = ::read(c.fd, buf.data(), buf.size());
    if (n == 0) return false;  // peer closed (anything unsent is unwanted)
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    feed(c, std::string_view(buf.data(), static_cast<size_t>(n)));
    if (!flush(c)) return false;
    return !(c.closing && c.out_off == c.out.size());
  }

  void fail(Conn& c, std::string_view response) {
    c.out.append(response);
    c.closing = true;
    c.in.clear();
  }

  void respond(Conn& c) {
    if (c.stats_request) {
      std::string body = "requests " + std::to_string(g_requests.load(std::memory_order_relaxed)) + "\n";
      c.out.append("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n" +
                   (c.close_after ? "Connection: close\r\n" : "") + "\r\n" + body);
    } else {
      g_requests.fetch_add(1, std::memory_order_relaxed);
      const std::string& r = c.head_request ? (c.close_after ? r_.head_close : r_.head)
                                            : (c.close_after ? r_.ok_close : r_.ok);
      c.out.append(r);
    }
    if (c.close_after) { c.closing = true; c.in.clear(); }
    c.state = Conn::State::kHead;
  }

  // Consumes `data`. Body bytes are discarded without being buffered; header bytes are buffered
  // in `c.in` (bounded by kMaxHeaderBytes) until the header block is complete.
  void feed(Conn& c, std::string_view data) {
    // Fast path: nothing buffered, so parse straight from `data`; the remainder is kept.
    const std::string_view s = bench::input(c.in, data);
    size_t consumed = 0;
    while (!c.closing && consumed < s.size()) {
      std::string_view rest = s.substr(consumed);
      size_t used = 0;
      bool need_more = false;
      switch (c.state) {
        case Conn::State::kHead: {
          size_t end = rest.find("\r\n\r\n");
          if (end == std::string_view::npos) {
            if (rest.size() > kMaxHeaderBytes) fail(c, Responses::too_large);
            need_more = true;
            break;
          }
          if (end + 4 > kMaxHeaderBytes) { fail(c, Responses::too_large); break; }
          if (!parse_head(c, rest.substr(0, end + 2))) { fail(c, Responses::bad); break; }
          used = end + 4;
          break;
        }
        case Conn::State::kBody: {
          uint64_t take = std::min<uint64_t>(c.remaining, rest.size());
          c.remaining -= take;
          used = static_cast<size_t>(take);
          if (c.remaining == 0) respond(c);
          break;
        }
        case Conn::State::kChunked:
          switch (c.chunked.feed(rest, used)) {
            case bench::ChunkedBody::Result::kBad:
              fail(c, Responses::bad);
              break;
            case bench::ChunkedBody::Result::kMore:
              need_more = true;
              break;
            case bench::ChunkedBody::Result::kDone:
              respond(c);  // end of trailers: request complete
              break;
          }
          break;
      }
      consumed += used;  // a body may use bytes and still need more
      if (need_more) break;
    }
    if (c.closing) return;  // fail()/respond() cleared the input
    bench::keep(c.in, s, consumed);
  }

  // `head` is the request line and headers, each ending in CRLF, without the blank line.
  bool parse_head(Conn& c, std::string_view head) {
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    size_t sp1 = line.find(' ');
    size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == 0 || sp2 <= sp1 + 1) return false;
    std::string_view method = line.substr(0, sp1);
    std::string_view version = line.substr(sp2 + 1);
    bool http11;
    if (version == "HTTP/1.1") http11 = true;
    else if (version == "HTTP/1.0") http11 = false;
    else return false;
    c.head_request = method == "HEAD";
    c.stats_request = method == "GET" && line.substr(sp1 + 1, sp2 - sp1 - 1) == kStatsPath;
    bool keep_alive = http11;
    bool chunked = false, have_length = false;
    uint64_t length = 0;
    const bool fields_ok = bench::for_each_field(head, [&](std::string_view name, std::string_view value) {
      if (iequals(name, "content-length")) {
        uint64_t v;
        if (!bench::parse_dec(value, v) || (have_length && v != length)) return false;
        have_length = true;
        length = v;
      } else if (iequals(name, "transfer-encoding")) {
        if (!iequals(value, "chunked")) return false;  // only "chunked" alone is supported
        chunked = true;
      } else if (iequals(name, "connection")) {
        if (iequals(value, "close")) keep_alive = false;
        else if (iequals(value, "keep-alive")) keep_alive = true;
      }
      return true;
    });
    if (!fields_ok) return false;
    if (chunked && have_length) return false;  // ambiguous framing: refuse
    c.close_after = !keep_alive;
    if (chunked) {
      c.state = Conn::State::kChunked;
    } else if (length > 0) {
      c.remaining = length;
      c.state = Conn::State::kBody;
    } else {
      respond(c);
    }
    return true;
  }

  // Writes as much as the socket takes. False: a write error (close).
  bool flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      c.out_off += static_cast<size_t>(n);
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    } else if (c.out_off > (64 << 10)) {
      c.out.erase(0, c.out_off);
      c.out_off = 0;
    }
    return true;
  }

  // Reads while output is drained; waits for EPOLLOUT while it is not. False: close now.
  bool update_events(Conn& c) {
    bool pending = c.out_off < c.out.size();
    if (c.closing && !pending) return false;
    uint32_t want = pending ? EPOLLOUT : (EPOLLIN | EPOLLRDHUP);
    if (want == c.events) return true;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd;
    if (epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev) < 0) return false;
    c.events = want;
    return true;
  }

  int listen_fd_;
  int ep_ = -1;
  const Responses& r_;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
};

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_options(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { std::perror("socket"); return 1; }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(opt.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) { std::perror("bind"); return 1; }
  if (listen(fd, 4096) < 0) { std::perror("listen"); return 1; }
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) { std::perror("getsockname"); return 1; }

  std::printf("listening on %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  static const Responses responses(opt.body_bytes);
  std::vector<std::thread> threads;
  for (int i = 1; i < opt.threads; ++i) {
    threads.emplace_back([fd] { Worker(fd, responses).run(); });
  }
  Worker(fd, responses).run();  // never returns
}
