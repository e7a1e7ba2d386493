#include "stages/lists/prefix_set.h"

#include <algorithm>
#include <limits>

namespace gh::lists {
namespace {

struct Range {
  u128 start;
  std::uint32_t value;
};

unsigned len_of(std::uint32_t value) {
  return value & 0xff;
}

// Appends a range, keeping the list canonical: a range starting where the last one starts
// replaces it (the last was empty), and one carrying the same value as its predecessor merges.
void emit(std::vector<Range>& out, u128 start, std::uint32_t value) {
  if (!out.empty() && out.back().start == start) out.pop_back();
  if (!out.empty() && out.back().value == value) return;
  out.push_back(Range{start, value});
}

// Prefixes sorted by (start, length), without duplicates, are either nested or disjoint, so a
// stack of the open ones gives, at each boundary, the longest prefix covering what follows.
std::vector<Range> sweep(const std::vector<PrefixSetBuilder::Item>& items);

std::uint32_t value_at(const std::vector<Range>& ranges, u128 x) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), x,
                             [](u128 v, const Range& r) { return v < r.start; });
  return std::prev(it)->value;
}

template <class K>
void push(std::vector<K>& keys, std::vector<std::uint32_t>& values, K key, std::uint32_t value) {
  if (!values.empty() && values.back() == value) return;
  keys.push_back(key);
  values.push_back(value);
}

}  // namespace

std::string ListError::to_string() const {
  std::string out = file;
  if (line != 0) out += ":" + std::to_string(line);
  out += ": ";
  out += message;
  return out;
}

PrefixSet::PrefixSet() {
  const std::uint32_t zero32 = 0;
  const u128 zero128 = 0;
  v4_ = RangeMap<std::uint32_t, 16>({&zero32, 1}, {&kNoMatch, 1});
  v6_ = RangeMap<u128, 8>({&zero128, 1}, {&kNoMatch, 1});
  stats_.memory_bytes = sizeof(PrefixSet) + v4_.memory_bytes() + v6_.memory_bytes();
}

bool PrefixSetBuilder::add(const client::Cidr& cidr, Entry entry) {
  const auto p = to_prefix128(cidr);
  if (!p || items_.size() >= std::numeric_limits<std::uint32_t>::max()) return false;
  const std::uint32_t value = std::uint32_t{p->len} |
                              std::uint32_t{static_cast<std::uint8_t>(entry.action)} << 8 |
                              std::uint32_t{entry.list} << 16;
  items_.push_back(Item{p->start, value, static_cast<std::uint32_t>(items_.size())});
  return true;
}

std::vector<std::pair<client::Cidr, Entry>> PrefixSetBuilder::prefixes() const {
  std::vector<std::pair<client::Cidr, Entry>> out;
  out.reserve(items_.size());
  for (const Item& it : items_) {
    const Entry e{static_cast<Action>((it.value >> 8) & 0xff),
                  static_cast<std::uint16_t>(it.value >> 16)};
    out.emplace_back(to_cidr(Prefix128{it.start, static_cast<std::uint8_t>(len_of(it.value))}), e);
  }
  return out;
}

void PrefixSetBuilder::error(std::string_view file, std::size_t line, std::string message) {
  ++error_count_;
  if (errors_.size() < max_errors_) {
    errors_.push_back(ListError{std::string(file), line, std::move(message)});
  }
}

namespace {

std::vector<Range> sweep(const std::vector<PrefixSetBuilder::Item>& items) {
  std::vector<Range> out;
  out.reserve(2 * items.size() + 1);
  emit(out, 0, PrefixSet::kNoMatch);
  std::vector<const PrefixSetBuilder::Item*> open;  // nested, at most 129 deep
  auto end_of = [](const PrefixSetBuilder::Item* it) {
    return it->start | host_mask(len_of(it->value));
  };
  auto close_top = [&] {
    const u128 end = end_of(open.back());
    open.pop_back();
    if (end != kU128Max)
      emit(out, end + 1, open.empty() ? PrefixSet::kNoMatch : open.back()->value);
  };
  for (const auto& it : items) {
    while (!open.empty() && end_of(open.back()) < it.start) close_top();
    emit(out, it.start, it.value);
    open.push_back(&it);
  }
  while (!open.empty()) close_top();
  return out;
}

}  // namespace

std::unique_ptr<PrefixSet> PrefixSetBuilder::build() {
  std::vector<Item> items = std::move(items_);
  items_ = {};
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.start != b.start) return a.start < b.start;
    if (len_of(a.value) != len_of(b.value)) return len_of(a.value) < len_of(b.value);
    return a.order < b.order;
  });
  std::size_t kept = 0;
  for (const Item& it : items) {
    if (kept > 0 && items[kept - 1].start == it.start &&
        len_of(items[kept - 1].value) == len_of(it.value)) {
      items[kept - 1] = it;  // sorted by order within equals: the later one wins
    } else {
      items[kept++] = it;
    }
  }
  const std::size_t duplicates = items.size() - kept;
  items.resize(kept);

  const std::vector<Range> ranges = sweep(items);
  items = {};

  // IPv4 lookups search the ranges inside ::ffff:0:0/96 by their low 32 bits; IPv6 lookups the
  // others, with the /96 folded into its neighbour (no IPv6 lookup lands in it).
  std::vector<std::uint32_t> k4;
  std::vector<std::uint32_t> v4;
  push(k4, v4, std::uint32_t{0}, value_at(ranges, kMappedStart));
  std::vector<u128> k6;
  std::vector<std::uint32_t> v6;
  for (const Range& r : ranges) {
    if (r.start < kMappedStart) {
      push(k6, v6, r.start, r.value);
    } else if (r.start <= kMappedEnd) {
      if (r.start != kMappedStart) push(k4, v4, static_cast<std::uint32_t>(r.start), r.value);
    } else {
      if (k6.empty() || k6.back() <= kMappedEnd) {
        push(k6, v6, kMappedEnd + 1, value_at(ranges, kMappedEnd + 1));
      }
      push(k6, v6, r.start, r.value);
    }
  }
  if (k6.empty() || k6.back() <= kMappedEnd)
    push(k6, v6, kMappedEnd + 1, value_at(ranges, kMappedEnd + 1));

  auto set = std::make_unique<PrefixSet>();
  set->v4_ = RangeMap<std::uint32_t, 16>(k4, v4);
  set->v6_ = RangeMap<u128, 8>(k6, v6);
  set->stats_.prefixes = kept;
  set->stats_.duplicates = duplicates;
  set->stats_.ranges_v4 = k4.size();
  set->stats_.ranges_v6 = k6.size();
  set->stats_.memory_bytes = sizeof(PrefixSet) + set->v4_.memory_bytes() + set->v6_.memory_bytes();
  return set;
}

}  // namespace gh::lists
