#include "stages/challenge/spent_set.h"

#include <openssl/rand.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "client/address.h"
#include "core/hash.h"

namespace gh::challenge {

namespace {

constexpr std::size_t kMaxCapacity = std::size_t{1} << 30;  // indices are 32-bit, kNone reserved
constexpr unsigned kWidestV4 = 24;
constexpr unsigned kWidestV6 = 48;

// std::*_heap build a max-heap: "later" on top of the reversed order puts the earliest on top.
bool later(const auto& x, const auto& y) {
  return x.expiry_ms > y.expiry_ms;
}

// Backward-shift deletion keeps linear probing free of tombstones: the entries after the hole
// that would be unreachable move up into it. `home(v)` is the slot value v hashes to.
void erase_slot(std::uint32_t* slots, std::size_t mask, std::size_t i, std::uint32_t none,
                const auto& home) {
  slots[i] = none;
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; slots[j] != none; j = (j + 1) & mask) {
    const std::size_t h = home(slots[j]) & mask;
    // Move j into the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (!stays) {
      slots[hole] = slots[j];
      slots[j] = none;
      hole = j;
    }
  }
}

}  // namespace

client::Cidr SpentSet::network_of(const client::Cidr& prefix) {
  return client::prefix_of(prefix.address, std::min<unsigned>(prefix.prefix_len, kWidestV4),
                           std::min<unsigned>(prefix.prefix_len, kWidestV6));
}

SpentSet::SpentSet(std::size_t capacity)
    : capacity_(std::clamp<std::size_t>(capacity, 1, kMaxCapacity)), seed_(0) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed_), sizeof(seed_)) != 1) {
    seed_ = 0x9e3779b97f4a7c15ULL ^ reinterpret_cast<std::uintptr_t>(this);
  }
  const std::size_t slots = std::bit_ceil(capacity_ * 2);
  mask_ = slots - 1;
  entries_.reset(new Entry[capacity_]);
  nets_.reset(new Net[capacity_]);
  heap_.reset(new Due[capacity_]);
  id_slots_.reset(new std::uint32_t[slots]);
  net_slots_.reset(new std::uint32_t[slots]);
  std::fill_n(id_slots_.get(), slots, kNone);
  std::fill_n(net_slots_.get(), slots, kNone);
  // Free lists in index order.
  for (std::size_t i = capacity_; i-- > 0;) {
    entries_[i].next = free_entry_;
    free_entry_ = static_cast<std::uint32_t>(i);
    nets_[i].head = free_net_;
    free_net_ = static_cast<std::uint32_t>(i);
  }
}

SpentSet::~SpentSet() = default;

std::size_t SpentSet::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

std::size_t SpentSet::networks() const {
  std::lock_guard lock(mu_);
  return nets_size_;
}

std::size_t SpentSet::id_home(std::uint64_t a) const {
  return core::mix64(a ^ seed_) & mask_;
}

std::size_t SpentSet::net_home(const Net& n) const {
  const std::uint64_t tag = (std::uint64_t{n.len} << 1) | (n.v4 ? 1 : 0);
  return core::mix64(core::mix64(core::mix64(n.hi ^ seed_) ^ n.lo) ^ tag) & mask_;
}

// Drops one live id: out of the id table, out of its network's list (and the network itself when
// that was its last id), back to the free list. The heap element is the caller's to remove.
void SpentSet::forget(std::uint32_t e) {
  Entry& en = entries_[e];
  std::size_t i = id_home(en.a);
  while (id_slots_[i] != e) i = (i + 1) & mask_;
  erase_slot(id_slots_.get(), mask_, i, kNone,
             [this](std::uint32_t v) { return id_home(entries_[v].a); });

  Net& n = nets_[en.net];
  (en.prev == kNone ? n.head : entries_[en.prev].next) = en.next;
  (en.next == kNone ? n.tail : entries_[en.next].prev) = en.prev;
  if (--n.count == 0) {
    std::size_t j = net_home(n);
    while (net_slots_[j] != en.net) j = (j + 1) & mask_;
    erase_slot(net_slots_.get(), mask_, j, kNone,
               [this](std::uint32_t v) { return net_home(nets_[v]); });
    n.head = free_net_;
    free_net_ = en.net;
    --nets_size_;
  }
  en.net = kNone;
  en.prev = kNone;
  en.next = free_entry_;
  free_entry_ = e;
  --size_;
}

// Every claim forgets what has expired, so a network's count is always its unexpired ids: a
// network at quota gets room back as soon as its oldest id expires, not only once the whole set
// fills. Each id is forgotten once, at O(log n), so the cost is spread over the claims that made
// them.
void SpentSet::forget_expired(std::int64_t now_ms) {
  while (size_ > 0 && now_ms >= heap_[0].expiry_ms) {
    const std::uint32_t e = heap_[0].entry;
    std::pop_heap(heap_.get(), heap_.get() + size_, later<Due, Due>);
    forget(e);  // one id fewer: the heap's last element (e's, just popped) is out of range
  }
}

SpentSet::Claim SpentSet::claim(const TokenId& id, const client::Cidr& prefix,
                                std::uint32_t per_prefix, std::int64_t expiry_ms,
                                std::int64_t now_ms, std::int64_t* free_at_ms) {
  const Claim c = claim_locked(id, prefix, per_prefix, expiry_ms, now_ms, free_at_ms);
  if (c == Claim::Fresh && on_claim_) on_claim_(id, expiry_ms);
  return c;
}

bool SpentSet::mark(const TokenId& id, std::int64_t expiry_ms, std::int64_t now_ms) {
  // ::/0: a network no client prefix is counted under (network_of never widens past /48).
  static const client::Cidr kFleet{client::IpAddress{}, 0};
  return claim_locked(id, kFleet, 0xffff'ffff, expiry_ms, now_ms, nullptr) == Claim::Fresh;
}

SpentSet::Claim SpentSet::claim_locked(const TokenId& id, const client::Cidr& prefix,
                                       std::uint32_t per_prefix, std::int64_t expiry_ms,
                                       std::int64_t now_ms, std::int64_t* free_at_ms) {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, id.data(), 8);
  std::memcpy(&b, id.data() + 8, 8);
  const client::Cidr network = network_of(prefix);
  Net key;
  std::memcpy(&key.hi, network.address.bytes.data(), 8);
  std::memcpy(&key.lo, network.address.bytes.data() + 8, 8);
  key.len = network.prefix_len;
  key.v4 = network.address.is_v4;

  std::lock_guard lock(mu_);
  forget_expired(now_ms);

  std::size_t i = id_home(a);
  for (; id_slots_[i] != kNone; i = (i + 1) & mask_) {
    const Entry& e = entries_[id_slots_[i]];
    if (e.a == a && e.b == b) return Claim::Replay;
  }
  std::size_t j = net_home(key);
  std::uint32_t net = kNone;
  for (; net_slots_[j] != kNone; j = (j + 1) & mask_) {
    const Net& n = nets_[net_slots_[j]];
    if (n.hi == key.hi && n.lo == key.lo && n.len == key.len && n.v4 == key.v4) {
      net = net_slots_[j];
      break;
    }
  }
  // The network's quota first: a network over its share hears so (and when to come back) even
  // when the whole set is full too.
  if (net != kNone && nets_[net].count >= std::max<std::uint32_t>(per_prefix, 1)) {
    if (free_at_ms != nullptr) *free_at_ms = entries_[nets_[net].head].expiry_ms;
    return Claim::PrefixFull;
  }
  if (size_ >= capacity_) return Claim::Full;

  if (net == kNone) {
    net = free_net_;
    Net& n = nets_[net];
    free_net_ = n.head;
    n = key;
    net_slots_[j] = net;
    ++nets_size_;
  }
  const std::uint32_t e = free_entry_;
  Entry& en = entries_[e];
  free_entry_ = en.next;
  Net& n = nets_[net];
  en = Entry{a, b, expiry_ms, net, n.tail, kNone};
  (n.tail == kNone ? n.head : entries_[n.tail].next) = e;
  n.tail = e;
  ++n.count;
  id_slots_[i] = e;
  heap_[size_] = Due{expiry_ms, e};
  ++size_;
  std::push_heap(heap_.get(), heap_.get() + size_, later<Due, Due>);
  return Claim::Fresh;
}

}  // namespace gh::challenge
