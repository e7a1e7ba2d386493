// Invariants: never crash, consumed <= size, Complete consumes a bounded header, and a Complete
// result does not change when more bytes follow (the parser never looks past its header).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "client/proxy_protocol.h"

using gh::client::ProxyStatus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view buf(reinterpret_cast<const char*>(data), size);
  auto r = gh::client::parse_proxy_header(buf);
  if (r.consumed > size) std::abort();
  if (r.status != ProxyStatus::Complete) {
    if (r.consumed != 0) std::abort();
    return 0;
  }
  if (r.consumed == 0 ||
      r.consumed > gh::client::kProxyV2HeaderBytes + gh::client::kProxyV2MaxPayload) {
    std::abort();
  }
  if (r.version == 1 && r.consumed > gh::client::kProxyV1MaxBytes) std::abort();
  if (r.local && (r.source.port != 0 || r.destination.port != 0)) std::abort();
  // The same header alone parses the same way, and every shorter prefix is NeedMore.
  auto alone = gh::client::parse_proxy_header(buf.substr(0, r.consumed));
  if (alone.status != ProxyStatus::Complete || alone.consumed != r.consumed ||
      !(alone.source == r.source) || !(alone.destination == r.destination) ||
      alone.local != r.local) {
    std::abort();
  }
  for (std::size_t n = 0; n < r.consumed; ++n) {
    if (gh::client::parse_proxy_header(buf.substr(0, n)).status != ProxyStatus::NeedMore)
      std::abort();
  }
  return 0;
}
