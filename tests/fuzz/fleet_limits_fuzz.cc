// Arbitrary bytes as a message on the shared limits' channel (another node's exact figures, or
// anyone who can publish on the Redis): never crashes, and whatever decodes encodes back to the
// same figures.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fleet/limits_sync.h"
#include "fuzz_check.h"

using namespace gh::fleet;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto p = decode_published(text)) {
    gh::fuzz::check(p->figures.size() <= kMaxPublished, "bounded");
    auto again = decode_published(encode_published(p->node, p->figures));
    gh::fuzz::check(again.has_value(), "re-decodes");
    gh::fuzz::check(again->figures.size() == p->figures.size(), "same count");
    for (std::size_t i = 0; i < p->figures.size(); ++i) {
      gh::fuzz::check(again->figures[i].key == p->figures[i].key, "same key");
      gh::fuzz::check(again->figures[i].ns == p->figures[i].ns, "same debt");
    }
  }
  return 0;
}
