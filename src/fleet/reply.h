// Every reply from Redis is untrusted input (a compromised or confused server, a man in the
// middle on a plain connection): it is copied out of hiredis's tree within bounds, then read by
// decoders that check every field (messages.h).
#pragma once

#include <cstddef>
#include <optional>

#include "fleet/reply-t.h"

struct redisReply;

namespace gh::fleet {

inline constexpr std::size_t kMaxReplyDepth = 4;
inline constexpr std::size_t kMaxReplyElements = 1u << 20;  // over the whole reply
inline constexpr std::size_t kMaxReplyBytes = 64u << 20;    // strings over the whole reply

// Nullopt for null input, an unknown type, or a reply beyond the bounds above.
std::optional<Reply> copy_reply(const redisReply* r);

}  // namespace gh::fleet
