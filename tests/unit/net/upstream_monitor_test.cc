#include "net/upstream_monitor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/address.h"

namespace gh::net {
namespace {

using namespace std::chrono_literals;

// A loopback HTTP server answering every request with `status` and closing. Port 0 = any.
class TinyServer {
 public:
  explicit TinyServer(std::uint16_t port = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 64) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~TinyServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  std::uint16_t port() const { return port_; }
  void set_status(int s) { status_ = s; }
  int requests() const { return requests_; }
  std::string last_request() const {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string in;
      char buf[1024];
      for (int i = 0; i < 50 && in.find("\r\n\r\n") == std::string::npos; ++i) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 20) <= 0) continue;
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        last_ = in;
      }
      ++requests_;
      const std::string reply = "HTTP/1.1 " + std::to_string(status_.load()) +
                                " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{200};
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::string last_;
  std::thread thread_;
};

client::SocketAddress loopback(std::uint16_t port) {
  return {client::make_ipv4(127, 0, 0, 1), port};
}

UpstreamServer literal(std::uint16_t port) {
  UpstreamServer s;
  s.host = "127.0.0.1";
  s.port = port;
  s.literal = true;
  s.addresses = {loopback(port)};
  return s;
}

class Events {
 public:
  void add(const UpstreamEvent& e) {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::size_t count(const std::string& kind) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& e : events_) n += e.kind == kind ? 1 : 0;
    return n;
  }
  std::vector<UpstreamEvent> all() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<UpstreamEvent> events_;
};

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(UpstreamMonitor, HealthChecksTakeADeadServerDownAndBringItBack) {
  auto live = std::make_unique<TinyServer>();
  ASSERT_TRUE(live->ok());
  const std::uint16_t port = live->port();
  auto other = std::make_unique<TinyServer>();
  ASSERT_TRUE(other->ok());
  Events events;
  UpstreamMonitor m([&](const UpstreamEvent& e) { events.add(e); });
  GroupConfig c;
  c.name = "app";
  c.servers = {literal(port), literal(other->port())};
  c.health.enabled = true;
  c.health.path = "/healthz";
  c.health.interval_ms = 100;
  c.health.timeout_ms = 100;
  c.health.unhealthy_threshold = 2;
  c.health.healthy_threshold = 2;
  auto groups = m.configure({c});
  m.start();
  ASSERT_TRUE(eventually([&] { return live->requests() >= 2; }));
  EXPECT_NE(live->last_request().find("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:"),
            std::string::npos);
  EXPECT_EQ(groups[0]->admitted(0), 2u);

  live.reset();  // the port now refuses connections
  ASSERT_TRUE(eventually([&] { return events.count("upstream_down") == 1; }));
  EXPECT_EQ(groups[0]->status(0).admitted, 1u);
  EXPECT_EQ(events.count("upstream_unavailable"), 0u);  // the other still serves

  live = std::make_unique<TinyServer>(port);
  ASSERT_TRUE(live->ok());
  ASSERT_TRUE(eventually([&] { return events.count("upstream_up") == 1; }));
  EXPECT_EQ(groups[0]->status(0).admitted, 2u);

  // A status outside the expected ones fails like a refused connection.
  other->set_status(503);
  ASSERT_TRUE(eventually([&] { return events.count("upstream_down") == 2; }));
  const auto st = groups[0]->status(0);
  bool seen = false;
  for (const auto& e : st.endpoints) {
    if (e.address == loopback(other->port())) {
      seen = true;
      EXPECT_TRUE(e.down);
      EXPECT_EQ(e.last_status, 503);
      EXPECT_EQ(e.last_check_error, "status 503");
    }
  }
  EXPECT_TRUE(seen);
  m.stop();
  EXPECT_GE(m.checks_run(), 6u);
}

TEST(UpstreamMonitor, AnUpstreamWithoutAnyServerLeftIsAnnounced) {
  auto live = std::make_unique<TinyServer>();
  ASSERT_TRUE(live->ok());
  Events events;
  UpstreamMonitor m([&](const UpstreamEvent& e) { events.add(e); });
  GroupConfig c;
  c.name = "solo";
  c.servers = {literal(live->port())};
  c.health.enabled = true;
  c.health.interval_ms = 100;
  c.health.timeout_ms = 100;
  c.health.unhealthy_threshold = 1;
  c.health.healthy_threshold = 1;
  m.configure({c});
  m.start();
  live.reset();
  ASSERT_TRUE(eventually([&] { return events.count("upstream_unavailable") == 1; }));
  for (const auto& e : events.all()) {
    if (e.kind == "upstream_unavailable") {
      EXPECT_EQ(e.message, "upstream solo has no healthy server: its requests are answered 503");
    }
  }
}

TEST(UpstreamMonitor, NamesAreReResolvedAndFailuresKeepTheLastAddresses) {
  std::mutex mu;
  std::vector<client::SocketAddress> answer = {loopback(1001)};
  bool fail = false;
  int lookups = 0;
  UpstreamMonitor::Options options;
  options.resolver_poll_ms = 20;
  options.resolver = [&](const std::string& host, std::uint16_t port,
                         std::vector<client::SocketAddress>& out, std::string* error) {
    std::lock_guard lock(mu);
    ++lookups;
    EXPECT_EQ(host, "app.test");
    EXPECT_EQ(port, 1001);
    if (fail) {
      *error = "Temporary failure in name resolution";
      return false;
    }
    out = answer;
    return true;
  };
  Events events;
  UpstreamMonitor m([&](const UpstreamEvent& e) { events.add(e); }, options);
  GroupConfig c;
  c.name = "app";
  UpstreamServer s;
  s.host = "app.test";
  s.port = 1001;
  s.addresses = {loopback(1001)};
  c.servers = {s};
  c.resolve_interval_ms = 50;
  auto groups = m.configure({c});
  m.start();
  {
    std::lock_guard lock(mu);
    answer = {client::SocketAddress{client::make_ipv4(127, 0, 0, 2), 1001},
              client::SocketAddress{client::make_ipv4(127, 0, 0, 3), 1001}};
  }
  ASSERT_TRUE(eventually([&] { return events.count("upstream_addresses") == 1; }));
  EXPECT_EQ(groups[0]->endpoints()->entries.size(), 2u);
  {
    std::lock_guard lock(mu);
    fail = true;
  }
  ASSERT_TRUE(eventually([&] { return events.count("upstream_resolve_failed") == 1; }));
  const int before = [&] {
    std::lock_guard lock(mu);
    return lookups;
  }();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return lookups >= before + 3;
  }));
  EXPECT_EQ(events.count("upstream_resolve_failed"), 1u);  // once, however long it lasts
  EXPECT_EQ(groups[0]->endpoints()->entries.size(), 2u);
  const auto st = groups[0]->status(0);
  ASSERT_EQ(st.names.size(), 1u);
  EXPECT_EQ(st.names[0].error, "Temporary failure in name resolution");
  {
    std::lock_guard lock(mu);
    fail = false;
  }
  ASSERT_TRUE(eventually([&] { return events.count("upstream_resolved") == 1; }));
  m.stop();
}

TEST(UpstreamMonitor, AReloadKeepsGroupsByName) {
  UpstreamMonitor m([](const UpstreamEvent&) {});
  GroupConfig a;
  a.name = "a";
  a.servers = {literal(1)};
  GroupConfig b = a;
  b.name = "b";
  auto first = m.configure({a, b});
  auto second = m.configure({b});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0], first[1]);
  EXPECT_EQ(m.find("a"), nullptr);
  EXPECT_EQ(m.find("b"), first[1]);
}

}  // namespace
}  // namespace gh::net
