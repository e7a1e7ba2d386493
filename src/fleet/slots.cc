#include "fleet/slots.h"

#include <array>

namespace gh::fleet {
namespace {

constexpr std::array<std::uint16_t, 256> make_table() {
  std::array<std::uint16_t, 256> t{};
  for (unsigned i = 0; i < 256; ++i) {
    std::uint16_t crc = static_cast<std::uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<std::uint16_t>(crc << 1);
    }
    t[i] = crc;
  }
  return t;
}
constexpr std::array<std::uint16_t, 256> kTable = make_table();

// Replicas listed per range at most: beyond, the reply is refused (a real cluster has a few).
constexpr std::size_t kMaxNodesPerRange = 32;
constexpr std::size_t kMaxHost = 255;

bool fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

enum class Endpoint : std::uint8_t { Known, Unknown, Bad };

// One node of a range: [host, port, id, (metadata)]; the host "" is the node asked, "?" or nil
// an endpoint the server does not know.
Endpoint read_node(const Reply& n, const NodeAddress& asked, NodeAddress& out, std::string* why) {
  if (n.type != Reply::Type::Array || n.elements.size() < 2) {
    fail(why, "a node is not an array of host and port");
    return Endpoint::Bad;
  }
  const Reply& host = n.elements[0];
  const Reply& port = n.elements[1];
  if (port.type != Reply::Type::Integer || port.integer < 0 || port.integer > 65535) {
    fail(why, "a node's port is not 0..65535");
    return Endpoint::Bad;
  }
  if (host.type == Reply::Type::Nil) return Endpoint::Unknown;
  if (!host.is_string()) {
    fail(why, "a node's host is not a string");
    return Endpoint::Bad;
  }
  if (host.str == "?" || port.integer == 0) return Endpoint::Unknown;
  if (host.str.empty()) {
    out.host = asked.host;
  } else if (valid_host(host.str)) {
    out.host = host.str;
  } else {
    fail(why, "a node's host is not a host name or address");
    return Endpoint::Bad;
  }
  out.port = static_cast<std::uint16_t>(port.integer);
  return Endpoint::Known;
}

bool add_replica(SlotMap& map, const NodeAddress& a) {
  for (const NodeAddress& r : map.replicas) {
    if (r == a) return true;
  }
  if (map.replicas.size() >= kMaxClusterNodes) return false;
  map.replicas.push_back(a);
  return true;
}

}  // namespace

std::uint16_t crc16(std::string_view data) {
  std::uint16_t crc = 0;
  for (unsigned char c : data) {
    crc = static_cast<std::uint16_t>((crc << 8) ^ kTable[((crc >> 8) ^ c) & 0xff]);
  }
  return crc;
}

std::uint16_t key_slot(std::string_view key) {
  const std::size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const std::size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return crc16(key) & (kSlotCount - 1);
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > kMaxHost) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::optional<SlotMap> parse_cluster_slots(const Reply& reply, const NodeAddress& asked,
                                           std::string* why) {
  if (reply.type != Reply::Type::Array) {
    fail(why, "CLUSTER SLOTS did not answer an array");
    return std::nullopt;
  }
  if (reply.elements.size() > kSlotCount) {
    fail(why, "CLUSTER SLOTS answered more ranges than there are slots");
    return std::nullopt;
  }
  SlotMap map;
  std::vector<bool> seen(kSlotCount, false);
  for (const Reply& range : reply.elements) {
    if (range.type != Reply::Type::Array || range.elements.size() < 3 ||
        range.elements.size() > 2 + kMaxNodesPerRange) {
      fail(why, "a range is not [start, end, master, replicas...]");
      return std::nullopt;
    }
    const Reply& first = range.elements[0];
    const Reply& last = range.elements[1];
    if (first.type != Reply::Type::Integer || last.type != Reply::Type::Integer ||
        first.integer < 0 || last.integer >= kSlotCount || first.integer > last.integer) {
      fail(why, "a range's slots are not 0 <= start <= end <= 16383");
      return std::nullopt;
    }
    NodeAddress master;
    const Endpoint e = read_node(range.elements[2], asked, master, why);
    if (e == Endpoint::Bad) return std::nullopt;
    std::uint16_t index = SlotMap::kNone;
    if (e == Endpoint::Known) {
      index = map.master_index(master);
      if (index == SlotMap::kNone) {
        fail(why, "CLUSTER SLOTS names more than 256 masters");
        return std::nullopt;
      }
    }
    for (std::size_t i = 3; i < range.elements.size(); ++i) {
      NodeAddress replica;
      const Endpoint r = read_node(range.elements[i], asked, replica, why);
      if (r == Endpoint::Bad) return std::nullopt;
      if (r == Endpoint::Known && !add_replica(map, replica)) {
        fail(why, "CLUSTER SLOTS names more than 256 replicas");
        return std::nullopt;
      }
    }
    for (auto s = first.integer; s <= last.integer; ++s) {
      const auto slot = static_cast<std::size_t>(s);
      if (seen[slot]) {
        fail(why, "slot " + std::to_string(slot) + " is in two ranges");
        return std::nullopt;
      }
      seen[slot] = true;
      map.owner[slot] = index;
    }
  }
  return map;
}

std::optional<Redirect> parse_redirect(std::string_view error) {
  if (error.size() > 300) return std::nullopt;
  Redirect r;
  if (error.starts_with("MOVED ")) {
    r.kind = Redirect::Kind::Moved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.kind = Redirect::Kind::Ask;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const std::size_t space = error.find(' ');
  if (space == std::string_view::npos || space == 0 || space > 5) return std::nullopt;
  unsigned slot = 0;
  for (char c : error.substr(0, space)) {
    if (c < '0' || c > '9') return std::nullopt;
    slot = slot * 10 + static_cast<unsigned>(c - '0');
  }
  if (slot >= kSlotCount) return std::nullopt;
  r.slot = static_cast<std::uint16_t>(slot);
  const std::string_view address = error.substr(space + 1);
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view host = address.substr(0, colon);
  auto port = parse_port(address.substr(colon + 1));
  if (!port || (!host.empty() && !valid_host(host))) return std::nullopt;
  r.to.host = std::string(host);
  r.to.port = *port;
  return r;
}

ClusterError classify_error(std::string_view error) {
  if (error.starts_with("MOVED ") || error.starts_with("ASK ")) return ClusterError::Redirect;
  if (error.starts_with("CLUSTERDOWN") || error.starts_with("TRYAGAIN") ||
      error.starts_with("LOADING") || error.starts_with("MASTERDOWN")) {
    return ClusterError::TryLater;
  }
  if (error.find("cluster support disabled") != std::string_view::npos) {
    return ClusterError::Disabled;
  }
  return ClusterError::None;
}

}  // namespace gh::fleet
