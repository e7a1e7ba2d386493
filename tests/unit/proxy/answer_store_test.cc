// The refusals a decide listener keeps for nginx to fetch: once each, bounded, expiring, and an
// id that still tells its status when the answer is gone.
#include "proxy/answer_store.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace gh::proxy {
namespace {

stages::Answer page429() {
  return stages::page(429, stages::kHtml, "<p>slow down</p>", 30, "X-A: 1\r\n");
}

TEST(AnswerStore, FetchedOnceAsItWasDecided) {
  AnswerStore store(8, 10'000);
  const std::string id = store.put(page429(), 1'000);
  EXPECT_EQ(id.rfind("429-30-", 0), 0u) << id;
  const auto got = store.take(id, 1'001);
  ASSERT_TRUE(got.has_value());
  const stages::Answer a = got->view();
  EXPECT_EQ(a.status, 429);
  EXPECT_EQ(a.content_type, stages::kHtml);
  EXPECT_EQ(a.body, "<p>slow down</p>");
  EXPECT_EQ(a.fields, "X-A: 1\r\n");
  EXPECT_EQ(a.retry_after_s, 30u);
  EXPECT_FALSE(store.take(id, 1'002).has_value()) << "single use";
}

TEST(AnswerStore, IdsAreUnguessableAndDistinct) {
  AnswerStore store(64, 10'000);
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.insert(store.put(page429(), 1'000));
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_FALSE(store.take("429-30-0000000000000000", 1'000).has_value());
}

TEST(AnswerStore, ExpiresAndStaysBounded) {
  AnswerStore store(4, 100);
  const std::string old = store.put(page429(), 1'000);
  EXPECT_FALSE(store.take(old, 1'100).has_value()) << "expired";
  std::string first;
  for (int i = 0; i < 1'000; ++i) {
    const std::string id = store.put(page429(), 2'000);
    if (i == 0) first = id;
    if (i % 2 == 0) store.take(id, 2'000);  // fetched ones leave no trace behind
  }
  EXPECT_LE(store.size(), 4u);
  EXPECT_FALSE(store.take(first, 2'000).has_value()) << "the oldest went first";
}

TEST(AnswerStore, AGoneAnswerIsStillToldByItsId) {
  const stages::Answer a = AnswerStore::fallback("503-7-00ff00ff00ff00ff");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.retry_after_s, 7u);
  EXPECT_EQ(AnswerStore::fallback("garbage").status, 403);
  EXPECT_EQ(AnswerStore::fallback("200-0-x").status, 403) << "never a pass";
  EXPECT_EQ(AnswerStore::fallback("429-99999999-x").retry_after_s, 86'400u);
}

}  // namespace
}  // namespace gh::proxy
