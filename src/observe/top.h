// "Who is hitting us right now": a Space-Saving sketch (Metwally et al.) of K counters over short
// string keys (client prefixes, user agents, accounts, ASNs). Memory is fixed at construction:
// keys live in fixed-size slots, cut to kKeyBytes, so attacker-chosen keys cannot grow it.
//
// Guarantee: after N units of weight, every key whose true weight exceeds N / K is held, and a
// held key's count over-estimates its true weight by at most its `error` (count - error is a lower
// bound). One sketch per worker, not thread-safe; readers merge copies taken by the owner.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "observe/observe-t.h"

namespace gh::observe {

class HeavyHitters {
 public:
  static constexpr std::size_t kKeyBytes = 128;
  using Item = TopItem;

  explicit HeavyHitters(std::size_t capacity = 64);
  HeavyHitters(const HeavyHitters& other);
  HeavyHitters& operator=(const HeavyHitters& other);

  // O(K) compares of 64-bit hashes; no allocation. An empty key is ignored.
  void add(std::string_view key, std::uint32_t weight = 1);

  // The `n` heaviest, heaviest first (ties by key).
  std::vector<Item> top(std::size_t n) const;

  // Folds `other` in (mergeable summaries, Agarwal et al. 2012): a key missing from one side is
  // charged that side's smallest count, as error too, when that side is full. The result keeps
  // the K heaviest and the guarantee above for the combined stream.
  void merge(const HeavyHitters& other);

  // Halves every count and error (once a minute) so the list shows what is heavy now; slots that
  // reach zero are freed.
  void decay();
  void clear();

  std::size_t capacity() const { return capacity_; }
  std::size_t size() const { return used_; }
  std::uint64_t total() const { return total_; }  // weight added since the last clear, decayed

 private:
  struct Slot {
    std::uint64_t count = 0;
    std::uint64_t error = 0;
    FixedText<kKeyBytes> key;
  };
  std::size_t find(std::uint64_t hash, std::string_view key) const;
  std::size_t min_slot() const;
  void put(std::size_t i, std::uint64_t hash, std::string_view key, std::uint64_t count,
           std::uint64_t error);
  std::uint64_t min_count() const;

  std::size_t capacity_;
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
  std::unique_ptr<std::uint64_t[]> hashes_;  // parallel to slots_: the scan touches only these
  std::unique_ptr<Slot[]> slots_;
};

// GET /v1/top: {"prefixes": [{"key", "count", "error"}], "asns": [...], "user_agents": [...],
// "accounts": [...]} (minutes.h offenders_json).

}  // namespace gh::observe
