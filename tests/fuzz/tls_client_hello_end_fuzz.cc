// Invariants of the ClientHello capture's record walk: never crash, never past the bytes given,
// a result ends on a record boundary, and a complete capture does not change when more bytes
// follow (it never looks past the records it counted).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tls/conn.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> b(data, size);
  const std::size_t end = gh::tls::client_hello_end(b);
  if (end > size) std::abort();
  if (size == 0) {
    if (end != 0) std::abort();
    return 0;
  }
  if (data[0] != 22) {
    if (end != size) std::abort();  // not TLS: handed to OpenSSL as is
    return 0;
  }
  if (end == 0) return 0;
  // Records from the start up to `end`, each whole.
  std::size_t off = 0;
  while (off < end) {
    if (off + 5 > end) std::abort();
    off += 5 + ((std::size_t{data[off + 3]} << 8) | data[off + 4]);
  }
  if (off != end) std::abort();
  std::vector<std::uint8_t> longer(data, data + size);
  longer.push_back(0x16);
  longer.push_back(0x03);
  if (gh::tls::client_hello_end(longer) != end) std::abort();
  return 0;
}
