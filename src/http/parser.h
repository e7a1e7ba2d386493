// Strict HTTP/1.x parsers: pure functions over byte spans (picohttpparser style). They never
// allocate and never read past the span; on NeedMore the caller appends bytes and calls again.
#pragma once

#include <string_view>

#include "http/message-t.h"

namespace gh::http {

// Parses a request head from the start of `buf`. Refuses everything that could be read two ways
// by two parsers (request smuggling): see ParseError.
ParseResult parse_request(std::string_view buf, const HeadLimits& limits, RequestHead& out);

// Parses a response head. `request_method` decides bodies (HEAD/CONNECT responses carry none).
// 1xx responses are Complete with body None; the caller reads the next head after them.
ParseResult parse_response(std::string_view buf, const HeadLimits& limits, Method request_method,
                           ResponseHead& out);

// The status code a client should get for a refused request.
int status_for(ParseError error);
// A short human-readable reason, for logs and the refusal body.
std::string_view describe(ParseError error);

Method method_from(std::string_view token);
std::string_view method_name(Method method);

// Case-insensitive ASCII comparison of field names.
bool iequals(std::string_view a, std::string_view b);

// True for the tokens a Connection field may carry: the options close / keep-alive / upgrade and
// the names of fields that are hop-by-hop by definition. Any other token is a parse error.
bool is_connection_option(std::string_view token);

// True for fields that belong to one connection and must not be forwarded (RFC 9110 7.6.1):
// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, and any name
// listed in the message's Connection field(s) (`connection_value` is their joined value).
bool is_hop_by_hop(std::string_view name, std::string_view connection_value);

// Incremental, strict decoder of a chunked body. It yields payload spans that point into the input
// (no copy); chunk extensions are validated and dropped, trailers validated and dropped.
class ChunkedDecoder {
 public:
  struct Limits {
    std::size_t max_size_line = 1024;    // chunk-size line including extensions
    std::size_t max_trailer_bytes = 4096;
  };
  struct Step {
    ParseStatus status = ParseStatus::NeedMore;  // Complete once the final CRLF after trailers is read
    std::size_t consumed = 0;                    // input bytes used by this step
    std::string_view data;                       // payload bytes in this step (may be empty)
    ParseError error = ParseError::None;
  };

  ChunkedDecoder() = default;
  explicit ChunkedDecoder(Limits limits) : limits_(limits) {}

  // Consumes a prefix of `in`. Call again with the rest; NeedMore with consumed == in.size() means
  // all input was used. Data is returned at most one chunk at a time.
  Step step(std::string_view in);
  void reset() { *this = ChunkedDecoder(limits_); }
  bool done() const { return state_ == State::Done; }

 private:
  enum class State : std::uint8_t {
    SizeStart,       // first HEXDIG of chunk-size
    Size,            // further HEXDIGs
    ExtBws,          // BWS, then ";" (after the size or an extension value)
    ExtNameStart,    // BWS after ";", then ext-name
    ExtName,         // in ext-name
    ExtNameBws,      // BWS after ext-name: "=" or ";"
    ExtValueStart,   // BWS after "=", then token or quoted-string
    ExtToken,        // in a token value
    ExtQuoted,       // inside a quoted-string
    ExtQuotedPair,   // after a backslash in a quoted-string
    ExtValueEnd,     // after a closing quote: BWS, ";" or CR
    SizeLf,          // CR seen at the end of the size line
    Data,            // remaining_ payload bytes left
    DataCr,          // CRLF after the data
    DataLf,
    TrailerLineStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    TrailerFinalLf,  // CR of the empty line ending the trailer section seen
    Done,
    Failed,
  };
  Step fail(ParseError error, std::size_t consumed);

  Limits limits_{};
  State state_ = State::SizeStart;
  ParseError error_ = ParseError::None;  // sticky once Failed
  std::uint8_t size_digits_ = 0;
  std::uint64_t remaining_ = 0;   // chunk size being read, then payload bytes left in the chunk
  std::size_t line_bytes_ = 0;    // bytes of the current size line before its CRLF
  std::size_t trailer_bytes_ = 0;
};

}  // namespace gh::http
