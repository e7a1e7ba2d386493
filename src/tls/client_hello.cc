#include "tls/client_hello.h"

#include <algorithm>
#include <cstring>

namespace gh::tls {
namespace {

constexpr std::uint8_t kHandshakeRecord = 22;
constexpr std::uint8_t kClientHelloType = 1;
constexpr std::size_t kMaxRecordPayload = 1 << 14;  // RFC 8446 5.1
constexpr std::size_t kRandomBytes = 32;
constexpr std::size_t kMaxSessionId = 32;
constexpr std::size_t kMaxHostName = 255;

constexpr std::uint16_t kExtServerName = 0x0000;
constexpr std::uint16_t kExtSupportedGroups = 0x000a;
constexpr std::uint16_t kExtSignatureAlgorithms = 0x000d;
constexpr std::uint16_t kExtAlpn = 0x0010;
constexpr std::uint16_t kExtPreSharedKey = 0x0029;
constexpr std::uint16_t kExtSupportedVersions = 0x002b;

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

// Reads one field after another within [pos, end) of the message; any read past `end` fails and
// leaves the reader where it was.
class Reader {
 public:
  Reader(const std::uint8_t* base, std::size_t pos, std::size_t end)
      : base_(base), pos_(pos), end_(end) {}

  std::size_t left() const { return end_ - pos_; }
  std::size_t pos() const { return pos_; }
  bool u8(std::size_t& v) {
    if (left() < 1) return false;
    v = base_[pos_++];
    return true;
  }
  bool u16(std::size_t& v) {
    if (left() < 2) return false;
    v = be16(base_ + pos_);
    pos_ += 2;
    return true;
  }
  bool skip(std::size_t n) {
    if (left() < n) return false;
    pos_ += n;
    return true;
  }
  // A sub-reader over the next n bytes, which this reader skips.
  bool sub(std::size_t n, Reader& inner) {
    if (left() < n) return false;
    inner = Reader(base_, pos_, pos_ + n);
    pos_ += n;
    return true;
  }

 private:
  const std::uint8_t* base_;
  std::size_t pos_;
  std::size_t end_;
};

// A vector of 16-bit values with a `prefix`-byte length (1 or 2) that fills its whole extension:
// at least one value, an even length, at most N values.
template <std::size_t N>
HelloError read_u16_list(Reader r, std::size_t prefix, BoundedList<std::uint16_t, N>& out,
                         HelloError malformed, HelloError too_many) {
  std::size_t n = 0;
  if (!(prefix == 1 ? r.u8(n) : r.u16(n)) || n != r.left() || n == 0 || n % 2 != 0) {
    return malformed;
  }
  while (r.left() > 0) {
    std::size_t v = 0;
    r.u16(v);
    if (!out.push(static_cast<std::uint16_t>(v))) return too_many;
  }
  return HelloError::None;
}

bool host_byte(std::uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// RFC 6066 3: a ServerNameList of (name_type, name); one host_name (type 0) at most, an ASCII
// host name without a trailing dot. Other name types are skipped.
HelloError read_server_name(Reader r, const std::uint8_t* base, ClientHello& out) {
  std::size_t n = 0;
  if (!r.u16(n) || n != r.left() || n == 0) return HelloError::ServerName;
  bool seen = false;
  while (r.left() > 0) {
    std::size_t type = 0, len = 0;
    if (!r.u8(type) || !r.u16(len) || len == 0 || len > r.left()) return HelloError::ServerName;
    std::size_t at = r.pos();
    r.skip(len);
    if (type != 0) continue;
    if (seen || len > kMaxHostName || base[at + len - 1] == '.') return HelloError::ServerName;
    if (!std::all_of(base + at, base + at + len, host_byte)) return HelloError::ServerName;
    seen = true;
    out.server_name = {static_cast<std::uint16_t>(at), static_cast<std::uint16_t>(len)};
  }
  return HelloError::None;
}

// RFC 7301 3.1: ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>.
HelloError read_alpn(Reader r, ClientHello& out) {
  std::size_t n = 0;
  if (!r.u16(n) || n != r.left() || n < 2) return HelloError::Alpn;
  while (r.left() > 0) {
    std::size_t len = 0;
    if (!r.u8(len) || len == 0 || len > r.left()) return HelloError::Alpn;
    if (!out.alpn.push({static_cast<std::uint16_t>(r.pos()), static_cast<std::uint16_t>(len)})) {
      return HelloError::TooManyAlpn;
    }
    r.skip(len);
  }
  return HelloError::None;
}

HelloError read_extensions(Reader r, const std::uint8_t* base, ClientHello& out) {
  std::size_t n = 0;
  if (!r.u16(n) || n != r.left()) return HelloError::ExtensionsLength;
  while (r.left() > 0) {
    std::size_t type = 0, len = 0;
    Reader data(base, 0, 0);
    if (!r.u16(type) || !r.u16(len) || !r.sub(len, data)) return HelloError::Extension;
    auto t = static_cast<std::uint16_t>(type);
    auto seen = out.extensions.view();
    if (std::find(seen.begin(), seen.end(), t) != seen.end()) {
      return HelloError::DuplicateExtension;
    }
    if (!seen.empty() && seen.back() == kExtPreSharedKey) return HelloError::PskNotLast;
    if (!out.extensions.push(t)) return HelloError::TooManyExtensions;
    HelloError e = HelloError::None;
    switch (t) {
      case kExtServerName:
        out.has_server_name = true;
        e = read_server_name(data, base, out);
        break;
      case kExtAlpn:
        out.has_alpn = true;
        e = read_alpn(data, out);
        break;
      case kExtSignatureAlgorithms:
        e = read_u16_list(data, 2, out.signature_algorithms, HelloError::SignatureAlgorithms,
                          HelloError::TooManySignatureAlgorithms);
        break;
      case kExtSupportedGroups:
        e = read_u16_list(data, 2, out.supported_groups, HelloError::SupportedGroups,
                          HelloError::TooManySupportedGroups);
        break;
      case kExtSupportedVersions:
        out.has_supported_versions = true;
        e = read_u16_list(data, 1, out.supported_versions, HelloError::SupportedVersions,
                          HelloError::TooManySupportedVersions);
        break;
      default:
        break;
    }
    if (e != HelloError::None) return e;
  }
  return HelloError::None;
}

// The body of the handshake message, message[4, message_size).
HelloError read_body(ClientHello& out) {
  const std::uint8_t* base = out.message.data();
  Reader r(base, 4, out.message_size);
  std::size_t v = 0, n = 0;
  if (!r.u16(v) || !r.skip(kRandomBytes)) return HelloError::Truncated;
  out.legacy_version = static_cast<std::uint16_t>(v);
  if (!r.u8(n) || n > kMaxSessionId || !r.skip(n)) return HelloError::SessionId;
  Reader ciphers(base, 0, 0);
  if (!r.u16(n) || n == 0 || n % 2 != 0 || !r.sub(n, ciphers)) return HelloError::CipherSuites;
  while (ciphers.left() > 0) {
    ciphers.u16(v);
    if (!out.cipher_suites.push(static_cast<std::uint16_t>(v))) {
      return HelloError::TooManyCipherSuites;
    }
  }
  if (!r.u8(n) || n == 0 || !r.skip(n)) return HelloError::Compression;
  // No extensions at all is a valid (TLS 1.2 and older) hello.
  if (r.left() == 0) return HelloError::None;
  return read_extensions(r, base, out);
}

HelloResult error(HelloError e) {
  return {HelloStatus::Error, e, 0};
}

}  // namespace

HelloResult parse_client_hello(std::span<const std::uint8_t> in, ClientHello& out) {
  out.clear();
  // Pass 1: record headers only, and the handshake header (possibly split over records), to
  // know whether the hello is all here, and to refuse what is wrong as soon as it arrives.
  std::size_t pos = 0;
  std::size_t declared = 0;  // payload bytes announced by the records seen
  std::size_t need = 0;      // the handshake message's size once its header is in
  std::uint8_t header[4] = {};
  std::size_t header_bytes = 0;
  while (need == 0 || declared < need) {
    std::size_t left = in.size() - pos;
    if (left == 0) return {};
    if (in[pos] != kHandshakeRecord) return error(HelloError::NotHandshake);
    if (left < 2) return {};
    if (in[pos + 1] != 3) return error(HelloError::RecordVersion);
    if (left < kRecordHeaderBytes) return {};
    std::size_t len = be16(&in[pos + 3]);
    if (len == 0) return error(HelloError::EmptyRecord);
    if (len > kMaxRecordPayload) return error(HelloError::RecordTooLong);
    if (pos + kRecordHeaderBytes + len > kMaxHelloBytes) return error(HelloError::TooLarge);
    std::size_t avail = std::min(len, left - kRecordHeaderBytes);
    for (std::size_t i = 0; i < avail && header_bytes < 4; ++i) {
      header[header_bytes++] = in[pos + kRecordHeaderBytes + i];
    }
    if (header_bytes >= 1 && header[0] != kClientHelloType) {
      return error(HelloError::NotClientHello);
    }
    if (header_bytes == 4 && need == 0) {
      need = 4 + (std::size_t{header[1]} << 16 | std::size_t{header[2]} << 8 | header[3]);
      if (need > kMaxHelloBytes - kRecordHeaderBytes) return error(HelloError::TooLarge);
    }
    declared += len;
    // The hello must end with its last record: another message in it would be a second flight.
    if (need != 0 && declared > need) return error(HelloError::TrailingData);
    // The rest needs one more record at least: refuse now what cannot fit, so that
    // kMaxHelloBytes of input always gives an answer (the caller's buffer needs no more).
    if (need != 0 && declared < need &&
        pos + 2 * kRecordHeaderBytes + len + (need - declared) > kMaxHelloBytes) {
      return error(HelloError::TooLarge);
    }
    if (avail < len) return {};
    pos += kRecordHeaderBytes + len;
  }
  // Pass 2: join the payloads and read the message.
  std::size_t at = 0;
  for (std::size_t p = 0; p < pos;) {
    std::size_t len = be16(&in[p + 3]);
    std::memcpy(out.message.data() + at, &in[p + kRecordHeaderBytes], len);
    at += len;
    p += kRecordHeaderBytes + len;
  }
  out.message_size = at;
  if (HelloError e = read_body(out); e != HelloError::None) return error(e);
  return {HelloStatus::Complete, HelloError::None, pos};
}

std::string_view describe(HelloError e) {
  switch (e) {
    case HelloError::None:
      return "";
    case HelloError::NotHandshake:
      return "not a TLS handshake record";
    case HelloError::RecordVersion:
      return "record version is not 3.x";
    case HelloError::EmptyRecord:
      return "empty handshake record";
    case HelloError::RecordTooLong:
      return "record longer than 16384 bytes";
    case HelloError::NotClientHello:
      return "first handshake message is not a ClientHello";
    case HelloError::TooLarge:
      return "ClientHello over 16 KiB";
    case HelloError::TrailingData:
      return "more handshake data after the ClientHello in its record";
    case HelloError::Truncated:
      return "ClientHello too short for its version and random";
    case HelloError::SessionId:
      return "session id over 32 bytes or past the end";
    case HelloError::CipherSuites:
      return "cipher suite list empty, odd or past the end";
    case HelloError::TooManyCipherSuites:
      return "more than 256 cipher suites";
    case HelloError::Compression:
      return "compression methods empty or past the end";
    case HelloError::ExtensionsLength:
      return "extensions block length does not match the ClientHello";
    case HelloError::Extension:
      return "extension runs past the extensions block";
    case HelloError::DuplicateExtension:
      return "extension sent twice";
    case HelloError::TooManyExtensions:
      return "more than 128 extensions";
    case HelloError::PskNotLast:
      return "pre_shared_key is not the last extension";
    case HelloError::ServerName:
      return "malformed server_name";
    case HelloError::Alpn:
      return "malformed ALPN list";
    case HelloError::TooManyAlpn:
      return "more than 32 ALPN protocols";
    case HelloError::SignatureAlgorithms:
      return "malformed signature_algorithms";
    case HelloError::TooManySignatureAlgorithms:
      return "more than 128 signature algorithms";
    case HelloError::SupportedGroups:
      return "malformed supported_groups";
    case HelloError::TooManySupportedGroups:
      return "more than 128 supported groups";
    case HelloError::SupportedVersions:
      return "malformed supported_versions";
    case HelloError::TooManySupportedVersions:
      return "more than 64 supported versions";
  }
  return "unknown error";
}

}  // namespace gh::tls
