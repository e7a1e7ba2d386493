// Node heartbeats: they read back as written, anything malformed or beyond the bounds is
// refused, nodes age into "gone", and the live ones sum (rates add, signals weigh by traffic,
// the heads of the waiting lines merge oldest first).
#include "fleet/nodes.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleet/heartbeat.h"

namespace gh::fleet {
namespace {

using json = nlohmann::json;

NodeFigures sample(const std::string& name, std::int64_t at_ms) {
  NodeFigures n;
  n.node = name;
  n.version = "0.1.0";
  n.started_ms = 1'700'000'000'000;
  n.at_ms = at_ms;
  n.requests_per_s = 120.5;
  n.refusals_per_s = 20;
  n.requests_total = 5000;
  n.refusals_total = 700;
  n.signups_total = 40;
  n.in_flight = 3;
  n.queued = 2;
  n.admitted_total = 9;
  RouteFigures r;
  r.route = "signup";
  r.mode = "queue";
  r.request_rate = 100;
  r.error_rate_pct = 2;
  r.shed_rate_pct = 10;
  r.upstream_latency_ms = 80;
  r.room = true;
  r.queued = 2;
  r.active = 4;
  r.admitted_total = 9;
  r.heads = {1'700'000'001'000, 1'700'000'002'000};
  r.ids = {"00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"};
  r.subs = {0, 999};
  n.routes.push_back(r);
  return n;
}

TEST(Nodes, RoundTrip) {
  const NodeFigures n = sample("edge-1", 1'700'000'100'000);
  EXPECT_EQ(decode_node(encode_node(n)), n);
  NodeFigures bare;
  bare.node = "b";
  EXPECT_EQ(decode_node(encode_node(bare)), bare);
}

TEST(Nodes, RefusesMalformed) {
  const json good = json::parse(encode_node(sample("edge-1", 1'700'000'100'000)));
  auto with = [&](auto edit) {
    json j = good;
    edit(j);
    return decode_node(j.dump());
  };
  ASSERT_TRUE(with([](json&) {}));
  EXPECT_FALSE(decode_node("not json"));
  EXPECT_FALSE(decode_node("[]"));
  EXPECT_FALSE(with([](json& j) { j["node"] = "bad name"; }));
  EXPECT_FALSE(with([](json& j) { j.erase("at_ms"); }));
  EXPECT_FALSE(with([](json& j) { j["at_ms"] = -1; }));
  EXPECT_FALSE(with([](json& j) { j["requests_per_s"] = -3.0; }));
  EXPECT_FALSE(with([](json& j) { j["requests_per_s"] = 1e300; }));
  EXPECT_FALSE(with([](json& j) { j["queued"] = "2"; }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["mode"] = "wide-open"; }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["manual"] = 1; }));
  EXPECT_FALSE(with([](json& j) { j["routes"].push_back(j["routes"][0]); }));  // a route twice
  // Heads must be ascending, at most kMaxHeads, no more than the line holds.
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["room"]["heads"] = {5, 4}; }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["room"]["heads"] = {1, 2, 3}; }));
  // Ids, when sent (older nodes send none), one per head, each 32 lowercase hex digits.
  EXPECT_TRUE(with([](json& j) {
    j["routes"][0]["room"].erase("ids");
    j["routes"][0]["room"].erase("subs");
  }));
  EXPECT_FALSE(
      with([](json& j) { j["routes"][0]["room"]["ids"] = {"00112233445566778899aabbccddeeff"}; }));
  EXPECT_FALSE(
      with([](json& j) { j["routes"][0]["room"]["ids"][1] = "FFEEDDCCBBAA99887766554433221100"; }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["room"]["ids"][1] = 7; }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["room"]["ids"] = "x"; }));
  // Microseconds, when sent, one per id, each 0-999.
  EXPECT_TRUE(with([](json& j) { j["routes"][0]["room"].erase("subs"); }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["room"]["subs"] = {5}; }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["room"]["subs"][1] = 1000; }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["room"]["subs"][1] = -1; }));
  EXPECT_FALSE(with([](json& j) { j["routes"][0]["room"]["subs"][1] = "9"; }));
  EXPECT_FALSE(with([](json& j) {
    j["routes"][0]["room"].erase("ids");  // microseconds without ids
  }));
  EXPECT_FALSE(with([](json& j) {
    j["routes"][0]["room"]["queued"] = 100;
    j["routes"][0]["room"]["heads"] = std::vector<int>(kMaxHeads + 1, 7);
  }));
  EXPECT_FALSE(with([](json& j) {
    for (std::size_t i = 0; i <= kMaxNodeRoutes; ++i) {
      json r = j["routes"][0];
      r["route"] = "r" + std::to_string(i);
      j["routes"].push_back(r);
    }
  }));
  EXPECT_FALSE(decode_node(std::string(kMaxHeartbeat + 1, ' ')));
}

TEST(Nodes, AgeMarksGoneAndKeepsSelf) {
  const std::int64_t now = 1'700'000'100'000;
  NodeFigures self = sample("b-self", 0);  // never written yet: still this node, live
  std::vector<NodeFigures> read = {sample("a", now - 1'000), sample("c", now - 6'000),
                                   sample("b-self", now - 60'000), sample("a", now - 9'000)};
  const auto nodes = age_nodes(read, self, now);
  ASSERT_EQ(nodes.size(), 3u);  // the duplicate "a" and the stale copy of self dropped
  EXPECT_EQ(nodes[0].figures.node, "a");
  EXPECT_TRUE(nodes[0].live);
  EXPECT_EQ(nodes[0].age_ms, 1'000);
  EXPECT_EQ(nodes[1].figures.node, "b-self");
  EXPECT_TRUE(nodes[1].self);
  EXPECT_TRUE(nodes[1].live);
  EXPECT_EQ(nodes[2].figures.node, "c");
  EXPECT_FALSE(nodes[2].live);  // 6 s > kGoneAfterMs
}

TEST(Nodes, AgeIsBounded) {
  std::vector<NodeFigures> read;
  for (std::size_t i = 0; i < 3 * kMaxNodes; ++i)
    read.push_back(sample("n" + std::to_string(i), 0));
  EXPECT_EQ(age_nodes(read, sample("self", 0), 0).size(), kMaxNodes);
}

TEST(Nodes, SumLive) {
  const std::int64_t now = 1'700'000'100'000;
  NodeFigures a = sample("a", now);
  NodeFigures b = sample("b", now);
  b.routes[0].request_rate = 300;
  b.routes[0].error_rate_pct = 6;
  b.routes[0].mode = "closed";
  b.routes[0].heads = {1'700'000'000'500, 1'700'000'001'500};
  NodeFigures gone = sample("z", now - 10'000);
  const FleetTotals t = sum_live(age_nodes({b, gone}, a, now));
  EXPECT_EQ(t.live, 2u);
  EXPECT_EQ(t.gone, 1u);
  EXPECT_DOUBLE_EQ(t.sum.requests_per_s, 241);
  EXPECT_EQ(t.sum.signups_total, 80u);
  EXPECT_EQ(t.sum.in_flight, 6u);
  ASSERT_EQ(t.sum.routes.size(), 1u);
  const RouteFigures& r = t.sum.routes[0];
  EXPECT_DOUBLE_EQ(r.request_rate, 400);
  EXPECT_NEAR(r.error_rate_pct, (2 * 100 + 6 * 300) / 400.0, 1e-4);  // weighted by traffic
  EXPECT_NEAR(r.shed_rate_pct, 10, 1e-4);
  EXPECT_EQ(r.mode, "closed");  // the strictest
  EXPECT_EQ(r.queued, 4u);
  EXPECT_EQ(r.active, 8u);
  EXPECT_EQ(r.heads, (std::vector<std::int64_t>{1'700'000'000'500, 1'700'000'001'000,
                                                1'700'000'001'500, 1'700'000'002'000}));
}

Reply str(std::string s) {
  Reply r;
  r.type = Reply::Type::String;
  r.str = std::move(s);
  return r;
}

TEST(Heartbeat, ReadReplyChecksEveryField) {
  const std::int64_t now = 1'700'000'100'000;
  Reply r;
  r.type = Reply::Type::Array;
  r.elements = {str("a"),    str(encode_node(sample("a", now))),
                str("liar"), str(encode_node(sample("b", now))),  // names another node
                str("c"),    str("{garbage"),
                str("old"),  str(encode_node(sample("old", now - kForgetAfterMs - 1)))};
  std::vector<std::string> stale;
  std::uint64_t bad = 0;
  const auto read = Heartbeat::read_reply(r, now, &stale, &bad);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].node, "a");
  EXPECT_EQ(bad, 2u);
  EXPECT_EQ(stale, std::vector<std::string>{"old"});

  Reply odd;
  odd.type = Reply::Type::Array;
  odd.elements = {str("a")};
  bad = 0;
  EXPECT_TRUE(Heartbeat::read_reply(odd, now, nullptr, &bad).empty());
  EXPECT_EQ(bad, 1u);
}

TEST(Heartbeat, WritesOncePerIntervalAndReadsTheFleet) {
  Heartbeat hb("self", "gh:nodes");
  NodeFigures mine;
  mine.requests_per_s = 5;
  hb.set_self(mine);
  std::vector<std::vector<std::string>> sent;
  const std::int64_t now = 1'700'000'100'000;
  Send send = [&](std::vector<std::string> argv, std::function<void(const Reply&)> reply) {
    sent.push_back(argv);
    if (argv[0] == "HGETALL") {
      Reply r;
      r.type = Reply::Type::Array;
      r.elements = {str("other"), str(encode_node(sample("other", now)))};
      reply(r);
    } else {
      reply(str("OK"));
    }
    return true;
  };
  hb.tick(now, send);
  hb.tick(now + 500, send);  // within the interval: nothing
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0][0], "HSET");
  EXPECT_EQ(sent[0][2], "self");
  auto written = decode_node(sent[0][3]);
  ASSERT_TRUE(written);
  EXPECT_EQ(written->at_ms, now);
  EXPECT_DOUBLE_EQ(written->requests_per_s, 5);
  EXPECT_EQ(sent[1][0], "HGETALL");
  EXPECT_EQ(hb.live_nodes(now + 1000).size(), 2u);
  EXPECT_DOUBLE_EQ(hb.totals(now + 1000).sum.requests_per_s, 125.5);
  EXPECT_EQ(hb.live_nodes(now + kGoneAfterMs + 1).size(), 1u);  // "other" went quiet
  hb.tick(now + kHeartbeatMs, send);
  EXPECT_EQ(sent.size(), 4u);
}

}  // namespace
}  // namespace gh::fleet
