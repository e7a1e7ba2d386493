#include "fleet/limits_sync.h"

#include <algorithm>
#include <memory>

#include "core/clock.h"
#include "core/hash.h"
#include "fleet/redis.h"

namespace gh::fleet {
namespace {

constexpr std::int64_t kMaxDebtNs = std::int64_t{1} << 61;  // ratelimit::kMaxDebt
constexpr std::int64_t kBeatEveryMs = 500;
constexpr std::int64_t kNodeGoneMs = 3000;  // a node not heard of for this long is not live

void hex64(std::string& out, std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(v >> shift) & 15]);
}

std::int64_t round_us(std::int64_t ns) {
  return ns >= 0 ? (ns + 500) / 1000 : -((-ns + 500) / 1000);
}

// Minimal on purpose: the fleet view (heartbeats of its own) replaces it when merged.
constexpr std::string_view kBeatScript =
    "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3])) "
    "redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3])) "
    "return redis.call('ZCARD', KEYS[1])";

}  // namespace

// TIME is allowed before writes: Redis 7 replicates a script's effects, not the script.
const std::string_view kLimitScript =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local cap = tonumber(ARGV[1]) "
    "local out = {} "
    "for i, k in ipairs(KEYS) do "
    "  local tat = tonumber(redis.call('GET', k)) or 0 "
    "  if tat < now then tat = now end "
    "  tat = tat + (tonumber(ARGV[i + 1]) or 0) "
    "  if tat < now then tat = now end "
    "  if tat - now > cap then tat = now + cap end "
    "  local debt = tat - now "
    "  if debt > 0 then "
    "    redis.call('SET', k, string.format('%d', tat), 'PX', math.floor(debt / 1000) + 1000) "
    "  else "
    "    redis.call('DEL', k) "
    "  end "
    "  out[i] = debt "
    "end "
    "return out";

const std::string& limit_script_sha() {
  static const std::string sha = script_sha(kLimitScript);
  return sha;
}

std::size_t LimitKeyHash::operator()(const LimitKey& k) const {
  return core::mix64(k.limit ^ core::mix64(k.lo ^ core::mix64(k.hi)));
}

std::uint32_t shard_of(const LimitKey& key, std::uint32_t shards) {
  if (shards <= 1) return 0;
  // A fixed mix: every node must put a key in the same shard.
  return static_cast<std::uint32_t>(LimitKeyHash{}(key) % shards);
}

std::string redis_key(std::string_view prefix, std::uint32_t shard, const LimitKey& key) {
  std::string out(prefix);
  out += "rl:{gs:";
  if (shard < 10) out.push_back('0');
  out += std::to_string(shard);
  out += "}:";
  hex64(out, key.limit);
  out.push_back(':');
  hex64(out, key.hi);
  hex64(out, key.lo);
  return out;
}

std::vector<ShardGroup> group_by_shard(const std::vector<LimitDelta>& batch, std::uint32_t shards) {
  std::vector<ShardGroup> groups(std::max<std::uint32_t>(1, shards));
  for (std::uint32_t s = 0; s < groups.size(); ++s) groups[s].shard = s;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    groups[shard_of(batch[i].key, shards)].entries.push_back(i);
  }
  std::erase_if(groups, [](const ShardGroup& g) { return g.entries.empty(); });
  return groups;
}

std::vector<ShardGroup> split_calls(std::vector<ShardGroup> groups, std::size_t max_keys) {
  max_keys = std::max<std::size_t>(1, max_keys);
  std::vector<ShardGroup> out;
  out.reserve(groups.size());
  for (ShardGroup& g : groups) {
    if (g.entries.size() <= max_keys) {
      out.push_back(std::move(g));
      continue;
    }
    for (std::size_t at = 0; at < g.entries.size(); at += max_keys) {
      ShardGroup part;
      part.shard = g.shard;
      const std::size_t end = std::min(g.entries.size(), at + max_keys);
      part.entries.assign(g.entries.begin() + static_cast<std::ptrdiff_t>(at),
                          g.entries.begin() + static_cast<std::ptrdiff_t>(end));
      out.push_back(std::move(part));
    }
  }
  return out;
}

void DeltaSums::add(const LimitKey& key, std::int64_t ns, bool exact) {
  auto it = sums_.find(key);
  if (it == sums_.end()) {
    if (sums_.size() >= max_keys_) {
      ++dropped_;
      return;
    }
    it = sums_.emplace(key, Sum{}).first;
  }
  // Saturating: a sum never leaves the range the script and the tables accept.
  it->second.ns = std::clamp<std::int64_t>(it->second.ns + std::clamp(ns, -kMaxDebtNs, kMaxDebtNs),
                                           -kMaxDebtNs, kMaxDebtNs);
  it->second.exact = it->second.exact || exact;
}

std::int64_t DeltaSums::get(const LimitKey& key) const {
  auto it = sums_.find(key);
  return it == sums_.end() ? 0 : it->second.ns;
}

std::vector<LimitDelta> DeltaSums::take() {
  std::vector<LimitDelta> out;
  out.reserve(sums_.size());
  for (const auto& [k, sum] : sums_) {
    if (sum.ns != 0) out.push_back({k, sum.ns, sum.exact});
  }
  sums_.clear();
  return out;
}

std::string encode_published(const std::string& node, const std::vector<LimitDelta>& figures) {
  std::string out = "gl1 " + node + "\n";
  for (const LimitDelta& f : figures) {
    hex64(out, f.key.limit);
    out.push_back(' ');
    hex64(out, f.key.hi);
    hex64(out, f.key.lo);
    out.push_back(' ');
    out += std::to_string(std::max<std::int64_t>(0, f.ns) / 1000);
    out.push_back('\n');
  }
  return out;
}

namespace {

bool parse_hex64(std::string_view s, std::uint64_t& out) {
  if (s.size() != 16) return false;
  out = 0;
  for (char c : s) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    out = out << 4 | static_cast<std::uint64_t>(v);
  }
  return true;
}

}  // namespace

std::optional<Published> decode_published(std::string_view payload) {
  if (!payload.starts_with("gl1 ")) return std::nullopt;
  std::size_t nl = payload.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  Published p;
  p.node = std::string(payload.substr(4, nl - 4));
  if (p.node.empty() || p.node.size() > 64) return std::nullopt;
  for (char c : p.node) {
    const bool name = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.';
    if (!name) return std::nullopt;  // config's node names
  }
  payload.remove_prefix(nl + 1);
  while (!payload.empty()) {
    nl = payload.find('\n');
    if (nl == std::string_view::npos || p.figures.size() >= kMaxPublished) return std::nullopt;
    const std::string_view line = payload.substr(0, nl);
    payload.remove_prefix(nl + 1);
    // 16 hex, space, 32 hex, space, 1..16 digits
    if (line.size() < 16 + 1 + 32 + 2 || line.size() > 16 + 1 + 32 + 1 + 16 || line[16] != ' ' ||
        line[49] != ' ') {
      return std::nullopt;
    }
    LimitDelta f;
    if (!parse_hex64(line.substr(0, 16), f.key.limit) ||
        !parse_hex64(line.substr(17, 16), f.key.hi) ||
        !parse_hex64(line.substr(33, 16), f.key.lo)) {
      return std::nullopt;
    }
    std::int64_t us = 0;
    for (char c : line.substr(50)) {
      if (c < '0' || c > '9') return std::nullopt;
      us = us * 10 + (c - '0');  // at most 16 digits: no overflow
    }
    if (us > kMaxDebtNs / 1000) return std::nullopt;
    f.ns = us * 1000;
    f.exact = true;
    p.figures.push_back(f);
  }
  return p;
}

std::int64_t folded_debt(std::int64_t global_ns, std::int64_t since_push_ns) {
  return std::clamp<std::int64_t>(global_ns + since_push_ns, 0, kMaxDebtNs);
}

std::int64_t local_share_extra(std::int64_t delta_ns, std::uint32_t live_nodes) {
  if (delta_ns <= 0 || live_nodes <= 1) return 0;
  const std::int64_t n = live_nodes - 1;
  return delta_ns > kMaxDebtNs / n ? kMaxDebtNs : delta_ns * n;
}

LimitsSync::LimitsSync(const policy::ClusterConfig& config, Hooks hooks, Send send)
    : config_(config),
      hooks_(std::move(hooks)),
      send_(std::move(send)),
      sums_(config.max_sync_keys) {}

void LimitsSync::collect() {
  drained_.clear();
  if (hooks_.drain) hooks_.drain(drained_);
  for (const LimitDelta& d : drained_) sums_.add(d.key, d.ns, d.exact);
  stats_.keys_dropped.store(sums_.dropped(), std::memory_order_relaxed);
}

void LimitsSync::tick(std::int64_t now_ms, bool up) {
  if (up && !beat_inflight_ && now_ms >= next_beat_ms_) heartbeat(now_ms);
  if (inflight_ > 0) return;  // one round at a time: the next starts when this one is answered
  const bool urgent = urgent_.exchange(false, std::memory_order_acq_rel);
  if (!urgent && now_ms < next_sync_ms_) return;
  next_sync_ms_ = now_ms + config_.sync_interval;
  collect();
  if (sums_.size() == 0) return;
  if (up) {
    push();
  } else {
    local_share();
  }
}

void LimitsSync::local_share() {
  stats_.local_share.store(true, std::memory_order_relaxed);
  stats_.local_rounds.fetch_add(1, std::memory_order_relaxed);
  const std::uint32_t live = live_nodes();
  std::vector<LimitDelta> figures = sums_.take();
  for (LimitDelta& f : figures) f.ns = local_share_extra(f.ns, live);
  std::erase_if(figures, [](const LimitDelta& f) { return f.ns <= 0; });
  if (!figures.empty() && hooks_.apply) hooks_.apply(figures, Fold::Add);
}

void LimitsSync::push() {
  round_batch_ = std::make_shared<std::vector<LimitDelta>>(sums_.take());
  round_started_us_ = core::monotonic_ns() / 1000;
  stats_.syncs.fetch_add(1, std::memory_order_relaxed);
  round_ = split_calls(group_by_shard(*round_batch_, config_.limit_shards), kKeysPerCall);
  inflight_ = round_.size();
  next_call_ = 0;
  keys_out_ = 0;
  send_more();
}

void LimitsSync::send_more() {
  if (sending_) return;  // an answer given at once: the loop below goes on
  sending_ = true;
  while (next_call_ < round_.size() &&
         (keys_out_ == 0 || keys_out_ + round_[next_call_].entries.size() <= kKeysInFlight)) {
    // A copy: an answer given at once may end the round and start the next (round_ replaced).
    const ShardGroup g = round_[next_call_++];
    keys_out_ += g.entries.size();
    call(g, round_batch_, false);
  }
  sending_ = false;
}

void LimitsSync::call(const ShardGroup& group, std::shared_ptr<std::vector<LimitDelta>> batch,
                      bool eval) {
  std::vector<std::string> argv;
  argv.reserve(4 + 2 * group.entries.size());
  argv.push_back(eval ? "EVAL" : "EVALSHA");
  argv.push_back(eval ? std::string(kLimitScript) : limit_script_sha());
  argv.push_back(std::to_string(group.entries.size()));
  for (std::size_t i : group.entries) {
    argv.push_back(redis_key(config_.prefix, group.shard, (*batch)[i].key));
  }
  argv.push_back(std::to_string(kMaxDebtNs / 1000));
  for (std::size_t i : group.entries) argv.push_back(std::to_string(round_us((*batch)[i].ns)));
  const std::string first = argv[3];
  const bool sent = send_(first, argv, [this, group, batch, eval](const Reply* r) {
    if (r != nullptr && !eval && r->type == Reply::Type::Error && r->str.starts_with("NOSCRIPT")) {
      // A restarted or failed-over Redis forgot the script: EVAL loads it again.
      stats_.noscript.fetch_add(1, std::memory_order_relaxed);
      call(group, batch, true);
      return;
    }
    answered(group, *batch, r);
  });
  if (!sent) answered(group, *batch, nullptr);
}

void LimitsSync::answered(const ShardGroup& group, const std::vector<LimitDelta>& batch,
                          const Reply* r) {
  keys_out_ -= std::min(keys_out_, group.entries.size());
  const bool ok =
      r != nullptr && r->type == Reply::Type::Array && r->elements.size() == group.entries.size() &&
      std::all_of(r->elements.begin(), r->elements.end(), [](const Reply& e) {
        return e.type == Reply::Type::Integer && e.integer >= 0 && e.integer <= kMaxDebtNs / 1000;
      });
  if (!ok) {
    // The deltas may or may not have been added in Redis: not sent again (that could count them
    // twice); the local tables keep them, and the next sync of these keys repairs the view.
    stats_.calls_failed.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_.local_share.store(false, std::memory_order_relaxed);
    // What this node added since the push is not in the answer: drained now, added on top, and
    // pushed with the next round.
    collect();
    std::vector<LimitDelta> figures, exact;
    figures.reserve(group.entries.size());
    for (std::size_t j = 0; j < group.entries.size(); ++j) {
      const LimitDelta& pushed = batch[group.entries[j]];
      const std::int64_t global = r->elements[j].integer * 1000;
      figures.push_back({pushed.key, folded_debt(global, sums_.get(pushed.key))});
      if (pushed.exact && exact.size() < kMaxPublished) exact.push_back({pushed.key, global, true});
    }
    stats_.keys_synced.fetch_add(figures.size(), std::memory_order_relaxed);
    if (hooks_.apply) hooks_.apply(figures, Fold::Set);
    // The others learn an exact key's figure now, before they next push it themselves.
    if (!exact.empty()) {
      const std::string ch = channel();
      if (send_(ch, {"PUBLISH", ch, encode_published(config_.node, exact)}, [](const Reply*) {})) {
        stats_.published.fetch_add(exact.size(), std::memory_order_relaxed);
      }
    }
  }
  finish_one();
}

void LimitsSync::on_published(std::string_view payload) {
  std::optional<Published> p = decode_published(payload);
  if (!p) {
    stats_.malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (p->node == config_.node || p->figures.empty()) return;  // ours: applied when answered
  collect();  // what this node added and has not pushed goes on top
  for (LimitDelta& f : p->figures) f.ns = folded_debt(f.ns, sums_.get(f.key));
  stats_.received.fetch_add(p->figures.size(), std::memory_order_relaxed);
  if (hooks_.apply) hooks_.apply(p->figures, Fold::AtLeast);
}

void LimitsSync::finish_one() {
  if (inflight_ > 0 && --inflight_ == 0) {
    stats_.last_sync_us.store(core::monotonic_ns() / 1000 - round_started_us_,
                              std::memory_order_relaxed);
    // An exact key changed while this round was out: its round starts now, not at the next tick.
    if (is_urgent()) tick(core::monotonic_ms(), true);
  } else if (inflight_ > 0) {
    send_more();
  }
}

void LimitsSync::heartbeat(std::int64_t now_ms) {
  next_beat_ms_ = now_ms + kBeatEveryMs;
  const std::string key = config_.prefix + "limit-nodes";
  const std::vector<std::string> argv = {
      "EVAL",       std::string(kBeatScript),   "1", key, std::to_string(core::wall_ms()),
      config_.node, std::to_string(kNodeGoneMs)};
  beat_inflight_ = send_(key, argv, [this](const Reply* r) {
    beat_inflight_ = false;
    if (r != nullptr && r->type == Reply::Type::Integer && r->integer >= 1 &&
        r->integer <= 100'000) {
      stats_.live_nodes.store(static_cast<std::uint32_t>(r->integer), std::memory_order_relaxed);
    }
  });
}

}  // namespace gh::fleet
