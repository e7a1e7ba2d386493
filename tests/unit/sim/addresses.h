// Addresses the simulator hands out, as text, for tests that check where clients came from.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "sim/scenario.h"

namespace gh::sim::simtest {

// The i-th address of `c`, as the simulator picks it.
inline std::string addr_of(const Cidr& c, std::uint64_t i) {
  sockaddr_storage a;
  socklen_t len;
  cidr_address(c, i, &a, &len);
  return address_text(a);
}

// An IPv4 address's /24, as text ("127.5.3").
inline std::string slash24(const std::string& a) {
  return a.substr(0, a.rfind('.'));
}

}  // namespace gh::sim::simtest
