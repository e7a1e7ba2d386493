// Arbitrary text into the config loader: it must never crash, throw out, or succeed without a
// snapshot; every error must carry a file name (the given one, or an `include`d file's). A
// success must survive route matching.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/path.h"
#include "policy/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  gh::policy::LoadResult r;
  try {
    r = gh::policy::load_config_string(text, "fuzz.yaml");
  } catch (...) {
    std::abort();
  }
  if (r.ok() == !r.errors.empty()) std::abort();
  if (r.errors.size() > gh::policy::kMaxConfigErrors + 1) std::abort();
  for (const auto& e : r.errors) {
    if (e.mark.file.empty() || e.mark.line < 0 || e.mark.column < 0) std::abort();
    (void)e.to_string();
  }
  if (r.ok()) {
    const auto& s = *r.snapshot;
    if (s.config.listen.empty() || s.config.upstreams.empty() ||
        s.routes.size() != s.config.routes.size()) {
      std::abort();
    }
    for (const auto& route : s.config.routes) {
      if (route.upstream_index >= s.config.upstreams.size()) std::abort();
      for (const auto& limit : route.limits) {
        // What the rate limiter relies on.
        if (limit.rate == 0 || limit.period == 0 || limit.burst == 0 || limit.max_keys < 16) {
          std::abort();
        }
      }
    }
    char scratch[64];
    (void)s.routes.match("example.com:80", gh::http::Method::Post,
                         gh::http::canonical_path("/%73ignup", {}, scratch, sizeof scratch).path);
    (void)s.routes.match("", gh::http::Method::Other, "/u/123");
  }
  return 0;
}
