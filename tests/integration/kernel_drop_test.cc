// bans.kernel_drop end to end, in a network namespace this test creates (`ip netns add`, lo up):
// a client banned by a rate limit is then dropped by the kernel (its SYN never reaches the
// listening socket: the connect times out, nothing is accepted or refused at accept), released
// when its ban expires or is lifted, and dropped again right after a restart (restored from the
// ban journal). Needs root, as CI runs it: a namespace that cannot be created fails the test
// with the reason.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "client/address.h"
#include "control/api.h"
#include "control/token.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;

int sh(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 512> buf;
  out->clear();
  while (fgets(buf.data(), buf.size(), p) != nullptr) *out += buf.data();
  return pclose(p);
}

enum class Connect { Connected, Refused, TimedOut };

// A TCP connect from `source` (127.x.y.z) to 127.0.0.1:port, given up after `wait`.
Connect try_connect(std::uint16_t port, const char* source, std::chrono::milliseconds wait) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Connect::Refused;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Connect result = Connect::Refused;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
      result = Connect::Connected;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(wait.count())) == 0) {
        result = Connect::TimedOut;
      } else {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        result = err == 0 ? Connect::Connected : Connect::Refused;
      }
    }
  }
  ::close(fd);
  return result;
}

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n";
}

int status_of(std::uint16_t port, const std::string& path, const char* source) {
  RawClient c(port, source);
  c.send(get(path));
  return c.read_response().status;
}

// Runs `body` on a thread inside a fresh network namespace (the rest of the test binary stays in
// its own); the namespace is deleted afterwards.
void in_fresh_netns(const std::function<void()>& body) {
  const std::string ns = "ghkd-int-" + std::to_string(getpid());
  std::string out;
  ASSERT_EQ(sh("ip netns add " + ns + " && ip -n " + ns + " link set lo up", &out), 0)
      << "cannot create a network namespace (this test needs root and iproute2; CI runs it as "
         "root): "
      << out;
  std::thread t([&] {
    const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(setns(fd, CLONE_NEWNET), 0);
    ::close(fd);
    body();  // threads started here (origin, shield) inherit the namespace
  });
  t.join();
  sh("ip netns del " + ns, &out);
}

std::string metrics_of(Shield& shield) {
  control::AdminApi::Options o;
  o.token = control::BearerToken::from_string("kernel-drop-test");
  control::AdminApi api(shield.server(), o);
  control::ApiRequest r;
  r.method = "GET";
  r.path = "/metrics";
  r.authorization = "Bearer kernel-drop-test";
  r.authorization_count = 1;
  r.host = "127.0.0.1";
  return api.handle(r).text;
}

TEST(KernelDrop, RepeatOffendersAreDroppedByTheKernelAndRestoredAfterRestart) {
  const std::string dir = [] {
    char tmpl[] = "/tmp/gatehouse-kdrop-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  in_fresh_netns([&] {
    Origin origin;
    const std::string cfg = basic_config(
        origin.port(),
        "routes:\n"
        "  - name: short\n    match: { path_prefix: /short }\n    limits:\n"
        "      - { name: s, key: [client.ip], rate: 1/min, burst: 1, action: { ban: 2s } }\n"
        "  - name: long\n    match: { path_prefix: /long }\n    limits:\n"
        "      - { name: l, key: [client.ip], rate: 1/min, burst: 1, action: { ban: 1h } }\n"
        "bans: { journal: " +
            dir + "/bans.journal, kernel_drop: { enabled: true, from_ban: 1 } }\n");
    const char* quick = "127.0.0.66";
    const char* stubborn = "127.0.0.77";
    {
      Shield shield(cfg);
      const std::uint16_t port = shield.port();
      ASSERT_EQ(status_of(port, "/short", quick), 200);
      ASSERT_EQ(status_of(port, "/short", quick), 429);  // banned 2 s: the first ban of its chain
      ASSERT_EQ(status_of(port, "/long", stubborn), 200);
      ASSERT_EQ(status_of(port, "/long", stubborn), 429);
      ASSERT_TRUE(eventually([&] { return shield.server().bans()->stats().live == 2; }));
      // Dropped below the socket: no SYN-ACK, no RST, and the accept-time refusal never runs.
      EXPECT_EQ(try_connect(port, quick, 500ms), Connect::TimedOut);
      EXPECT_EQ(try_connect(port, stubborn, 500ms), Connect::TimedOut);
      EXPECT_EQ(shield.server().stats().connections_refused_banned, 0u);
      EXPECT_EQ(status_of(port, "/short", "127.0.0.88"), 200);  // others are served
      // And /metrics says so: the two elements added, the SYNs of both connects dropped.
      const std::string metrics = metrics_of(shield);
      EXPECT_NE(metrics.find("\ngatehouse_kernel_drop_enabled 1\n"), std::string::npos) << metrics;
      EXPECT_NE(metrics.find("\ngatehouse_kernel_drop_elements_total{op=\"added\"} 2\n"),
                std::string::npos)
          << metrics;
      EXPECT_EQ(metrics.find("\ngatehouse_kernel_drop_packets_total 0\n"), std::string::npos)
          << metrics;
      // The 2 s ban ends: the kernel lets the address through again.
      EXPECT_TRUE(
          eventually([&] { return try_connect(port, quick, 300ms) == Connect::Connected; }, 6s));
    }
    {
      Shield again(cfg);  // a restart restores the live ban from the journal into the kernel
      const std::uint16_t port = again.port();
      EXPECT_EQ(try_connect(port, stubborn, 500ms), Connect::TimedOut);
      EXPECT_EQ(again.server().stats().connections_refused_banned, 0u);
      // Lifting the ban (what the admin API's unban does) lifts the drop at once.
      ASSERT_TRUE(again.server().bans()->unban(*client::parse_cidr("127.0.0.77")));
      EXPECT_TRUE(
          eventually([&] { return try_connect(port, stubborn, 300ms) == Connect::Connected; }, 2s));
      EXPECT_EQ(status_of(port, "/short", stubborn), 200);
    }
    // Stopped: the table is gone, nothing is left dropping traffic for a server not running.
    std::string out;
    sh("nft list tables", &out);
    EXPECT_EQ(out.find("gatehouse"), std::string::npos) << out;
  });
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gh::test
