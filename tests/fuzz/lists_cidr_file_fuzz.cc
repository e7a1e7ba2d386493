// Arbitrary text as a list file. Loading never crashes; errors name lines that exist and are
// capped; the set built from what was accepted agrees with a brute-force scan.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "client/address.h"
#include "stages/lists/key128.h"
#include "stages/lists/prefix_set.h"

using namespace gh::lists;
using gh::client::Cidr;
using gh::client::IpAddress;

namespace {

unsigned len128(const Cidr& c) {
  return c.address.is_v4 ? 96u + c.prefix_len : c.prefix_len;
}

std::optional<Match> reference(const std::vector<std::pair<Cidr, Entry>>& ps, const IpAddress& ip) {
  const std::pair<Cidr, Entry>* best = nullptr;
  for (const auto& p : ps) {
    if (gh::client::contains(p.first, ip) &&
        (best == nullptr || len128(p.first) >= len128(best->first))) {
      best = &p;
    }
  }
  if (best == nullptr) return std::nullopt;
  return Match{best->second, best->first.prefix_len, best->first.address.is_v4};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  PrefixSetBuilder b(4);
  // Entries differ per half of the input, so that "the last equal prefix wins" is checked too.
  const std::size_t half = text.find('\n', size / 2);
  std::size_t added = b.add_text(text.substr(0, half), "a", Entry{Action::Deny, 1});
  if (half != std::string_view::npos) {
    added += b.add_text(text.substr(half + 1), "b", Entry{Action::Allow, 2});
  }
  FUZZ_CHECK(added == b.size());
  FUZZ_CHECK(b.errors().size() <= 4);
  FUZZ_CHECK(b.error_count() >= b.errors().size());
  FUZZ_CHECK(added + b.error_count() <= lines + 1);
  for (const ListError& e : b.errors()) {
    FUZZ_CHECK(e.line >= 1 && e.line <= lines);
    FUZZ_CHECK(e.message.size() < 200);
  }
  const auto prefixes = b.prefixes();
  for (const auto& [cidr, entry] : prefixes) {
    FUZZ_CHECK(gh::client::parse_cidr(gh::client::format_cidr(cidr)) == cidr);
  }
  const auto set = b.build();
  FUZZ_CHECK(set->stats().prefixes + set->stats().duplicates == prefixes.size());
  if (prefixes.size() > 64) return 0;
  std::vector<IpAddress> probes;
  for (const auto& [cidr, entry] : prefixes) {
    const Prefix128 p = *to_prefix128(cidr);
    for (u128 x : {p.start, p.end(), p.start - 1, p.end() + 1}) probes.push_back(from_u128(x));
  }
  for (std::size_t i = 0; i + 16 <= size && probes.size() < 256; i += 16) {
    IpAddress a;
    for (std::size_t j = 0; j < 16; ++j) a.bytes[j] = data[i + j];
    probes.push_back(from_u128(to_u128(a)));
  }
  for (const IpAddress& a : probes) FUZZ_CHECK(set->lookup(a) == reference(prefixes, a));
  return 0;
}
