// Arbitrary bytes as Redis's side of the connection: hiredis's reader parses them, every reply is
// copied within bounds (fleet/reply.h), and the fleet's decoders read it as it reads a real
// reply — an HGETALL of bans or modes (field/value pairs), a pushed message. Never crashes;
// whatever decodes encodes back to a record that decodes to the same.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fleet/messages.h"
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
  if (auto msg = decode_message(text)) {
    gh::fuzz::check(decode_message(encode_message(*msg)) == msg, "message round trip");
  }
}

void read_reply(const Reply& r) {
  if (r.is_string()) read_value(r.str);
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
