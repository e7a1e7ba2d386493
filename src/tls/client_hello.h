// A strict, bounded reader of a TLS ClientHello from the raw bytes a client sends first (TLS
// record layer: one or more handshake records), for fingerprints (ja4.h). OpenSSL's client-hello
// callback hides GREASE and extensions it does not know, so the bytes are read here.
//
// A pure function over the bytes received so far: it never reads outside the span and never
// allocates. NeedMore only while the bytes are a valid beginning of a hello; a wrong byte is an
// Error as soon as it has arrived. Layout: RFC 8446 4.1.2 (and 5.1 for records), RFC 6066 3
// (server_name), RFC 7301 3.1 (ALPN), RFC 8701 (GREASE).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "tls/client_hello-t.h"

namespace gh::tls {

// Fills `out` (its previous content is discarded). Each call reads the records from the start:
// the caller passes everything received so far. kMaxHelloBytes of input always give Complete or
// Error, never NeedMore: a transport's buffer of that size suffices. A transport should refuse
// a connection whose hello is an Error (OpenSSL refuses most of them too), or a client could
// send a malformed hello to go without a fingerprint. Record headers are walked first and the hello
// is copied and parsed only once its last byte has arrived, so a client that trickles bytes
// costs a few header reads per call.
HelloResult parse_client_hello(std::span<const std::uint8_t> bytes, ClientHello& out);

// RFC 8701's reserved values: 0x0A0A, 0x1A1A, ... 0xFAFA (cipher suites, extensions, groups,
// signature algorithms, versions).
constexpr bool is_grease(std::uint16_t v) {
  return (v >> 8) == (v & 0xFF) && (v & 0x0F) == 0x0A;
}

// One line saying what is wrong, for logs and tests ("" for None).
std::string_view describe(HelloError e);

}  // namespace gh::tls
