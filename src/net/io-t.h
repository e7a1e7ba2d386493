// Which kernel interface a worker's event loop runs on (server.io).
#pragma once

#include <cstdint>

namespace gh::net {

enum class IoBackend : std::uint8_t {
  Epoll,    // readiness from epoll_wait; every read, write, accept and close is a syscall
  IoUring,  // one io_uring per loop: readiness, accepts, small sends and closes are queue entries
};

}  // namespace gh::net
