#include "fleet/limits_sync.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "core/clock.h"
#include "core/hash.h"

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
  static const std::string sha = [] {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(kLimitScript.data(), kLimitScript.size(), md, &len, EVP_sha1(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out.push_back(kHex[md[i] >> 4]);
      out.push_back(kHex[md[i] & 15]);
    }
    return out;
  }();
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

void DeltaSums::add(const LimitKey& key, std::int64_t ns) {
  auto it = sums_.find(key);
  if (it == sums_.end()) {
    if (sums_.size() >= max_keys_) {
      ++dropped_;
      return;
    }
    it = sums_.emplace(key, 0).first;
  }
  // Saturating: a sum never leaves the range the script and the tables accept.
  it->second = std::clamp<std::int64_t>(it->second + std::clamp(ns, -kMaxDebtNs, kMaxDebtNs),
                                        -kMaxDebtNs, kMaxDebtNs);
}

std::int64_t DeltaSums::get(const LimitKey& key) const {
  auto it = sums_.find(key);
  return it == sums_.end() ? 0 : it->second;
}

std::vector<LimitDelta> DeltaSums::take() {
  std::vector<LimitDelta> out;
  out.reserve(sums_.size());
  for (const auto& [k, ns] : sums_) {
    if (ns != 0) out.push_back({k, ns});
  }
  sums_.clear();
  return out;
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
  for (const LimitDelta& d : drained_) sums_.add(d.key, d.ns);
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
  if (!figures.empty() && hooks_.apply) hooks_.apply(figures, false);
}

void LimitsSync::push() {
  auto batch = std::make_shared<std::vector<LimitDelta>>(sums_.take());
  round_started_us_ = core::monotonic_ns() / 1000;
  stats_.syncs.fetch_add(1, std::memory_order_relaxed);
  const std::vector<ShardGroup> groups = group_by_shard(*batch, config_.limit_shards);
  inflight_ = groups.size();
  for (const ShardGroup& g : groups) call(g, batch, false);
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
    std::vector<LimitDelta> figures;
    figures.reserve(group.entries.size());
    for (std::size_t j = 0; j < group.entries.size(); ++j) {
      const LimitKey& k = batch[group.entries[j]].key;
      figures.push_back({k, folded_debt(r->elements[j].integer * 1000, sums_.get(k))});
    }
    stats_.keys_synced.fetch_add(figures.size(), std::memory_order_relaxed);
    if (hooks_.apply) hooks_.apply(figures, true);
  }
  finish_one();
}

void LimitsSync::finish_one() {
  if (inflight_ > 0 && --inflight_ == 0) {
    stats_.last_sync_us.store(core::monotonic_ns() / 1000 - round_started_us_,
                              std::memory_order_relaxed);
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
