#include "observe/top.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

namespace gh::observe {

namespace {
std::uint64_t hash_of(std::string_view key) {
  return std::hash<std::string_view>{}(key);
}
std::string_view cut(std::string_view key) {
  return key.size() > HeavyHitters::kKeyBytes ? key.substr(0, HeavyHitters::kKeyBytes) : key;
}
}  // namespace

HeavyHitters::HeavyHitters(std::size_t capacity)
    : capacity_(capacity == 0 ? 1 : capacity),
      hashes_(new std::uint64_t[capacity_]()),
      slots_(new Slot[capacity_]) {}

HeavyHitters::HeavyHitters(const HeavyHitters& other) : HeavyHitters(other.capacity_) {
  *this = other;
}

HeavyHitters& HeavyHitters::operator=(const HeavyHitters& other) {
  if (this == &other) return *this;
  if (capacity_ != other.capacity_) {
    capacity_ = other.capacity_;
    hashes_.reset(new std::uint64_t[capacity_]());
    slots_.reset(new Slot[capacity_]);
  }
  used_ = other.used_;
  total_ = other.total_;
  std::copy(other.hashes_.get(), other.hashes_.get() + capacity_, hashes_.get());
  std::copy(other.slots_.get(), other.slots_.get() + capacity_, slots_.get());
  return *this;
}

std::size_t HeavyHitters::find(std::uint64_t hash, std::string_view key) const {
  for (std::size_t i = 0; i < used_; ++i) {
    if (hashes_[i] == hash && slots_[i].key.view() == key) return i;
  }
  return capacity_;
}

std::size_t HeavyHitters::min_slot() const {
  std::size_t best = 0;
  for (std::size_t i = 1; i < used_; ++i) {
    if (slots_[i].count < slots_[best].count) best = i;
  }
  return best;
}

std::uint64_t HeavyHitters::min_count() const {
  return used_ < capacity_ ? 0 : slots_[min_slot()].count;
}

void HeavyHitters::put(std::size_t i, std::uint64_t hash, std::string_view key, std::uint64_t count,
                       std::uint64_t error) {
  hashes_[i] = hash;
  slots_[i].key.set(key);
  slots_[i].count = count;
  slots_[i].error = error;
}

void HeavyHitters::add(std::string_view key, std::uint32_t weight) {
  key = cut(key);
  if (key.empty() || weight == 0) return;
  total_ += weight;
  const std::uint64_t h = hash_of(key);
  const std::size_t i = find(h, key);
  if (i != capacity_) {
    slots_[i].count += weight;
    return;
  }
  if (used_ < capacity_) {
    put(used_++, h, key, weight, 0);
    return;
  }
  // Space-Saving: the new key takes the smallest counter over, inheriting its count as error.
  const std::size_t m = min_slot();
  const std::uint64_t floor = slots_[m].count;
  put(m, h, key, floor + weight, floor);
}

std::vector<HeavyHitters::Item> HeavyHitters::top(std::size_t n) const {
  std::vector<Item> out;
  out.reserve(used_);
  for (std::size_t i = 0; i < used_; ++i) {
    out.push_back({std::string(slots_[i].key.view()), slots_[i].count, slots_[i].error});
  }
  std::sort(out.begin(), out.end(), [](const Item& a, const Item& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  if (out.size() > n) out.resize(n);
  return out;
}

void HeavyHitters::merge(const HeavyHitters& other) {
  const std::uint64_t mine_floor = min_count();
  const std::uint64_t their_floor = other.min_count();
  std::unordered_map<std::string, Item> all;
  all.reserve(used_ + other.used_);
  for (std::size_t i = 0; i < used_; ++i) {
    std::string k(slots_[i].key.view());
    all[k] = {k, slots_[i].count + their_floor, slots_[i].error + their_floor};
  }
  for (std::size_t i = 0; i < other.used_; ++i) {
    std::string k(other.slots_[i].key.view());
    auto it = all.find(k);
    if (it != all.end()) {
      // Both hold it: the floors added above for "missing" do not apply.
      it->second.count += other.slots_[i].count - their_floor;
      it->second.error += other.slots_[i].error - their_floor;
    } else {
      all[k] = {k, other.slots_[i].count + mine_floor, other.slots_[i].error + mine_floor};
    }
  }
  std::vector<Item> items;
  items.reserve(all.size());
  for (auto& [k, item] : all) items.push_back(std::move(item));
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  if (items.size() > capacity_) items.resize(capacity_);
  const std::uint64_t total = total_ + other.total_;
  clear();
  total_ = total;
  for (const Item& item : items) {
    put(used_++, hash_of(item.key), item.key, item.count, item.error);
  }
}

void HeavyHitters::decay() {
  std::size_t w = 0;
  for (std::size_t i = 0; i < used_; ++i) {
    Slot s = slots_[i];
    s.count /= 2;
    s.error /= 2;
    if (s.count == 0) continue;
    hashes_[w] = hashes_[i];
    slots_[w] = s;
    ++w;
  }
  used_ = w;
  total_ /= 2;
}

void HeavyHitters::clear() {
  used_ = 0;
  total_ = 0;
}

}  // namespace gh::observe
