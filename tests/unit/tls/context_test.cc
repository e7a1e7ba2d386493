// Contexts, ticket keys and one connection's handshake over a socket pair, against a client made
// with OpenSSL's own API.
#include "tls/context.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "common/tls_certs.h"
#include "tls/conn.h"

namespace gh::tls {
namespace {

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gh-tls-context-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    ca = std::make_unique<test::TestCa>(dir);
    ASSERT_TRUE(ca->ok());
    ASSERT_TRUE(ca->issue("a", {"a.test"}));
    ASSERT_TRUE(ca->issue("b", {"b.test", "*.b.test"}));
    config.enabled = true;
    config.certificates = {{ca->cert("a"), ca->key("a"), {}, {}},
                           {ca->cert("b"), ca->key("b"), {}, {}}};
  }
  void TearDown() override { test::sh("rm -rf " + dir); }

  std::string dir;
  std::unique_ptr<test::TestCa> ca;
  policy::TlsConfig config;
};

TEST_F(TlsContextTest, NamesComeFromTheCertificates) {
  std::string error;
  auto ctx = ServerContext::build(config, nullptr, &error);
  ASSERT_NE(ctx, nullptr) << error;
  auto names = ctx->names();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0], std::vector<std::string>{"a.test"});
  EXPECT_EQ(names[1], (std::vector<std::string>{"b.test", "*.b.test"}));
}

TEST_F(TlsContextTest, BuildFailsOnAMismatchedKey) {
  config.certificates[1].key_file = ca->key("a");
  std::string error;
  EXPECT_EQ(ServerContext::build(config, nullptr, &error), nullptr);
  EXPECT_EQ(error, ca->key("a") + " is not the key of the certificate in " + ca->cert("b"));
}

TEST(TicketKeys, RotateAndKeepTwoOldKeysForDecryption) {
  TicketKeys keys(1000);
  const TicketKeys::Key first = keys.current(0);
  EXPECT_EQ(keys.current(999).name, first.name);
  const TicketKeys::Key second = keys.current(1000);
  EXPECT_NE(second.name, first.name);
  bool current = true;
  ASSERT_TRUE(keys.find(first.name, 1000, current).has_value());
  EXPECT_FALSE(current);  // decrypts, and the client gets a fresh ticket
  ASSERT_TRUE(keys.find(second.name, 1000, current).has_value());
  EXPECT_TRUE(current);
  keys.current(2000);
  EXPECT_TRUE(keys.find(first.name, 2000, current).has_value());
  keys.current(3000);
  EXPECT_FALSE(keys.find(first.name, 3000, current).has_value());  // three rotations old: gone
  std::array<std::uint8_t, 16> unknown{};
  EXPECT_FALSE(keys.find(unknown, 3000, current).has_value());
}

TEST_F(TlsContextTest, TicketKeyFileLayoutIsNginxs) {
  std::string bytes;
  for (int i = 0; i < 160; ++i) bytes += static_cast<char>(i);
  std::ofstream(dir + "/t.key", std::ios::binary) << bytes;
  std::string why;
  auto keys = read_ticket_keys(dir + "/t.key", why);
  ASSERT_TRUE(keys.has_value()) << why;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].name[0], 0);
  EXPECT_EQ((*keys)[0].hmac[0], 16);
  EXPECT_EQ((*keys)[0].aes[0], 48);
  EXPECT_EQ((*keys)[1].name[0], 80);
  // From a file: the first encrypts, the others only decrypt; nothing rotates.
  TicketKeys fixed(std::move(*keys));
  EXPECT_TRUE(fixed.from_file());
  EXPECT_EQ(fixed.current(1'000'000'000).name[0], 0);
  bool current = true;
  std::array<std::uint8_t, 16> second{};
  for (int i = 0; i < 16; ++i) second[i] = static_cast<std::uint8_t>(80 + i);
  EXPECT_TRUE(fixed.find(second, 0, current).has_value());
  EXPECT_FALSE(current);
}

// A blocking OpenSSL client on one end of a socket pair; the server side is driven the way the
// session drives it, non-blocking, waiting with poll() for what it asks.
struct Handshake {
  std::string client_subject;
  std::string alpn;
  bool ok = false;
  std::vector<std::uint8_t> hello;
  std::string server_alpn;
  std::string sni;
  std::string echoed;
};

Handshake run(const ServerContextPtr& ctx, const std::string& ca_file, const char* sni,
              const std::vector<std::string>& alpn) {
  Handshake out;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return out;
  ::fcntl(sv[0], F_SETFL, O_NONBLOCK);
  timeval tv{5, 0};
  ::setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::thread client([&] {
    SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(cctx, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
    SSL* ssl = SSL_new(cctx);
    SSL_set_fd(ssl, sv[1]);
    if (sni != nullptr) {
      SSL_set_tlsext_host_name(ssl, sni);
      SSL_set1_host(ssl, sni);  // the client checks the name, as a browser does
    }
    std::string wire;
    for (const std::string& p : alpn) {
      wire += static_cast<char>(p.size());
      wire += p;
    }
    if (!wire.empty()) {
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    if (SSL_connect(ssl) == 1) {
      X509* peer = SSL_get1_peer_certificate(ssl);
      char name[256] = {};
      X509_NAME_oneline(X509_get_subject_name(peer), name, sizeof name);
      X509_free(peer);
      out.client_subject = name;
      const unsigned char* p = nullptr;
      unsigned n = 0;
      SSL_get0_alpn_selected(ssl, &p, &n);
      if (p != nullptr) out.alpn.assign(reinterpret_cast<const char*>(p), n);
      SSL_write(ssl, "ping", 4);
      char buf[16] = {};
      const int r = SSL_read(ssl, buf, sizeof buf);
      if (r > 0) out.echoed.assign(buf, static_cast<std::size_t>(r));
    }
    SSL_free(ssl);
    SSL_CTX_free(cctx);
    ::shutdown(sv[1], SHUT_RDWR);
  });
  TlsConn conn;
  if (conn.start(ctx, sv[0])) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    char buf[16];
    bool established = false;
    while (std::chrono::steady_clock::now() < until) {
      short want = POLLIN;
      if (!established) {
        TlsConn::Step s = conn.handshake();
        if (s == TlsConn::Step::Failed) break;
        if (s == TlsConn::Step::Done) {
          established = out.ok = true;
          out.hello.assign(conn.client_hello().begin(), conn.client_hello().end());
          out.server_alpn = std::string(conn.alpn());
          out.sni = std::string(conn.server_name());
          continue;
        }
        if (s == TlsConn::Step::WantWrite) want = POLLOUT;
      } else {
        const ssize_t n = conn.read(buf, sizeof buf);
        if (n > 0) {
          conn.write(buf, static_cast<std::size_t>(n));
          break;
        }
        if (n == 0 || errno != EAGAIN) break;
      }
      pollfd p{sv[0], want, 0};
      ::poll(&p, 1, 100);
    }
  }
  client.join();
  conn.reset();
  ::close(sv[0]);
  ::close(sv[1]);
  return out;
}

TEST_F(TlsContextTest, HandshakeCapturesTheClientHelloAndPicksByName) {
  std::string error;
  auto ctx = ServerContext::build(config, std::make_shared<TicketKeys>(60'000), &error);
  ASSERT_NE(ctx, nullptr) << error;

  Handshake h = run(ctx, ca->ca_pem(), "x.b.test", {"h2", "http/1.1"});
  ASSERT_TRUE(h.ok);
  EXPECT_NE(h.client_subject.find("CN=b.test"), std::string::npos) << h.client_subject;
  EXPECT_EQ(h.alpn, "http/1.1");  // h2 is not offered (yet): the client's second choice
  EXPECT_EQ(h.server_alpn, "http/1.1");
  EXPECT_EQ(h.sni, "x.b.test");
  EXPECT_EQ(h.echoed, "ping");
  // The ClientHello as sent: one handshake record holding a ClientHello (type 1) whose length
  // fills the record, the SNI inside it.
  ASSERT_GE(h.hello.size(), 9u);
  EXPECT_EQ(h.hello[0], 0x16);
  EXPECT_EQ(h.hello[5], 0x01);
  const std::size_t record = (std::size_t{h.hello[3]} << 8) | h.hello[4];
  EXPECT_EQ(h.hello.size(), 5 + record);
  const std::size_t message =
      (std::size_t{h.hello[6]} << 16) | (std::size_t{h.hello[7]} << 8) | h.hello[8];
  EXPECT_EQ(message + 4, record);
  const std::string text(h.hello.begin(), h.hello.end());
  EXPECT_NE(text.find("x.b.test"), std::string::npos);

  // No SNI, or an unknown name: the first certificate.
  h = run(ctx, ca->ca_pem(), nullptr, {});
  ASSERT_TRUE(h.ok);
  EXPECT_NE(h.client_subject.find("CN=a.test"), std::string::npos) << h.client_subject;
  EXPECT_EQ(h.alpn, "");
  h = run(ctx, ca->ca_pem(), "b.test.evil", {"http/1.1"});
  ASSERT_FALSE(h.ok);  // the client refuses a.test's certificate for that name
}

TEST_F(TlsContextTest, NotTlsFailsTheHandshake) {
  std::string error;
  auto ctx = ServerContext::build(config, nullptr, &error);
  ASSERT_NE(ctx, nullptr) << error;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ::fcntl(sv[0], F_SETFL, O_NONBLOCK);
  ASSERT_EQ(::write(sv[1], "GET / HTTP/1.1\r\n\r\n", 18), 18);
  TlsConn conn;
  ASSERT_TRUE(conn.start(ctx, sv[0]));
  EXPECT_EQ(conn.handshake(), TlsConn::Step::Failed);
  EXPECT_EQ(conn.client_hello().size(), 18u);  // kept as received, for whoever looks
  conn.reset();
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
}  // namespace gh::tls
