// CRC-32 (IEEE 802.3, reflected, as zlib's crc32 and gzip), table driven. The journal's record
// check: it catches torn and flipped bytes, not tampering (the file is ours to trust or not).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gh::lists {

// Chainable: crc32(b, nb, crc32(a, na)) == crc32 of a followed by b.
std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0) noexcept;

}  // namespace gh::lists
