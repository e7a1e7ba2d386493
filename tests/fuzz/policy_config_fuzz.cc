// Arbitrary text into the config loader: it must never crash, throw out, or succeed without a
// snapshot; every error must carry a file name (the given one, or an `include`d file's). A
// success must survive route matching. Server names never reach a real resolver: names ending in
// ".invalid" fail, others resolve to 127.0.0.1 (a fuzzer must not send DNS queries).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "client/address.h"
#include "http/path.h"
#include "policy/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  gh::policy::LoadResult r;
  try {
    gh::policy::LoadOptions options;
    options.resolve = [](const std::string& host, std::uint16_t port,
                         std::vector<gh::client::SocketAddress>& out, std::string* error) {
      if (host.ends_with(".invalid")) {
        *error = "Name or service not known";
        return false;
      }
      out = {gh::client::SocketAddress{gh::client::make_ipv4(127, 0, 0, 1), port}};
      return true;
    };
    r = gh::policy::load_config_string(text, "fuzz.yaml", options);
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
    for (const auto& u : s.config.upstreams) {
      if (u.servers.empty()) std::abort();
      for (const auto& server : u.servers) {
        if (server.addresses.empty() || server.port == 0 || server.weight == 0) std::abort();
      }
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
