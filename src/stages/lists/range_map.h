// A static map from disjoint ranges that tile the key space to 32-bit values, searched by a
// static B+ tree (README.md, "Prefix set"): B keys per node, B + 1 children, no pointers (the
// children of node i are nodes i (B + 1) .. i (B + 1) + B of the layer below), layers stored root
// first. A lookup reads one node per layer: log_{B+1}(n) cache lines, the top ones always hot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stages/lists/mapped_array.h"

namespace gh::lists {

template <class K, std::size_t B>
class RangeMap {
  static_assert(B * sizeof(K) == 64 || B * sizeof(K) == 128, "a node is one or two cache lines");
  static constexpr int kMaxLayers = 32;
  static constexpr K kMax = static_cast<K>(~K{0});

 public:
  RangeMap() = default;

  // starts: strictly ascending with starts[0] == 0; range i is [starts[i], starts[i + 1]).
  RangeMap(std::span<const K> starts, std::span<const std::uint32_t> values)
      : n_(starts.size()) {
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
  }

  // The value of the range holding x. No branch depends on the data but the loop count.
  std::uint32_t find(K x) const noexcept {
    if (x == kMax) [[unlikely]] {
      return values_[n_ - 1];  // past every padding key and absent child
    }
    std::size_t i = 0;
    for (int h = layers_ - 1; h > 0; --h) {
      i = i * (B + 1) + count_le(nodes_.data() + (offset_[h] + i) * B, x);
    }
    // The leaf's value line is known now: fetch it while the keys are compared.
    __builtin_prefetch(values_.data() + i * B);
    const std::size_t c = count_le(nodes_.data() + offset_[0] * B + i * B, x);
    return values_[i * B + c - 1];  // c >= 1: the leaf's first key is <= x by descent
  }

  std::size_t size() const noexcept { return n_; }
  std::size_t memory_bytes() const noexcept {
    return nodes_.memory_bytes() + values_.memory_bytes();
  }

 private:
  static std::size_t count_le(const K* node, K x) noexcept {
    std::size_t c = 0;
    for (std::size_t j = 0; j < B; ++j) c += node[j] <= x ? 1 : 0;
    return c;
  }

  MappedArray<K> nodes_;
  MappedArray<std::uint32_t> values_;
  std::size_t n_ = 0;
  int layers_ = 0;
  std::size_t offset_[kMaxLayers] = {};  // first node of each layer; layer 0 = leaves
};

}  // namespace gh::lists
