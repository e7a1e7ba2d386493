#include "stages/challenge/binding.h"

#include <array>
#include <cstddef>
#include <string>

#include "stages/challenge/sha256.h"

namespace gh::challenge {

namespace {

std::uint64_t first_word(const Digest& d) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | d[i];
  return v;
}

}  // namespace

std::uint64_t binding_of(const client::Cidr& prefix, std::string_view user_agent) {
  // The 16-byte form with host bits cleared; an IPv4 prefix counts bits of its last 4 bytes.
  std::array<std::uint8_t, 18> head{};
  const unsigned width = prefix.address.is_v4 ? 32 : 128;
  const unsigned len = prefix.prefix_len > width ? width : prefix.prefix_len;
  const unsigned keep = (128 - width) + len;  // bits of the 16-byte form to keep
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bit = i * 8;
    std::uint8_t b = prefix.address.bytes[i];
    if (bit >= keep) {
      b = 0;
    } else if (keep - bit < 8) {
      b &= static_cast<std::uint8_t>(0xff << (8 - (keep - bit)));
    }
    head[i] = b;
  }
  head[16] = static_cast<std::uint8_t>(len);
  head[17] = prefix.address.is_v4 ? 4 : 6;
  return first_word(sha256(
      {std::string_view("gatehouse binding v1\0", 21),
       std::string_view(reinterpret_cast<const char*>(head.data()), head.size()), user_agent}));
}

std::uint64_t account_hash(std::string_view account) {
  std::string folded(account);
  for (char& c : folded) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return first_word(sha256({std::string_view("gatehouse account v1\0", 21), folded}));
}

}  // namespace gh::challenge
