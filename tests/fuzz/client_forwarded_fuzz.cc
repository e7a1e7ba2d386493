// Feeds arbitrary header values to the X-Forwarded-For and Forwarded resolvers. Invariants: never
// crash; the result is the peer or an address that appears parsable in the input; an untrusted
// peer is always its own client.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "client/address.h"
#include "client/resolve.h"
#include "client/trust.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gh::client;
  static const ProxyTrust trust = [] {
    std::vector<Cidr> list = {*parse_cidr("10.0.0.0/8"), *parse_cidr("2001:db8::/32")};
    return ProxyTrust(list);
  }();
  static const IpAddress trusted_peer = *parse_ip("10.0.0.1");
  static const IpAddress untrusted_peer = *parse_ip("198.51.100.1");

  // A 0x00 byte splits the input into several field values.
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> fields;
  while (true) {
    std::size_t cut = all.find('\0');
    fields.push_back(all.substr(0, cut));
    if (cut == std::string_view::npos) break;
    all.remove_prefix(cut + 1);
  }
  if (!(resolve_client(untrusted_peer, fields, trust) == untrusted_peer)) std::abort();
  if (!(resolve_client_forwarded(untrusted_peer, fields, trust) == untrusted_peer)) std::abort();
  IpAddress a = resolve_client(trusted_peer, fields, trust);
  IpAddress b = resolve_client_forwarded(trusted_peer, fields, trust);
  // Formatting and re-parsing the result gives the same address.
  for (const IpAddress& ip : {a, b}) {
    auto back = parse_ip(format_ip(ip));
    if (!back || !(*back == ip)) std::abort();
  }
  for (std::string_view f : fields) {
    (void)parse_xff_entry(f);
    (void)parse_forwarded_node(f);
    if (auto ip = parse_ip(f)) {
      auto back = parse_ip(format_ip(*ip));
      if (!back || !(*back == *ip)) std::abort();
    }
    (void)parse_cidr(f);
    (void)parse_socket_address(f);
  }
  return 0;
}
