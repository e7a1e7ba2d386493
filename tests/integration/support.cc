#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "policy/config.h"
#include "proxy/worker.h"

namespace gh::test {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t");
  std::size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

// Appends what one recv() brings within 5 s; false on a timeout, EOF or error.
bool receive_more(int fd, std::string& buf) {
  if (!wait_readable(fd, 5000)) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<std::size_t>(n));
  return true;
}

int listen_loopback(std::uint16_t* port) {  // *port: wanted (0 = any), then bound
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(*port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 128) != 0) {
    throw std::runtime_error("origin: bind/listen failed");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// The origin's own reader: strict and simple. Returns false on EOF or on anything it cannot
// read as exactly one well-framed request (recorded as garbage).
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  bool fill() { return receive_more(fd_, buf_); }
  bool line(std::string& out) {
    for (;;) {
      std::size_t p = buf_.find("\r\n");
      if (p != std::string::npos) {
        out = buf_.substr(0, p);
        buf_.erase(0, p + 2);
        return true;
      }
      if (buf_.size() > 1 << 20 || !fill()) return false;
    }
  }
  bool exactly(std::size_t n, std::string& out) {
    while (buf_.size() < n) {
      if (!fill()) return false;
    }
    out.append(buf_, 0, n);
    buf_.erase(0, n);
    return true;
  }
  std::string& rest() { return buf_; }

 private:
  int fd_;
  std::string buf_;
};

bool read_request(Reader& r, OriginRequest& req, std::string& garbage) {
  std::string line;
  if (!r.line(line)) return false;
  std::size_t a = line.find(' ');
  std::size_t b = line.rfind(' ');
  if (a == std::string::npos || a == b) {
    garbage += line;
    return false;
  }
  req.method = line.substr(0, a);
  req.target = line.substr(a + 1, b - a - 1);
  req.version = line.substr(b + 1);
  std::string te, cl;
  for (;;) {
    if (!r.line(line)) return false;
    if (line.empty()) break;
    std::size_t c = line.find(':');
    if (c == std::string::npos || c == 0) {
      garbage += line;
      return false;
    }
    std::string name = lower(line.substr(0, c));
    std::string value = trim(line.substr(c + 1));
    if (name == "transfer-encoding") te = value;
    if (name == "content-length") cl = value;
    req.headers.emplace_back(name, value);
  }
  if (!te.empty()) {
    if (lower(te) != "chunked" || !cl.empty()) {
      garbage += "ambiguous framing";
      return false;
    }
    req.chunked = true;
    for (;;) {
      if (!r.line(line)) return false;
      std::size_t size = std::stoul(line, nullptr, 16);
      if (size == 0) {
        do {
          if (!r.line(line)) return false;
        } while (!line.empty());
        break;
      }
      if (!r.exactly(size, req.body)) return false;
      std::string crlf;
      if (!r.exactly(2, crlf) || crlf != "\r\n") {
        garbage += "bad chunk end";
        return false;
      }
    }
  } else if (!cl.empty()) {
    if (!r.exactly(std::stoul(cl), req.body)) return false;
  }
  return true;
}

std::string build_reply(const OriginReply& reply) {
  if (!reply.raw.empty()) return reply.raw;
  std::string s = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
  bool has_length = false;
  for (const auto& [k, v] : reply.headers) {
    s += k + ": " + v + "\r\n";
    if (lower(k) == "content-length" || lower(k) == "transfer-encoding") has_length = true;
  }
  if (!has_length) s += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
  if (reply.close_after) s += "Connection: close\r\n";
  s += "\r\n" + reply.body;
  return s;
}

}  // namespace

std::string OriginRequest::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::size_t OriginRequest::count(const std::string& name) const {
  return static_cast<std::size_t>(
      std::count_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; }));
}

Origin::Origin(Handler handler) : Origin(std::move(handler), 0) {}

Origin::Origin(Handler handler, std::uint16_t port) : handler_(std::move(handler)) {
  port_ = port;
  listen_fd_ = listen_loopback(&port_);
  acceptor_ = std::thread([this] { accept_loop(); });
}

Origin::~Origin() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Origin::accept_loop() {
  while (!stop_) {
    if (!wait_readable(listen_fd_, 100)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::size_t id = ++connections_;
    std::lock_guard lock(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd, id] { serve(fd, id); });
  }
}

void Origin::serve(int fd, std::size_t id) {
  Reader reader(fd);
  for (int i = 0; i < 100000 && !stop_; ++i) {
    OriginRequest req;
    req.connection_id = id;
    std::string garbage;
    bool ok = read_request(reader, req, garbage);
    if (!ok) {
      std::lock_guard lock(mu_);
      garbage_ += garbage;
      if (!reader.rest().empty()) garbage_ += reader.rest();
      break;
    }
    Handler h;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
      h = handler_;
    }
    OriginReply reply = h ? h(req) : OriginReply{};
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    if (reply.close_without_reply) break;
    std::string out = build_reply(reply);
    if (req.method == "HEAD" && reply.raw.empty()) out.resize(out.find("\r\n\r\n") + 4);
    ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (reply.close_after) break;
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  std::lock_guard lock(mu_);
  fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
}

std::vector<OriginRequest> Origin::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t Origin::request_count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

std::string Origin::garbage() const {
  std::lock_guard lock(mu_);
  return garbage_;
}

void Origin::set_handler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

std::string ClientResponse::header(const std::string& name) const {
  std::size_t pos = 0;
  std::string lh = lower(head);
  while ((pos = lh.find("\r\n" + name + ":", pos)) != std::string::npos) {
    std::size_t start = pos + 2 + name.size() + 1;
    std::size_t end = lh.find("\r\n", start);
    return trim(head.substr(start, end - start));
  }
  return {};
}

int connect_loopback(std::uint16_t port, std::chrono::milliseconds recv_timeout,
                     const char* source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (recv_timeout.count() > 0) {
    timeval tv{static_cast<time_t>(recv_timeout.count() / 1000),
               static_cast<suseconds_t>(recv_timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  if (source != nullptr) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &s.sin_addr);
    ::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

RawClient::RawClient(std::uint16_t port, const char* source)
    : fd_(connect_loopback(port, std::chrono::milliseconds(0), source)) {}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool RawClient::fill() {
  return receive_more(fd_, buf_);
}

ClientResponse RawClient::read_response(bool head_request) {
  ClientResponse r;
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return r;
  }
  r.head = buf_.substr(0, end + 2);
  buf_.erase(0, end + 4);
  if (r.head.size() > 12) r.status = std::atoi(r.head.c_str() + 9);
  if (head_request || r.status == 204 || r.status == 304 || r.status < 200) return r;
  std::string cl = r.header("content-length");
  if (lower(r.header("transfer-encoding")) == "chunked") {
    for (;;) {
      std::size_t p;
      while ((p = buf_.find("\r\n")) == std::string::npos) {
        if (!fill()) return r;
      }
      std::size_t size = std::stoul(buf_.substr(0, p), nullptr, 16);
      buf_.erase(0, p + 2);
      if (size == 0) {
        while ((p = buf_.find("\r\n")) == std::string::npos) {
          if (!fill()) return r;
        }
        buf_.erase(0, p + 2);
        break;
      }
      while (buf_.size() < size + 2) {
        if (!fill()) return r;
      }
      r.body += buf_.substr(0, size);
      buf_.erase(0, size + 2);
    }
  } else if (!cl.empty()) {
    std::size_t n = std::stoul(cl);
    while (buf_.size() < n) {
      if (!fill()) break;
    }
    r.body = buf_.substr(0, std::min(n, buf_.size()));
    buf_.erase(0, r.body.size());
  } else {
    while (fill()) {
    }
    r.body = buf_;
    buf_.clear();
  }
  return r;
}

bool RawClient::closed_by_peer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!wait_readable(fd_, 50)) continue;
    char tmp[4096];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return true;
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
  return false;
}

std::string RawClient::read_all(std::chrono::milliseconds timeout) {
  closed_by_peer(timeout);
  std::string s;
  s.swap(buf_);
  return s;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) {
    s.replace(p, from.size(), to);
  }
  return s;
}

std::string request(const std::string& method, const std::string& path, const std::string& extra,
                    const std::string& body) {
  std::string r =
      method + " " + path + " HTTP/1.1\r\nHost: a\r\nUser-Agent: " + kBrowserUa + "\r\n" + extra;
  if (!body.empty() || method == "POST") {
    r += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n";
  }
  return r + "\r\n" + body;
}

ClientResponse roundtrip(std::uint16_t port, const std::string& raw, const char* source) {
  RawClient c(port, source);
  c.send(raw);
  return c.read_response();
}

std::string set_cookie(const ClientResponse& r, const std::string& name) {
  const std::size_t pos = r.head.find("Set-Cookie: " + name + "=");
  if (pos == std::string::npos) return {};
  const std::size_t start = pos + 12;
  const std::size_t end = r.head.find_first_of(";\r", start);
  return r.head.substr(start, end - start);
}

std::string cookie_header(const std::string& pairs) {
  return "Cookie: " + pairs + "\r\n";
}

std::string basic_config(std::uint16_t origin_port, const std::string& extra) {
  return "server: { workers: 1 }\n"
         "listen:\n  - address: 127.0.0.1:0\n"
         "upstreams:\n  app:\n    servers: [127.0.0.1:" +
         std::to_string(origin_port) + "]\n" + extra;
}

policy::SnapshotPtr Shield::load(const std::string& yaml_in) const {
  std::string yaml = yaml_in;
  // GATEHOUSE_TEST_IO=io_uring runs the shields of a test on that backend (CMakeLists.txt runs a
  // subset of the integration tests so: both backends are tested while both exist).
  if (const char* io = std::getenv("GATEHOUSE_TEST_IO"); io != nullptr && *io != '\0') {
    const std::string key = "server: { ";
    const std::size_t at = yaml.find(key);
    if (at != std::string::npos) {
      yaml.insert(at + key.size(), "io: " + std::string(io) + ", ");
    } else {
      yaml = "server: { io: " + std::string(io) + " }\n" + yaml;
    }
  }
  if (yaml.find("\nbans:") == std::string::npos && yaml.rfind("bans:", 0) != 0) {
    yaml += "bans: { journal: " + dir_ + "/bans.journal }\n";
  }
  // The signing key and the state files likewise live in the shield's own directory.
  if (yaml.find("\nsecrets:") == std::string::npos && yaml.rfind("secrets:", 0) != 0) {
    yaml += "secrets: { key_file: " + dir_ + "/secret.key }\n";
  }
  if (yaml.find("\nstate_dir:") == std::string::npos && yaml.rfind("state_dir:", 0) != 0) {
    yaml += "state_dir: " + dir_ + "/state\n";
  }
  policy::LoadResult r = policy::load_config_string(yaml, "test.yaml");
  if (!r.errors.empty()) {
    std::string all;
    for (const auto& e : r.errors) all += e.to_string() + "\n";
    throw std::runtime_error("test config refused:\n" + all + yaml);
  }
  return r.snapshot;
}

Shield::Shield(const std::string& yaml) {
  char tmpl[] = "/tmp/gatehouse-shield-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  server_ = std::make_unique<proxy::Server>(load(yaml));
  std::string error;
  if (!server_->start(&error)) throw std::runtime_error("shield start: " + error);
  // A test run on io_uring that silently fell back to epoll would prove nothing.
  const policy::SnapshotPtr snapshot = server_->snapshot();
  const policy::Config& cfg = snapshot->config;
  server_->each_worker([&](proxy::Worker& w) {
    if (w.loop().backend() != cfg.server.io) {
      throw std::runtime_error("shield start: a worker's loop is not on the configured backend");
    }
  });
}

Shield::~Shield() {
  server_->stop();
  server_->wait();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Shield::reload(const std::string& yaml) {
  std::string error;
  if (!server_->reload(load(yaml), &error)) throw std::runtime_error("reload refused: " + error);
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace gh::test
