// PROXY protocol v1 (text) and v2 (binary) header parser: a pure function over bytes that never
// reads past the span and never allocates. Spec: haproxy.org/download/2.9/doc/proxy-protocol.txt
#pragma once

#include <cstddef>
#include <string_view>

#include "client/proxy_protocol-t.h"

namespace gh::client {

inline constexpr std::size_t kProxyV1MaxBytes = 107;     // the whole line including CRLF
inline constexpr std::size_t kProxyV2HeaderBytes = 16;   // signature + ver/cmd + fam + len
inline constexpr std::size_t kProxyV2MaxPayload = 2048;  // our cap on the address+TLV block

// Parses the header at the start of `buf`. NeedMore only while `buf` is a valid prefix of some
// header: a wrong byte is an Error as soon as it arrives. v1 fields are strict (single spaces,
// no leading zeros, TCP4 takes IPv4 and TCP6 IPv6). v2: version 2, LOCAL/PROXY, INET/INET6 over
// STREAM give addresses, other known families/transports give local; TLVs are skipped.
ProxyHeaderResult parse_proxy_header(std::string_view buf);

}  // namespace gh::client
