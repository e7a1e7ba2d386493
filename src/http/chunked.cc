// Chunked body decoder (RFC 9112 7.1): a byte-level state machine, so any split of the input
// decodes identically; only payload bytes are handed out, as spans of the caller's input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/charset.h"
#include "http/parser.h"

namespace gh::http {
namespace {

using detail::is;
using u8 = unsigned char;

constexpr int kMaxSizeDigits = 16;  // 64 bits of size; more digits is overflow or padding abuse

std::uint64_t hex_value(u8 c) {
  if (c <= '9') {
    return c - '0';
  }
  return (c | 0x20) - 'a' + 10;
}

}  // namespace

ChunkedDecoder::Step ChunkedDecoder::fail(ParseError error, std::size_t consumed) {
  state_ = State::Failed;
  error_ = error;
  Step s;
  s.status = ParseStatus::Error;
  s.consumed = consumed;
  s.error = error;
  return s;
}

ChunkedDecoder::Step ChunkedDecoder::step(std::string_view in) {
  const auto* const b = reinterpret_cast<const u8*>(in.data());
  const u8* const end = b + in.size();
  const u8* p = b;
  Step s;
  if (state_ == State::Done) {
    s.status = ParseStatus::Complete;
    return s;
  }
  if (state_ == State::Failed) {
    s.status = ParseStatus::Error;
    s.error = error_;
    return s;
  }
  while (p < end) {
    if (state_ == State::Data) {
      const auto n = static_cast<std::size_t>(
          std::min<std::uint64_t>(remaining_, static_cast<std::uint64_t>(end - p)));
      s.data = std::string_view(reinterpret_cast<const char*>(p), n);
      p += n;
      remaining_ -= n;
      if (remaining_ == 0) {
        state_ = State::DataCr;
      }
      break;  // at most one data span per step
    }

    const u8 ch = *p++;
    const auto used = static_cast<std::size_t>(p - b);
    if (state_ < State::SizeLf) {
      if (ch != '\r' && ++line_bytes_ > limits_.max_size_line) {
        return fail(ParseError::BadChunk, used);
      }
    } else if (state_ >= State::TrailerLineStart) {
      if (++trailer_bytes_ > limits_.max_trailer_bytes) {
        return fail(ParseError::BadTrailer, used);
      }
    }
    const bool ows = ch == ' ' || ch == '\t';

    switch (state_) {
      case State::SizeStart:
        if (!is(ch, detail::kHex)) {
          return fail(ParseError::BadChunk, used);
        }
        remaining_ = hex_value(ch);
        size_digits_ = 1;
        state_ = State::Size;
        break;
      case State::Size:
        if (is(ch, detail::kHex)) {
          if (++size_digits_ > kMaxSizeDigits) {
            return fail(ParseError::BadChunk, used);
          }
          remaining_ = (remaining_ << 4) | hex_value(ch);
        } else if (ch == ';') {
          state_ = State::ExtNameStart;
        } else if (ows) {
          state_ = State::ExtBws;
        } else if (ch == '\r') {
          state_ = State::SizeLf;
        } else {
          return fail(ParseError::BadChunk, used);
        }
        break;
      case State::ExtBws:
        // BWS is only allowed before a ";": "5 \r\n" is refused.
        if (ch == ';') {
          state_ = State::ExtNameStart;
        } else if (!ows) {
          return fail(ParseError::BadChunk, used);
        }
        break;
      case State::ExtNameStart:
        if (is(ch, detail::kTchar)) {
          state_ = State::ExtName;
        } else if (!ows) {
          return fail(ParseError::BadChunk, used);
        }
        break;
      case State::ExtName:
        if (is(ch, detail::kTchar)) {
          break;
        }
        if (ch == '=') {
          state_ = State::ExtValueStart;
        } else if (ch == ';') {
          state_ = State::ExtNameStart;
        } else if (ows) {
          state_ = State::ExtNameBws;
        } else if (ch == '\r') {
          state_ = State::SizeLf;
        } else {
          return fail(ParseError::BadChunk, used);
        }
        break;
      case State::ExtNameBws:
        if (ch == '=') {
          state_ = State::ExtValueStart;
        } else if (ch == ';') {
          state_ = State::ExtNameStart;
        } else if (!ows) {
          return fail(ParseError::BadChunk, used);
        }
        break;
      case State::ExtValueStart:
        if (ch == '"') {
          state_ = State::ExtQuoted;
        } else if (is(ch, detail::kTchar)) {
          state_ = State::ExtToken;
        } else if (!ows) {
          return fail(ParseError::BadChunk, used);
        }
        break;
      case State::ExtToken:
        if (is(ch, detail::kTchar)) {
          break;
        }
        [[fallthrough]];
      case State::ExtValueEnd:
        if (ch == ';') {
          state_ = State::ExtNameStart;
        } else if (ows) {
          state_ = State::ExtBws;
        } else if (ch == '\r') {
          state_ = State::SizeLf;
        } else {
          return fail(ParseError::BadChunk, used);
        }
        break;
      case State::ExtQuoted:
        if (ch == '"') {
          state_ = State::ExtValueEnd;
        } else if (ch == '\\') {
          state_ = State::ExtQuotedPair;
        } else if (!is(ch, detail::kQdText)) {
          return fail(ParseError::BadChunk, used);
        }
        break;
      case State::ExtQuotedPair:
        if (!is(ch, detail::kValue)) {  // HTAB / SP / VCHAR / obs-text
          return fail(ParseError::BadChunk, used);
        }
        state_ = State::ExtQuoted;
        break;
      case State::SizeLf:
        if (ch != '\n') {
          return fail(ParseError::BadChunk, used);
        }
        line_bytes_ = 0;
        if (remaining_ == 0) {
          state_ = State::TrailerLineStart;
        } else {
          state_ = State::Data;
        }
        break;
      case State::DataCr:
        if (ch != '\r') {
          return fail(ParseError::BadChunk, used);
        }
        state_ = State::DataLf;
        break;
      case State::DataLf:
        if (ch != '\n') {
          return fail(ParseError::BadChunk, used);
        }
        state_ = State::SizeStart;
        break;
      case State::TrailerLineStart:
        // SP/HTAB here is obs-fold; LF is a bare line ending; both refused.
        if (ch == '\r') {
          state_ = State::TrailerFinalLf;
        } else if (is(ch, detail::kTchar)) {
          state_ = State::TrailerName;
        } else {
          return fail(ParseError::BadTrailer, used);
        }
        break;
      case State::TrailerName:
        if (ch == ':') {
          state_ = State::TrailerValue;
        } else if (!is(ch, detail::kTchar)) {
          return fail(ParseError::BadTrailer, used);
        }
        break;
      case State::TrailerValue:
        if (ch == '\r') {
          state_ = State::TrailerLf;
        } else if (!is(ch, detail::kValue)) {
          return fail(ParseError::BadTrailer, used);
        }
        break;
      case State::TrailerLf:
        if (ch != '\n') {
          return fail(ParseError::BadTrailer, used);
        }
        state_ = State::TrailerLineStart;
        break;
      case State::TrailerFinalLf:
        if (ch != '\n') {
          return fail(ParseError::BadTrailer, used);
        }
        state_ = State::Done;
        s.status = ParseStatus::Complete;
        s.consumed = used;
        return s;
      case State::Data:
      case State::Done:
      case State::Failed:
        break;  // handled above the switch
    }
  }
  s.consumed = static_cast<std::size_t>(p - b);
  return s;
}

}  // namespace gh::http
