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
    // One error for every refusal: the size line and the CRLF after data are BadChunk, the
    // trailer section is BadTrailer.
    const auto refuse = [this, used] {
      return fail(state_ >= State::TrailerLineStart ? ParseError::BadTrailer : ParseError::BadChunk,
                  used);
    };
    const bool over_limit =
        state_ < State::SizeLf
            ? ch != '\r' && ++line_bytes_ > limits_.max_size_line
            : state_ >= State::TrailerLineStart && ++trailer_bytes_ > limits_.max_trailer_bytes;
    if (over_limit) {
      return refuse();
    }
    const bool ows = ch == ' ' || ch == '\t';

    // The transitions below name the next state; State::Failed refuses the byte.
    // `want` and nothing else, then `then`:
    const auto expect = [ch](u8 want, State then) { return ch == want ? then : State::Failed; };
    // `stop` goes to `then`, a byte of class `cls` to `in`, anything else is refused:
    const auto run = [ch](std::uint8_t cls, u8 stop, State then, State in) {
      return ch == stop ? then : is(ch, cls) ? in : State::Failed;
    };
    // After the chunk size, an ext-name or an ext-value: ";" starts the next extension, BWS
    // goes to `bws`, and CR ends the size line unless already in that BWS ("5 \r\n" is refused).
    const auto delimit = [this, ch, ows](State bws) {
      if (ch == ';') {
        return State::ExtNameStart;
      }
      if (ows) {
        return bws;
      }
      return ch == '\r' && state_ != bws ? State::SizeLf : State::Failed;
    };
    // BWS before an ext-name or ext-value stays put; its first tchar goes to `token`.
    const auto token_start = [this, ch, ows](State token) {
      return is(ch, detail::kTchar) ? token : ows ? state_ : State::Failed;
    };

    State next = state_;
    switch (state_) {
      case State::SizeStart:
      case State::Size:
        // remaining_ is 0 at SizeStart (the previous chunk's data is all read); size_digits_ is
        // cleared with the previous size line.
        if (is(ch, detail::kHex)) {
          if (++size_digits_ > kMaxSizeDigits) {
            next = State::Failed;
          } else {
            remaining_ = (remaining_ << 4) | hex_value(ch);
            next = State::Size;
          }
        } else {
          next = state_ == State::Size ? delimit(State::ExtBws) : State::Failed;
        }
        break;
      case State::ExtNameStart:
        next = token_start(State::ExtName);
        break;
      case State::ExtName:
        if (is(ch, detail::kTchar)) {
          break;
        }
        [[fallthrough]];
      case State::ExtNameBws:
        next = ch == '=' ? State::ExtValueStart : delimit(State::ExtNameBws);
        break;
      case State::ExtValueStart:
        next = ch == '"' ? State::ExtQuoted : token_start(State::ExtToken);
        break;
      case State::ExtToken:
        if (is(ch, detail::kTchar)) {
          break;
        }
        [[fallthrough]];
      case State::ExtValueEnd:
      case State::ExtBws:
        next = delimit(State::ExtBws);
        break;
      case State::ExtQuoted:
        next = ch == '\\' ? State::ExtQuotedPair
                          : run(detail::kQdText, '"', State::ExtValueEnd, State::ExtQuoted);
        break;
      case State::ExtQuotedPair:
        // HTAB / SP / VCHAR / obs-text
        next = is(ch, detail::kValue) ? State::ExtQuoted : State::Failed;
        break;
      case State::SizeLf:
        line_bytes_ = 0;
        size_digits_ = 0;
        next = expect('\n', remaining_ == 0 ? State::TrailerLineStart : State::Data);
        break;
      case State::DataCr:
        next = expect('\r', State::DataLf);
        break;
      case State::DataLf:
        next = expect('\n', State::SizeStart);
        break;
      case State::TrailerLineStart:
        // SP/HTAB here is obs-fold; LF is a bare line ending; both refused.
        next = run(detail::kTchar, '\r', State::TrailerFinalLf, State::TrailerName);
        break;
      case State::TrailerName:
        next = run(detail::kTchar, ':', State::TrailerValue, State::TrailerName);
        break;
      case State::TrailerValue:
        next = run(detail::kValue, '\r', State::TrailerLf, State::TrailerValue);
        break;
      case State::TrailerLf:
        next = expect('\n', State::TrailerLineStart);
        break;
      case State::TrailerFinalLf:
        next = expect('\n', State::Done);
        break;
      case State::Data:
      case State::Done:
      case State::Failed:
        break;  // handled above the switch
    }
    if (next == State::Failed) {
      return refuse();
    }
    state_ = next;
    if (state_ == State::Done) {
      s.status = ParseStatus::Complete;
      s.consumed = used;
      return s;
    }
  }
  s.consumed = static_cast<std::size_t>(p - b);
  return s;
}

}  // namespace gh::http
