// Fuzzes TokenCodec::decode. Invariants: no crash; anything whose signature verifies (Ok,
// WrongKind, Expired, WrongBinding) re-encodes to exactly the same text (one spelling per token);
// a token built from the input round-trips, and any change to its text is never Ok.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "stages/challenge/token.h"

namespace {

using namespace gh::challenge;

const TokenCodec& codec() {
  static const TokenCodec c = *TokenCodec::create(std::vector<std::uint8_t>(32, 0x42));
  return c;
}

template <typename T>
T take(const std::uint8_t*& p, std::size_t& n) {
  T v{};
  const std::size_t k = n < sizeof(T) ? n : sizeof(T);
  std::memcpy(&v, p, k);
  p += k;
  n -= k;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const TokenCodec& c = codec();
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // 1. The input as token text.
  for (std::uint8_t k = 1; k <= kTokenKindMax; ++k) {
    Token out;
    const Check r = c.decode(text, static_cast<TokenKind>(k), 0, 0, out);
    if (r == Check::Ok || r == Check::WrongKind || r == Check::Expired ||
        r == Check::WrongBinding) {
      FUZZ_CHECK(c.encode(out) == text);
    }
  }

  // 2. A token built from the input bytes.
  const std::uint8_t* p = data;
  std::size_t n = size;
  Token t;
  t.kind = static_cast<TokenKind>(1 + take<std::uint8_t>(p, n) % kTokenKindMax);
  t.id = take<TokenId>(p, n);
  t.issued_ms = take<std::int64_t>(p, n);
  t.expiry_ms = take<std::int64_t>(p, n);
  t.scope = take<std::uint32_t>(p, n);
  t.binding = take<std::uint64_t>(p, n);
  t.subject = take<std::uint64_t>(p, n);
  t.bits = take<std::uint8_t>(p, n);
  t.level = take<std::uint8_t>(p, n);
  const std::int64_t now = take<std::int64_t>(p, n);
  const std::string enc = c.encode(t);
  FUZZ_CHECK(enc.size() == kTokenTextSize);
  Token back;
  const Check r = c.decode(enc, t.kind, now, t.binding, back);
  FUZZ_CHECK(r == (now >= t.expiry_ms ? Check::Expired : Check::Ok));
  FUZZ_CHECK(back == t);

  // 3. The rest of the input edits the text: any change must not verify.
  std::string edited = enc;
  while (n >= 2) {
    const std::uint8_t pos = take<std::uint8_t>(p, n);
    const std::uint8_t ch = take<std::uint8_t>(p, n);
    edited[pos % edited.size()] = static_cast<char>(ch);
  }
  if (edited != enc) {
    Token out;
    const Check e = c.decode(edited, t.kind, now, t.binding, out);
    FUZZ_CHECK(e == Check::Malformed || e == Check::BadSignature);
  }
  return 0;
}
