// The set of peers whose forwarding headers (X-Forwarded-For, Forwarded) we believe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "client/address-t.h"

namespace gh::client {

class ProxyTrust {
 public:
  ProxyTrust() = default;
  explicit ProxyTrust(std::span<const Cidr> cidrs);

  // Allocation-free: a linear scan of masked compares (a handful of prefixes is the normal case).
  bool trusted(const IpAddress& ip) const noexcept;
  bool empty() const noexcept { return entries_.empty(); }
  const std::vector<Cidr>& cidrs() const noexcept { return cidrs_; }

 private:
  struct Entry {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    std::uint64_t mask_hi = 0;
    std::uint64_t mask_lo = 0;
  };
  std::vector<Entry> entries_;
  std::vector<Cidr> cidrs_;
};

}  // namespace gh::client
