#include "fleet/cluster.h"

#include <algorithm>

#include "fleet/slots.h"
#include "net/event_loop.h"

namespace gh::fleet {

struct ClusterClient::Op {
  std::vector<std::string> argv;
  Callback cb;
  int slot = -1;  // -1: standalone, no slot
  std::int64_t deadline_ms = 0;
  std::int64_t not_before_ms = 0;
  std::uint32_t redirects = 0;
  NodeAddress ask;  // port set: ASKING then the command on this node, once
  bool sent = false, done = false;
};

namespace {

constexpr std::size_t kMaxCandidates = 2 * kMaxClusterNodes;
// Connections the pool may hold: every master a map may name, and a few nodes asked for maps or
// named by ASK.
constexpr std::size_t kMaxConnections = kMaxClusterNodes + 8;

void add_candidate(std::vector<NodeAddress>& list, const NodeAddress& a) {
  if (list.size() >= kMaxCandidates) return;
  if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(a);
}

}  // namespace

ClusterClient::ClusterClient(net::EventLoop& loop, Options options, OnDown on_down)
    : loop_(loop), options_(std::move(options)), on_down_(std::move(on_down)) {
  for (const NodeAddress& s : options_.seeds) add_candidate(candidates_, s);
}

ClusterClient::~ClusterClient() {
  close();
  *alive_ = false;
}

void ClusterClient::start(OnReady ready) {
  close();
  closing_ = false;
  graveyard_.clear();
  map_ = SlotMap{};
  standalone_ = ready_ = false;
  on_ready_ = std::move(ready);
  if (candidates_.empty()) {
    start_failed("no seeds");
    return;
  }
  node_ = candidates_[next_candidate_ % candidates_.size()];
  discovering_ = true;
  RedisConnection* c = conn_for(node_);
  if (c == nullptr) return;  // start_failed() said why
  if (options_.mode == Mode::Standalone) {
    // As before the cluster layer: one connection, its first answer says it is there.
    c->command({"PING"}, [this, from = node_](const Reply* r) {
      if (!discovering_) return;
      if (r == nullptr) {
        start_failed("no answer to PING");
      } else if (r->type == Reply::Type::Error) {
        start_failed("refused: " + r->str.substr(0, 200));
      } else {
        discovering_ = false;
        standalone_ = ready_ = true;
        if (on_ready_) on_ready_(true, "standalone " + from.text());
      }
    });
    return;
  }
  c->command({"CLUSTER", "SLOTS"}, [this, from = node_](const Reply* r) { discovered(from, r); });
}

void ClusterClient::discovered(const NodeAddress& from, const Reply* r) {
  if (!discovering_) return;
  if (r == nullptr) {
    start_failed("no answer to CLUSTER SLOTS from " + from.text());
    return;
  }
  if (r->type == Reply::Type::Error) {
    const ClusterError kind = classify_error(r->str);
    // NOAUTH and the like: not a question of mode.
    const bool refused = r->str.starts_with("NOAUTH") || r->str.starts_with("WRONGPASS");
    if (options_.mode == Mode::Auto && kind != ClusterError::TryLater && !refused) {
      discovering_ = false;
      standalone_ = ready_ = true;
      if (on_ready_) on_ready_(true, "standalone " + from.text());
      return;
    }
    start_failed(from.text() + " answered CLUSTER SLOTS with: " + r->str.substr(0, 200));
    return;
  }
  std::string why;
  std::optional<SlotMap> map = parse_cluster_slots(*r, from, &why);
  if (!map) {
    ++stats_.malformed;
    start_failed(from.text() + ": CLUSTER SLOTS: " + why);
    return;
  }
  if (map->covered() == 0) {
    start_failed(from.text() + " is a cluster node that knows no slot served");
    return;
  }
  map_ = std::move(*map);
  learn(map_);
  discovering_ = false;
  ready_ = true;
  if (on_ready_)
    on_ready_(true, "cluster of " + std::to_string(map_.masters.size()) + " masters, asked " +
                        from.text());
  schedule_pump();
}

void ClusterClient::start_failed(const std::string& why) {
  discovering_ = false;
  if (on_ready_) on_ready_(false, why);
}

void ClusterClient::learn(const SlotMap& map) {
  for (const NodeAddress& a : map.masters) add_candidate(candidates_, a);
  for (const NodeAddress& a : map.replicas) add_candidate(candidates_, a);
}

void ClusterClient::close() {
  if (closing_) return;
  closing_ = true;
  discovering_ = ready_ = false;
  // Connections first: their pending callbacks see closing_ and fail their commands.
  for (auto& [key, c] : conns_) {
    c->close();
    graveyard_.push_back(std::move(c));
  }
  conns_.clear();
  std::list<OpPtr> ops;
  ops.swap(ops_);
  for (const OpPtr& op : ops) finish(op, nullptr);
  refresh_wanted_ = refresh_inflight_ = false;
  backoff_ms_ = kMinBackoffMs;
}

RedisConnection* ClusterClient::conn_for(const NodeAddress& a) {
  const std::string key = a.text();
  if (auto it = conns_.find(key); it != conns_.end()) return it->second.get();
  if (conns_.size() >= kMaxConnections) return nullptr;
  RedisConnection::Options o;
  o.host = a.host;
  o.port = a.port;
  o.connect_timeout_ms = options_.connect_timeout_ms;
  o.command_timeout_ms = options_.command_timeout_ms;
  auto conn = std::make_unique<RedisConnection>(
      loop_, o, [this, key](const std::string& why) { on_conn_down(key, why); });
  std::string error;
  if (!conn->connect(&error)) {
    if (discovering_) start_failed(key + ": " + error);
    return nullptr;
  }
  RedisConnection* c = conn.get();
  conns_.emplace(key, std::move(conn));
  if (!options_.password.empty()) {
    std::vector<std::string> argv = {"AUTH"};
    if (!options_.user.empty()) argv.push_back(options_.user);
    argv.push_back(options_.password);
    c->command(argv, [this, key](const Reply* r) {
      if (r == nullptr || r->type != Reply::Type::Error || closing_) return;
      if (discovering_) {
        start_failed("refused: " + r->str.substr(0, 200));
        return;
      }
      // Every command behind it would be refused: the node is treated as lost.
      on_conn_down(key, "refused: " + r->str.substr(0, 200));
    });
  }
  return c;
}

void ClusterClient::drop_conn(const std::string& key) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  // Off the loop's and hiredis's stack before it is destroyed.
  graveyard_.push_back(std::move(it->second));
  conns_.erase(it);
  graveyard_.back()->close();
  loop_.defer([this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.lock()) graveyard_.clear();
  });
}

void ClusterClient::on_conn_down(const std::string& key, const std::string& why) {
  if (closing_) return;
  if (standalone_) {
    if (on_down_) on_down_(why);
    return;
  }
  // Its commands got nullptr already (and wait for a retry); a map refresh says who serves now.
  drop_conn(key);
  refresh_soon();
  schedule_pump();
}

bool ClusterClient::command(std::string_view key, std::vector<std::string> argv, Callback cb,
                            std::int64_t deadline_ms) {
  return enqueue(key_slot(key), std::move(argv), std::move(cb), deadline_ms);
}

bool ClusterClient::command_to_slot(std::uint16_t slot, std::vector<std::string> argv, Callback cb,
                                    std::int64_t deadline_ms) {
  if (slot >= kSlotCount) return false;
  return enqueue(slot, std::move(argv), std::move(cb), deadline_ms);
}

bool ClusterClient::enqueue(int slot, std::vector<std::string> argv, Callback cb,
                            std::int64_t deadline_ms) {
  if (!ready_ || argv.empty() || ops_.size() >= options_.max_commands) return false;
  auto op = std::make_shared<Op>();
  op->argv = std::move(argv);
  op->cb = std::move(cb);
  op->slot = standalone_ ? -1 : slot;
  op->deadline_ms = loop_.now_ms() + (deadline_ms > 0 ? deadline_ms : options_.deadline_ms);
  ops_.push_back(op);
  // Sent at once when it can be: pipelined behind what is in flight, in call order.
  if (!dispatch(op)) schedule_pump();
  return true;
}

bool ClusterClient::dispatch(const OpPtr& op) {
  NodeAddress to;
  if (standalone_) {
    to = node_;
  } else if (op->ask.port != 0) {
    to = op->ask;
  } else if (const NodeAddress* m = map_.master_of(static_cast<std::uint16_t>(op->slot))) {
    to = *m;
  } else {
    refresh_soon();
    return false;
  }
  RedisConnection* c = conn_for(to);
  if (c == nullptr) {
    refresh_soon();
    return false;
  }
  if (op->ask.port != 0) {
    c->command({"ASKING"}, nullptr);
    op->ask = NodeAddress{};  // once: the next redirection decides again
  }
  if (!c->command(op->argv, [this, op, to](const Reply* r) { on_reply(op, to, r); })) {
    return false;
  }
  op->sent = true;
  return true;
}

void ClusterClient::on_reply(const OpPtr& op, const NodeAddress& from, const Reply* r) {
  op->sent = false;
  if (op->done) return;  // given up already (deadline), or the client closed
  if (closing_ || standalone_) {
    finish(op, r);
    return;
  }
  if (r == nullptr) {
    retry_later(op);
    return;
  }
  if (r->type != Reply::Type::Error) {
    backoff_ms_ = kMinBackoffMs;
    finish(op, r);
    return;
  }
  switch (classify_error(r->str)) {
    case ClusterError::Redirect: {
      std::optional<Redirect> to = parse_redirect(r->str);
      if (!to) {
        ++stats_.malformed;
        finish(op, nullptr);
        return;
      }
      if (++op->redirects > options_.max_redirects) {
        ++stats_.gave_up;
        finish(op, nullptr);
        return;
      }
      if (to->to.host.empty()) to->to.host = from.host;
      if (to->kind == Redirect::Kind::Ask) {
        ++stats_.asked;
        op->ask = to->to;
      } else {
        ++stats_.moved;
        const std::uint16_t index = map_.master_index(to->to);
        if (index == SlotMap::kNone) {
          ++stats_.gave_up;
          finish(op, nullptr);
          return;
        }
        map_.owner[to->slot] = index;
        refresh_soon();
      }
      if (!dispatch(op)) schedule_pump();
      return;
    }
    case ClusterError::TryLater:
      retry_later(op);
      return;
    case ClusterError::None:
    case ClusterError::Disabled:
      finish(op, r);
      return;
  }
}

void ClusterClient::retry_later(const OpPtr& op) {
  ++stats_.retries;
  refresh_soon();
  op->not_before_ms = loop_.now_ms() + backoff_ms_;
  schedule_pump();
}

void ClusterClient::finish(const OpPtr& op, const Reply* r) {
  if (op->done) return;
  op->done = true;
  Callback cb = std::move(op->cb);
  op->cb = nullptr;
  if (cb) cb(r);
}

void ClusterClient::schedule_pump() {
  if (pump_scheduled_) return;
  pump_scheduled_ = true;
  loop_.defer([this, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.lock()) return;
    pump_scheduled_ = false;
    pump();
  });
}

void ClusterClient::pump() {
  if (!ready_ || closing_) return;
  const std::int64_t now = loop_.now_ms();
  maybe_refresh(now);
  for (auto it = ops_.begin(); it != ops_.end();) {
    const OpPtr op = *it;  // a callback may add to ops_ (list: iterators stay valid)
    if (op->done) {
      it = ops_.erase(it);
      continue;
    }
    if (now >= op->deadline_ms) {
      ++stats_.gave_up;
      it = ops_.erase(it);
      finish(op, nullptr);
      continue;
    }
    if (!op->sent && now >= op->not_before_ms) dispatch(op);
    ++it;
  }
}

void ClusterClient::check(std::int64_t now_ms) {
  // Timeouts may drop connections: their commands then wait for a retry.
  std::vector<RedisConnection*> conns;
  conns.reserve(conns_.size());
  for (auto& [key, c] : conns_) conns.push_back(c.get());
  for (RedisConnection* c : conns) c->check(now_ms);
  if (ready_ && !standalone_)
    pump();
  else if (ready_) {
    // Standalone: the connection's own timeout fails commands; only the deadline is ours.
    for (auto it = ops_.begin(); it != ops_.end();) {
      const OpPtr op = *it;
      if (op->done) {
        it = ops_.erase(it);
      } else if (now_ms >= op->deadline_ms) {
        ++stats_.gave_up;
        it = ops_.erase(it);
        finish(op, nullptr);
      } else {
        ++it;
      }
    }
  }
}

void ClusterClient::maybe_refresh(std::int64_t now_ms) {
  if (!refresh_wanted_ || refresh_inflight_ || now_ms < next_refresh_ms_) return;
  // Asked of the masters in turn, then of anything else known (a replica promoted, a seed).
  std::vector<NodeAddress> order = map_.masters;
  for (const NodeAddress& a : candidates_) {
    if (std::find(order.begin(), order.end(), a) == order.end()) order.push_back(a);
  }
  if (order.empty()) return;
  const NodeAddress to = order[refresh_rr_++ % order.size()];
  RedisConnection* c = conn_for(to);
  if (c == nullptr) return;
  refresh_wanted_ = false;
  refresh_inflight_ = true;
  next_refresh_ms_ = now_ms + backoff_ms_;
  backoff_ms_ = std::min(kMaxBackoffMs, backoff_ms_ * 2);
  c->command({"CLUSTER", "SLOTS"},
             [this, to, epoch = map_epoch_](const Reply* r) { on_map(to, epoch, r); });
}

void ClusterClient::on_map(const NodeAddress& from, std::uint64_t epoch, const Reply* r) {
  refresh_inflight_ = false;
  if (closing_ || epoch != map_epoch_) return;
  std::optional<SlotMap> map;
  std::string why;
  if (r != nullptr && r->type == Reply::Type::Array) {
    map = parse_cluster_slots(*r, from, &why);
    if (!map) ++stats_.malformed;
  }
  if (!map || map->covered() == 0) {
    refresh_soon();  // another node, after the back-off
    return;
  }
  ++stats_.refreshes;
  map_ = std::move(*map);
  learn(map_);
  // Connections to nodes that serve no slot any more (a master demoted) go, when idle.
  std::vector<std::string> stale;
  for (const auto& [key, c] : conns_) {
    bool serves = false;
    for (const NodeAddress& m : map_.masters) serves = serves || m.text() == key;
    if (!serves && c->pending() == 0) stale.push_back(key);
  }
  for (const std::string& key : stale) drop_conn(key);
  schedule_pump();
}

}  // namespace gh::fleet
