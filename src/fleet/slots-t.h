// Plain types of Redis Cluster routing: a node's address, the slot map read from CLUSTER SLOTS,
// and a redirection (MOVED, ASK) read from an error reply.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gh::fleet {

inline constexpr std::uint16_t kSlotCount = 16384;
// Distinct node addresses a map may name (masters and replicas each): a confused or hostile
// server cannot make us open more connections than this.
inline constexpr std::size_t kMaxClusterNodes = 256;

struct NodeAddress {
  std::string host;  // a name, an IPv4 or IPv6 address (no brackets)
  std::uint16_t port = 0;

  bool operator==(const NodeAddress&) const = default;
  std::string text() const { return host + ":" + std::to_string(port); }
};

struct SlotMap {
  static constexpr std::uint16_t kNone = 0xffff;
  std::vector<NodeAddress> masters;   // distinct; owner[] indexes it
  std::vector<NodeAddress> replicas;  // distinct; where to ask for a map when masters fail
  std::array<std::uint16_t, kSlotCount> owner{};

  SlotMap() { owner.fill(kNone); }
  const NodeAddress* master_of(std::uint16_t slot) const {
    if (slot >= kSlotCount || owner[slot] == kNone) return nullptr;
    return &masters[owner[slot]];
  }
  // The index of `a` among the masters, added if new; kNone when kMaxClusterNodes are known.
  std::uint16_t master_index(const NodeAddress& a) {
    for (std::size_t i = 0; i < masters.size(); ++i) {
      if (masters[i] == a) return static_cast<std::uint16_t>(i);
    }
    if (masters.size() >= kMaxClusterNodes) return kNone;
    masters.push_back(a);
    return static_cast<std::uint16_t>(masters.size() - 1);
  }
  std::size_t covered() const {
    std::size_t n = 0;
    for (std::uint16_t o : owner) n += o != kNone ? 1 : 0;
    return n;
  }
};

struct Redirect {
  enum class Kind : std::uint8_t { Moved, Ask };
  Kind kind = Kind::Moved;
  std::uint16_t slot = 0;
  NodeAddress to;  // host empty: the node that answered (Redis 7 when it has no endpoint to give)
};

}  // namespace gh::fleet
