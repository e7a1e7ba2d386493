#include "net/connection_counter.h"

#include <cstring>
#include <random>

#include "core/hash.h"

namespace gh::net {

ConnectionCounter::ConnectionCounter(std::uint32_t max_total, std::uint32_t max_per_client)
    : max_total_(max_total), max_per_client_(max_per_client) {
  std::size_t n = 16;
  while (n < static_cast<std::size_t>(max_total) * 2) n <<= 1;
  slots_.resize(n);
  mask_ = n - 1;
  seed_ = std::random_device{}();  // keyed so that attackers cannot aim at one probe chain
}

std::size_t ConnectionCounter::home(const client::IpAddress& ip) const {
  std::uint64_t a, b;
  std::memcpy(&a, ip.bytes.data(), 8);
  std::memcpy(&b, ip.bytes.data() + 8, 8);
  return core::mix64(a ^ core::mix64(b ^ seed_)) & mask_;
}

std::size_t ConnectionCounter::find(const client::IpAddress& ip) const {
  std::size_t i = home(ip);
  // Load factor <= 1/2 by construction, so an empty slot is always reached.
  while (slots_[i].count != 0 && !(slots_[i].ip == ip)) i = (i + 1) & mask_;
  return i;
}

ConnectionCounter::Admit ConnectionCounter::acquire(const client::IpAddress& ip) {
  std::lock_guard lock(mu_);
  if (total_ >= max_total_) return Admit::TotalFull;
  std::size_t i = find(ip);
  if (slots_[i].count >= max_per_client_) return Admit::ClientFull;
  slots_[i].ip = ip;
  ++slots_[i].count;
  ++total_;
  return Admit::Ok;
}

void ConnectionCounter::release(const client::IpAddress& ip) {
  std::lock_guard lock(mu_);
  std::size_t i = find(ip);
  if (slots_[i].count == 0) return;  // not counted (should not happen): stay consistent
  --total_;
  if (--slots_[i].count == 0) erase_at(i);
}

// Backward-shift deletion keeps linear probing chains intact without tombstones.
void ConnectionCounter::erase_at(std::size_t i) {
  std::size_t j = i;
  for (;;) {
    j = (j + 1) & mask_;
    if (slots_[j].count == 0) break;
    const std::size_t h = home(slots_[j].ip);
    // Move j into the hole at i when its home is not cyclically within (i, j].
    bool in_range = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
    if (!in_range) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{};
}

std::uint32_t ConnectionCounter::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

std::uint32_t ConnectionCounter::of(const client::IpAddress& ip) const {
  std::lock_guard lock(mu_);
  return slots_[find(ip)].count;
}

}  // namespace gh::net
