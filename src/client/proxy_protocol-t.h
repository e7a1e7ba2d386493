// Plain result of parsing a PROXY protocol (v1/v2) header.
#pragma once

#include <cstddef>
#include <cstdint>

#include "client/address-t.h"

namespace gh::client {

enum class ProxyStatus : std::uint8_t { Complete, NeedMore, Error };

struct ProxyHeaderResult {
  ProxyStatus status = ProxyStatus::NeedMore;
  std::size_t consumed = 0;  // header bytes, when Complete; the payload starts after them
  std::uint8_t version = 0;  // 1 or 2 once known
  // LOCAL command, UNKNOWN (v1) or a family/transport we do not map (v2): use the socket's own
  // addresses; source and destination are left empty.
  bool local = false;
  SocketAddress source;
  SocketAddress destination;
};

}  // namespace gh::client
