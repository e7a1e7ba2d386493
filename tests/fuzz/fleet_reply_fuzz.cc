// Arbitrary bytes as Redis's side of the connection: hiredis's reader parses them, every reply is
// copied within bounds (fleet/reply.h), and the fleet's decoders read it as it reads a real
// reply — an HGETALL of bans, modes or node heartbeats (field/value pairs), a pushed message. Never
// crashes; whatever decodes encodes back to a record that decodes to the same.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/heartbeat.h"
#include "fleet/messages.h"
#include "fleet/nodes.h"
#include "fleet/reply.h"
#include "fuzz_check.h"

using namespace gh::fleet;

namespace {

void read_value(std::string_view text) {
  if (auto b = decode_ban(text)) {
    gh::fuzz::check(decode_ban(encode_ban(*b)) == b, "ban round trip");
  }
  if (auto m = decode_mode(text)) {
    gh::fuzz::check(decode_mode(encode_mode(*m)) == m, "mode round trip");
  }
  if (auto n = decode_node(text)) {
    gh::fuzz::check(decode_node(encode_node(*n)) == n, "heartbeat round trip");
  }
  if (auto msg = decode_message(text)) {
    gh::fuzz::check(decode_message(encode_message(*msg)) == msg, "message round trip");
  }
}

void read_reply(const Reply& r) {
  if (r.is_string()) read_value(r.str);
  // An HGETALL of the nodes' heartbeats, read as the fleet reads it, then aged and summed.
  std::uint64_t bad = 0;
  std::vector<std::string> stale;
  const auto nodes = Heartbeat::read_reply(r, 1'700'000'000'000, &stale, &bad);
  gh::fuzz::check(nodes.size() <= kMaxNodes && stale.size() <= kMaxNodes, "heartbeats bounded");
  const FleetTotals t = sum_live(age_nodes(nodes, NodeFigures{}, 1'700'000'000'000));
  gh::fuzz::check(t.sum.routes.size() <= kMaxNodeRoutes, "routes bounded");
  if (r.type != Reply::Type::Array) return;
  // A pushed message: ["message", channel, payload]; an HGETALL: field, value, ...
  for (const Reply& e : r.elements) {
    if (e.is_string()) read_value(e.str);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, reinterpret_cast<const char*>(data), size);
  // Bounded: at most one reply per byte fed.
  for (std::size_t i = 0; i <= size; ++i) {
    void* out = nullptr;
    if (redisReaderGetReply(reader, &out) != REDIS_OK || out == nullptr) break;
    if (auto r = copy_reply(static_cast<redisReply*>(out))) read_reply(*r);
    freeReplyObject(out);
  }
  redisReaderFree(reader);
  return 0;
}
