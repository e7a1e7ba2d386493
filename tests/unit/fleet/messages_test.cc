// The records nodes exchange: they read back as written, and anything else is refused.
#include "fleet/messages.h"

#include <gtest/gtest.h>

#include "fleet/line.h"
#include "fleet/reply-t.h"

namespace gh::fleet {
namespace {

BanRecord sample_ban() {
  BanRecord b;
  b.cidr = "203.0.113.7/32";
  b.start = 1'700'000'000;
  b.expiry = 1'700'000'600;
  b.level = 2;
  b.reason = "rate limit exceeded";
  b.source = "signup-per-ip";
  b.node = "edge-1";
  return b;
}

TEST(Messages, RoundTrip) {
  const BanRecord b = sample_ban();
  EXPECT_EQ(decode_ban(encode_ban(b)), b);
  BanRecord forever = b;
  forever.expiry = kNoExpiry;
  EXPECT_EQ(decode_ban(encode_ban(forever)), forever);

  ModeRecord m{"signup", "queue", "set by ops", "edge-2", 1'700'000'000'123};
  EXPECT_EQ(decode_mode(encode_mode(m)), m);

  for (Message::Kind k : {Message::Kind::Ban, Message::Kind::Unban, Message::Kind::Mode,
                          Message::Kind::Spent, Message::Kind::Admit}) {
    Message msg;
    msg.kind = k;
    if (k == Message::Kind::Admit) {
      msg.admit = {"signup", "00112233445566778899aabbccddeeff", "edge-5"};
    } else if (k == Message::Kind::Spent) {
      msg.spent = {"00112233445566778899aabbccddeeff", 1'700'000'000'000, "edge-4"};
    } else if (k == Message::Kind::Mode) {
      msg.mode = m;
    } else if (k == Message::Kind::Ban) {
      msg.ban = b;
    } else {
      msg.ban.cidr = "2001:db8::/32";
      msg.ban.node = "edge-3";
    }
    EXPECT_EQ(decode_message(encode_message(msg)), msg) << encode_message(msg);
  }
}

TEST(Messages, CidrIsCanonical) {
  auto b = decode_ban(
      R"({"cidr":"10.1.2.3/8","start":1,"expiry":2,"level":0,"reason":"","source":"","node":"n"})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->cidr, "10.0.0.0/8");
}

TEST(Messages, RefusesWhatIsNotARecord) {
  for (const char* text : {
           "",
           "null",
           "[]",
           "{",
           "{\"cidr\":\"1.2.3.4/32\"}",
           // bad address, node, level, times
           R"({"cidr":"1.2.3.400/32","start":1,"expiry":2,"level":0,"node":"n"})",
           R"({"cidr":"1.2.3.4/32","start":1,"expiry":2,"level":0,"node":"a b"})",
           R"({"cidr":"1.2.3.4/32","start":1,"expiry":2,"level":256,"node":"n"})",
           R"({"cidr":"1.2.3.4/32","start":5,"expiry":2,"level":0,"node":"n"})",
           R"({"cidr":"1.2.3.4/32","start":-1,"expiry":2,"level":0,"node":"n"})",
           R"({"cidr":"1.2.3.4/32","start":1,"level":0,"node":"n"})",
           R"({"cidr":"1.2.3.4/32","start":1,"expiry":18446744073709551615,"level":0,"node":"n"})",
           R"({"cidr":"1.2.3.4/32","start":1.5,"expiry":2,"level":0,"node":"n"})",
           R"({"cidr":7,"start":1,"expiry":2,"level":0,"node":"n"})",
       }) {
    EXPECT_FALSE(decode_ban(text)) << text;
  }
  EXPECT_FALSE(decode_mode(R"({"route":"s","mode":"shut","node":"n","at_ms":1})"));
  EXPECT_FALSE(decode_mode(R"({"route":"","mode":"open","node":"n","at_ms":1})"));
  EXPECT_FALSE(decode_message(R"({"type":"reboot","node":"n"})"));
  EXPECT_FALSE(decode_message(R"({"type":"spent","id":"00112233","expiry_ms":1,"node":"n"})"));
  EXPECT_FALSE(decode_message(
      R"({"type":"spent","id":"00112233445566778899AABBCCDDEEFF","expiry_ms":1,"node":"n"})"));
  EXPECT_FALSE(decode_message(
      R"({"type":"spent","id":"00112233445566778899aabbccddeeff","expiry_ms":0,"node":"n"})"));
  EXPECT_FALSE(decode_message(R"({"type":"unban","cidr":"x","node":"n"})"));
  // An admission: a route, a 32-hex-digit id, a node.
  EXPECT_TRUE(decode_message(
      R"({"type":"admit","route":"s","id":"00112233445566778899aabbccddeeff","node":"n"})"));
  EXPECT_FALSE(decode_message(
      R"({"type":"admit","route":"","id":"00112233445566778899aabbccddeeff","node":"n"})"));
  EXPECT_FALSE(decode_message(R"({"type":"admit","route":"s","id":"0011","node":"n"})"));
  EXPECT_FALSE(decode_message(
      R"({"type":"admit","route":"s","id":"00112233445566778899aabbccddeeff","node":"a b"})"));
  EXPECT_FALSE(
      decode_message(R"({"type":"admit","id":"00112233445566778899aabbccddeeff","node":"n"})"));
  EXPECT_FALSE(decode_message(std::string(kMaxMessage + 1, ' ')));
  std::string long_reason = R"({"cidr":"1.2.3.4/32","start":1,"expiry":2,"level":0,"node":"n",)";
  long_reason += R"("reason":")" + std::string(kMaxText + 1, 'x') + "\"}";
  EXPECT_FALSE(decode_ban(long_reason));
}

TEST(Messages, InvalidUtf8IsReplacedNotThrown) {
  BanRecord b = sample_ban();
  b.reason = "bad \xff byte";
  auto back = decode_ban(encode_ban(b));
  ASSERT_TRUE(back);
  EXPECT_NE(back->reason, b.reason);
}

Reply integer(std::int64_t v) {
  Reply r;
  r.type = Reply::Type::Integer;
  r.integer = v;
  return r;
}
Reply pair(std::int64_t a, std::int64_t b) {
  Reply r;
  r.type = Reply::Type::Array;
  r.elements = {integer(a), integer(b)};
  return r;
}

TEST(Messages, ClaimRepliesNameTheHolder) {
  Reply nil;
  nil.type = Reply::Type::Nil;
  EXPECT_EQ(decode_claim(nil, "n1"), ClaimAnswer::Ours) << "nobody held it: set now";
  Reply held;
  held.type = Reply::Type::String;
  held.str = "n1";
  EXPECT_EQ(decode_claim(held, "n1"), ClaimAnswer::Ours) << "this node's own claim got there first";
  held.str = "n2";
  EXPECT_EQ(decode_claim(held, "n1"), ClaimAnswer::Theirs);
  Reply error;
  error.type = Reply::Type::Error;
  error.str = "ERR syntax error";
  EXPECT_FALSE(decode_claim(error, "n1"));
  EXPECT_FALSE(decode_claim(integer(1), "n1"));
}

TEST(Messages, GcraRepliesAreCheckedFieldByField) {
  auto all = decode_gcra(pair(0, 0), 2);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->refused, 0u);
  auto second = decode_gcra(pair(2, 1'500'000), 2);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->refused, 2u);
  EXPECT_EQ(second->retry_us, 1'500'000);
  EXPECT_FALSE(decode_gcra(pair(3, 1), 2)) << "a key it was not given";
  EXPECT_FALSE(decode_gcra(pair(-1, 1), 2));
  EXPECT_FALSE(decode_gcra(pair(1, -1), 2));
  EXPECT_FALSE(decode_gcra(pair(1, std::int64_t{86'400'000'001}), 2)) << "more than a day";
  Reply three = pair(0, 0);
  three.elements.push_back(integer(0));
  EXPECT_FALSE(decode_gcra(three, 2));
  EXPECT_FALSE(decode_gcra(integer(0), 2));
}

// The waiting line's script answers {verdict, position}; anything else is Failed (decided locally).
TEST(Messages, LineRepliesAreCheckedFieldByField) {
  auto due = decode_line(pair(1, 0));
  ASSERT_TRUE(due);
  EXPECT_EQ(due->verdict, LineAnswer::Verdict::Due);
  auto wait = decode_line(pair(0, 7));
  ASSERT_TRUE(wait);
  EXPECT_EQ(wait->verdict, LineAnswer::Verdict::Wait);
  EXPECT_EQ(wait->position, 7u);
  auto full = decode_line(pair(2, 0));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->verdict, LineAnswer::Verdict::Full);
  EXPECT_TRUE(decode_line(pair(0, 0xffff'ffff)));
  EXPECT_FALSE(decode_line(pair(0, 0))) << "waiting at no place";
  EXPECT_FALSE(decode_line(pair(0, -1)));
  EXPECT_FALSE(decode_line(pair(0, std::int64_t{0x1'0000'0000}))) << "beyond a position";
  EXPECT_FALSE(decode_line(pair(1, 3))) << "due with a position";
  EXPECT_FALSE(decode_line(pair(2, 1)));
  EXPECT_FALSE(decode_line(pair(3, 0))) << "no such verdict";
  EXPECT_FALSE(decode_line(pair(-1, 0)));
  Reply three = pair(0, 1);
  three.elements.push_back(integer(0));
  EXPECT_FALSE(decode_line(three));
  Reply text = pair(0, 1);
  text.elements[1].type = Reply::Type::String;
  text.elements[1].str = "1";
  EXPECT_FALSE(decode_line(text)) << "a string where an integer belongs";
  Reply error;
  error.type = Reply::Type::Error;
  error.str = "NOSCRIPT No matching script";
  EXPECT_FALSE(decode_line(error));
  EXPECT_FALSE(decode_line(integer(1)));
}

// One route's four keys share one hash tag (one slot in a Cluster); the arguments are in the
// script's order.
TEST(Messages, LineArgvKeepsARoutesKeysInOneSlot) {
  LineAsk a;
  a.scope = 0xdeadbeef;
  a.id = "00112233445566778899aabbccddeeff";
  a.ticket = true;
  a.open = false;
  a.first_us = 1'700'000'000'123'456;
  a.interval_us = 500'000;
  a.burst = 10;
  a.hold = 42;
  a.max_queue = 100;
  a.gone_ms = 33'000;
  a.back_ms = 3'000;
  const std::vector<std::string> argv = line_argv("gh:", a);
  ASSERT_EQ(argv.size(), 17u);
  EXPECT_EQ(argv[0], "EVALSHA");
  EXPECT_EQ(argv[1].size(), 40u);
  EXPECT_EQ(argv[2], "4");
  EXPECT_EQ(argv[3], "gh:room:{deadbeef}:line");
  EXPECT_EQ(argv[4], "gh:room:{deadbeef}:seen");
  EXPECT_EQ(argv[5], "gh:room:{deadbeef}:new");
  EXPECT_EQ(argv[6], "gh:room:{deadbeef}:bucket");
  const std::vector<std::string> args(argv.begin() + 7, argv.end());
  EXPECT_EQ(args, (std::vector<std::string>{a.id, "1700000000123456", "500000", "10", "100",
                                            "33000000", "3000000", "0", "1", "42"}));
  EXPECT_NE(line_script().find("redis.call('TIME')"), std::string_view::npos)
      << "decided on Redis's clock";
}

}  // namespace
}  // namespace gh::fleet
