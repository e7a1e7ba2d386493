// Is an address served, and by whom: a probe bind without SO_REUSEPORT, and after our own bind
// a look for listeners that are not ours (two instances started at the same moment).
#include "net/listen_check.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "client/address.h"
#include "net/socket.h"

namespace gh::net {
namespace {

client::SocketAddress loopback(std::uint16_t port) {
  return {client::make_ipv4(127, 0, 0, 1), port};
}

bool has_pid(const std::vector<ListenerOwner>& owners, pid_t pid) {
  return std::any_of(owners.begin(), owners.end(), [&](const auto& o) { return o.pid == pid; });
}

TEST(ListenCheck, AServedAddressIsFoundAndItsProcessNamed) {
  std::string error;
  const int fd = listen_tcp(loopback(0), true, 16, &error);
  ASSERT_GE(fd, 0) << error;
  const client::SocketAddress addr = local_address(fd);
  std::vector<ListenerOwner> owners;
  EXPECT_TRUE(address_served(addr, &owners));
  EXPECT_TRUE(has_pid(owners, ::getpid()));
  EXPECT_NE(describe_owners(owners).find("pid " + std::to_string(::getpid())), std::string::npos);
  // Our own listener is no sharing.
  EXPECT_FALSE(shared_with_another(addr, nullptr));
  ::close(fd);
  owners.clear();
  EXPECT_FALSE(address_served(addr, &owners));
  EXPECT_TRUE(owners.empty());
  EXPECT_EQ(describe_owners({}), "a process this user cannot see");
}

TEST(ListenCheck, AnotherProcessOnTheSamePortIsSeenAfterOurBind) {
  std::string error;
  const int fd = listen_tcp(loopback(0), true, 16, &error);
  ASSERT_GE(fd, 0) << error;
  const client::SocketAddress addr = local_address(fd);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // SO_REUSEPORT lets a process of the same user join the port: what a second instance does.
    const int joined = listen_tcp(addr, true, 16, nullptr);
    const char c = joined >= 0 ? '1' : '0';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(c, '1');
  std::vector<ListenerOwner> owners;
  EXPECT_TRUE(shared_with_another(addr, &owners));
  EXPECT_TRUE(has_pid(owners, child));
  EXPECT_FALSE(has_pid(owners, ::getpid()));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_FALSE(shared_with_another(addr, nullptr));
  ::close(fd);
}

}  // namespace
}  // namespace gh::net
