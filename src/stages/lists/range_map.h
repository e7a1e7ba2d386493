// A static map from disjoint ranges that tile the key space to 32-bit values, searched by a
// static B+ tree (README.md, "Prefix set"): B keys per node, B + 1 children, no pointers (the
// children of node i are nodes i (B + 1) .. i (B + 1) + B of the layer below), layers stored root
// first. A direct index on the key's top bits names, for each slice of the key space, the lowest
// node whose subtree holds every range the slice meets; the descent starts there. With keys
// spread evenly that is a leaf or its parent; with keys bunched in one slice it is the root, so
// the worst case is the plain tree: log_{B+1}(n) nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

#include "stages/lists/mapped_array.h"

namespace gh::lists {

template <class K, std::size_t B>
class RangeMap {
  static_assert(B * sizeof(K) == 64 || B * sizeof(K) == 128, "a node is one or two cache lines");
  static constexpr int kMaxLayers = 32;
  static constexpr K kMax = static_cast<K>(~K{0});
  static constexpr int kKeyBits = static_cast<int>(sizeof(K) * 8);
  static constexpr int kNodeBits = 27;  // start entry: layer << kNodeBits | node
  static constexpr int kMaxIndexBits = 20;

 public:
  RangeMap() = default;

  // starts: strictly ascending with starts[0] == 0; range i is [starts[i], starts[i + 1]).
  // Throws std::bad_alloc, or std::length_error beyond 2^27 ranges.
  RangeMap(std::span<const K> starts, std::span<const std::uint32_t> values) : n_(starts.size()) {
    if (n_ == 0 || n_ >= (std::size_t{1} << kNodeBits)) throw std::length_error("RangeMap size");
    std::size_t count[kMaxLayers];
    count[0] = (n_ + B - 1) / B;
    layers_ = 1;
    while (count[layers_ - 1] > 1) {
      count[layers_] = (count[layers_ - 1] + B) / (B + 1);
      ++layers_;
    }
    std::size_t total = 0;
    for (int h = layers_ - 1; h >= 0; --h) {
      offset_[h] = total;
      total += count[h];
    }
    nodes_ = MappedArray<K>(total * B);
    values_ = MappedArray<std::uint32_t>(count[0] * B);
    K* leaves = nodes_.data() + offset_[0] * B;
    for (std::size_t i = 0; i < count[0] * B; ++i) {
      leaves[i] = i < n_ ? starts[i] : kMax;
      values_[i] = i < n_ ? values[i] : values[n_ - 1];
    }
    // Key j of node i on layer h: the least key under its child j + 1, whose leftmost leaf is
    // child × (B + 1)^(h - 1).
    std::size_t span = 1;  // leaves under one node of layer h - 1
    for (int h = 1; h < layers_; ++h) {
      K* layer = nodes_.data() + offset_[h] * B;
      for (std::size_t i = 0; i < count[h]; ++i) {
        for (std::size_t j = 0; j < B; ++j) {
          const std::size_t child = i * (B + 1) + j + 1;
          const std::size_t leaf = child < count[h - 1] ? child * span : count[0];
          layer[i * B + j] = leaf < count[0] && leaf * B < n_ ? starts[leaf * B] : kMax;
        }
      }
      span *= B + 1;
    }
    build_index(starts, count[0]);
  }

  // The value of the range holding x. No branch depends on the data but the loop count.
  std::uint32_t find(K x) const noexcept {
    if (x == kMax) [[unlikely]] {
      return values_[n_ - 1];  // past every padding key and absent child
    }
    const std::uint32_t start = index_[static_cast<std::size_t>(x >> shift_)];
    std::size_t i = start & ((std::uint32_t{1} << kNodeBits) - 1);
    for (int h = static_cast<int>(start >> kNodeBits); h > 0; --h) {
      i = i * (B + 1) + count_le(nodes_.data() + (offset_[h] + i) * B, x);
    }
    // The leaf's value line is known now: fetch it while the keys are compared.
    __builtin_prefetch(values_.data() + i * B);
    const std::size_t c = count_le(nodes_.data() + offset_[0] * B + i * B, x);
    return values_[i * B + c - 1];  // c >= 1: the leaf's first key is <= x by descent
  }

  std::size_t size() const noexcept { return n_; }
  std::size_t memory_bytes() const noexcept {
    return nodes_.memory_bytes() + values_.memory_bytes() + index_.memory_bytes();
  }

 private:
  static std::size_t count_le(const K* node, K x) noexcept {
    std::size_t c = 0;
    for (std::size_t j = 0; j < B; ++j) c += node[j] <= x ? 1 : 0;
    return c;
  }

  // About one slice per leaf. For each slice, the ranges it meets are those of the last key <=
  // its first address through the last key <= its last address; their leaves' lowest common
  // ancestor is where every descent for the slice meets again.
  void build_index(std::span<const K> starts, std::size_t leaves) {
    int bits = 1;
    while (bits < kMaxIndexBits && (std::size_t{1} << bits) < leaves) ++bits;
    shift_ = kKeyBits - bits;
    const std::size_t slices = std::size_t{1} << bits;
    index_ = MappedArray<std::uint32_t>(slices);
    std::size_t r = 0;  // last key <= the slice's first address
    for (std::size_t c = 0; c < slices; ++c) {
      const K first = static_cast<K>(static_cast<K>(c) << shift_);
      const K last = static_cast<K>(first | (kMax >> bits));
      while (r + 1 < n_ && starts[r + 1] <= first) ++r;
      std::size_t r_last = r;
      while (r_last + 1 < n_ && starts[r_last + 1] <= last) ++r_last;
      std::size_t lo = r / B;
      std::size_t hi = r_last / B;
      std::uint32_t h = 0;
      while (lo != hi) {
        lo /= B + 1;
        hi /= B + 1;
        ++h;
      }
      index_[c] = h << kNodeBits | static_cast<std::uint32_t>(lo);
    }
  }

  MappedArray<K> nodes_;
  MappedArray<std::uint32_t> values_;
  MappedArray<std::uint32_t> index_;  // per slice of the key space: where descents start
  int shift_ = 0;                     // key >> shift_ is the slice
  std::size_t n_ = 0;
  int layers_ = 0;
  std::size_t offset_[kMaxLayers] = {};  // first node of each layer; layer 0 = leaves
};

}  // namespace gh::lists
