#include "fleet/reply.h"

#include <hiredis/hiredis.h>

namespace gh::fleet {
namespace {

struct Budget {
  std::size_t elements = 0;
  std::size_t bytes = 0;
};

bool copy(const redisReply* r, std::size_t depth, Budget& b, Reply& out) {
  if (r == nullptr || depth > kMaxReplyDepth) return false;
  if (++b.elements > kMaxReplyElements) return false;
  switch (r->type) {
    case REDIS_REPLY_NIL:
      out.type = Reply::Type::Nil;
      return true;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::Integer;
      out.integer = r->integer;
      return true;
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STRING:
      out.type = r->type == REDIS_REPLY_STRING   ? Reply::Type::String
                 : r->type == REDIS_REPLY_STATUS ? Reply::Type::Status
                                                 : Reply::Type::Error;
      if (r->len > 0 && r->str == nullptr) return false;
      b.bytes += static_cast<std::size_t>(r->len);
      if (b.bytes > kMaxReplyBytes) return false;
      out.str.assign(r->str == nullptr ? "" : r->str, static_cast<std::size_t>(r->len));
      return true;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      if (r->elements > kMaxReplyElements - b.elements) return false;
      if (r->elements > 0 && r->element == nullptr) return false;
      out.elements.resize(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) {
        if (!copy(r->element[i], depth + 1, b, out.elements[i])) return false;
      }
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<Reply> copy_reply(const redisReply* r) {
  Reply out;
  Budget b;
  if (!copy(r, 0, b, out)) return std::nullopt;
  return out;
}

}  // namespace gh::fleet
