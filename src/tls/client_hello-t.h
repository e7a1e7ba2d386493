// What a TLS ClientHello says, as read from the raw bytes of the record layer (client_hello.h),
// and the outcome of reading it. Fixed capacity throughout: reading a hello never allocates, and
// every list has a cap past which the hello is refused (no real client comes near one).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace gh::tls {

// The client's first flight up to the end of its ClientHello, record headers included.
inline constexpr std::size_t kMaxHelloBytes = 16 * 1024;
inline constexpr std::size_t kRecordHeaderBytes = 5;
inline constexpr std::size_t kMaxCipherSuites = 256;
inline constexpr std::size_t kMaxExtensions = 128;
inline constexpr std::size_t kMaxSignatureAlgorithms = 128;
inline constexpr std::size_t kMaxSupportedGroups = 128;
inline constexpr std::size_t kMaxSupportedVersions = 64;
inline constexpr std::size_t kMaxAlpn = 32;

// A list of at most N values; push refuses the (N+1)th.
template <typename T, std::size_t N>
struct BoundedList {
  std::array<T, N> items{};
  std::size_t count = 0;

  bool push(T v) {
    if (count == N) return false;
    items[count++] = v;
    return true;
  }
  std::span<const T> view() const { return {items.data(), count}; }
  bool empty() const { return count == 0; }
  std::size_t size() const { return count; }
  T operator[](std::size_t i) const { return items[i]; }
};

// Bytes of ClientHello::message (offsets rather than pointers, so a copy stays valid).
struct ByteRange {
  std::uint16_t offset = 0;
  std::uint16_t size = 0;
};

// Every value as sent, GREASE included (is_grease in client_hello.h tells them apart); lists in
// the client's order.
struct ClientHello {
  std::uint16_t legacy_version = 0;  // ClientHello.legacy_version (not the record's)
  BoundedList<std::uint16_t, kMaxCipherSuites> cipher_suites;
  BoundedList<std::uint16_t, kMaxExtensions> extensions;  // type ids, in order
  bool has_server_name = false;                           // the extension is present
  ByteRange server_name;                                  // its host_name, when there is one
  bool has_alpn = false;
  BoundedList<ByteRange, kMaxAlpn> alpn;
  BoundedList<std::uint16_t, kMaxSignatureAlgorithms> signature_algorithms;
  BoundedList<std::uint16_t, kMaxSupportedGroups> supported_groups;
  bool has_supported_versions = false;
  BoundedList<std::uint16_t, kMaxSupportedVersions> supported_versions;

  // The handshake message (4-byte header and body), joined from its records.
  std::array<std::uint8_t, kMaxHelloBytes> message{};
  std::size_t message_size = 0;

  // Forgets what was read, except the message buffer's bytes (no 16 KiB clear per read).
  void clear() {
    legacy_version = 0;
    cipher_suites.count = 0;
    extensions.count = 0;
    has_server_name = false;
    server_name = {};
    has_alpn = false;
    alpn.count = 0;
    signature_algorithms.count = 0;
    supported_groups.count = 0;
    has_supported_versions = false;
    supported_versions.count = 0;
    message_size = 0;
  }

  std::string_view bytes(ByteRange r) const {
    return {reinterpret_cast<const char*>(message.data()) + r.offset, r.size};
  }
  std::string_view host() const { return bytes(server_name); }
  std::string_view alpn_at(std::size_t i) const { return bytes(alpn[i]); }
};

enum class HelloStatus : std::uint8_t { Complete, NeedMore, Error };

enum class HelloError : std::uint8_t {
  None,
  NotHandshake,    // a record that is not a handshake record (or SSLv2)
  RecordVersion,   // record version major is not 3
  EmptyRecord,     // a zero-length handshake record (RFC 8446 5.1 forbids it)
  RecordTooLong,   // a record over 2^14 bytes
  NotClientHello,  // the first handshake message is something else
  TooLarge,        // over kMaxHelloBytes
  TrailingData,    // more bytes after the ClientHello in its last record
  Truncated,       // the fixed fields (version, random) do not fit
  SessionId,       // over 32 bytes, or past the end
  CipherSuites,    // empty, odd, or past the end
  TooManyCipherSuites,
  Compression,       // empty, or past the end
  ExtensionsLength,  // the extensions block does not end where the hello ends
  Extension,         // an extension runs past the block
  DuplicateExtension,
  TooManyExtensions,
  PskNotLast,  // pre_shared_key must be the last extension (RFC 8446 4.2.11)
  ServerName,  // malformed server_name, or a host name with bytes no host name has
  Alpn,        // malformed ALPN list, or an empty protocol name
  TooManyAlpn,
  SignatureAlgorithms,
  TooManySignatureAlgorithms,
  SupportedGroups,
  TooManySupportedGroups,
  SupportedVersions,
  TooManySupportedVersions,
};

struct HelloResult {
  HelloStatus status = HelloStatus::NeedMore;
  HelloError error = HelloError::None;
  // Complete: the bytes up to the end of the record that ends the hello (what follows belongs
  // to the next record). Otherwise 0.
  std::size_t consumed = 0;
};

}  // namespace gh::tls
