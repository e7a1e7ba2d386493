// Replies are copied out of hiredis within bounds: nesting, element count.
#include "fleet/reply.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>

namespace gh::fleet {
namespace {

std::optional<Reply> parse(const std::string& bytes) {
  redisReader* r = redisReaderCreate();
  redisReaderFeed(r, bytes.data(), bytes.size());
  void* out = nullptr;
  std::optional<Reply> reply;
  if (redisReaderGetReply(r, &out) == REDIS_OK && out != nullptr) {
    reply = copy_reply(static_cast<redisReply*>(out));
    freeReplyObject(out);
  }
  redisReaderFree(r);
  return reply;
}

TEST(Reply, CopiesEveryType) {
  auto r = parse("*5\r\n$3\r\nabc\r\n:42\r\n+OK\r\n-ERR no\r\n$-1\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->type, Reply::Type::Array);
  ASSERT_EQ(r->elements.size(), 5u);
  EXPECT_EQ(r->elements[0].type, Reply::Type::String);
  EXPECT_EQ(r->elements[0].str, "abc");
  EXPECT_EQ(r->elements[1].integer, 42);
  EXPECT_EQ(r->elements[2].type, Reply::Type::Status);
  EXPECT_EQ(r->elements[3].type, Reply::Type::Error);
  EXPECT_EQ(r->elements[3].str, "ERR no");
  EXPECT_EQ(r->elements[4].type, Reply::Type::Nil);
  auto bin = parse(std::string("$3\r\na\0b\r\n", 10));
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->str, std::string("a\0b", 3));
}

TEST(Reply, RefusesTooDeep) {
  std::string deep;
  for (std::size_t i = 0; i <= kMaxReplyDepth; ++i) deep += "*1\r\n";
  EXPECT_FALSE(parse(deep + ":1\r\n"));
  std::string ok;
  for (std::size_t i = 0; i < kMaxReplyDepth; ++i) ok += "*1\r\n";
  EXPECT_TRUE(parse(ok + ":1\r\n"));
  EXPECT_FALSE(copy_reply(nullptr));
}

}  // namespace
}  // namespace gh::fleet
