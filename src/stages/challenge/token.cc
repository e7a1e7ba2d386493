#include "stages/challenge/token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

namespace gh::challenge {

namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kBodySize = 55;
constexpr std::size_t kTagSize = 17;
constexpr std::size_t kRawSize = kBodySize + kTagSize;
static_assert(kRawSize % 3 == 0 && kRawSize / 3 * 4 == kTokenTextSize);

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_reverse() {
  std::array<std::int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i)
    r[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return r;
}
constexpr auto kReverse = make_reverse();

void put_be(std::uint8_t* p, std::uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

std::uint64_t get_be(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

void write_body(const Token& t, std::uint8_t* b) {
  b[0] = static_cast<std::uint8_t>(kVersion << 4 | static_cast<std::uint8_t>(t.kind));
  std::memcpy(b + 1, t.id.data(), 16);
  put_be(b + 17, static_cast<std::uint64_t>(t.issued_ms), 8);
  put_be(b + 25, static_cast<std::uint64_t>(t.expiry_ms), 8);
  put_be(b + 33, t.scope, 4);
  put_be(b + 37, t.binding, 8);
  put_be(b + 45, t.subject, 8);
  b[53] = t.bits;
  b[54] = t.level;
}

void read_body(const std::uint8_t* b, Token& t) {
  t.kind = static_cast<TokenKind>(b[0] & 0x0f);
  std::memcpy(t.id.data(), b + 1, 16);
  t.issued_ms = static_cast<std::int64_t>(get_be(b + 17, 8));
  t.expiry_ms = static_cast<std::int64_t>(get_be(b + 25, 8));
  t.scope = static_cast<std::uint32_t>(get_be(b + 33, 4));
  t.binding = get_be(b + 37, 8);
  t.subject = get_be(b + 45, 8);
  t.bits = b[53];
  t.level = b[54];
}

bool valid_kind(std::uint8_t k) {
  return k >= 1 && k <= kTokenKindMax;
}

}  // namespace

std::optional<TokenCodec> TokenCodec::create(std::span<const std::uint8_t> master_key) {
  if (master_key.size() < 32) return std::nullopt;
  const HmacSha256 master(master_key);
  TokenCodec codec;
  codec.keys_.reserve(kTokenKindMax);
  for (std::uint8_t kind = 1; kind <= kTokenKindMax; ++kind) {
    // Derive the kind's key: HMAC(master, label). Domain separation by kind is what makes a
    // clearance useless as a device token even though both carry the same fields.
    std::uint8_t label[20] = "gatehouse token v1 ";
    label[19] = kind;
    Digest key = master.mac(label);
    codec.keys_.emplace_back(key);
    OPENSSL_cleanse(key.data(), key.size());
  }
  return codec;
}

void TokenCodec::mac(std::uint8_t kind, const std::uint8_t* body, std::uint8_t* tag) const {
  const Digest d = keys_[kind - 1].mac(std::span(body, kBodySize));
  std::memcpy(tag, d.data(), kTagSize);
}

std::size_t TokenCodec::encode(const Token& token, std::span<char> out) const {
  const auto kind = static_cast<std::uint8_t>(token.kind);
  if (out.size() < kTokenTextSize || !valid_kind(kind)) return 0;
  std::uint8_t raw[kRawSize];
  write_body(token, raw);
  mac(kind, raw, raw + kBodySize);
  char* o = out.data();
  for (std::size_t i = 0; i < kRawSize; i += 3) {
    const std::uint32_t v =
        std::uint32_t{raw[i]} << 16 | std::uint32_t{raw[i + 1]} << 8 | raw[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = kAlphabet[v & 63];
  }
  return kTokenTextSize;
}

std::string TokenCodec::encode(const Token& token) const {
  std::string s(kTokenTextSize, '\0');
  if (encode(token, std::span<char>(s.data(), s.size())) == 0) s.clear();
  return s;
}

Check TokenCodec::decode(std::string_view text, TokenKind want, std::int64_t now_ms,
                         std::uint64_t binding, Token& out) const {
  if (text.size() != kTokenTextSize) return Check::Malformed;
  std::uint8_t raw[kRawSize];
  int bad = 0;
  for (std::size_t i = 0, o = 0; i < kTokenTextSize; i += 4, o += 3) {
    const int a = kReverse[static_cast<unsigned char>(text[i])];
    const int b = kReverse[static_cast<unsigned char>(text[i + 1])];
    const int c = kReverse[static_cast<unsigned char>(text[i + 2])];
    const int d = kReverse[static_cast<unsigned char>(text[i + 3])];
    bad |= a | b | c | d;  // any -1 sets the sign bit
    const std::uint32_t v = static_cast<std::uint32_t>(a) << 18 |
                            static_cast<std::uint32_t>(b) << 12 |
                            static_cast<std::uint32_t>(c) << 6 | static_cast<std::uint32_t>(d);
    raw[o] = static_cast<std::uint8_t>(v >> 16);
    raw[o + 1] = static_cast<std::uint8_t>(v >> 8);
    raw[o + 2] = static_cast<std::uint8_t>(v);
  }
  if (bad < 0) return Check::Malformed;
  const std::uint8_t kind = raw[0] & 0x0f;
  if (raw[0] >> 4 != kVersion || !valid_kind(kind)) return Check::Malformed;
  std::uint8_t tag[kTagSize];
  mac(kind, raw, tag);
  if (CRYPTO_memcmp(tag, raw + kBodySize, kTagSize) != 0) return Check::BadSignature;
  read_body(raw, out);
  if (out.kind != want) return Check::WrongKind;
  if (now_ms >= out.expiry_ms) return Check::Expired;
  if (out.binding != binding) return Check::WrongBinding;
  return Check::Ok;
}

std::optional<Token> new_token(TokenKind kind, std::int64_t now_ms, std::int64_t lifetime_ms) {
  Token t;
  t.kind = kind;
  if (RAND_bytes(t.id.data(), static_cast<int>(t.id.size())) != 1) return std::nullopt;
  t.issued_ms = now_ms;
  t.expiry_ms = now_ms + lifetime_ms;
  return t;
}

std::uint32_t scope_of(std::string_view route_name) {
  const Digest d = sha256({"gatehouse scope v1 ", route_name});
  const auto v = static_cast<std::uint32_t>(get_be(d.data(), 4));
  return v == 0 ? 1 : v;
}

}  // namespace gh::challenge
