// Cluster routing as pure functions: CRC16 and key slots against Redis's documented values, the
// CLUSTER SLOTS parser on real and malformed replies, MOVED/ASK parsing.
#include "fleet/slots.h"

#include <gtest/gtest.h>

namespace gh::fleet {
namespace {

Reply integer(long long v) {
  Reply r;
  r.type = Reply::Type::Integer;
  r.integer = v;
  return r;
}
Reply str(const std::string& s) {
  Reply r;
  r.type = Reply::Type::String;
  r.str = s;
  return r;
}
Reply array(std::vector<Reply> e) {
  Reply r;
  r.type = Reply::Type::Array;
  r.elements = std::move(e);
  return r;
}
Reply node(const std::string& host, long long port, const std::string& id = "abc") {
  return array({str(host), integer(port), str(id), array({})});
}
Reply range(long long a, long long b, std::vector<Reply> nodes) {
  std::vector<Reply> e{integer(a), integer(b)};
  for (Reply& n : nodes) e.push_back(std::move(n));
  return array(std::move(e));
}

const NodeAddress kAsked{"10.0.0.9", 7000};

TEST(Slots, Crc16KnownVectors) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(crc16(""), 0);
}

TEST(Slots, KeySlotsAsRedisDocumentsThem) {
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("hello"), 866);
  EXPECT_EQ(key_slot("somekey"), 11058);
  EXPECT_EQ(key_slot("foo{hash_tag}"), 2515);
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  // An empty tag is no tag: the whole key is hashed; only the first '{' counts.
  EXPECT_EQ(key_slot("foo{}{bar}"), crc16("foo{}{bar}") % 16384);
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
  EXPECT_EQ(key_slot("{gs:07}limits"), key_slot("{gs:07}other"));
  EXPECT_LT(key_slot(std::string(1000, '\xff')), kSlotCount);
}

TEST(Slots, ParsesARealMap) {
  const Reply r = array({
      range(0, 5460, {node("127.0.0.1", 30001), node("127.0.0.1", 30004)}),
      range(5461, 10922, {node("127.0.0.1", 30002), node("127.0.0.1", 30005)}),
      range(10923, 16383, {node("", 30003), node("::1", 30006)}),
  });
  std::string why;
  auto map = parse_cluster_slots(r, kAsked, &why);
  ASSERT_TRUE(map) << why;
  EXPECT_EQ(map->covered(), 16384u);
  ASSERT_EQ(map->masters.size(), 3u);
  EXPECT_EQ(map->master_of(0)->text(), "127.0.0.1:30001");
  EXPECT_EQ(map->master_of(5461)->port, 30002);
  EXPECT_EQ(*map->master_of(16383), (NodeAddress{"10.0.0.9", 30003}));  // "" is the node asked
  EXPECT_EQ(map->replicas.size(), 3u);
  EXPECT_EQ(map->replicas[2], (NodeAddress{"::1", 30006}));
  EXPECT_EQ(map->master_of(16384), nullptr);
}

TEST(Slots, SeveralRangesOfOneMasterAndUnknownEndpoints) {
  Reply nil;
  const Reply r = array({
      range(0, 9, {node("a.example", 1)}),
      range(20, 29, {node("a.example", 1)}),
      range(30, 30, {node("?", 6379)}),
      range(31, 31, {array({nil, integer(6379), str("x")})}),
  });
  auto map = parse_cluster_slots(r, kAsked, nullptr);
  ASSERT_TRUE(map);
  EXPECT_EQ(map->masters.size(), 1u);
  EXPECT_EQ(map->covered(), 20u);
  EXPECT_EQ(map->master_of(10), nullptr);
  EXPECT_EQ(map->master_of(30), nullptr);  // no endpoint to route to: left without owner
  EXPECT_EQ(map->master_of(31), nullptr);
  EXPECT_EQ(map->master_of(25)->host, "a.example");
}

TEST(Slots, RefusesMalformedMaps) {
  const std::vector<std::pair<const char*, Reply>> bad = {
      {"not an array", str("OK")},
      {"range not an array", array({str("x")})},
      {"range too short", array({array({integer(0), integer(1)})})},
      {"start negative", array({range(-1, 5, {node("h", 1)})})},
      {"end beyond", array({range(0, 16384, {node("h", 1)})})},
      {"start after end", array({range(9, 5, {node("h", 1)})})},
      {"slot as string", array({array({str("0"), integer(5), node("h", 1)})})},
      {"overlap", array({range(0, 10, {node("h", 1)}), range(10, 20, {node("h", 2)})})},
      {"port too big", array({range(0, 1, {node("h", 70000)})})},
      {"port negative", array({range(0, 1, {node("h", -1)})})},
      {"port as string", array({range(0, 1, {array({str("h"), str("1")})})})},
      {"host with space", array({range(0, 1, {node("h x", 1)})})},
      {"host with brackets", array({range(0, 1, {node("[::1]", 1)})})},
      {"host too long", array({range(0, 1, {node(std::string(256, 'a'), 1)})})},
      {"node too short", array({range(0, 1, {array({str("h")})})})},
      {"node not an array", array({range(0, 1, {str("h:1")})})},
      {"bad replica", array({range(0, 1, {node("h", 1), node("h!", 2)})})},
  };
  for (const auto& [name, reply] : bad) {
    std::string why;
    EXPECT_FALSE(parse_cluster_slots(reply, kAsked, &why)) << name;
    EXPECT_FALSE(why.empty()) << name;
  }
}

TEST(Slots, CapsTheNodesAMapMayName) {
  std::vector<Reply> ranges;
  for (int i = 0; i < 257; ++i) ranges.push_back(range(i, i, {node("h", 1000 + i)}));
  std::string why;
  EXPECT_FALSE(parse_cluster_slots(array(ranges), kAsked, &why));
  EXPECT_NE(why.find("256"), std::string::npos) << why;
  ranges.pop_back();
  auto map = parse_cluster_slots(array(ranges), kAsked, &why);
  ASSERT_TRUE(map) << why;
  EXPECT_EQ(map->masters.size(), 256u);
  // The map full, no new master is added (a redirection to a 257th is refused by the client).
  EXPECT_EQ(map->master_index({"h", 2000}), SlotMap::kNone);
  EXPECT_EQ(map->master_index({"h", 1000}), 0);
}

TEST(Slots, ParsesRedirections) {
  auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, Redirect::Kind::Moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->to, (NodeAddress{"127.0.0.1", 6381}));
  auto ask = parse_redirect("ASK 0 ::1:30002");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, Redirect::Kind::Ask);
  EXPECT_EQ(ask->slot, 0);
  EXPECT_EQ(ask->to, (NodeAddress{"::1", 30002}));
  auto unknown_host = parse_redirect("MOVED 16383 :7000");
  ASSERT_TRUE(unknown_host);
  EXPECT_EQ(unknown_host->to.host, "");
  EXPECT_EQ(unknown_host->slot, 16383);
  for (const char* bad :
       {"MOVED", "MOVED 3999", "MOVED 16384 h:1", "MOVED -1 h:1", "MOVED 12 h", "MOVED 12 h:0",
        "MOVED 12 h:65536", "MOVED 12 h:1x", "MOVED  12 h:1", "MOVED 123456 h:1", "ASK 1 h h:1",
        "moved 1 h:1", "ERR MOVED 1 h:1", "MOVED 1 h:", "ASK x h:1"}) {
    EXPECT_FALSE(parse_redirect(bad)) << bad;
  }
  EXPECT_FALSE(parse_redirect("MOVED 1 " + std::string(400, 'a') + ":1"));
}

TEST(Slots, ClassifiesErrors) {
  EXPECT_EQ(classify_error("MOVED 1 h:1"), ClusterError::Redirect);
  EXPECT_EQ(classify_error("ASK 1 h:1"), ClusterError::Redirect);
  EXPECT_EQ(classify_error("CLUSTERDOWN The cluster is down"), ClusterError::TryLater);
  EXPECT_EQ(classify_error("TRYAGAIN Multiple keys request during rehashing of slot"),
            ClusterError::TryLater);
  EXPECT_EQ(classify_error("LOADING Redis is loading the dataset in memory"),
            ClusterError::TryLater);
  EXPECT_EQ(classify_error("ERR This instance has cluster support disabled"),
            ClusterError::Disabled);
  EXPECT_EQ(classify_error("WRONGTYPE Operation against a key"), ClusterError::None);
}

}  // namespace
}  // namespace gh::fleet
