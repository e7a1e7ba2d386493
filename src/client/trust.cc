#include "client/trust.h"

#include "client/address.h"

namespace gh::client {
namespace {

std::uint64_t high_bits(unsigned n) {  // the top n bits of a word set, n in 0..64
  return n == 0 ? 0 : ~std::uint64_t{0} << (64 - n);
}

}  // namespace

ProxyTrust::ProxyTrust(std::span<const Cidr> cidrs) : cidrs_(cidrs.begin(), cidrs.end()) {
  entries_.reserve(cidrs.size());
  for (const Cidr& cidr : cidrs) {
    unsigned bits = cidr.address.is_v4 ? 96u + cidr.prefix_len : cidr.prefix_len;
    if (bits > 128) {
      bits = 128;
    }
    Entry e;
    e.mask_hi = high_bits(bits >= 64 ? 64 : bits);
    e.mask_lo = high_bits(bits > 64 ? bits - 64 : 0);
    IpKey key = key_of(cidr.address);
    e.hi = key.hi & e.mask_hi;
    e.lo = key.lo & e.mask_lo;
    entries_.push_back(e);
  }
}

bool ProxyTrust::trusted(const IpAddress& ip) const noexcept {
  const IpKey key = key_of(ip);
  for (const Entry& e : entries_) {
    if ((key.hi & e.mask_hi) == e.hi && (key.lo & e.mask_lo) == e.lo) {
      return true;
    }
  }
  return false;
}

}  // namespace gh::client
