// Thin helpers over BSD sockets: non-blocking, close-on-exec, errors as text for the operator.
#pragma once

#include <sys/socket.h>

#include <string>

#include "client/address-t.h"

namespace gh::net {

// A listening socket; with `reuse_port` every worker binds its own (SO_REUSEPORT) and the kernel
// spreads connections across them. Accepted sockets inherit its TCP_NODELAY. Returns -1 and
// fills `error` on failure.
int listen_tcp(const client::SocketAddress& addr, bool reuse_port, int backlog, std::string* error);
// Starts a non-blocking connect; completion is signalled by EPOLLOUT (then check connect_error()).
int connect_tcp(const client::SocketAddress& addr, std::string* error);
int connect_error(int fd);
client::SocketAddress local_address(int fd);
void set_nodelay(int fd);
// Closes with RST instead of FIN: the cheapest way to shed a connection we will not serve.
void close_reset(int fd);

}  // namespace gh::net
