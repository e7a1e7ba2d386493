#include "net/socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include "client/address-t.h"
#include "client/address.h"

namespace gh::net {
namespace {

int nodelay(int fd) {
  int value = -1;
  socklen_t len = sizeof value;
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len), 0);
  return value;
}

// The worker no longer sets TCP_NODELAY on each accepted socket: it relies on Linux copying it
// from the listening socket. Were that not so, every small response would wait on Nagle.
TEST(Socket, AcceptedSocketsInheritTcpNodelayFromTheListener) {
  std::string error;
  const int listener = listen_tcp({client::make_ipv4(127, 0, 0, 1), 0}, false, 8, &error);
  ASSERT_GE(listener, 0) << error;
  EXPECT_NE(nodelay(listener), 0);
  const int client_fd = connect_tcp(local_address(listener), &error);
  ASSERT_GE(client_fd, 0) << error;
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  const int accepted = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  EXPECT_NE(nodelay(accepted), 0);
  close(accepted);
  close(client_fd);
  close(listener);
}

}  // namespace
}  // namespace gh::net
