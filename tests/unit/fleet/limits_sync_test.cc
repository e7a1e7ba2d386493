// Shared limits, the fleet's side: the shard grouping and key names, the delta maths, and the
// sync loop against a model of the script (NOSCRIPT, what a node added since it pushed). The
// error bound of the whole scheme is measured in limits_bound_test.cc; the script itself runs on
// a real redis-server in limits_redis_test.cc.
#include "fleet/limits_sync.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "limits_model.h"

namespace gh::fleet {
namespace {

TEST(LimitsSync, RedisKeyHoldsTheShardAsAHashTag) {
  const LimitKey k{0x1, 0x2, 0x3};
  EXPECT_EQ(redis_key("gh:", 7, k),
            "gh:rl:{gs:07}:0000000000000001:00000000000000030000000000000002");
  EXPECT_EQ(redis_key("p:", 123, k).substr(0, 14), "p:rl:{gs:123}:");
}

TEST(LimitsSync, ShardIsStableInRangeAndSpread) {
  std::vector<int> counts(16, 0);
  for (std::uint64_t i = 0; i < 16'000; ++i) {
    const LimitKey k{42, i, i * 7};
    const std::uint32_t s = shard_of(k, 16);
    ASSERT_LT(s, 16u);
    EXPECT_EQ(s, shard_of(k, 16));
    ++counts[s];
  }
  for (int c : counts) {
    EXPECT_GT(c, 800);  // 1000 expected
    EXPECT_LT(c, 1200);
  }
  EXPECT_EQ(shard_of({1, 2, 3}, 1), 0u);
  EXPECT_EQ(shard_of({1, 2, 3}, 0), 0u);
}

TEST(LimitsSync, GroupByShardPutsEveryEntryOnceInItsShard) {
  std::vector<LimitDelta> batch;
  for (std::uint64_t i = 0; i < 500; ++i) batch.push_back({{i % 3, i, ~i}, 1000});
  const std::vector<ShardGroup> groups = group_by_shard(batch, 8);
  std::multiset<std::size_t> seen;
  std::uint32_t last = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    ASSERT_FALSE(groups[g].entries.empty());
    if (g > 0) {
      EXPECT_GT(groups[g].shard, last);
    }
    last = groups[g].shard;
    for (std::size_t i : groups[g].entries) {
      EXPECT_EQ(shard_of(batch[i].key, 8), groups[g].shard);
      seen.insert(i);
    }
  }
  EXPECT_EQ(seen.size(), batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(seen.count(i), 1u);
  EXPECT_TRUE(group_by_shard({}, 8).empty());
}

TEST(LimitsSync, SplitCallsBoundsEachCallAndKeepsShardAndOrder) {
  std::vector<LimitDelta> batch;
  for (std::uint64_t i = 0; i < 1000; ++i) batch.push_back({{1, i, i}, 1000});
  const std::vector<ShardGroup> groups = group_by_shard(batch, 2);
  const std::vector<ShardGroup> calls = split_calls(groups, 100);
  std::vector<std::size_t> joined;  // the calls' entries in order: the groups' entries in order
  for (const ShardGroup& c : calls) {
    ASSERT_FALSE(c.entries.empty());
    EXPECT_LE(c.entries.size(), 100u);
    for (std::size_t i : c.entries) {
      EXPECT_EQ(shard_of(batch[i].key, 2), c.shard);
      joined.push_back(i);
    }
  }
  std::vector<std::size_t> expected;
  for (const ShardGroup& g : groups)
    expected.insert(expected.end(), g.entries.begin(), g.entries.end());
  EXPECT_EQ(joined, expected);
  EXPECT_GE(calls.size(), 10u);
  // Small groups pass as they are; 0 is taken as 1.
  EXPECT_EQ(split_calls(groups, 1000).size(), groups.size());
  EXPECT_EQ(split_calls({ShardGroup{3, {7, 8}}}, 0).size(), 2u);
  EXPECT_TRUE(split_calls({}, 10).empty());
}

// A round of 2,000 keys goes out a few calls at a time (Redis answers a pipeline only once it
// has run all of it): never more than kKeysInFlight keys unanswered, each call at most
// kKeysPerCall keys, and every key synced once by the end of the round.
TEST(LimitsSync, ALargeRoundGoesOutAFewCallsAtATime) {
  test::ScriptModel redis;
  policy::ClusterConfig cc;
  cc.limit_shards = 4;
  std::vector<LimitDelta> local;
  for (std::uint64_t i = 0; i < 2000; ++i) local.push_back({{9, i, i}, 1'000'000});
  std::map<std::uint64_t, int> applied;
  LimitsSync::Hooks hooks;
  hooks.drain = [&](std::vector<LimitDelta>& out) {
    out.insert(out.end(), local.begin(), local.end());
    local.clear();
  };
  hooks.apply = [&](const std::vector<LimitDelta>& f, Fold) {
    for (const LimitDelta& d : f) ++applied[d.key.lo];
  };
  struct Out {
    std::vector<std::string> argv;
    LimitsSync::Callback cb;
  };
  std::vector<Out> out;  // sent, not answered
  std::size_t calls = 0, most_in_flight = 0;
  auto keys_of = [](const std::vector<std::string>& argv) { return std::stoul(argv[2]); };
  LimitsSync sync(
      cc, hooks,
      [&](const std::string&, const std::vector<std::string>& argv, LimitsSync::Callback cb) {
        if (argv[1].find("ZADD") != std::string::npos) {  // the heartbeat, answered at once
          Reply r = redis.run(argv, 0);
          cb(&r);
          return true;
        }
        ++calls;
        EXPECT_LE(keys_of(argv), kKeysPerCall);
        out.push_back({argv, std::move(cb)});
        std::size_t keys = 0;
        for (const Out& o : out) keys += keys_of(o.argv);
        most_in_flight = std::max(most_in_flight, keys);
        return true;
      });
  sync.tick(0, true);
  ASSERT_FALSE(out.empty());
  EXPECT_LT(out.size(), 4u);  // not every call at once
  // Answered one at a time, oldest first, as Redis would: each answer lets more go out.
  for (int guard = 0; guard < 1000 && !out.empty(); ++guard) {
    Out o = std::move(out.front());
    out.erase(out.begin());
    Reply r = redis.run(o.argv, 0);
    o.cb(&r);
  }
  EXPECT_TRUE(out.empty());
  EXPECT_LE(most_in_flight, kKeysInFlight);
  EXPECT_GE(calls, 2000 / kKeysPerCall);
  EXPECT_EQ(sync.stats().keys_synced.load(), 2000u);
  EXPECT_EQ(sync.stats().calls_failed.load(), 0u);
  EXPECT_EQ(sync.stats().syncs.load(), 1u);
  ASSERT_EQ(applied.size(), 2000u);
  for (const auto& [key, n] : applied) EXPECT_EQ(n, 1) << key;
  // The round is over: the next one starts at the next interval.
  local.push_back({{9, 1, 1}, 1'000'000});
  sync.tick(cc.sync_interval, true);
  EXPECT_EQ(sync.stats().syncs.load(), 2u);
}

// Redis gone in the middle of a large round: every call not yet sent fails at once, counted,
// and the round ends (the next one can start).
TEST(LimitsSync, ALargeRoundEndsWhenRedisGoesMidway) {
  test::ScriptModel redis;
  policy::ClusterConfig cc;
  cc.limit_shards = 4;
  std::vector<LimitDelta> local;
  for (std::uint64_t i = 0; i < 2000; ++i) local.push_back({{9, i, i}, 1'000'000});
  LimitsSync::Hooks hooks;
  hooks.drain = [&](std::vector<LimitDelta>& out) {
    out.insert(out.end(), local.begin(), local.end());
    local.clear();
  };
  bool up = true;
  std::vector<LimitsSync::Callback> out;
  std::size_t calls = 0;
  LimitsSync sync(
      cc, hooks,
      [&](const std::string&, const std::vector<std::string>& argv, LimitsSync::Callback cb) {
        if (!up) return false;
        if (argv[1].find("ZADD") != std::string::npos) {
          Reply r = redis.run(argv, 0);
          cb(&r);
          return true;
        }
        ++calls;
        out.push_back(std::move(cb));
        return true;
      });
  sync.tick(0, true);
  ASSERT_FALSE(out.empty());
  const std::size_t first = out.size();
  up = false;  // the connection drops: what was sent fails
  for (auto& cb : out) cb(nullptr);
  out.clear();
  EXPECT_EQ(calls, first);  // nothing more went out
  // Every call of the round failed: those sent through their callbacks, the rest at send.
  std::vector<LimitDelta> batch;
  for (std::uint64_t i = 0; i < 2000; ++i) batch.push_back({{9, i, i}, 1'000'000});
  const std::size_t round = split_calls(group_by_shard(batch, 4), kKeysPerCall).size();
  EXPECT_GT(round, first);
  EXPECT_EQ(sync.stats().calls_failed.load(), round);
  EXPECT_EQ(sync.stats().keys_synced.load(), 0u);
  // The round is over: with Redis back, the next interval starts a new one.
  up = true;
  local.push_back({{9, 1, 1}, 1'000'000});
  sync.tick(cc.sync_interval, true);
  EXPECT_EQ(sync.stats().syncs.load(), 2u);
}

TEST(LimitsSync, DeltaSumsAddPerKeyAndCapTheKeys) {
  DeltaSums sums(2);
  sums.add({1, 1, 1}, 100);
  sums.add({1, 1, 1}, 50);
  sums.add({1, 2, 1}, 30);
  sums.add({1, 2, 1}, -30);  // a refund cancels a charge: nothing to push
  sums.add({1, 3, 1}, 7);    // a third key: beyond the cap
  EXPECT_EQ(sums.get({1, 1, 1}), 150);
  EXPECT_EQ(sums.get({1, 3, 1}), 0);
  EXPECT_EQ(sums.dropped(), 1u);
  std::vector<LimitDelta> out = sums.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, (LimitKey{1, 1, 1}));
  EXPECT_EQ(out[0].ns, 150);
  EXPECT_EQ(sums.size(), 0u);
  sums.add({1, 3, 1}, std::int64_t{1} << 62);  // saturates
  sums.add({1, 3, 1}, std::int64_t{1} << 62);
  EXPECT_EQ(sums.get({1, 3, 1}), std::int64_t{1} << 61);
}

TEST(LimitsSync, FoldedDebtAndLocalShare) {
  EXPECT_EQ(folded_debt(5'000, 2'000), 7'000);
  EXPECT_EQ(folded_debt(1'000, -3'000), 0);  // refunds since the push never make it negative
  EXPECT_EQ(local_share_extra(1'000, 1), 0);
  EXPECT_EQ(local_share_extra(1'000, 3), 2'000);  // each request costs 3: rate / 3
  EXPECT_EQ(local_share_extra(-1'000, 3), 0);     // refunds are not multiplied
  EXPECT_EQ(local_share_extra(std::int64_t{1} << 60, 9), std::int64_t{1} << 61);
}

TEST(LimitsSync, PushesPerShardFoldsGlobalPlusSinceAndReloadsAForgottenScript) {
  test::ScriptModel redis;
  redis.forget_script = true;
  policy::ClusterConfig cc;
  cc.limit_shards = 4;
  cc.sync_interval = 100;
  std::vector<LimitDelta> local;  // what the "stages" reported
  std::vector<LimitDelta> applied;
  Fold applied_how = Fold::Add;
  LimitsSync::Hooks hooks;
  hooks.drain = [&](std::vector<LimitDelta>& out) {
    out.insert(out.end(), local.begin(), local.end());
    local.clear();
  };
  hooks.apply = [&](const std::vector<LimitDelta>& f, Fold how) {
    applied.insert(applied.end(), f.begin(), f.end());
    applied_how = how;
  };
  std::vector<std::vector<std::string>> calls;
  LimitsSync sync(
      cc, hooks,
      [&](const std::string& key, const std::vector<std::string>& argv, LimitsSync::Callback cb) {
        if (argv[1].find("ZADD") != std::string::npos) {  // the heartbeat
          Reply r = redis.run(argv, 0);
          cb(&r);
          return true;
        }
        calls.push_back(argv);
        EXPECT_EQ(key, argv[3]);
        // Another node's request arrives while ours is on the wire; then ours is answered.
        local.push_back({{9, 1, 1}, 3'000'000});
        Reply r = redis.run(argv, 0);
        cb(&r);
        return true;
      });
  // Another node's debt on key 1: 10 ms.
  redis.tat_us[redis_key("gh:", shard_of({9, 1, 1}, 4), {9, 1, 1})] = redis.now_us + 10'000;
  local.push_back({{9, 1, 1}, 2'000'000});
  local.push_back({{9, 1, 1}, 2'000'000});
  local.push_back({{9, 2, 2}, 1'000'000});
  sync.tick(0, true);
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[0][0], "EVALSHA");
  EXPECT_EQ(calls[0][1], limit_script_sha());
  EXPECT_EQ(sync.stats().noscript.load(), 1u);
  bool eval_seen = false;
  for (const auto& c : calls) eval_seen = eval_seen || c[0] == "EVAL";
  EXPECT_TRUE(eval_seen);
  ASSERT_EQ(applied_how, Fold::Set);
  std::map<std::uint64_t, std::int64_t> by_key;
  for (const LimitDelta& d : applied) by_key[d.key.lo] = d.ns;
  // Key 1: 10 ms elsewhere + our 4 ms in Redis, plus 3 ms per call made since (not yet pushed).
  EXPECT_GE(by_key[1], 14'000'000 + 3'000'000);
  // Key 2: exactly what we pushed, nothing since. Key 1: 10 ms elsewhere + our 4 ms, plus the
  // 3 ms of each call made before its answer (drained then, pushed with the next round).
  EXPECT_EQ(by_key[2], 1'000'000);
  EXPECT_GE(by_key[1], 14'000'000 + 3'000'000);
  EXPECT_LE(by_key[1], 14'000'000 + 3'000'000 * static_cast<std::int64_t>(calls.size()));
  EXPECT_EQ(sync.stats().keys_synced.load(), 2u);
  EXPECT_EQ(sync.stats().syncs.load(), 1u);

  // Not before the interval; the pending delta goes with the next round.
  const std::size_t before = calls.size();
  sync.tick(50, true);
  EXPECT_EQ(calls.size(), before);
  sync.tick(100, true);
  EXPECT_GT(calls.size(), before);
  EXPECT_EQ(calls.back()[0], "EVALSHA");  // loaded now
}

TEST(LimitsSync, RedisAwayChargesTheLocalShare) {
  policy::ClusterConfig cc;
  std::vector<LimitDelta> local{{{1, 1, 1}, 1'000}, {{1, 2, 2}, -500}};
  std::vector<LimitDelta> applied;
  Fold how = Fold::Set;
  LimitsSync::Hooks hooks;
  hooks.drain = [&](std::vector<LimitDelta>& out) {
    out.insert(out.end(), local.begin(), local.end());
    local.clear();
  };
  hooks.apply = [&](const std::vector<LimitDelta>& f, Fold h) {
    applied = f;
    how = h;
  };
  int sends = 0;
  LimitsSync sync(cc, hooks,
                  [&](const std::string&, const std::vector<std::string>&, LimitsSync::Callback) {
                    ++sends;
                    return false;
                  });
  sync.tick(0, false);
  EXPECT_EQ(sends, 0);
  // Live nodes as last seen: 1 (never heard of another): nothing more to charge.
  EXPECT_TRUE(applied.empty());
  EXPECT_TRUE(sync.stats().local_share.load());
  EXPECT_EQ(sync.stats().local_rounds.load(), 1u);
  EXPECT_EQ(how, Fold::Set);  // not called
}

TEST(LimitsSync, PublishedFiguresRoundTripAndRefuseMalformed) {
  const std::vector<LimitDelta> figs{{{0xabc, 1, 2}, 5'000'000, true},
                                     {{~0ull, ~0ull, 0}, 0, true}};
  const std::string msg = encode_published("edge-1", figs);
  auto p = decode_published(msg);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->node, "edge-1");
  ASSERT_EQ(p->figures.size(), 2u);
  EXPECT_EQ(p->figures[0].key, figs[0].key);
  EXPECT_EQ(p->figures[0].ns, 5'000'000);
  EXPECT_EQ(p->figures[1].key, figs[1].key);
  EXPECT_FALSE(decode_published(""));
  EXPECT_FALSE(decode_published("gl1 \n"));                       // no node
  EXPECT_FALSE(decode_published(msg.substr(0, msg.size() - 1)));  // a line without its end
  std::string bad = msg;
  bad[msg.find('\n') + 3] = 'G';  // not hex
  EXPECT_FALSE(decode_published(bad));
  bad = msg;
  bad[6] = ' ';  // not a node name
  EXPECT_FALSE(decode_published(bad));
  EXPECT_FALSE(
      decode_published("gl1 a\n0000000000000001 0000000000000000000000000000000"
                       "1 99999999999999999\n"));  // 17 digits
  std::string many = "gl1 a\n";
  for (std::size_t i = 0; i <= kMaxPublished; ++i) {
    many += "0000000000000001 00000000000000000000000000000001 1\n";
  }
  EXPECT_FALSE(decode_published(many));
}

TEST(LimitsSync, ExactKeysArePublishedAndOthersRaiseTheirView) {
  test::ScriptModel redis;
  policy::ClusterConfig cc;
  cc.node = "a";
  std::vector<LimitDelta> local{{{1, 1, 1}, 2'000, true}, {{1, 2, 2}, 3'000, false}};
  std::vector<std::vector<std::string>> published;
  LimitsSync::Hooks hooks;
  hooks.drain = [&](std::vector<LimitDelta>& out) {
    out.insert(out.end(), local.begin(), local.end());
    local.clear();
  };
  hooks.apply = [](const std::vector<LimitDelta>&, Fold) {};
  LimitsSync a(
      cc, hooks,
      [&](const std::string&, const std::vector<std::string>& argv, LimitsSync::Callback cb) {
        if (argv[0] == "PUBLISH") {
          published.push_back(argv);
        } else {
          Reply r = redis.run(argv, 0);
          cb(&r);
        }
        return true;
      });
  a.urgent();
  a.tick(0, true);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0][1], "gh:limits");
  auto p = decode_published(published[0][2]);
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->figures.size(), 1u);  // only the exact key
  EXPECT_EQ(p->figures[0].key, (LimitKey{1, 1, 1}));
  EXPECT_EQ(a.stats().published.load(), 1u);

  // Node b takes it, with what it has added and not pushed on top; its own message it skips.
  policy::ClusterConfig cb_cfg;
  cb_cfg.node = "b";
  std::vector<LimitDelta> b_local{{{1, 1, 1}, 1'000'000, true}};
  std::vector<LimitDelta> b_applied;
  Fold b_how = Fold::Set;
  LimitsSync::Hooks bh;
  bh.drain = [&](std::vector<LimitDelta>& out) {
    out.insert(out.end(), b_local.begin(), b_local.end());
    b_local.clear();
  };
  bh.apply = [&](const std::vector<LimitDelta>& f, Fold h) {
    b_applied = f;
    b_how = h;
  };
  LimitsSync b(cb_cfg, bh,
               [](const std::string&, const std::vector<std::string>&, LimitsSync::Callback) {
                 return false;
               });
  b.on_published(published[0][2]);
  ASSERT_EQ(b_applied.size(), 1u);
  EXPECT_EQ(b_how, Fold::AtLeast);
  EXPECT_EQ(b_applied[0].ns, 2'000 / 1000 * 1000 + 1'000'000);
  EXPECT_EQ(b.stats().received.load(), 1u);
  b_applied.clear();
  b.on_published(encode_published("b", {{{1, 1, 1}, 5'000, true}}));
  EXPECT_TRUE(b_applied.empty());
  b.on_published("junk");
  EXPECT_EQ(b.stats().malformed.load(), 1u);
}

}  // namespace
}  // namespace gh::fleet
