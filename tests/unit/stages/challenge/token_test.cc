#include "stages/challenge/token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "client/address.h"
#include "stages/challenge/binding.h"

namespace gh::challenge {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::vector<std::uint8_t> master(std::uint8_t fill = 7) {
  return std::vector<std::uint8_t>(32, fill);
}

TokenCodec codec(std::uint8_t fill = 7) {
  return *TokenCodec::create(master(fill));
}

std::vector<std::uint8_t> b64_decode(const std::string& s) {
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int n = 0;
  for (char c : s) {
    acc = acc << 6 | static_cast<std::uint32_t>(std::strchr(kAlphabet, c) - kAlphabet);
    if (++n == 4) {
      out.push_back(static_cast<std::uint8_t>(acc >> 16));
      out.push_back(static_cast<std::uint8_t>(acc >> 8));
      out.push_back(static_cast<std::uint8_t>(acc));
      acc = 0;
      n = 0;
    }
  }
  return out;
}

std::string b64_encode(const std::vector<std::uint8_t>& raw) {
  std::string out;
  for (std::size_t i = 0; i + 2 < raw.size(); i += 3) {
    const std::uint32_t v =
        std::uint32_t{raw[i]} << 16 | std::uint32_t{raw[i + 1]} << 8 | raw[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  return out;
}

const client::Cidr kPrefix = *client::parse_cidr("203.0.113.0/24");
constexpr std::string_view kUa = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";

Token sample(TokenKind kind = TokenKind::Challenge) {
  Token t = *new_token(kind, 1'700'000'000'000, 300'000);
  t.scope = scope_of("signup");
  t.binding = binding_of(kPrefix, kUa);
  t.subject = 0x0123456789abcdefULL;
  t.bits = 18;
  t.level = 2;
  return t;
}

constexpr std::int64_t kNow = 1'700'000'100'000;

TEST(TokenCodec, RefusesShortMasterKeys) {
  EXPECT_FALSE(TokenCodec::create(std::vector<std::uint8_t>(31, 1)).has_value());
  EXPECT_TRUE(TokenCodec::create(std::vector<std::uint8_t>(32, 1)).has_value());
  EXPECT_TRUE(TokenCodec::create(std::vector<std::uint8_t>(64, 1)).has_value());
}

TEST(TokenCodec, RoundTripsEveryKindAndField) {
  const TokenCodec c = codec();
  for (std::uint8_t k = 1; k <= kTokenKindMax; ++k) {
    Token t = sample(static_cast<TokenKind>(k));
    const std::string text = c.encode(t);
    ASSERT_EQ(text.size(), kTokenTextSize);
    EXPECT_EQ(text.find_first_not_of(kAlphabet), std::string::npos) << text;
    Token out;
    EXPECT_EQ(c.decode(text, t.kind, kNow, t.binding, out), Check::Ok);
    EXPECT_EQ(out, t);
  }
}

TEST(TokenCodec, RoundTripsExtremeValues) {
  const TokenCodec c = codec();
  Token t;
  t.kind = TokenKind::Device;
  t.id.fill(0xff);
  t.issued_ms = -5;
  t.expiry_ms = INT64_MAX;
  t.scope = UINT32_MAX;
  t.binding = UINT64_MAX;
  t.subject = UINT64_MAX;
  t.bits = 255;
  t.level = 255;
  Token out;
  EXPECT_EQ(c.decode(c.encode(t), TokenKind::Device, kNow, UINT64_MAX, out), Check::Ok);
  EXPECT_EQ(out, t);
}

TEST(TokenCodec, TagIsHmacSha256UnderTheDerivedKindKey) {
  // Cross-check the precomputed inner/outer states against OpenSSL's one-shot HMAC, following
  // the derivation documented in token.h.
  const TokenCodec c = codec();
  const Token t = sample(TokenKind::Clearance);
  const std::vector<std::uint8_t> raw = b64_decode(c.encode(t));
  ASSERT_EQ(raw.size(), 72u);
  EXPECT_EQ(raw[0], 0x12);  // version 1, kind 2
  const auto m = master();
  std::uint8_t label[20] = "gatehouse token v1 ";
  label[19] = 2;
  std::uint8_t key[32];
  unsigned len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), m.data(), 32, label, 20, key, &len), nullptr);
  std::uint8_t tag[32];
  ASSERT_NE(HMAC(EVP_sha256(), key, 32, raw.data(), 55, tag, &len), nullptr);
  EXPECT_EQ(std::memcmp(tag, raw.data() + 55, 17), 0);
}

TEST(TokenCodec, KnownTexts) {
  // Fixed vectors: the wire form must not change with the code behind it (tokens outlive
  // restarts and cross versions in a cluster). Master key 32 × 0x07.
  Token t;
  for (std::size_t i = 0; i < t.id.size(); ++i) t.id[i] = static_cast<std::uint8_t>(i * 17 + 3);
  t.issued_ms = 1'700'000'000'000;
  t.expiry_ms = 1'700'000'300'000;
  t.scope = 0x5bc15f5fu;
  t.binding = 0xea09db8304845c59ULL;
  t.subject = 0x0123456789abcdefULL;
  t.bits = 18;
  t.level = 2;
  const std::pair<TokenKind, std::string_view> kTexts[] = {
      {TokenKind::Challenge,
       "EQMUJTZHWGl6i5ytvs_g8QIAAAGLz-VoAAAAAYvP6fvgW8FfX-"
       "oJ24MEhFxZASNFZ4mrze8SAohMPidUBLQxm7zjxU4lR7f_"},
      {TokenKind::Clearance,
       "EgMUJTZHWGl6i5ytvs_g8QIAAAGLz-VoAAAAAYvP6fvgW8FfX-oJ24MEhFxZASNFZ4mrze8SAvDU_afnkozdjL_"
       "wV5XzSNYU"},
      {TokenKind::Device,
       "EwMUJTZHWGl6i5ytvs_g8QIAAAGLz-VoAAAAAYvP6fvgW8FfX-oJ24MEhFxZASNFZ4mrze8SApuk_"
       "sJNVmxxO9OriBIxuPeH"},
      {TokenKind::Ticket,
       "FAMUJTZHWGl6i5ytvs_g8QIAAAGLz-VoAAAAAYvP6fvgW8FfX-"
       "oJ24MEhFxZASNFZ4mrze8SAmRrOnGTUNigZ9XVKjPThL8w"},
      {TokenKind::Refresh,
       "FQMUJTZHWGl6i5ytvs_g8QIAAAGLz-VoAAAAAYvP6fvgW8FfX-"
       "oJ24MEhFxZASNFZ4mrze8SAhm1F40xdmOILESNECPKG8GQ"},
  };
  const TokenCodec c = codec();
  for (const auto& [kind, want] : kTexts) {
    t.kind = kind;
    EXPECT_EQ(c.encode(t), want);
    Token out;
    EXPECT_EQ(c.decode(want, kind, 1'700'000'000'000, t.binding, out), Check::Ok) << want;
    EXPECT_EQ(out, t) << want;
  }
}

TEST(TokenCodec, EveryTamperedCharacterIsRefused) {
  const TokenCodec c = codec();
  const Token t = sample();
  const std::string text = c.encode(t);
  for (std::size_t i = 0; i < text.size(); ++i) {
    for (const char repl : {'A', 'z', '_', '0'}) {
      if (text[i] == repl) continue;
      std::string bad = text;
      bad[i] = repl;
      Token out;
      out.level = 77;
      const Check r = c.decode(bad, t.kind, kNow, t.binding, out);
      if (i < 2) {
        // The first two characters carry the version/kind byte.
        EXPECT_TRUE(r == Check::Malformed || r == Check::BadSignature) << i;
      } else {
        EXPECT_EQ(r, Check::BadSignature) << i;
      }
      EXPECT_EQ(out.level, 77) << "out written for a forged token at " << i;
    }
  }
}

TEST(TokenCodec, EveryFlippedBitOfTheRawFormIsRefused) {
  const TokenCodec c = codec();
  const Token t = sample();
  const std::vector<std::uint8_t> raw = b64_decode(c.encode(t));
  for (std::size_t i = 0; i < raw.size() * 8; ++i) {
    std::vector<std::uint8_t> bad = raw;
    bad[i / 8] ^= static_cast<std::uint8_t>(1u << (i % 8));
    Token out;
    const Check r = c.decode(b64_encode(bad), t.kind, kNow, t.binding, out);
    EXPECT_TRUE(r == Check::Malformed || r == Check::BadSignature) << i;
  }
}

TEST(TokenCodec, KindByteSwapWithTheSameTagIsBadSignature) {
  const TokenCodec c = codec();
  std::vector<std::uint8_t> raw = b64_decode(c.encode(sample(TokenKind::Clearance)));
  raw[0] = 0x13;  // claim to be a Device token
  Token out;
  EXPECT_EQ(c.decode(b64_encode(raw), TokenKind::Device, kNow, binding_of(kPrefix, kUa), out),
            Check::BadSignature);
}

TEST(TokenCodec, UnknownVersionOrKindIsMalformed) {
  const TokenCodec c = codec();
  const Token t = sample();
  for (std::uint8_t header : {0x01, 0x21, 0xf1, 0x10, 0x17, 0x1f}) {
    std::vector<std::uint8_t> raw = b64_decode(c.encode(t));
    raw[0] = header;
    Token out;
    EXPECT_EQ(c.decode(b64_encode(raw), t.kind, kNow, t.binding, out), Check::Malformed)
        << int{header};
  }
}

TEST(TokenCodec, MalformedTexts) {
  const TokenCodec c = codec();
  const std::string text = c.encode(sample());
  Token out;
  const std::uint64_t b = binding_of(kPrefix, kUa);
  EXPECT_EQ(c.decode("", TokenKind::Challenge, kNow, b, out), Check::Malformed);
  EXPECT_EQ(c.decode(text.substr(0, 95), TokenKind::Challenge, kNow, b, out), Check::Malformed);
  EXPECT_EQ(c.decode(text + "A", TokenKind::Challenge, kNow, b, out), Check::Malformed);
  for (const char bad : {'+', '/', '=', ' ', '\0', '.', '\xff'}) {
    std::string t2 = text;
    t2[50] = bad;
    EXPECT_EQ(c.decode(t2, TokenKind::Challenge, kNow, b, out), Check::Malformed) << int{bad};
  }
}

TEST(TokenCodec, WrongKindIsReportedWithTheToken) {
  const TokenCodec c = codec();
  const Token t = sample(TokenKind::Clearance);
  const std::string text = c.encode(t);
  for (std::uint8_t k = 1; k <= kTokenKindMax; ++k) {
    const auto want = static_cast<TokenKind>(k);
    Token out;
    EXPECT_EQ(c.decode(text, want, kNow, t.binding, out),
              want == TokenKind::Clearance ? Check::Ok : Check::WrongKind);
    EXPECT_EQ(out, t);
  }
}

TEST(TokenCodec, ExpiryIsExclusive) {
  const TokenCodec c = codec();
  const Token t = sample();
  const std::string text = c.encode(t);
  Token out;
  EXPECT_EQ(c.decode(text, t.kind, t.expiry_ms - 1, t.binding, out), Check::Ok);
  EXPECT_EQ(c.decode(text, t.kind, t.expiry_ms, t.binding, out), Check::Expired);
  EXPECT_EQ(c.decode(text, t.kind, t.expiry_ms + 86'400'000, t.binding, out), Check::Expired);
  EXPECT_EQ(out, t);
}

TEST(TokenCodec, OtherPrefixOrUserAgentIsWrongBinding) {
  const TokenCodec c = codec();
  const Token t = sample();
  const std::string text = c.encode(t);
  Token out;
  EXPECT_EQ(c.decode(text, t.kind, kNow, binding_of(kPrefix, kUa), out), Check::Ok);
  EXPECT_EQ(
      c.decode(text, t.kind, kNow, binding_of(*client::parse_cidr("203.0.114.0/24"), kUa), out),
      Check::WrongBinding);
  EXPECT_EQ(c.decode(text, t.kind, kNow, binding_of(kPrefix, "curl/8.5.0"), out),
            Check::WrongBinding);
  EXPECT_EQ(c.decode(text, t.kind, kNow, binding_of(kPrefix, ""), out), Check::WrongBinding);
  // Checks come in order: an expired token from elsewhere is Expired.
  EXPECT_EQ(c.decode(text, t.kind, t.expiry_ms, 1, out), Check::Expired);
}

TEST(TokenCodec, OtherMasterKeyIsBadSignature) {
  const Token t = sample();
  const std::string text = codec(7).encode(t);
  Token out;
  EXPECT_EQ(codec(8).decode(text, t.kind, kNow, t.binding, out), Check::BadSignature);
}

TEST(TokenCodec, EncodeRefusesSmallBuffersAndUnknownKinds) {
  const TokenCodec c = codec();
  std::array<char, kTokenTextSize> buf{};
  Token t = sample();
  EXPECT_EQ(c.encode(t, std::span<char>(buf.data(), 95)), 0u);
  EXPECT_EQ(c.encode(t, buf), kTokenTextSize);
  t.kind = static_cast<TokenKind>(0);
  EXPECT_EQ(c.encode(t, buf), 0u);
  t.kind = static_cast<TokenKind>(7);
  EXPECT_EQ(c.encode(t, buf), 0u);
  EXPECT_TRUE(c.encode(t).empty());
}

TEST(NewToken, RandomIdsAndLifetime) {
  std::set<TokenId> ids;
  for (int i = 0; i < 1000; ++i) {
    const auto t = new_token(TokenKind::Ticket, 1000, 500);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->kind, TokenKind::Ticket);
    EXPECT_EQ(t->issued_ms, 1000);
    EXPECT_EQ(t->expiry_ms, 1500);
    ids.insert(t->id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(ScopeOf, StableDocumentedAndNeverZero) {
  // printf 'gatehouse scope v1 signup' | sha256sum → 5bc15f5f...
  EXPECT_EQ(scope_of("signup"), 0x5bc15f5fu);
  EXPECT_NE(scope_of("signup"), scope_of("login"));
  EXPECT_NE(scope_of(""), 0u);
  EXPECT_EQ(scope_of("login"), scope_of("login"));
}

}  // namespace
}  // namespace gh::challenge
