// TLS termination on real loopback sockets: curl and openssl s_client (Debian's) and an OpenSSL
// client written here talk to Gatehouse over TLS; certificates come from a test CA made with the
// openssl command-line tool.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

#include "common/tls_certs.h"
#include "process.h"
#include "stages/challenge/pow.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;

// Output of a shell command (bounded by `timeout` in the command itself).
std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// A blocking TLS client (OpenSSL's API) with a receive timeout.
class TlsClient {
 public:
  TlsClient(std::uint16_t port, const std::string& ca, const std::string& sni,
            SSL_SESSION* resume = nullptr) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = connect_loopback(port, std::chrono::seconds(5));
    if (fd_ < 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, sni.c_str());
    SSL_set1_host(ssl_, sni.c_str());
    if (resume != nullptr) SSL_set_session(ssl_, resume);
    ok_ = restart_on_eintr([&] { return SSL_connect(ssl_); }) == 1;
  }
  ~TlsClient() {
    // A session not shut down cleanly is marked not resumable by OpenSSL.
    if (ok_) SSL_shutdown(ssl_);
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  bool resumed() const { return ssl_ != nullptr && SSL_session_reused(ssl_) == 1; }
  // The session to resume with (after a response was read, so TLS 1.3 tickets have arrived).
  SSL_SESSION* session() const { return SSL_get1_session(ssl_); }
  std::string subject() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    if (peer == nullptr) return "";
    char name[256] = {};
    X509_NAME_oneline(X509_get_subject_name(peer), name, sizeof name);
    ASN1_INTEGER* serial = X509_get_serialNumber(peer);
    std::string out = name;
    out += " serial " + std::to_string(ASN1_INTEGER_get(serial));
    X509_free(peer);
    return out;
  }
  // One GET; the status of its answer (a Content-Length body is read whole), 0 on failure.
  int get(const std::string& path, const std::string& host) {
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: " + kBrowserUa + "\r\n\r\n";
    if (!ok_ || SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return 0;
    std::string buf;
    char chunk[4096];
    std::size_t head_end = std::string::npos;
    std::size_t want = 0;
    for (int i = 0; i < 100; ++i) {
      if (head_end != std::string::npos && buf.size() >= head_end + 4 + want) break;
      const int n = restart_on_eintr([&] { return SSL_read(ssl_, chunk, sizeof chunk); });
      if (n <= 0) return 0;
      buf.append(chunk, static_cast<std::size_t>(n));
      if (head_end == std::string::npos && (head_end = buf.find("\r\n\r\n")) != std::string::npos) {
        const std::size_t cl = buf.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) want = std::stoul(buf.substr(cl + 16));
      }
    }
    return buf.size() > 12 ? std::stoi(buf.substr(9, 3)) : 0;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool ok_ = false;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca = std::make_unique<TestCa>(dir.path());
    ASSERT_TRUE(ca->ok());
    ASSERT_TRUE(ca->issue("a", {"a.test"}));
    ASSERT_TRUE(ca->issue("b", {"b.test", "*.b.test"}));
  }
  // One TLS listener (certificates a, then b), one worker.
  std::string config(const std::string& tls_extra = "", const std::string& extra = "") const {
    return "server: { workers: 1 }\n"
           "listen:\n"
           "  - address: 127.0.0.1:0\n"
           "    tls:\n"
           "      certificates:\n"
           "        - { cert: " +
           ca->cert("a") + ", key: " + ca->key("a") + " }\n" +
           "        - { cert: " + ca->cert("b") + ", key: " + ca->key("b") + " }\n" + tls_extra +
           "upstreams:\n  app:\n    servers: [127.0.0.1:" + std::to_string(origin.port()) + "]\n" +
           extra;
  }
  std::string curl(std::uint16_t port, const std::string& host, const std::string& path,
                   const std::string& extra = "") const {
    return capture("curl --http1.1 -sS --max-time 10 --cacert " + ca->ca_pem() + " --resolve " +
                   host + ":" + std::to_string(port) + ":127.0.0.1 " + extra + " -o /dev/null " +
                   "-w '%{http_code} %{http_version} %{scheme}' https://" + host + ":" +
                   std::to_string(port) + path + " 2>&1");
  }
  std::string subject_seen(std::uint16_t port, const std::string& servername) const {
    return capture("timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                   (servername.empty() ? " -noservername" : " -servername " + servername) +
                   " -CAfile " + ca->ca_pem() +
                   " </dev/null 2>/dev/null | openssl x509 -noout -subject 2>&1");
  }

  TempDir dir;
  Origin origin;
  std::unique_ptr<TestCa> ca;
};

TEST_F(TlsTest, CurlOverTlsReachesTheUpstreamAsHttps) {
  Shield shield(config("",
                       "routes:\n"
                       "  - name: signup\n"
                       "    match: { path: /signup }\n"
                       "    limits:\n"
                       "      - { name: per-ip, key: [client.ip], rate: 2/min, burst: 2 }\n"
                       "  - name: app\n"));
  EXPECT_EQ(curl(shield.port(), "a.test", "/hello", "-H 'X-Forwarded-Proto: http'"),
            "200 1.1 HTTPS");
  ASSERT_EQ(origin.request_count(), 1u);
  const OriginRequest r = origin.requests().at(0);
  EXPECT_EQ(r.header("x-forwarded-proto"), "https");  // the client's claim dropped, ours set
  EXPECT_EQ(r.count("x-forwarded-proto"), 1u);
  EXPECT_EQ(r.header("x-forwarded-for"), "127.0.0.1");
  // The route's limits apply as over clear text: two, then 429.
  EXPECT_EQ(curl(shield.port(), "a.test", "/signup"), "200 1.1 HTTPS");
  EXPECT_EQ(curl(shield.port(), "a.test", "/signup"), "200 1.1 HTTPS");
  EXPECT_EQ(curl(shield.port(), "a.test", "/signup"), "429 1.1 HTTPS");
  const auto st = shield.server().stats();
  EXPECT_EQ(st.tls_handshakes_ok, 4u);
  EXPECT_EQ(st.tls_handshakes_failed, 0u);
  EXPECT_EQ(st.tls_handshakes_started, 4u);
  // Clear text on the TLS port is not served.
  RawClient plain(shield.port());
  plain.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(plain.closed_by_peer());
  EXPECT_TRUE(eventually([&] { return shield.server().stats().tls_handshakes_failed == 1; }));
  // TLS 1.1 and older are refused.
  EXPECT_NE(curl(shield.port(), "a.test", "/", "--tls-max 1.1").substr(0, 3), "200");
}

// A listener with `http2: true` offers h2 by ALPN: a client that offers it speaks HTTP/2 through
// TLS, every stream decided like a request (limits here); one that offers only http/1.1 gets
// that; a listener without http2 never chooses h2.
TEST_F(TlsTest, AlpnChoosesHttp2WhereTheListenerServesIt) {
  const std::string routes =
      "routes:\n"
      "  - name: signup\n"
      "    match: { path: /signup }\n"
      "    limits:\n"
      "      - { name: per-ip, key: [client.ip], rate: 2/min, burst: 2 }\n"
      "  - name: app\n";
  std::string both = config("", routes);
  both.replace(both.find("    tls:\n"), 9, "    http2: true\n    tls:\n");
  Shield shield(both);
  const std::uint16_t port = shield.port();
  EXPECT_EQ(curl(port, "a.test", "/hello", "--http2"), "200 2 HTTPS");
  ASSERT_EQ(origin.request_count(), 1u);
  EXPECT_EQ(origin.requests().at(0).header("x-forwarded-proto"), "https");
  EXPECT_EQ(curl(port, "a.test", "/signup", "--http2"), "200 2 HTTPS");
  EXPECT_EQ(curl(port, "a.test", "/signup", "--http2"), "200 2 HTTPS");
  EXPECT_EQ(curl(port, "a.test", "/signup", "--http2"), "429 2 HTTPS");
  EXPECT_EQ(curl(port, "a.test", "/hello"), "200 1.1 HTTPS");  // http/1.1 offered alone
  EXPECT_EQ(shield.server().stats().h2_connections, 4u);

  Shield only_h1(config());
  EXPECT_EQ(curl(only_h1.port(), "a.test", "/hello", "--http2"), "200 1.1 HTTPS");
}

// The JA4 of each connection's ClientHello reaches the rules and limits, over HTTP/1.1 and
// HTTP/2 alike: curl's TLS 1.3 hello ("t13d...") is denied by a pattern, the same curl held to
// TLS 1.2 ("t12d...") is not.
TEST_F(TlsTest, TheConnectionsJa4ReachesTheRules) {
  std::string c = config("",
                         "reputation:\n  rules:\n"
                         "    - { name: tls13-tool, ja4: ['t13d*'], action: deny }\n");
  c.replace(c.find("    tls:\n"), 9, "    http2: true\n    tls:\n");
  Shield shield(c);
  const std::uint16_t port = shield.port();
  EXPECT_EQ(curl(port, "a.test", "/hello"), "403 1.1 HTTPS");
  EXPECT_EQ(curl(port, "a.test", "/hello", "--http2"), "403 2 HTTPS");
  EXPECT_EQ(curl(port, "a.test", "/hello", "--tls-max 1.2"), "200 1.1 HTTPS");
  EXPECT_EQ(curl(port, "a.test", "/hello", "--http2 --tls-max 1.2"), "200 2 HTTPS");
  EXPECT_EQ(origin.request_count(), 2u);
}

TEST_F(TlsTest, SniPicksTheCertificate) {
  Shield shield(config());
  EXPECT_NE(subject_seen(shield.port(), "b.test").find("CN = b.test"), std::string::npos);
  EXPECT_NE(subject_seen(shield.port(), "www.b.test").find("CN = b.test"), std::string::npos);
  EXPECT_NE(subject_seen(shield.port(), "a.test").find("CN = a.test"), std::string::npos);
  // No SNI or an unknown name: the first certificate.
  EXPECT_NE(subject_seen(shield.port(), "").find("CN = a.test"), std::string::npos);
  EXPECT_NE(subject_seen(shield.port(), "c.test").find("CN = a.test"), std::string::npos);
  EXPECT_EQ(curl(shield.port(), "b.test", "/"), "200 1.1 HTTPS");
}

TEST_F(TlsTest, SessionsResumeWithTicketsAndAFleetSharesTheKeyFile) {
  ASSERT_TRUE(sh("openssl rand 80 > " + dir.path() + "/tickets.key"));
  const std::string shared = "      ticket_key_file: " + dir.path() + "/tickets.key\n";
  Shield one(config(shared));
  Shield two(config(shared));
  Shield other(config());  // keys of its own
  SSL_SESSION* session = nullptr;
  {
    TlsClient c(one.port(), ca->ca_pem(), "a.test");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.get("/", "a.test"), 200);
    EXPECT_FALSE(c.resumed());
    session = c.session();
  }
  ASSERT_NE(session, nullptr);
  {
    TlsClient c(one.port(), ca->ca_pem(), "a.test", session);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c.resumed());
    EXPECT_EQ(c.get("/", "a.test"), 200);
  }
  {
    TlsClient c(two.port(), ca->ca_pem(), "a.test", session);  // another fleet member
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c.resumed());
    EXPECT_EQ(c.get("/", "a.test"), 200);
  }
  {
    TlsClient c(other.port(), ca->ca_pem(), "a.test", session);
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(c.resumed());  // a full handshake, not a failure
    EXPECT_EQ(c.get("/", "a.test"), 200);
  }
  {
    // A resumed TLS 1.3 connection gets a new ticket (clients use each once): a chain of
    // resumptions never falls back to a full handshake. On `other`, whose keys rotate in memory.
    SSL_SESSION* next = nullptr;
    {
      TlsClient c(other.port(), ca->ca_pem(), "a.test");
      ASSERT_TRUE(c.ok());
      EXPECT_EQ(c.get("/", "a.test"), 200);
      next = c.session();
    }
    for (int i = 0; i < 3; ++i) {
      TlsClient c(other.port(), ca->ca_pem(), "a.test", next);
      ASSERT_TRUE(c.ok());
      EXPECT_TRUE(c.resumed()) << i;
      EXPECT_EQ(c.get("/", "a.test"), 200);
      SSL_SESSION* fresh = c.session();
      const unsigned char *t0 = nullptr, *t1 = nullptr;
      std::size_t n0 = 0, n1 = 0;
      SSL_SESSION_get0_ticket(next, &t0, &n0);
      SSL_SESSION_get0_ticket(fresh, &t1, &n1);
      EXPECT_FALSE(n0 == n1 && std::memcmp(t0, t1, n0) == 0)
          << "no new ticket after resumption " << i;
      SSL_SESSION_free(next);
      next = fresh;
    }
    SSL_SESSION_free(next);
  }
  SSL_SESSION_free(session);
  EXPECT_EQ(one.server().stats().tls_resumed, 1u);
  EXPECT_EQ(two.server().stats().tls_resumed, 1u);
  EXPECT_EQ(other.server().stats().tls_resumed, 3u);  // the chain above
}

TEST_F(TlsTest, StalledHandshakeIsCut) {
  Shield shield(config("      handshake_timeout: 500ms\n"));
  RawClient idle(shield.port());
  RawClient partial(shield.port());
  ASSERT_TRUE(partial.send(std::string("\x16\x03\x01\x02\x00\x01", 6)));  // a hello that stops
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.closed_by_peer(3s));
  EXPECT_TRUE(partial.closed_by_peer(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 400ms);
  EXPECT_TRUE(eventually([&] { return shield.server().stats().tls_handshakes_timed_out == 2; }));
  EXPECT_EQ(shield.server().stats().tls_handshakes_ok, 0u);
  EXPECT_EQ(curl(shield.port(), "a.test", "/"), "200 1.1 HTTPS");
}

TEST_F(TlsTest, HandshakesInProgressAreCapped) {
  Shield shield(config("      max_handshakes: 2\n"));
  auto held = std::make_unique<RawClient>(shield.port());
  auto held2 = std::make_unique<RawClient>(shield.port());
  ASSERT_TRUE(eventually([&] { return shield.server().stats().tls_handshakes_started == 2; }));
  RawClient third(shield.port());
  EXPECT_TRUE(third.closed_by_peer(2s));
  EXPECT_EQ(shield.server().stats().tls_handshakes_refused, 1u);
  EXPECT_NE(curl(shield.port(), "a.test", "/").substr(0, 3), "200");  // still full
  held.reset();
  held2.reset();
  ASSERT_TRUE(eventually([&] { return shield.server().stats().tls_handshakes_failed == 2; }));
  EXPECT_EQ(curl(shield.port(), "a.test", "/"), "200 1.1 HTTPS");
}

TEST_F(TlsTest, SighupSwapsTheCertificateWhileAnOpenConnectionKeepsWorking) {
  const std::string path = dir.file("gatehouse.yaml", config("", "admin: { enabled: false }\n"));
  Child c({GATEHOUSE_BINARY, "run", "--config", path}, dir.path() + "/run.log");
  const std::uint16_t port = c.listening_port();
  ASSERT_NE(port, 0) << c.log();
  EXPECT_NE(c.log().find("with TLS"), std::string::npos);
  TlsClient before(port, ca->ca_pem(), "a.test");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.get("/", "a.test"), 200);
  const std::string old_subject = before.subject();

  ASSERT_TRUE(ca->issue("a", {"a.test"}, "a.test renewed"));  // new key, new certificate
  c.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return c.log().find("config reloaded") != std::string::npos; }, 10s))
      << c.log();
  EXPECT_NE(c.log().find("TLS certificates and keys read again"), std::string::npos) << c.log();

  TlsClient after(port, ca->ca_pem(), "a.test");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after.subject().find("CN=a.test renewed"), std::string::npos) << after.subject();
  EXPECT_EQ(after.get("/", "a.test"), 200);
  // The connection opened before the reload goes on, on its own keys.
  EXPECT_EQ(before.get("/again", "a.test"), 200);
  EXPECT_EQ(before.subject(), old_subject);
  EXPECT_EQ(origin.request_count(), 3u);

  // A key that does not match refuses the reload and keeps serving the last good one.
  ASSERT_TRUE(sh("cp " + ca->key("b") + " " + ca->key("a")));
  c.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return c.log().find("reload refused") != std::string::npos; }, 10s));
  EXPECT_NE(c.log().find("is not the key of the certificate"), std::string::npos) << c.log();
  TlsClient still(port, ca->ca_pem(), "a.test");
  ASSERT_TRUE(still.ok());
  EXPECT_NE(still.subject().find("CN=a.test renewed"), std::string::npos);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(10s), 0) << c.log();
}

// `gatehouse demo` over HTTPS with the local CA it makes, driven by curl as a person's browser
// would be: the sign-up challenge, its answer, the sign-up, a login, and the login limit.
// The demo over https, once with curl held to HTTP/1.1 and once over HTTP/2 (ALPN h2): the
// status line curl prints says which was spoken.
class TlsDemo : public ::testing::TestWithParam<const char*> {};

TEST_P(TlsDemo, SignupChallengeLoginAndLimitsOverHttps) {
  const std::string version = GetParam();  // curl's flag and its status line: HTTP/1.1, HTTP/2
  const std::string flag = version == "1.1" ? "--http1.1" : "--http2";
  const std::string status_line = "HTTP/" + version + " ";
  TempDir dir;
  Child demo({GATEHOUSE_BINARY, "demo", "--listen", "127.0.0.1:0", "--https", "127.0.0.1:0",
              "--app", "127.0.0.1:0", "--admin", "off", "--workers", "1", "--app-workers", "2"},
             dir.path() + "/demo.log", {}, dir.path());
  ASSERT_TRUE(eventually([&] { return demo.log().find("Over HTTPS") != std::string::npos; }, 30s))
      << demo.log();
  const std::uint16_t port =
      demo.port_from_log(std::regex(R"(Over HTTPS: +https://127\.0\.0\.1:(\d+)/)"));
  ASSERT_NE(port, 0) << demo.log();
  const std::string ca = dir.path() + "/var/tls/ca.pem";
  EXPECT_NE(demo.log().find("var/tls/ca.pem  (made now)"), std::string::npos) << demo.log();
  ASSERT_TRUE(std::ifstream(ca).good());
  const std::string base = "https://127.0.0.1:" + std::to_string(port);
  const std::string jar = dir.path() + "/cookies.txt";
  // One request with curl: the status line, the head and the body as curl saw them.
  auto curl = [&](const std::string& args) {
    const std::string out =
        capture("curl " + flag + " -sS -i --max-time 20 --cacert " + ca + " -b " + jar + " -c " +
                jar + " -A '" + kBrowserUa + "' " + args + " 2>&1");
    ClientResponse r;
    const std::size_t end = out.find("\r\n\r\n");
    if (out.rfind(status_line, 0) != 0 || end == std::string::npos) {
      r.body = out;
      return r;
    }
    r.status = std::stoi(out.substr(status_line.size(), 3));
    r.head = out.substr(0, end + 2);
    r.body = out.substr(end + 4);
    return r;
  };
  const std::string json = "-H 'Accept: application/json' ";

  ClientResponse challenge = curl(json + base + "/signup");
  ASSERT_EQ(challenge.status, 403) << challenge.head << challenge.body;
  auto j = nlohmann::json::parse(challenge.body);
  const std::string token = j["challenge"]["token"].get<std::string>();
  auto nonce = challenge::pow_solve(token, j["challenge"]["bits"].get<std::uint8_t>(), 1u << 26);
  ASSERT_TRUE(nonce.has_value());
  ClientResponse cleared = curl(json + "--data 'token=" + token + "&nonce=" + *nonce +
                                "&return=/signup' " + base + "/.gatehouse/challenge");
  ASSERT_EQ(cleared.status, 200) << cleared.head << cleared.body;
  // Over TLS the clearance cookie is Secure.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(cleared.head, m,
                                std::regex("Set-Cookie: gh_clearance=[^\r]*", std::regex::icase)))
      << cleared.head;
  EXPECT_NE(m.str().find("; Secure"), std::string::npos) << m.str();

  ClientResponse signup = curl(
      "--data 'username=tlsuser&email=tlsuser%40example.test&password="
      "correct-horse-battery' " +
      base + "/signup");
  ASSERT_EQ(signup.status, 303) << signup.head << signup.body;

  ClientResponse login =
      curl("--data 'username=tlsuser&password=correct-horse-battery' " + base + "/login");
  ASSERT_EQ(login.status, 303) << login.head << login.body;
  ASSERT_TRUE(std::regex_search(login.head, m,
                                std::regex("Set-Cookie: gh_device=[^\r]*", std::regex::icase)))
      << login.head;
  EXPECT_NE(m.str().find("; Secure"), std::string::npos) << m.str();

  // Failed logins for one account are limited (5 per 15 minutes), over TLS as over clear text;
  // from a fresh cookie jar, so the device token does not make this client a resident.
  std::remove(jar.c_str());
  int last = 0;
  for (int i = 0; i < 6; ++i) {
    last =
        curl("--data 'username=victim&password=wrong" + std::to_string(i) + "' " + base + "/login")
            .status;
    if (i < 5) {
      EXPECT_EQ(last, 401) << i;
    }
  }
  EXPECT_EQ(last, 429);
  demo.signal(SIGTERM);
  EXPECT_EQ(demo.wait(15s), 0) << demo.log();
}

INSTANTIATE_TEST_SUITE_P(Curl, TlsDemo, ::testing::Values("1.1", "2"), [](const auto& info) {
  return std::string(info.param) == "2" ? "Http2" : "Http11";
});

}  // namespace
}  // namespace gh::test
