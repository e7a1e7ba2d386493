// ChunkedDecoder: framing, extensions, trailers, limits, and split-independence.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"
#include "unit/http/http_test_util.h"

namespace gh::http {
namespace {

using namespace std::string_view_literals;

struct Decoded {
  ParseStatus status = ParseStatus::NeedMore;
  ParseError error = ParseError::None;
  std::string payload;
  std::size_t consumed = 0;  // total input used
};

// Feeds `in` in pieces of the given sizes (the last piece takes the rest), looping on each piece
// until it is used up, and checks that every data span lies inside the piece it came from.
Decoded decode_split(std::string_view in, const std::vector<std::size_t>& cuts,
                     ChunkedDecoder::Limits limits = {}) {
  ChunkedDecoder d(limits);
  Decoded out;
  std::size_t pos = 0;
  std::size_t cut_index = 0;
  while (true) {
    const std::size_t len =
        cut_index < cuts.size() ? std::min(cuts[cut_index++], in.size() - pos) : in.size() - pos;
    std::string_view piece = in.substr(pos, len);
    do {
      const ChunkedDecoder::Step s = d.step(piece);
      EXPECT_LE(s.consumed, piece.size());
      EXPECT_TRUE(testing::inside(piece, s.data));
      EXPECT_LE(s.data.size(), s.consumed);
      out.payload.append(s.data);
      out.consumed += s.consumed;
      pos += s.consumed;
      piece.remove_prefix(s.consumed);
      if (s.status != ParseStatus::NeedMore) {
        out.status = s.status;
        out.error = s.error;
        EXPECT_EQ(d.done(), s.status == ParseStatus::Complete);
        return out;
      }
      if (!piece.empty()) {
        EXPECT_GT(s.consumed, 0u) << "no progress";
        if (s.consumed == 0) {
          return out;
        }
      }
    } while (!piece.empty());
    if (pos == in.size()) {
      return out;
    }
  }
}

Decoded decode(std::string_view in, ChunkedDecoder::Limits limits = {}) {
  return decode_split(in, {}, limits);
}

Decoded decode_bytewise(std::string_view in, ChunkedDecoder::Limits limits = {}) {
  return decode_split(in, std::vector<std::size_t>(in.size(), 1), limits);
}

void expect_complete(std::string_view in, std::string_view payload) {
  for (const Decoded& d : {decode(in), decode_bytewise(in)}) {
    EXPECT_EQ(d.status, ParseStatus::Complete)
        << describe(d.error) << " " << testing::printable(in);
    EXPECT_EQ(d.payload, payload);
    EXPECT_EQ(d.consumed, in.size());
  }
}

TEST(ChunkedAccept, SingleChunk) {
  expect_complete("5\r\nhello\r\n0\r\n\r\n", "hello");
}

TEST(ChunkedAccept, EmptyBody) {
  expect_complete("0\r\n\r\n", "");
}

TEST(ChunkedAccept, SeveralChunksHexSizes) {
  const std::string big(0x1a, 'z');
  expect_complete("3\r\nabc\r\n1A\r\n" + big + "\r\n1\r\n!\r\n0\r\n\r\n", "abc" + big + "!");
}

TEST(ChunkedAccept, UpperAndLowerHex) {
  const std::string body(0xAb, 'q');
  expect_complete("aB\r\n" + body + "\r\n0\r\n\r\n", body);
}

TEST(ChunkedAccept, SixteenDigitsWithLeadingZeros) {
  expect_complete("0000000000000003\r\nabc\r\n0000000000000000\r\n\r\n", "abc");
}

TEST(ChunkedAccept, DataMayContainCrLf) {
  expect_complete("4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n");
}

TEST(ChunkedAccept, Extensions) {
  expect_complete("3;a\r\nabc\r\n0\r\n\r\n", "abc");
  expect_complete("3;a=b;c\r\nabc\r\n0;last\r\n\r\n", "abc");
  expect_complete("3 ; a = b ;\tc=\"q \\\" \\\\ ;x\"\r\nabc\r\n0\r\n\r\n", "abc");
  expect_complete("3;a=\"\"\r\nabc\r\n0\r\n\r\n", "abc");
  expect_complete("3;a=\"\xe9\"\r\nabc\r\n0\r\n\r\n", "abc");
}

TEST(ChunkedAccept, Trailers) {
  expect_complete("3\r\nabc\r\n0\r\nX-Sum: 123\r\nY:\r\nZ: a \xe9\t\r\n\r\n", "abc");
}

TEST(ChunkedAccept, StopsAfterFinalCrlf) {
  constexpr auto in = "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n"sv;
  ChunkedDecoder d;
  std::string payload;
  std::string_view rest = in;
  ChunkedDecoder::Step s;
  do {
    s = d.step(rest);
    payload.append(s.data);
    rest.remove_prefix(s.consumed);
  } while (s.status == ParseStatus::NeedMore && !rest.empty());
  EXPECT_EQ(s.status, ParseStatus::Complete);
  EXPECT_EQ(rest, "GET / HTTP/1.1\r\n");
  EXPECT_EQ(payload, "a");
  EXPECT_TRUE(d.done());
  const ChunkedDecoder::Step again = d.step(rest);
  EXPECT_EQ(again.status, ParseStatus::Complete);
  EXPECT_EQ(again.consumed, 0u);
}

TEST(ChunkedAccept, DataSpansPointIntoInputAndAreOneChunkAtATime) {
  constexpr auto in = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"sv;
  ChunkedDecoder d;
  ChunkedDecoder::Step s = d.step(in);
  EXPECT_EQ(s.status, ParseStatus::NeedMore);
  EXPECT_EQ(s.data, "abc");
  EXPECT_EQ(s.data.data(), in.data() + 3);
  EXPECT_EQ(s.consumed, 6u);
  s = d.step(in.substr(6));
  EXPECT_EQ(s.data, "de");
  EXPECT_EQ(s.data.data(), in.data() + 11);
}

TEST(ChunkedAccept, PartialDataSpans) {
  ChunkedDecoder d;
  ChunkedDecoder::Step s = d.step("a\r\n0123");
  EXPECT_EQ(s.data, "0123");
  EXPECT_EQ(s.consumed, 7u);
  s = d.step("456789\r\n0\r\n\r\n");
  EXPECT_EQ(s.data, "456789");
  s = d.step(std::string_view("456789\r\n0\r\n\r\n").substr(s.consumed));
  EXPECT_EQ(s.status, ParseStatus::Complete);
}

TEST(ChunkedAccept, ResetStartsOver) {
  ChunkedDecoder d;
  EXPECT_EQ(d.step("zz").status, ParseStatus::Error);
  d.reset();
  EXPECT_EQ(d.step("0\r\n\r\n").status, ParseStatus::Complete);
}

TEST(ChunkedAccept, SizeLineAtLimit) {
  ChunkedDecoder::Limits limits;
  limits.max_size_line = 6;
  EXPECT_EQ(decode("1;abcd\r\nx\r\n0\r\n\r\n", limits).status, ParseStatus::Complete);
}

TEST(ChunkedAccept, TrailerAtLimit) {
  ChunkedDecoder::Limits limits;
  limits.max_trailer_bytes = 8;  // "A: b\r\n" + final "\r\n"
  EXPECT_EQ(decode("0\r\nA: b\r\n\r\n", limits).status, ParseStatus::Complete);
}

TEST(ChunkedSplit, RandomSplitsMatchOneShot) {
  std::mt19937 rng(20240611);
  std::string body;
  std::string wire;
  for (int i = 0; i < 40; ++i) {
    const std::size_t n = rng() % 300 + 1;
    std::string chunk;
    for (std::size_t j = 0; j < n; ++j) {
      chunk += static_cast<char>(rng() & 0xFF);
    }
    body += chunk;
    char size[32];
    std::snprintf(size, sizeof size, "%zx", n);
    wire += size;
    wire += (i % 3 == 0) ? ";ext=\"v\"\r\n" : "\r\n";
    wire += chunk + "\r\n";
  }
  wire += "0\r\nTrailer-A: x\r\n\r\n";
  const Decoded one = decode(wire);
  ASSERT_EQ(one.status, ParseStatus::Complete);
  ASSERT_EQ(one.payload, body);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<std::size_t> cuts;
    for (std::size_t covered = 0; covered < wire.size();) {
      const std::size_t c = rng() % 64 + 1;
      cuts.push_back(c);
      covered += c;
    }
    const Decoded split = decode_split(wire, cuts);
    ASSERT_EQ(split.status, ParseStatus::Complete) << iter;
    ASSERT_EQ(split.payload, body) << iter;
    ASSERT_EQ(split.consumed, wire.size());
  }
}

TEST(ChunkedSplit, RandomSplitsOfInvalidInputGiveSameError) {
  std::mt19937 rng(7);
  for (std::string_view wire : {"5\r\nhello\r\n0\r\nX : y\r\n\r\n"sv, "5\r\nhelloX\r\n"sv,
                                "5;a=\"x\r\nhello\r\n"sv, "3\r\nabc\r\n12345678901234567\r\n"sv}) {
    const Decoded one = decode(wire);
    ASSERT_EQ(one.status, ParseStatus::Error);
    for (int iter = 0; iter < 100; ++iter) {
      std::vector<std::size_t> cuts;
      for (std::size_t i = 0; i < wire.size(); ++i) {
        cuts.push_back(rng() % 5 + 1);
      }
      const Decoded split = decode_split(wire, cuts);
      ASSERT_EQ(split.status, ParseStatus::Error);
      ASSERT_EQ(split.error, one.error);
      ASSERT_EQ(split.payload, one.payload);
    }
  }
}

struct ChunkRefusal {
  const char* name;
  std::string_view input;
  ParseError error;
  ChunkedDecoder::Limits limits{};
};

class ChunkedRefusal : public ::testing::TestWithParam<ChunkRefusal> {};

TEST_P(ChunkedRefusal, Refused) {
  const ChunkRefusal& r = GetParam();
  for (const Decoded& d : {decode(r.input, r.limits), decode_bytewise(r.input, r.limits)}) {
    EXPECT_EQ(d.status, ParseStatus::Error) << testing::printable(r.input);
    EXPECT_EQ(d.error, r.error) << describe(d.error);
  }
  EXPECT_EQ(status_for(r.error), 400);
}

constexpr ChunkedDecoder::Limits short_line() {
  ChunkedDecoder::Limits l;
  l.max_size_line = 5;
  return l;
}
constexpr ChunkedDecoder::Limits short_trailer() {
  ChunkedDecoder::Limits l;
  l.max_trailer_bytes = 7;
  return l;
}

const ChunkRefusal kChunkRefusals[] = {
    {"EmptySize", "\r\nabc\r\n", ParseError::BadChunk},
    {"NonHexSize", "g\r\n", ParseError::BadChunk},
    {"SignedSize", "+5\r\nhello\r\n", ParseError::BadChunk},
    {"HexPrefix", "0x5\r\nhello\r\n", ParseError::BadChunk},
    {"SeventeenDigits", "00000000000000005\r\nhello\r\n", ParseError::BadChunk},
    {"OverflowingSize", "10000000000000000\r\n", ParseError::BadChunk},
    {"SpaceBeforeSize", " 5\r\nhello\r\n", ParseError::BadChunk},
    {"TrailingSpaceWithoutExtension", "5 \r\nhello\r\n", ParseError::BadChunk},
    {"BareLfAfterSize", "5\nhello\r\n0\r\n\r\n", ParseError::BadChunk},
    {"BareCrAfterSize", "5\rhello\r\n0\r\n\r\n", ParseError::BadChunk},
    {"DataTooLong", "5\r\nhello!\r\n0\r\n\r\n", ParseError::BadChunk},
    {"DataTooShort", "5\r\nhell\r\n0\r\n\r\n", ParseError::BadChunk},
    {"BareLfAfterData", "5\r\nhello\n0\r\n\r\n", ParseError::BadChunk},
    {"MissingCrlfAfterData", "5\r\nhello0\r\n\r\n", ParseError::BadChunk},
    {"EmptyExtension", "5;\r\nhello\r\n", ParseError::BadChunk},
    {"ExtensionNameNotToken", "5;a/b\r\nhello\r\n", ParseError::BadChunk},
    {"ExtensionMissingValue", "5;a=\r\nhello\r\n", ParseError::BadChunk},
    {"ExtensionEmptyName", "5;=b\r\nhello\r\n", ParseError::BadChunk},
    {"ExtensionSpaceBeforeCrlf", "5;a \r\nhello\r\n", ParseError::BadChunk},
    {"ExtensionUnterminatedQuote", "5;a=\"b\r\nhello\r\n", ParseError::BadChunk},
    {"ExtensionTextAfterQuote", "5;a=\"b\"c\r\nhello\r\n", ParseError::BadChunk},
    {"ExtensionControlInQuote", "5;a=\"b\x01\"\r\nhello\r\n", ParseError::BadChunk},
    {"ExtensionBareLf", "5;a\nhello\r\n", ParseError::BadChunk},
    {"ExtensionNul", "5;a=b\0\r\nhello\r\n"sv, ParseError::BadChunk},
    {"SizeLineTooLong", "5;abcd\r\nhello\r\n", ParseError::BadChunk, short_line()},
    {"LongZeroPaddingCountsTowardLine", "000005\r\nhello\r\n", ParseError::BadChunk, short_line()},
    {"TrailerObsFold", "0\r\nA: b\r\n c\r\n\r\n", ParseError::BadTrailer},
    {"TrailerBadValueByte", "0\r\nA: b\x7f\r\n\r\n", ParseError::BadTrailer},
    {"TrailerNul", "0\r\nA: b\0\r\n\r\n"sv, ParseError::BadTrailer},
    {"TrailerBareCr", "0\r\nA: b\rc\r\n\r\n", ParseError::BadTrailer},
    {"TrailerBareLf", "0\r\nA: b\n\r\n", ParseError::BadTrailer},
    {"TrailerFinalBareLf", "0\r\n\n", ParseError::BadTrailer},
    {"TrailerSpaceBeforeColon", "0\r\nA : b\r\n\r\n", ParseError::BadTrailer},
    {"TrailerNoColon", "0\r\nAbc\r\n\r\n", ParseError::BadTrailer},
    {"TrailerEmptyName", "0\r\n: b\r\n\r\n", ParseError::BadTrailer},
    {"TrailerTooLarge", "0\r\nA: bcd\r\n\r\n", ParseError::BadTrailer, short_trailer()},
    {"FinalCrThenGarbage", "0\r\n\rX", ParseError::BadTrailer},
};

INSTANTIATE_TEST_SUITE_P(Rules, ChunkedRefusal, ::testing::ValuesIn(kChunkRefusals),
                         [](const ::testing::TestParamInfo<ChunkRefusal>& info) {
                           return testing::test_name(info.param.name);
                         });

TEST(ChunkedRefusalSticky, ErrorRepeats) {
  ChunkedDecoder d;
  const ChunkedDecoder::Step s = d.step("5\nhello");
  EXPECT_EQ(s.status, ParseStatus::Error);
  EXPECT_EQ(s.error, ParseError::BadChunk);
  const ChunkedDecoder::Step again = d.step("0\r\n\r\n");
  EXPECT_EQ(again.status, ParseStatus::Error);
  EXPECT_EQ(again.error, ParseError::BadChunk);
  EXPECT_FALSE(d.done());
}

}  // namespace
}  // namespace gh::http
