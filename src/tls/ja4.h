// JA4, the TLS client fingerprint (FoxIO, technical_details/JA4.md; JA4 itself is BSD-3-Clause —
// the other JA4+ fingerprints are under another licence and are not implemented here), computed
// from a parsed ClientHello (client_hello.h). Over TCP only: the first character is always `t`.
//
//   t13d1516h2_8daaf6152771_e5627efa2ab1
//   a: t, version (highest non-GREASE supported_versions, else legacy_version), d/i (SNI
//      extension present or not), cipher and extension counts without GREASE (capped at 99),
//      first and last character of the first ALPN value ("00" when none)
//   b: 12 hex of SHA-256 over the sorted cipher suites ("002f,0035,..."), 000000000000 if none
//   c: 12 hex of SHA-256 over the sorted extensions without SNI and ALPN, then "_" and the
//      signature algorithms in the client's order (no "_" when there are none);
//      000000000000 if there are no extensions left
// GREASE is left out everywhere. The _o forms keep the client's order (and SNI and ALPN in the
// extension list); the raw (_r) forms show the lists instead of their hashes, for debugging.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tls/client_hello-t.h"

namespace gh::tls {

inline constexpr std::size_t kJa4Size = 36;  // 10 + 1 + 12 + 1 + 12

struct Ja4 {
  std::array<char, kJa4Size> text{};
  std::string_view view() const { return {text.data(), text.size()}; }
};

enum class Ja4Order : std::uint8_t {
  Sorted,    // ja4, ja4_r
  Original,  // ja4_o, ja4_ro
};

// The fingerprint. Empty only when libcrypto cannot hash (out of memory).
std::optional<Ja4> ja4(const ClientHello& hello, Ja4Order order = Ja4Order::Sorted);
// The raw form (ja4_r, or ja4_ro with Original), for logs and debugging.
std::string ja4_raw(const ClientHello& hello, Ja4Order order = Ja4Order::Sorted);

// JA4's version code ("13", "12", ..., "s3", "d2"; "00" when unknown).
std::string_view ja4_version_code(std::uint16_t version);

}  // namespace gh::tls
