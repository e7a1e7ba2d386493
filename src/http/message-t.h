// Plain types of HTTP/1.x messages: no behaviour, almost no includes (types apart from behaviour).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gh::http {

// Hard ceiling on header fields per message; configs may only lower it.
inline constexpr std::size_t kMaxHeaderFields = 100;

enum class Method : std::uint8_t { Get, Head, Post, Put, Delete, Options, Patch, Trace, Connect, Other };

// How the body of a message is delimited, decided once from the head.
enum class BodyKind : std::uint8_t {
  None,           // no body (GET without framing headers, 204/304, responses to HEAD)
  ContentLength,  // exactly content_length bytes
  Chunked,        // Transfer-Encoding: chunked
  UntilClose,     // responses only: body runs until the upstream closes
};

enum class ParseStatus : std::uint8_t { Complete, NeedMore, Error };

// Why a message was refused. Each maps to one status code (see status_for()).
enum class ParseError : std::uint8_t {
  None,
  BadRequestLine,          // 400: malformed request line
  BadMethod,               // 400: method is not a token
  BadTarget,               // 400: target has invalid bytes or form
  UriTooLong,              // 414
  BadVersion,              // 400 (505 for a well-formed but unsupported version)
  UnsupportedVersion,      // 505
  HeadTooLarge,            // 431: request line + fields over the byte limit
  TooManyFields,           // 431
  BadFieldName,            // 400: empty name, non-token byte
  SpaceBeforeColon,        // 400: "Name : value"
  BadFieldValue,           // 400: control character or bare CR in a value
  ObsFold,                 // 400: line folding
  BadLineEnding,           // 400: bare LF / bare CR where CRLF is required
  BadContentLength,        // 400: not a decimal number, or overflow
  DuplicateContentLength,  // 400: more than one Content-Length (even with equal values)
  LengthAndChunked,        // 400: both Content-Length and Transfer-Encoding
  BadTransferEncoding,     // 400 (501 for a request coding we do not implement)
  UnsupportedTransferCoding,  // 501
  MissingHost,             // 400: HTTP/1.1 request without Host
  DuplicateHost,           // 400
  BadHost,                 // 400: Host is not a valid authority
  HostMismatch,            // 400: absolute-form target disagrees with Host
  BadStatusLine,           // 502 when it comes from upstream
  BadChunk,                // 400: chunk size, extension or framing is invalid
  BadTrailer,              // 400: invalid trailer section
  BadConnectionOption,     // 400 (502 from upstream): Connection names an end-to-end field
};

struct Field {
  std::string_view name;
  std::string_view value;  // optional whitespace around the value already trimmed
};

// Limits the parser enforces while reading a head.
struct HeadLimits {
  std::size_t max_head_bytes = 16 * 1024;  // request/status line + all fields + CRLFs
  std::size_t max_fields = kMaxHeaderFields;
  std::size_t max_target_bytes = 8 * 1024;  // longer targets are refused with 414
};

// A parsed request head. Every string_view points into the caller's buffer.
struct RequestHead {
  Method method = Method::Other;
  std::string_view method_text;
  std::string_view target;  // as sent (origin-form "/p?q", absolute-form, authority-form, "*")
  std::string_view path;    // path part of the target (for absolute-form: the path after the host)
  std::string_view query;   // after '?', without it; empty when absent
  std::uint8_t version_minor = 1;  // HTTP/1.<minor>; only 0 and 1 are accepted
  std::string_view host;           // Host field value (or the authority of an absolute-form target)
  BodyKind body = BodyKind::None;
  std::uint64_t content_length = 0;  // valid when body == ContentLength
  bool keep_alive = true;            // from version and Connection
  bool expect_continue = false;      // "Expect: 100-continue"
  bool upgrade = false;              // Connection: upgrade + Upgrade present (not proxied yet)
  std::uint16_t field_count = 0;
  std::array<Field, kMaxHeaderFields> fields{};
};

struct ResponseHead {
  std::uint16_t status = 0;
  std::string_view reason;
  std::uint8_t version_minor = 1;
  BodyKind body = BodyKind::None;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  std::uint16_t field_count = 0;
  std::array<Field, kMaxHeaderFields> fields{};
};

struct ParseResult {
  ParseStatus status = ParseStatus::NeedMore;
  std::size_t consumed = 0;  // bytes of the head including the final CRLF, when Complete
  ParseError error = ParseError::None;
};

}  // namespace gh::http
