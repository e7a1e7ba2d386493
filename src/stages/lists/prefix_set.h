// Allow/deny prefix lists: an immutable set of IPv4 and IPv6 prefixes with longest-prefix match.
// A reload builds a new set and swaps the shared pointer (as policy::Snapshot does), so lookups
// take no lock. Lookups allocate nothing, throw nothing and take O(log n) cache lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/address-t.h"
#include "stages/lists/key128.h"
#include "stages/lists/lists-t.h"
#include "stages/lists/range_map.h"

namespace gh::lists {

class PrefixSet {
 public:
  PrefixSet();  // empty: matches nothing

  // The longest prefix holding `ip`, matched on the 16-byte form like client::contains.
  std::optional<Match> lookup(const client::IpAddress& ip) const noexcept {
    const u128 x = to_u128(ip);
    const bool v4 = is_mapped(x);
    return decode(v4 ? v4_.find(static_cast<std::uint32_t>(x)) : v6_.find(x), v4);
  }

  std::size_t size() const noexcept { return stats_.prefixes; }
  const PrefixSetStats& stats() const noexcept { return stats_; }

  // A range's value: bits 0-7 the prefix length in 128-bit terms (kNoMatch: none), 8-15 the
  // action, 16-31 the list.
  static constexpr std::uint32_t kNoMatch = 0xff;

 private:
  friend class PrefixSetBuilder;

  static std::optional<Match> decode(std::uint32_t v, bool v4_address) noexcept {
    const unsigned len = v & 0xff;
    if (len == kNoMatch) return std::nullopt;
    Match m;
    m.entry.action = static_cast<Action>((v >> 8) & 0xff);
    m.entry.list = static_cast<std::uint16_t>(v >> 16);
    // A prefix of 96+ bits holding an IPv4 address lies inside ::ffff:0:0/96: it is IPv4.
    m.prefix_is_v4 = len >= 96 && v4_address;
    m.prefix_len = static_cast<std::uint8_t>(m.prefix_is_v4 ? len - 96 : len);
    return m;
  }

  RangeMap<std::uint32_t, 16> v4_;  // ::ffff:0:0/96, keyed by the IPv4 address
  RangeMap<u128, 8> v6_;            // the rest of the space (never asked about the /96)
  PrefixSetStats stats_;
};

using PrefixSetPtr = std::shared_ptr<const PrefixSet>;

// Collects prefixes (from code or list files) and builds a PrefixSet. Not thread-safe.
class PrefixSetBuilder {
 public:
  explicit PrefixSetBuilder(std::size_t max_errors = kDefaultMaxErrors) : max_errors_(max_errors) {}

  // False when prefix_len exceeds the family's width. Host bits are ignored. Of two equal
  // prefixes the one added last wins (later lists override earlier ones).
  bool add(const client::Cidr& cidr, Entry entry);

  // List text: one prefix per line ("10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or
  // /128), '#' starts a comment, blank lines and surrounding spaces are ignored. Bad lines are
  // recorded as errors ("name:line: ...") and skipped. Returns the prefixes added.
  std::size_t add_text(std::string_view text, std::string_view name, Entry entry);
  std::size_t add_file(const std::string& path, Entry entry);

  // The first max_errors errors; error_count() counts them all.
  const std::vector<ListError>& errors() const noexcept { return errors_; }
  std::size_t error_count() const noexcept { return error_count_; }
  std::size_t size() const noexcept { return items_.size(); }
  std::vector<std::pair<client::Cidr, Entry>> prefixes() const;  // in the order added

  // Builds the set and leaves the builder empty (errors are kept). Throws std::bad_alloc.
  std::unique_ptr<PrefixSet> build();

  // One prefix as collected (public for the build helpers in prefix_set.cc).
  struct Item {
    u128 start;
    std::uint32_t value;  // as stored in the set, with the length
    std::uint32_t order;  // insertion order, so the last of equal prefixes wins
  };

 private:
  void error(std::string_view file, std::size_t line, std::string message);

  std::vector<Item> items_;
  std::vector<ListError> errors_;
  std::size_t error_count_ = 0;
  std::size_t max_errors_;
};

}  // namespace gh::lists
