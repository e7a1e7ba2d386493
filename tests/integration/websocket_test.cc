// WebSocket through Gatehouse on real loopback sockets: a route that opts into the upgrade
// splices the client to a WebSocket echo origin written here (handshake with
// Sec-WebSocket-Accept from OpenSSL's SHA-1 and base64, frames echoed), over clear text and TLS;
// routes without the opt-in still answer 501; the idle timeout and the byte limit end a splice;
// an origin that answers 200 instead of 101 is an ordinary response; and an open WebSocket does
// not hold its admission slot.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/tls_certs.h"
#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;

// RFC 6455 4.2.2: base64(SHA-1(key + GUID)).
std::string accept_for(const std::string& key) {
  const std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char out[64] = {};
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

std::string header_of(const std::string& head, const std::string& lower_name) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const std::size_t end = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, end - pos - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name == lower_name) {
        std::size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        return line.substr(v);
      }
    }
    pos = end;
  }
  return {};
}

// One frame: FIN set, `opcode`, masked (as a client must) or not (as a server sends).
std::string frame(int opcode, const std::string& payload, bool masked) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (payload.size() < 126) {
    f += static_cast<char>(mask_bit | static_cast<char>(payload.size()));
  } else if (payload.size() < 65536) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((payload.size() >> (8 * i)) & 0xff);
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked) f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    f += masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  }
  return f;
}

// Parses one frame from the front of `buf`: true and consumed when whole.
bool take_frame(std::string& buf, int& opcode, std::string& payload) {
  if (buf.size() < 2) return false;
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(buf[i]); };
  std::size_t at = 2;
  std::uint64_t len = b(1) & 0x7f;
  if (len == 126) {
    if (buf.size() < 4) return false;
    len = (std::uint64_t{b(2)} << 8) | b(3);
    at = 4;
  } else if (len == 127) {
    if (buf.size() < 10) return false;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + static_cast<std::size_t>(i));
    at = 10;
  }
  const bool masked = (b(1) & 0x80) != 0;
  unsigned char key[4] = {};
  if (masked) {
    if (buf.size() < at + 4) return false;
    std::memcpy(key, buf.data() + at, 4);
    at += 4;
  }
  if (buf.size() < at + len) return false;
  opcode = b(0) & 0x0f;
  payload = buf.substr(at, len);
  if (masked) {
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
  }
  buf.erase(0, at + len);
  return true;
}

// A WebSocket echo server: 101 with the right Sec-WebSocket-Accept to an Upgrade request, then
// every frame echoed (a Close echoed and the connection closed). A request whose path holds
// "plain", or that asks for no upgrade, gets `200 plain` and the connection serves on; one whose
// path holds "switch-anyway" gets a 101 it did not ask for (to h2c when it asked for WebSocket).
class WsOrigin {
 public:
  WsOrigin() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~WsOrigin() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> l(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> heads() const {
    std::lock_guard<std::mutex> l(mu_);
    return heads_;
  }
  std::size_t closed_connections() const { return closed_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard<std::mutex> l(mu_);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    std::string buf;
    char chunk[16384];
    bool ws = false;
    for (int rounds = 0; rounds < 10'000 && !stop_; ++rounds) {
      if (!ws) {
        const std::size_t end = buf.find("\r\n\r\n");
        if (end != std::string::npos) {
          const std::string head = buf.substr(0, end + 4);
          buf.erase(0, end + 4);
          {
            std::lock_guard<std::mutex> l(mu_);
            heads_.push_back(head);
          }
          const std::string key = header_of(head, "sec-websocket-key");
          const std::string line = head.substr(0, head.find("\r\n"));
          if (line.find("switch-anyway") != std::string::npos) {
            // A broken or hostile origin: a switch nobody asked for, or to another protocol.
            reply(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: " +
                          std::string(key.empty() ? "websocket" : "h2c") +
                          "\r\nConnection: Upgrade\r\n\r\nbytes of another protocol");
            ws = true;
            continue;
          }
          if (head.substr(0, head.find("\r\n")).find("plain") != std::string::npos || key.empty()) {
            reply(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain");
          } else {
            reply(fd,
                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                  "Upgrade\r\nSec-WebSocket-Accept: " +
                      accept_for(key) + "\r\n\r\n");
            ws = true;
          }
          continue;
        }
      } else {
        int opcode = 0;
        std::string payload;
        if (take_frame(buf, opcode, payload)) {
          reply(fd, frame(opcode, payload, false));
          if (opcode == 8) break;
          continue;
        }
      }
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    ::shutdown(fd, SHUT_RDWR);
    ++closed_;
  }
  static void reply(int fd, const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> closed_{0};
  mutable std::mutex mu_;
  std::vector<std::string> heads_;
  std::vector<int> fds_;
  std::thread acceptor_;
  std::vector<std::thread> threads_;
};

// A client byte stream: plain TCP or TLS (OpenSSL), reads bounded by a 5 s receive timeout.
class Stream {
 public:
  Stream(std::uint16_t port, const std::string& ca = "", const std::string& sni = "") {
    fd_ = connect_loopback(port, std::chrono::seconds(5));
    if (fd_ < 0) return;
    if (ca.empty()) {
      ok_ = true;
      return;
    }
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, sni.c_str());
    SSL_set1_host(ssl_, sni.c_str());
    ok_ = restart_on_eintr([&] { return SSL_connect(ssl_); }) == 1;
  }
  ~Stream() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  bool write(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const int n =
          ssl_ != nullptr
              ? SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off))
              : static_cast<int>(::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL));
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // > 0 bytes appended to buf_, 0 end of stream, < 0 error or timeout.
  int fill() {
    char chunk[16384];
    const int n = restart_on_eintr([&] {
      return ssl_ != nullptr ? SSL_read(ssl_, chunk, sizeof chunk)
                             : static_cast<int>(::recv(fd_, chunk, sizeof chunk, 0));
    });
    if (n > 0) buf_.append(chunk, static_cast<std::size_t>(n));
    if (n < 0 && ssl_ == nullptr && (errno == EAGAIN || errno == EWOULDBLOCK)) return -2;
    return n;
  }
  // The response head (and its Content-Length body, when one), "" when none came.
  std::string read_head() {
    for (int i = 0; i < 100 && buf_.find("\r\n\r\n") == std::string::npos; ++i) {
      if (fill() <= 0) return {};
    }
    const std::size_t end = buf_.find("\r\n\r\n");
    if (end == std::string::npos) return {};
    std::string head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    const std::string cl = header_of(head, "content-length");
    if (!cl.empty()) {
      const std::size_t want = std::stoul(cl);
      for (int i = 0; i < 100 && buf_.size() < want; ++i) {
        if (fill() <= 0) break;
      }
      head += buf_.substr(0, want);
      buf_.erase(0, std::min(want, buf_.size()));
    }
    return head;
  }
  bool read_frame(int& opcode, std::string& payload) {
    for (int i = 0; i < 1000; ++i) {
      if (take_frame(buf_, opcode, payload)) return true;
      if (fill() <= 0) return false;
    }
    return false;
  }
  // True when the other side closed (end of stream or reset) before `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int n = fill();
      if (n == 0) return true;
      if (n < 0 && n != -2) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  std::string buf_;
};

constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455's example key

std::string upgrade_request(const std::string& path) {
  return "GET " + path +
         " HTTP/1.1\r\nHost: a.test\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Test/1.0\r\n"
         "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: " +
         std::string(kKey) + "\r\nOrigin: http://a.test\r\n\r\n";
}

// Routes: /ws/ opts into WebSocket (with `route_extra`), everything else does not.
std::string routes(const std::string& route_extra = "") {
  return "routes:\n"
         "  - name: chat\n"
         "    match: { path_prefix: /ws/ }\n"
         "    upgrade: [websocket]\n" +
         route_extra + "  - name: rest\n";
}

// Handshake, one masked text frame echoed, then a Close: the splice ends as closed.
void echo_once(Stream& s, const std::string& text) {
  ASSERT_TRUE(s.write(upgrade_request("/ws/room")));
  const std::string head = s.read_head();
  ASSERT_EQ(head.substr(0, 12), "HTTP/1.1 101") << head;
  EXPECT_EQ(header_of(head, "sec-websocket-accept"), accept_for(kKey));
  EXPECT_EQ(header_of(head, "upgrade"), "websocket");
  EXPECT_EQ(header_of(head, "connection"), "upgrade");
  ASSERT_TRUE(s.write(frame(1, text, true)));
  int opcode = 0;
  std::string payload;
  ASSERT_TRUE(s.read_frame(opcode, payload));
  EXPECT_EQ(opcode, 1);
  EXPECT_EQ(payload, text);
  ASSERT_TRUE(s.write(frame(8, "\x03\xe8", true)));
  ASSERT_TRUE(s.read_frame(opcode, payload));
  EXPECT_EQ(opcode, 8);
  EXPECT_TRUE(s.closed_within(3s));  // the origin closed after its Close: so do we
}

TEST(WebSocket, EchoThroughAnOptedInRoute) {
  WsOrigin origin;
  Shield shield(basic_config(origin.port(), routes()));
  {
    Stream s(shield.port());
    ASSERT_TRUE(s.ok());
    // The RFC's own example proves the test's Sec-WebSocket-Accept.
    ASSERT_EQ(accept_for(kKey), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    echo_once(s, "hello through the shield");
  }
  // The origin saw exactly the switch the route allows, and nothing else hop-by-hop.
  const auto heads = origin.heads();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(header_of(heads[0], "connection"), "upgrade");
  EXPECT_EQ(header_of(heads[0], "upgrade"), "websocket");
  EXPECT_EQ(header_of(heads[0], "sec-websocket-key"), kKey);
  EXPECT_EQ(header_of(heads[0], "x-forwarded-for"), "127.0.0.1");
  ASSERT_TRUE(eventually([&] { return shield.server().stats().upgrade_ended_closed == 1; }));
  const proxy::StatsTotals st = shield.server().stats();
  EXPECT_EQ(st.upgrade_splices, 1u);
  EXPECT_EQ(st.upgrade_ended_idle + st.upgrade_ended_limit + st.upgrade_ended_error, 0u);
  // Frames only (the heads are not spliced bytes): text + close each way.
  EXPECT_EQ(st.upgrade_bytes_to_upstream, frame(1, "hello through the shield", true).size() + 8);
  EXPECT_EQ(st.upgrade_bytes_to_client, frame(1, "hello through the shield", false).size() + 4);
  // The origin's connection was closed with the splice, never pooled.
  EXPECT_TRUE(eventually([&] { return origin.closed_connections() == 1; }));
}

TEST(WebSocket, RefusedWithoutOptIn) {
  WsOrigin origin;
  Shield shield(basic_config(origin.port(), routes()));
  Stream s(shield.port());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.write(upgrade_request("/elsewhere")));
  const std::string head = s.read_head();
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 501") << head;
  EXPECT_NE(head.find("protocol upgrades are not enabled on this route"), std::string::npos);
  EXPECT_TRUE(s.closed_within(3s));
  EXPECT_TRUE(origin.heads().empty());
  // A protocol the route does not list is refused as well.
  Stream other(shield.port());
  std::string req = upgrade_request("/ws/room");
  req.replace(req.find("Upgrade: websocket"), 18, "Upgrade: h2c");
  ASSERT_TRUE(other.write(req));
  EXPECT_EQ(other.read_head().substr(0, 12), "HTTP/1.1 501");
  EXPECT_TRUE(origin.heads().empty());
  EXPECT_EQ(shield.server().stats().upgrade_splices, 0u);
}

TEST(WebSocket, IdleTimeoutClosesTheSplice) {
  WsOrigin origin;
  Shield shield(basic_config(origin.port(), routes("    upgrade_idle_timeout: 1s\n")));
  Stream s(shield.port());
  ASSERT_TRUE(s.write(upgrade_request("/ws/room")));
  ASSERT_EQ(s.read_head().substr(0, 12), "HTTP/1.1 101");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.write(frame(1, "one", true)));  // a byte moved: the deadline moves with it
  int opcode = 0;
  std::string payload;
  ASSERT_TRUE(s.read_frame(opcode, payload));
  EXPECT_TRUE(s.closed_within(4s));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 3500ms);
  EXPECT_TRUE(eventually([&] { return shield.server().stats().upgrade_ended_idle == 1; }));
  EXPECT_TRUE(eventually([&] { return origin.closed_connections() == 1; }));
}

TEST(WebSocket, ByteLimitCutsTheSplice) {
  WsOrigin origin;
  Shield shield(basic_config(origin.port(), routes("    upgrade_max_size: 4KiB\n")));
  Stream s(shield.port());
  ASSERT_TRUE(s.write(upgrade_request("/ws/room")));
  ASSERT_EQ(s.read_head().substr(0, 12), "HTTP/1.1 101");
  int opcode = 0;
  std::string payload;
  ASSERT_TRUE(s.write(frame(2, std::string(1000, 'a'), true)));  // within the limit
  ASSERT_TRUE(s.read_frame(opcode, payload));
  EXPECT_EQ(payload.size(), 1000u);
  ASSERT_TRUE(s.write(frame(2, std::string(5000, 'b'), true)));  // past 4 KiB to the upstream
  EXPECT_FALSE(s.read_frame(opcode, payload));
  EXPECT_TRUE(s.closed_within(3s));
  EXPECT_TRUE(eventually([&] { return shield.server().stats().upgrade_ended_limit == 1; }));
}

TEST(WebSocket, AnOrdinaryAnswerStaysHttp) {
  WsOrigin origin;
  Shield shield(basic_config(origin.port(), routes()));
  Stream s(shield.port());
  std::string req = upgrade_request("/ws/room");
  req.replace(0, 12, "GET /ws/plain");  // the origin declines the switch with a 200
  ASSERT_TRUE(s.write(req));
  const std::string head = s.read_head();
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
  EXPECT_EQ(head.substr(head.size() - 5), "plain");
  EXPECT_EQ(header_of(head, "upgrade"), "");
  // The connection goes on as HTTP/1.1.
  ASSERT_TRUE(s.write(request("GET", "/rest", "")));
  const std::string second = s.read_head();
  EXPECT_EQ(second.substr(0, 12), "HTTP/1.1 200") << second;
  EXPECT_EQ(shield.server().stats().upgrade_splices, 0u);
}

TEST(WebSocket, ASwitchNobodyAskedForIs502) {
  WsOrigin origin;
  Shield shield(basic_config(origin.port(), routes()));
  // A plain request answered with 101: nothing is spliced, the client gets 502.
  const ClientResponse plain = roundtrip(shield.port(), request("GET", "/ws/switch-anyway", ""));
  EXPECT_EQ(plain.status, 502) << plain.head;
  EXPECT_NE(plain.body.find("upstream switched protocols unasked"), std::string::npos);
  // A WebSocket request answered with a switch to another protocol: 502 as well.
  Stream s(shield.port());
  ASSERT_TRUE(s.write(upgrade_request("/ws/switch-anyway")));
  const std::string head = s.read_head();
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 502") << head;
  EXPECT_NE(head.find("another protocol than asked for"), std::string::npos);
  EXPECT_EQ(head.find("bytes of another protocol"), std::string::npos);
  EXPECT_EQ(shield.server().stats().upgrade_splices, 0u);
}

TEST(WebSocket, OpenSplicesDoNotHoldAdmissionSlots) {
  WsOrigin origin;
  // One slot in all and no queue: a request that found it taken would get 503 at once.
  const std::string cfg =
      "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\n"
      "upstreams:\n  app:\n    servers: [127.0.0.1:" +
      std::to_string(origin.port()) +
      "]\n    admission: { min_limit: 1, max_limit: 1, initial_limit: 1, resident_share: 0%, "
      "queue_max: 0 }\n" +
      routes();
  Shield shield(cfg);
  Stream ws(shield.port());
  ASSERT_TRUE(ws.write(upgrade_request("/ws/room")));
  ASSERT_EQ(ws.read_head().substr(0, 12), "HTTP/1.1 101");
  for (int i = 0; i < 3; ++i) {
    const ClientResponse r =
        roundtrip(shield.port(), request("GET", "/plain/" + std::to_string(i), ""));
    EXPECT_EQ(r.status, 200) << r.head;
  }
  // The WebSocket still works meanwhile.
  ASSERT_TRUE(ws.write(frame(1, "still here", true)));
  int opcode = 0;
  std::string payload;
  ASSERT_TRUE(ws.read_frame(opcode, payload));
  EXPECT_EQ(payload, "still here");
  EXPECT_EQ(shield.server().stats().admission_shed, 0u);
}

TEST(WebSocket, EchoOverTls) {
  TempDir dir;
  TestCa ca(dir.path());
  ASSERT_TRUE(ca.ok());
  ASSERT_TRUE(ca.issue("a", {"a.test"}));
  WsOrigin origin;
  const std::string cfg =
      "server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:0\n    tls:\n"
      "      certificates:\n        - { cert: " +
      ca.cert("a") + ", key: " + ca.key("a") +
      " }\n"
      "upstreams:\n  app:\n    servers: [127.0.0.1:" +
      std::to_string(origin.port()) + "]\n" + routes();
  Shield shield(cfg);
  {
    Stream s(shield.port(), ca.ca_pem(), "a.test");
    ASSERT_TRUE(s.ok());
    echo_once(s, "hello over tls");
    // A larger frame crosses several TLS records both ways.
    Stream big(shield.port(), ca.ca_pem(), "a.test");
    ASSERT_TRUE(big.ok());
    ASSERT_TRUE(big.write(upgrade_request("/ws/room")));
    ASSERT_EQ(big.read_head().substr(0, 12), "HTTP/1.1 101");
    const std::string text(100'000, 'z');
    ASSERT_TRUE(big.write(frame(2, text, true)));
    int opcode = 0;
    std::string payload;
    ASSERT_TRUE(big.read_frame(opcode, payload));
    EXPECT_EQ(payload, text);
  }
  const auto heads = origin.heads();
  ASSERT_FALSE(heads.empty());
  EXPECT_EQ(header_of(heads[0], "x-forwarded-proto"), "https");
  EXPECT_TRUE(eventually([&] { return shield.server().stats().upgrade_splices == 2; }));
}

}  // namespace
}  // namespace gh::test
