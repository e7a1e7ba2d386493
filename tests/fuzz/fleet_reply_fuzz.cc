// Arbitrary bytes as Redis's side of the connection: hiredis's reader parses them, every reply is
// copied within bounds (fleet/reply.h), and the fleet's decoders read it as it reads a real
// reply — an HGETALL of bans, modes or node heartbeats (field/value pairs), a pushed message,
// a CLUSTER SLOTS answer, a MOVED/ASK error, a challenge claim's or the exact limits' script's
// answer. Never crashes; whatever decodes encodes back to a record that decodes to the same; a
// map routes every slot to a master it names, a redirection names a slot and an address that can
// be used; a script's answer names a key it was given and a bounded wait.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/heartbeat.h"
#include "fleet/line.h"
#include "fleet/messages.h"
#include "fleet/nodes.h"
#include "fleet/reply.h"
#include "fleet/slots.h"
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

void read_redirect(std::string_view text) {
  auto r = parse_redirect(text);
  if (!r) return;
  gh::fuzz::check(r->slot < kSlotCount, "redirect slot in range");
  gh::fuzz::check(r->to.port != 0, "redirect port");
  gh::fuzz::check(r->to.host.empty() || valid_host(r->to.host), "redirect host");
  gh::fuzz::check(classify_error(text) == ClusterError::Redirect, "redirect classified");
}

void read_map(const Reply& r) {
  const NodeAddress asked{"127.0.0.1", 7000};
  std::string why;
  auto map = parse_cluster_slots(r, asked, &why);
  if (!map) {
    gh::fuzz::check(!why.empty(), "a refused map says why");
    return;
  }
  gh::fuzz::check(map->masters.size() <= kMaxClusterNodes, "masters bounded");
  gh::fuzz::check(map->replicas.size() <= kMaxClusterNodes, "replicas bounded");
  for (const NodeAddress& m : map->masters) {
    gh::fuzz::check(valid_host(m.host) && m.port != 0, "master address usable");
  }
  for (std::uint16_t o : map->owner) {
    gh::fuzz::check(o == SlotMap::kNone || o < map->masters.size(), "slot owner named");
  }
}

// The replies a waiting request reads: a claim's, the exact limits' script's, the line's.
void read_await(const Reply& r) {
  if (auto c = decode_claim(r, "n1")) {
    gh::fuzz::check(r.type == Reply::Type::Nil || r.type == Reply::Type::String, "claim type");
    gh::fuzz::check((*c == ClaimAnswer::Ours) == (r.type == Reply::Type::Nil || r.str == "n1"),
                    "claim holder");
  }
  for (std::size_t keys : {std::size_t{1}, std::size_t{4}}) {
    if (auto g = decode_gcra(r, keys)) {
      gh::fuzz::check(g->refused <= keys, "gcra index in range");
      gh::fuzz::check(g->retry_us >= 0 && g->retry_us <= std::int64_t{86'400'000'000},
                      "gcra wait bounded");
    }
  }
  if (auto l = decode_line(r)) {
    gh::fuzz::check((l->verdict == LineAnswer::Verdict::Wait) == (l->position != 0),
                    "a place only while waiting");
  }
}

void read_reply(const Reply& r) {
  read_await(r);
  if (r.is_string()) read_value(r.str);
  if (r.type == Reply::Type::Error) read_redirect(r.str);
  read_map(r);
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
    if (e.is_string() || e.type == Reply::Type::Error) read_redirect(e.str);
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
