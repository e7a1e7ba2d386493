// bench_flood: an HTTP/1.1 load generator for scripts/bench that gives every request a distinct
// client address in X-Forwarded-For, to show that a proxy's per-client state stays bounded by its
// configuration however many clients show up.
//
//   bench_flood --port N [--host 127.0.0.1] [--requests 1000000] [--seconds 60] [--connections 64]
//               [--pipeline 16] [--family 4|6] [--first K] [--path /] [--rate R]
//
// --rate R: open loop at R requests per second (requests are due on a fixed schedule whatever
// the answers do; a request that finds no free connection waits and its latency counts from when
// it was due, so a stall is not hidden: no coordinated omission). Latency is measured from due
// (or sent, without --rate) to the last byte of the answer, and the end line adds
//   p50_us=N p90_us=N p99_us=N p999_us=N max_us=N
//
// Request i (0-based, counting from --first K) carries X-Forwarded-For:
//   --family 4: the (K+i+1)-th address of 10.0.0.0/8: 10.0.0.1, 10.0.0.2, ... (at most 16,777,215)
//   --family 6: 2001:db8:HHHH:HHHH::1 with K+i+1 in the two middle groups: each in its own /64
// so the proxy, told to trust 127.0.0.0/8 as a proxy, sees that many distinct clients.
//
// One thread, one epoll loop, keep-alive connections with up to --pipeline requests in flight each.
// Responses are framed by Content-Length or chunked coding; "Connection: close" (or an error)
// closes the connection, the requests still in flight on it are counted as lost, and it reconnects.
// Stops after --requests answered-or-lost requests, or --seconds, or SIGINT/SIGTERM. Prints
//   progress elapsed=S issued=N answered=N            every second, and at the end one line:
//   done elapsed=S issued=N answered=N 2xx=N 429=N other=N lost=N errors=N connects=N rate=R
// (rate = answered / elapsed). Exit 0 if at least one response came back, 1 otherwise, 2 on usage.
// Traffic goes only to loopback (127.0.0.0/8): other hosts are refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <time.h>
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

using bench::iequals;
using bench::trim;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxHead = 64 * 1024;
constexpr int kMaxEvents = 256;
constexpr uint64_t kMaxConnects = 200'000;       // reconnect storms end the run
constexpr uint64_t kMaxFailedConnectsInRow = 200;  // nothing listening

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  uint64_t requests = 1'000'000;
  uint64_t seconds = 60;
  int connections = 64;
  int pipeline = 16;
  int family = 4;
  uint64_t first = 0;
  std::string path = "/";
  uint64_t rate = 0;  // requests per second; 0 = as fast as the connections allow
};

[[noreturn]] void usage(const char* argv0, const char* error) {
  if (error) std::fprintf(stderr, "bench_flood: %s\n", error);
  std::fprintf(stderr,
               "usage: %s --port N [--host 127.0.0.1] [--requests N] [--seconds N] "
               "[--connections N] [--pipeline N] [--family 4|6] [--first K] [--path /] "
               "[--rate R]\n",
               argv0);
  std::exit(2);
}

uint64_t number(const char* argv0, const char* s, uint64_t lo, uint64_t hi) {
  return bench::number(s, lo, hi, [&](const char* e) { usage(argv0, e); });
}

Options parse_options(int argc, char** argv) {
  Options o;
  bench::for_each_option(argc, argv, [&](const char* e) { usage(argv[0], e); },
                         [&](std::string_view a, const char* v) {
    if (a == "--host") o.host = v;
    else if (a == "--port") o.port = static_cast<int>(number(argv[0], v, 1, 65535));
    else if (a == "--requests") o.requests = number(argv[0], v, 1, 4'000'000'000ULL);
    else if (a == "--seconds") o.seconds = number(argv[0], v, 1, 3600);
    else if (a == "--connections") o.connections = static_cast<int>(number(argv[0], v, 1, 10000));
    else if (a == "--pipeline") o.pipeline = static_cast<int>(number(argv[0], v, 1, 1024));
    else if (a == "--family") o.family = static_cast<int>(number(argv[0], v, 4, 6));
    else if (a == "--first") o.first = number(argv[0], v, 0, 4'000'000'000ULL);
    else if (a == "--path") o.path = v;
    else if (a == "--rate") o.rate = number(argv[0], v, 1, 10'000'000);
    else usage(argv[0], "unknown option");
  });
  if (o.port == 0) usage(argv[0], "--port is required");
  if (o.family != 4 && o.family != 6) usage(argv[0], "--family is 4 or 6");
  if (o.path.empty() || o.path[0] != '/' || o.path.find_first_of(" \r\n") != std::string::npos)
    usage(argv[0], "--path must start with / and hold no spaces");
  uint64_t space = o.family == 4 ? (1ULL << 24) - 1 : 0xFFFFFFFFULL;
  if (o.first > space || o.requests > space - o.first) usage(argv[0], "address space exhausted");
  return o;
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

void put_dec(std::string& out, uint64_t v) {
  char buf[24];
  int n = 0;
  do { buf[n++] = static_cast<char>('0' + v % 10); v /= 10; } while (v);
  while (n) out.push_back(buf[--n]);
}

void put_hex(std::string& out, uint32_t v) {  // no leading zeros, as RFC 5952 writes groups
  static const char digits[] = "0123456789abcdef";
  char buf[8];
  int n = 0;
  do { buf[n++] = digits[v & 15]; v >>= 4; } while (v);
  while (n) out.push_back(buf[--n]);
}

struct Conn {
  enum class State { kHead, kBody, kChunked, kUntilClose };
  int fd = -1;
  bool connected = false;
  uint32_t events = 0;
  uint32_t inflight = 0;
  std::string out;
  size_t out_off = 0;
  std::string in;
  State state = State::kHead;
  uint64_t remaining = 0;
  bench::ChunkedBody chunked;
  int status = 0;
  bool close_after = false;
  std::vector<int64_t> due_ns;  // when each request in flight was due (FIFO), for its latency
  size_t due_head = 0;
};

// Latency histogram: 1 µs buckets up to 1 ms, then 1/16-octave buckets up to ~70 s.
class Latency {
 public:
  void add(int64_t ns) {
    const uint64_t us = ns < 0 ? 0 : static_cast<uint64_t>(ns) / 1000;
    ++counts_[slot(us)];
    ++n_;
    max_us_ = std::max(max_us_, us);
  }
  uint64_t percentile(double q) const {
    if (n_ == 0) return 0;
    const uint64_t want = static_cast<uint64_t>(q * static_cast<double>(n_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= want) return upper(i);
    }
    return max_us_;
  }
  uint64_t max_us() const { return max_us_; }
  uint64_t count() const { return n_; }

 private:
  static constexpr size_t kLinear = 1000;
  static size_t slot(uint64_t us) {
    if (us < kLinear) return us;
    const int octave = 63 - __builtin_clzll(us);  // us >= 1000: octave >= 9
    const uint64_t sub = (us >> (octave - 4)) & 15;
    return std::min<size_t>(kLinear + static_cast<size_t>(octave - 9) * 16 + sub, kSlots - 1);
  }
  static uint64_t upper(size_t i) {
    if (i < kLinear) return i;
    const size_t k = i - kLinear;
    const int octave = static_cast<int>(k / 16) + 9;
    return ((16 + (k % 16) + 1) << (octave - 4)) - 1;
  }
  static constexpr size_t kSlots = kLinear + 16 * 20;
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kSlots, 0);
  uint64_t n_ = 0;
  uint64_t max_us_ = 0;
};

class Flood {
 public:
  explicit Flood(const Options& o) : o_(o), conns_(static_cast<size_t>(o.connections)) {
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &addr_.sin_addr) != 1) usage("bench_flood", "bad --host");
    if ((ntohl(addr_.sin_addr.s_addr) >> 24) != 127) usage("bench_flood", "--host must be in 127.0.0.0/8");
    prefix_ = "GET " + o.path + " HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: ";
  }

  int run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) { std::perror("epoll_create1"); return 1; }
    start_ = std::chrono::steady_clock::now();
    auto deadline = start_ + std::chrono::seconds(o_.seconds);
    auto next_progress = start_ + std::chrono::seconds(1);
    for (auto& c : conns_) open(c);
    std::vector<char> buf(kReadChunk);
    epoll_event events[kMaxEvents];
    while (!g_stop && !finished()) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      if (now >= next_progress) {
        std::printf("progress elapsed=%.2f issued=%llu answered=%llu\n", elapsed(),
                    static_cast<unsigned long long>(issued_), static_cast<unsigned long long>(answered_));
        std::fflush(stdout);
        next_progress += std::chrono::seconds(1);
      }
      if (connects_ > kMaxConnects || failed_in_row_ > kMaxFailedConnectsInRow) {
        std::fprintf(stderr, "bench_flood: giving up: %llu connects, %llu failed in a row\n",
                     static_cast<unsigned long long>(connects_),
                     static_cast<unsigned long long>(failed_in_row_));
        break;
      }
      for (auto& c : conns_) {  // slots whose connect failed outright
        if (c.fd < 0 && issued_ < o_.requests) open(c);
      }
      if (o_.rate != 0) {  // requests that fell due since the last pass, onto free connections
        for (auto& c : conns_) {
          if (c.fd >= 0 && !fill_and_flush(c)) reopen(c);
        }
      }
      // Under --rate, wake when the next request falls due (a millisecond timer would send it
      // up to 1 ms late, and count that against the server).
      timespec wait{0, 100'000'000};
      if (o_.rate != 0 && issued_ < o_.requests) {
        const int64_t until = std::max<int64_t>(0, due_ns(issued_) - now_ns());
        if (until < 100'000'000) wait.tv_nsec = static_cast<long>(until);
      }
      int n = epoll_pwait2(ep_, events, kMaxEvents, &wait, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        break;
      }
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[events[i].data.u32];
        if (c.fd < 0) continue;
        uint32_t e = events[i].events;
        bool ok = true;
        if (!c.connected && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err) {
            ++errors_;
            ++failed_in_row_;
            reopen(c);
            continue;
          }
          c.connected = true;
        }
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) ok = on_readable(c, buf);
        if (ok && c.fd >= 0) ok = fill_and_flush(c);
        if (!ok) reopen(c);
      }
    }
    double t = elapsed();
    uint64_t lost = lost_ + (issued_ - answered_ - lost_);  // still in flight at the end
    std::printf("done elapsed=%.3f issued=%llu answered=%llu 2xx=%llu 429=%llu other=%llu lost=%llu "
                "errors=%llu connects=%llu rate=%.0f p50_us=%llu p90_us=%llu p99_us=%llu "
                "p999_us=%llu max_us=%llu\n",
                t, static_cast<unsigned long long>(issued_), static_cast<unsigned long long>(answered_),
                static_cast<unsigned long long>(s2xx_), static_cast<unsigned long long>(s429_),
                static_cast<unsigned long long>(other_), static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(errors_), static_cast<unsigned long long>(connects_),
                t > 0 ? static_cast<double>(answered_) / t : 0.0,
                static_cast<unsigned long long>(latency_.percentile(0.50)),
                static_cast<unsigned long long>(latency_.percentile(0.90)),
                static_cast<unsigned long long>(latency_.percentile(0.99)),
                static_cast<unsigned long long>(latency_.percentile(0.999)),
                static_cast<unsigned long long>(latency_.max_us()));
    std::fflush(stdout);
    return answered_ > 0 ? 0 : 1;
  }

 private:
  bool finished() const { return issued_ == o_.requests && answered_ + lost_ == issued_; }

  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  void open(Conn& c) {
    c = Conn{};
    ++connects_;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { std::perror("socket"); ++errors_; ++failed_in_row_; return; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_);
    if (r < 0 && errno != EINPROGRESS) { ::close(fd); ++errors_; ++failed_in_row_; return; }
    c.fd = fd;
    c.connected = r == 0;
    c.events = EPOLLIN | EPOLLOUT;
    epoll_event ev{};
    ev.events = c.events;
    ev.data.u32 = static_cast<uint32_t>(&c - conns_.data());
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) { ::close(fd); c.fd = -1; ++errors_; return; }
    if (c.connected) fill_and_flush(c);
  }

  void close_conn(Conn& c) {
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    lost_ += c.inflight;
    c.inflight = 0;
    c.due_ns.clear();
    c.due_head = 0;
    c.fd = -1;
  }

  void reopen(Conn& c) {
    close_conn(c);
    if (!g_stop && issued_ < o_.requests) open(c);
  }

  void append_request(Conn& c) {
    uint64_t k = o_.first + issued_ + 1;
    c.out.append(prefix_);
    if (o_.family == 4) {
      c.out.append("10.");
      put_dec(c.out, (k >> 16) & 255);
      c.out.push_back('.');
      put_dec(c.out, (k >> 8) & 255);
      c.out.push_back('.');
      put_dec(c.out, k & 255);
    } else {
      c.out.append("2001:db8:");
      put_hex(c.out, static_cast<uint32_t>((k >> 16) & 0xFFFF));
      c.out.push_back(':');
      put_hex(c.out, static_cast<uint32_t>(k & 0xFFFF));
      c.out.append("::1");
    }
    c.out.append("\r\n\r\n");
    c.due_ns.push_back(o_.rate != 0 ? due_ns(issued_) : now_ns());
    ++issued_;
    ++c.inflight;
  }

  int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now() - start_)
        .count();
  }
  // When request i is due under --rate.
  int64_t due_ns(uint64_t i) const {
    return static_cast<int64_t>(static_cast<double>(i) * 1e9 / static_cast<double>(o_.rate));
  }
  bool due() const { return o_.rate == 0 || due_ns(issued_) <= now_ns(); }

  // Tops the connection up to --pipeline requests in flight, writes what the socket takes, and
  // asks for EPOLLOUT only while output is pending. False: close.
  bool fill_and_flush(Conn& c) {
    if (!c.connected) return true;
    while (c.inflight < static_cast<uint32_t>(o_.pipeline) && issued_ < o_.requests && !g_stop &&
           due())
      append_request(c);
    while (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        ++errors_;
        return false;
      }
      c.out_off += static_cast<size_t>(n);
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    }
    uint32_t want = EPOLLIN | (c.out_off < c.out.size() ? uint32_t{EPOLLOUT} : 0u);
    if (want != c.events) {
      epoll_event ev{};
      ev.events = want;
      ev.data.u32 = static_cast<uint32_t>(&c - conns_.data());
      if (epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev) < 0) return false;
      c.events = want;
    }
    return true;
  }

  bool on_readable(Conn& c, std::vector<char>& buf) {
    ssize_t n = ::read(c.fd, buf.data(), buf.size());
    if (n == 0) {
      if (c.state == Conn::State::kUntilClose) complete(c);
      if (c.inflight) ++errors_;  // closed with requests unanswered
      return false;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
      ++errors_;
      return false;
    }
    return feed(c, std::string_view(buf.data(), static_cast<size_t>(n)));
  }

  void complete(Conn& c) {
    if (c.status >= 100 && c.status < 200) {  // interim (100 Continue): the final one follows
      c.state = Conn::State::kHead;
      return;
    }
    ++answered_;
    failed_in_row_ = 0;
    if (c.inflight) --c.inflight;
    if (c.due_head < c.due_ns.size()) {
      latency_.add(now_ns() - c.due_ns[c.due_head++]);
      if (c.due_head == c.due_ns.size()) {
        c.due_ns.clear();
        c.due_head = 0;
      }
    }
    if (c.status >= 200 && c.status < 300) ++s2xx_;
    else if (c.status == 429) ++s429_;
    else ++other_;
    c.state = Conn::State::kHead;
  }

  // Parses responses out of `data`. False: close the connection (error or Connection: close).
  bool feed(Conn& c, std::string_view data) {
    const std::string_view s = bench::input(c.in, data);
    size_t pos = 0;
    bool close_now = false;
    while (pos < s.size() && !close_now) {
      std::string_view rest = s.substr(pos);
      switch (c.state) {
        case Conn::State::kHead: {
          size_t end = rest.find("\r\n\r\n");
          if (end == std::string_view::npos) {
            if (rest.size() > kMaxHead) { ++errors_; return false; }
            goto need_more;
          }
          if (!parse_head(c, rest.substr(0, end + 2))) { ++errors_; return false; }
          pos += end + 4;
          if (c.state == Conn::State::kHead) {  // no body: complete now
            bool close_after = c.close_after;
            complete(c);
            if (close_after) close_now = true;
          }
          break;
        }
        case Conn::State::kUntilClose:
          pos = s.size();
          break;
        case Conn::State::kBody: {
          uint64_t take = std::min<uint64_t>(c.remaining, rest.size());
          c.remaining -= take;
          pos += static_cast<size_t>(take);
          if (c.remaining == 0) {
            bool close_after = c.close_after;
            complete(c);
            if (close_after) close_now = true;
          }
          break;
        }
        case Conn::State::kChunked: {
          const bench::ChunkedBody::Result r = c.chunked.feed(rest, pos);
          if (r == bench::ChunkedBody::Result::kBad) { ++errors_; return false; }
          if (r == bench::ChunkedBody::Result::kMore) goto need_more;
          bool close_after = c.close_after;
          complete(c);
          if (close_after) close_now = true;
          break;
        }
      }
    }
  need_more:
    if (close_now) return false;
    bench::keep(c.in, s, pos);
    return true;
  }

  // Status line and header fields, each ending in CRLF. Sets status, framing and close_after.
  bool parse_head(Conn& c, std::string_view head) {
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') return false;
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (line[i] < '0' || line[i] > '9') return false;
      status = status * 10 + (line[i] - '0');
    }
    c.status = status;
    c.close_after = line.substr(5, 3) == "1.0";
    bool chunked = false, have_length = false;
    uint64_t length = 0;
    const bool fields_ok = bench::for_each_field(head, [&](std::string_view name, std::string_view value) {
      if (iequals(name, "content-length")) {
        if (!bench::parse_dec(value, length)) return false;
        have_length = true;
      } else if (iequals(name, "transfer-encoding")) {
        chunked = iequals(value, "chunked");
        if (!chunked) return false;
      } else if (iequals(name, "connection")) {
        if (iequals(value, "close")) c.close_after = true;
        else if (iequals(value, "keep-alive")) c.close_after = false;
      }
      return true;
    });
    if (!fields_ok) return false;
    if (status < 200 || status == 204 || status == 304) {
      c.state = Conn::State::kHead;  // no body
    } else if (chunked) {
      c.state = Conn::State::kChunked;
    } else if (have_length) {
      c.remaining = length;
      c.state = length ? Conn::State::kBody : Conn::State::kHead;
    } else {
      c.state = Conn::State::kUntilClose;  // body delimited by the close
      c.close_after = true;
    }
    return true;
  }

  const Options& o_;
  sockaddr_in addr_{};
  std::string prefix_;
  std::vector<Conn> conns_;
  int ep_ = -1;
  std::chrono::steady_clock::time_point start_;
  uint64_t issued_ = 0, answered_ = 0, lost_ = 0, errors_ = 0, connects_ = 0, failed_in_row_ = 0;
  uint64_t s2xx_ = 0, s429_ = 0, other_ = 0;
  Latency latency_;
};

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_options(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return Flood(opt).run();
}
