// Fuzzes ChunkedDecoder: one-shot, byte-by-byte and an input-derived split must agree on payload,
// status, error and bytes used. Byte 0 picks small limits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/parser.h"

namespace {

using namespace gh::http;

using gh::fuzz::check;

using gh::fuzz::inside;

struct Outcome {
  ParseStatus status = ParseStatus::NeedMore;
  ParseError error = ParseError::None;
  std::string payload;
  std::size_t used = 0;
};

// Feeds `in` in pieces of at most max_piece bytes, calling step until each piece is used or the
// decoder finishes. Each piece is copied to the tail of one exactly sized heap block, so ASan sees
// any read past the end of the piece without an allocation per piece.
template <class PieceLen>
Outcome run(std::string_view in, ChunkedDecoder::Limits limits, std::size_t max_piece,
            PieceLen piece_len) {
  ChunkedDecoder d(limits);
  Outcome o;
  const std::size_t block_size = std::min(max_piece, in.size());
  std::unique_ptr<char[]> block(new char[block_size]);
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < in.size(); ++i) {
    const std::size_t len = std::min({piece_len(i), in.size() - pos, block_size});
    char* const tail = block.get() + block_size - len;
    std::memcpy(tail, in.data() + pos, len);
    std::string_view piece(tail, len);
    while (!piece.empty()) {
      const ChunkedDecoder::Step s = d.step(piece);
      check(s.consumed <= piece.size(), "consumed <= piece");
      check(inside(piece, s.data), "data inside the input");
      check(s.data.size() <= s.consumed, "data counted as consumed");
      o.payload.append(s.data);
      o.used += s.consumed;
      pos += s.consumed;
      piece.remove_prefix(s.consumed);
      if (s.status != ParseStatus::NeedMore) {
        check((s.status == ParseStatus::Error) == (s.error != ParseError::None),
              "error iff reason");
        check(s.status != ParseStatus::Complete || s.consumed > 0, "complete consumed > 0");
        check(d.done() == (s.status == ParseStatus::Complete), "done() agrees");
        o.status = s.status;
        o.error = s.error;
        return o;
      }
      check(s.consumed > 0, "progress on non-empty input");
    }
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  ChunkedDecoder::Limits limits;
  const std::uint8_t sel = data[0];
  if ((sel & 1) != 0) {
    limits.max_size_line = (sel >> 1) & 31;
  }
  if ((sel & 0x40) != 0) {
    limits.max_trailer_bytes = sel & 63;
  }
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Outcome whole = run(in, limits, in.size(), [&](std::size_t) { return in.size(); });
  const Outcome bytes = run(in, limits, 1, [](std::size_t) { return std::size_t{1}; });
  const Outcome mixed = run(in, limits, 7, [&](std::size_t i) {
    return static_cast<std::size_t>(data[i % size] % 7 + 1);
  });
  for (const Outcome* o : {&bytes, &mixed}) {
    check(o->status == whole.status, "same status across splits");
    check(o->error == whole.error, "same error across splits");
    check(o->payload == whole.payload, "same payload across splits");
    check(o->used == whole.used, "same bytes used across splits");
  }
  check(whole.status == ParseStatus::NeedMore ? whole.used == in.size() : true,
        "need-more uses all input");
  return 0;
}
