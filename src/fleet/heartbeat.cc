#include "fleet/heartbeat.h"

#include <utility>

#include "fleet/nodes.h"

namespace gh::fleet {

Heartbeat::Heartbeat(std::string node, std::string key)
    : node_(std::move(node)), key_(std::move(key)) {
  self_.node = node_;
}

void Heartbeat::set_self(NodeFigures figures) {
  figures.node = node_;
  std::lock_guard lock(mu_);
  self_ = std::move(figures);
}

void Heartbeat::tick(std::int64_t wall_ms, const Send& send) {
  if (wall_ms < next_ms_) return;
  next_ms_ = wall_ms + kHeartbeatMs;
  std::string text;
  {
    std::lock_guard lock(mu_);
    self_.at_ms = wall_ms;
    text = encode_node(self_);
  }
  // Pipelined: ours first, so the read that follows holds it too.
  if (!send({"HSET", key_, node_, std::move(text)},
            [this](const Reply&) { written_.fetch_add(1, std::memory_order_relaxed); })) {
    return;
  }
  send({"HGETALL", key_}, [this, send, wall_ms](const Reply& r) {
    std::vector<std::string> stale;
    std::uint64_t bad = 0;
    std::vector<NodeFigures> read = read_reply(r, wall_ms, &stale, &bad);
    malformed_.fetch_add(bad, std::memory_order_relaxed);
    reads_.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(mu_);
      others_ = std::move(read);
    }
    for (std::string& field : stale) send({"HDEL", key_, std::move(field)}, [](const Reply&) {});
  });
}

std::vector<NodeFigures> Heartbeat::read_reply(const Reply& r, std::int64_t wall_ms,
                                               std::vector<std::string>* stale,
                                               std::uint64_t* malformed) {
  std::vector<NodeFigures> out;
  if (r.type != Reply::Type::Array || r.elements.size() % 2 != 0) {
    ++*malformed;
    return out;
  }
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    const Reply& field = r.elements[i];
    const Reply& value = r.elements[i + 1];
    std::optional<NodeFigures> n;
    if (field.is_string() && value.is_string()) n = decode_node(value.str);
    if (!n || n->node != field.str) {
      ++*malformed;
      continue;
    }
    if (wall_ms - n->at_ms > kForgetAfterMs) {
      if (stale != nullptr && stale->size() < kMaxNodes) stale->push_back(field.str);
      continue;
    }
    if (out.size() < kMaxNodes) out.push_back(std::move(*n));
  }
  return out;
}

std::vector<NodeEntry> Heartbeat::nodes(std::int64_t wall_ms) const {
  std::lock_guard lock(mu_);
  return age_nodes(others_, self_, wall_ms);
}

std::vector<NodeEntry> Heartbeat::live_nodes(std::int64_t wall_ms) const {
  std::vector<NodeEntry> all = nodes(wall_ms);
  std::erase_if(all, [](const NodeEntry& e) { return !e.live; });
  return all;
}

FleetTotals Heartbeat::totals(std::int64_t wall_ms) const {
  return sum_live(nodes(wall_ms));
}

}  // namespace gh::fleet
