#include "tls/client_hello.h"

#include <gtest/gtest.h>

#include <memory>

#include "unit/tls/hello_builder.h"

namespace gh::tls {
namespace {

using test::Bytes;
using test::HelloSpec;

// ClientHello is ~17 KiB: on the heap in tests.
struct Parsed {
  std::unique_ptr<ClientHello> hello = std::make_unique<ClientHello>();
  HelloResult r;
};

Parsed parse(const Bytes& b) {
  Parsed p;
  p.r = parse_client_hello(b, *p.hello);
  return p;
}

HelloError error_of(const Bytes& b) {
  auto p = parse(b);
  EXPECT_EQ(p.r.status, HelloStatus::Error);
  EXPECT_EQ(p.r.consumed, 0u);
  return p.r.error;
}

HelloError error_of(const HelloSpec& s) {
  return error_of(test::hello(s));
}

TEST(Grease, TheSixteenReservedValuesOnly) {
  int n = 0;
  for (std::uint32_t v = 0; v <= 0xffff; ++v) {
    if (is_grease(static_cast<std::uint16_t>(v))) {
      ++n;
      EXPECT_EQ(v & 0x0f0f, 0x0a0au);
      EXPECT_EQ(v >> 8, v & 0xff);
    }
  }
  EXPECT_EQ(n, 16);
  EXPECT_TRUE(is_grease(0x0a0a));
  EXPECT_TRUE(is_grease(0xfafa));
  EXPECT_FALSE(is_grease(0x0a1a));
  EXPECT_FALSE(is_grease(0x1301));
}

TEST(ClientHello, CapturedHellosParseWhole) {
  for (const auto& name : test::fixtures()) {
    SCOPED_TRACE(name);
    Bytes b = test::fixture(name);
    ASSERT_GT(b.size(), 100u);
    auto p = parse(b);
    ASSERT_EQ(p.r.status, HelloStatus::Complete) << describe(p.r.error);
    EXPECT_EQ(p.r.consumed, b.size());
    EXPECT_FALSE(p.hello->cipher_suites.empty());
    EXPECT_FALSE(p.hello->extensions.empty());
    EXPECT_FALSE(p.hello->signature_algorithms.empty());
    EXPECT_FALSE(p.hello->supported_groups.empty());
  }
}

TEST(ClientHello, ChromiumSaysWhatChromiumSends) {
  auto p = parse(test::fixture("chromium.hex"));
  ASSERT_EQ(p.r.status, HelloStatus::Complete);
  const ClientHello& h = *p.hello;
  EXPECT_EQ(h.legacy_version, 0x0303);
  EXPECT_TRUE(h.has_server_name);
  EXPECT_EQ(h.host(), "localhost");
  ASSERT_EQ(h.alpn.size(), 2u);
  EXPECT_EQ(h.alpn_at(0), "h2");
  EXPECT_EQ(h.alpn_at(1), "http/1.1");
  // Chromium greases the first cipher suite, the first and last extensions, the first group,
  // the first supported version and the first signature algorithm.
  EXPECT_TRUE(is_grease(h.cipher_suites[0]));
  EXPECT_TRUE(is_grease(h.extensions[0]));
  EXPECT_TRUE(is_grease(h.extensions[h.extensions.size() - 1]));
  EXPECT_TRUE(is_grease(h.supported_groups[0]));
  EXPECT_TRUE(h.has_supported_versions);
  EXPECT_TRUE(is_grease(h.supported_versions[0]));
  EXPECT_EQ(h.supported_versions[1], 0x0304);
  EXPECT_TRUE(is_grease(h.signature_algorithms[0]));
  EXPECT_EQ(h.signature_algorithms[1], 0x0904);  // ML-DSA-44 first, then the classic ones
}

TEST(ClientHello, OpensslTls12WithoutServerName) {
  auto p = parse(test::fixture("openssl_s_client_tls12_nosni.hex"));
  ASSERT_EQ(p.r.status, HelloStatus::Complete);
  EXPECT_FALSE(p.hello->has_server_name);
  EXPECT_FALSE(p.hello->has_alpn);
  EXPECT_FALSE(p.hello->has_supported_versions);
  EXPECT_EQ(p.hello->host(), "");
}

TEST(ClientHello, EveryPrefixNeedsMore) {
  for (const auto& name : {"chromium.hex", "curl.hex"}) {
    SCOPED_TRACE(name);
    Bytes b = test::fixture(name);
    auto hello = std::make_unique<ClientHello>();
    for (std::size_t n = 0; n < b.size(); ++n) {
      auto r = parse_client_hello(std::span(b.data(), n), *hello);
      ASSERT_EQ(r.status, HelloStatus::NeedMore) << n;
      ASSERT_EQ(r.consumed, 0u);
    }
  }
}

TEST(ClientHello, WhatFollowsTheHelloIsNotConsumed) {
  Bytes b = test::fixture("curl.hex");
  std::size_t size = b.size();
  // A change_cipher_spec record (TLS 1.3 middlebox compatibility) right behind it.
  b.insert(b.end(), {20, 3, 3, 0, 1, 1});
  auto p = parse(b);
  ASSERT_EQ(p.r.status, HelloStatus::Complete);
  EXPECT_EQ(p.r.consumed, size);
}

HelloSpec full_spec() {
  HelloSpec s;
  s.extensions = {test::sni("example.com"), test::alpn({test::str("h2"), test::str("http/1.1")}),
                  test::groups({0x001d, 0x0017}), test::sigalgs({0x0403, 0x0804}),
                  test::versions({0x0304, 0x0303})};
  return s;
}

TEST(ClientHello, SplitAcrossRecordsReadsTheSame) {
  Bytes msg = test::message(full_spec());
  auto whole = parse(test::records(msg));
  ASSERT_EQ(whole.r.status, HelloStatus::Complete);
  // Cut inside the handshake header, inside the random, inside an extension; and in three.
  for (auto cuts :
       std::vector<std::vector<std::size_t>>{{1}, {3}, {20}, {msg.size() - 1}, {2, 50, 90}}) {
    Bytes b = test::records(msg, cuts);
    auto p = parse(b);
    ASSERT_EQ(p.r.status, HelloStatus::Complete) << describe(p.r.error);
    EXPECT_EQ(p.r.consumed, b.size());
    EXPECT_EQ(p.hello->host(), "example.com");
    EXPECT_EQ(p.hello->alpn_at(1), "http/1.1");
    EXPECT_EQ(p.hello->extensions.size(), whole.hello->extensions.size());
    EXPECT_EQ(p.hello->message_size, msg.size());
    // Every prefix of the split form waits for more.
    auto hello = std::make_unique<ClientHello>();
    for (std::size_t n = 0; n < b.size(); ++n) {
      ASSERT_EQ(parse_client_hello(std::span(b.data(), n), *hello).status, HelloStatus::NeedMore);
    }
  }
}

TEST(ClientHello, ReusedOutputForgetsThePreviousHello) {
  auto hello = std::make_unique<ClientHello>();
  Bytes big = test::fixture("chromium.hex");
  ASSERT_EQ(parse_client_hello(big, *hello).status, HelloStatus::Complete);
  HelloSpec s;
  s.extensions_block = false;
  Bytes small = test::hello(s);
  ASSERT_EQ(parse_client_hello(small, *hello).status, HelloStatus::Complete);
  EXPECT_EQ(hello->cipher_suites.size(), 2u);
  EXPECT_TRUE(hello->extensions.empty());
  EXPECT_FALSE(hello->has_server_name);
  EXPECT_FALSE(hello->has_alpn);
  EXPECT_TRUE(hello->alpn.empty());
  EXPECT_TRUE(hello->signature_algorithms.empty());
  EXPECT_FALSE(hello->has_supported_versions);
}

TEST(ClientHello, NoExtensionsIsAValidOldHello) {
  HelloSpec s;
  s.extensions_block = false;
  s.session_id = {};
  auto p = parse(test::hello(s));
  ASSERT_EQ(p.r.status, HelloStatus::Complete);
  EXPECT_EQ(p.hello->cipher_suites.size(), 2u);
  EXPECT_TRUE(p.hello->extensions.empty());
}

TEST(ClientHello, RecordLayerErrorsAsSoonAsTheyArrive) {
  EXPECT_EQ(error_of(Bytes{23}), HelloError::NotHandshake);                // application data
  EXPECT_EQ(error_of(Bytes{0x80, 0x2e, 0x01}), HelloError::NotHandshake);  // SSLv2 hello
  EXPECT_EQ(error_of(Bytes{'G', 'E', 'T', ' '}), HelloError::NotHandshake);
  EXPECT_EQ(error_of(Bytes{22, 2}), HelloError::RecordVersion);
  EXPECT_EQ(error_of(Bytes{22, 3, 1, 0, 0}), HelloError::EmptyRecord);
  EXPECT_EQ(error_of(Bytes{22, 3, 1, 0x40, 0x01}), HelloError::RecordTooLong);
  EXPECT_EQ(error_of(Bytes{22, 3, 1, 0, 10, 2}), HelloError::NotClientHello);  // ServerHello
  // A hello announcing more than fits in 16 KiB, refused from its header alone.
  EXPECT_EQ(error_of(Bytes{22, 3, 1, 0x10, 0x00, 1, 0x00, 0x40, 0x00}), HelloError::TooLarge);
}

TEST(ClientHello, HandshakeHeaderSplitOverOneByteRecords) {
  // Type in the first record, the length bytes in the next ones: still read, still refused.
  EXPECT_EQ(error_of(Bytes{22, 3, 1, 0, 1, 1, 22, 3, 1, 0, 1, 0x01,
                           22, 3, 1, 0, 1, 0, 22, 3, 1, 0, 1, 0}),
            HelloError::TooLarge);
}

TEST(ClientHello, AnotherRecordTypeInsideTheHello) {
  Bytes msg = test::message(full_spec());
  Bytes b = test::records(msg, {10});
  // Turn the second record into an alert.
  b[5 + 10] = 21;
  EXPECT_EQ(error_of(b), HelloError::NotHandshake);
}

TEST(ClientHello, BytesAfterTheHelloInItsRecord) {
  Bytes msg = test::message(full_spec());
  msg.insert(msg.end(), {4, 0, 0, 0});  // a second handshake message in the same record
  EXPECT_EQ(error_of(test::records(msg)), HelloError::TrailingData);
}

TEST(ClientHello, OversizedAcrossRecords) {
  // Each record under 2^14, the whole over 16 KiB: refused once the total is known.
  HelloSpec s;
  s.extensions = {{0xff00, Bytes(10000, 0)}, {0xff01 + 1, Bytes(6500, 0)}};
  Bytes msg = test::message(s);
  ASSERT_GT(msg.size(), kMaxHelloBytes);
  EXPECT_EQ(error_of(test::records(msg, {9000})), HelloError::TooLarge);
  // Just under the cap is read.
  s.extensions = {{0xff00, Bytes(10000, 0)}, {0xff02, Bytes(6000, 0)}};
  msg = test::message(s);
  Bytes b = test::records(msg, {9000});
  ASSERT_LE(b.size(), kMaxHelloBytes);
  auto p = parse(b);
  EXPECT_EQ(p.r.status, HelloStatus::Complete) << describe(p.r.error);
}

TEST(ClientHello, SixteenKibibytesAlwaysGiveAnAnswer) {
  // Two records filling 16 KiB exactly, the hello announcing more than they carry: the rest
  // would need another record beyond the cap, so the answer is TooLarge, not NeedMore.
  Bytes b = {22, 3, 1, 0x20, 0x00, 1, 0x00, 0x3f, 0xf7};  // 4 + 16375: the largest that fits
  b.resize(5 + 0x2000, 0);
  std::size_t second = kMaxHelloBytes - b.size() - 5;
  b.insert(b.end(),
           {22, 3, 1, static_cast<std::uint8_t>(second >> 8), static_cast<std::uint8_t>(second)});
  b.resize(kMaxHelloBytes, 0);
  EXPECT_EQ(error_of(b), HelloError::TooLarge);
  // Refused as soon as the first record's header and the hello's length are in.
  EXPECT_EQ(error_of(Bytes(b.begin(), b.begin() + 9)), HelloError::TooLarge);
  // One record of the largest hello that fits is read.
  HelloSpec s;
  s.extensions = {{0xff00, {}}};
  std::size_t base = test::message(s).size();
  s.extensions[0].data.assign(kMaxHelloBytes - kRecordHeaderBytes - base, 0);
  Bytes whole = test::hello(s);
  ASSERT_EQ(whole.size(), kMaxHelloBytes);
  EXPECT_EQ(parse(whole).r.status, HelloStatus::Complete);
  // The same in two records is one record header too many.
  EXPECT_EQ(error_of(test::records(test::message(s), {100})), HelloError::TooLarge);
}

TEST(ClientHello, MalformedFieldsSayWhich) {
  HelloSpec s = full_spec();
  s.session_id = Bytes(33, 1);
  EXPECT_EQ(error_of(s), HelloError::SessionId);

  s = full_spec();
  s.ciphers = {};
  EXPECT_EQ(error_of(s), HelloError::CipherSuites);

  s = full_spec();
  s.ciphers = std::vector<std::uint16_t>(kMaxCipherSuites + 1, 0x1301);
  EXPECT_EQ(error_of(s), HelloError::TooManyCipherSuites);

  s = full_spec();
  s.compression = {};
  EXPECT_EQ(error_of(s), HelloError::Compression);

  s = full_spec();
  s.extensions.push_back(test::sni("other.example"));
  EXPECT_EQ(error_of(s), HelloError::DuplicateExtension);

  s = full_spec();
  s.extensions.insert(s.extensions.begin(), test::empty_ext(0x0029));
  EXPECT_EQ(error_of(s), HelloError::PskNotLast);
  s = full_spec();
  s.extensions.push_back({0x0029, Bytes(40, 1)});
  EXPECT_NE(parse(test::hello(s)).r.status, HelloStatus::Error);

  for (const char* host : {"a b.example", "ex\x01.com", "example.com.", ""}) {
    s = full_spec();
    s.extensions[0] = test::sni(host);
    EXPECT_EQ(error_of(s), HelloError::ServerName) << host;
  }
  s = full_spec();
  s.extensions[0] = test::empty_ext(0x0000);  // a server's empty echo, not a client's
  EXPECT_EQ(error_of(s), HelloError::ServerName);
  s = full_spec();
  s.extensions[0] = test::sni(std::string(256, 'a'));
  EXPECT_EQ(error_of(s), HelloError::ServerName);

  s = full_spec();
  s.extensions[1] = test::alpn({test::str("h2"), {}});
  EXPECT_EQ(error_of(s), HelloError::Alpn);
  s = full_spec();
  s.extensions[1] = test::empty_ext(0x0010);
  EXPECT_EQ(error_of(s), HelloError::Alpn);
  s = full_spec();
  s.extensions[1] = test::alpn({});
  EXPECT_EQ(error_of(s), HelloError::Alpn);

  s = full_spec();
  s.extensions[3] = {0x000d, {0, 3, 4, 3, 8}};  // odd length
  EXPECT_EQ(error_of(s), HelloError::SignatureAlgorithms);
  s = full_spec();
  s.extensions[3] = {0x000d, {0, 4, 4, 3}};  // list longer than its extension
  EXPECT_EQ(error_of(s), HelloError::SignatureAlgorithms);
  s = full_spec();
  s.extensions[2] = test::groups({});
  EXPECT_EQ(error_of(s), HelloError::SupportedGroups);
  s = full_spec();
  s.extensions[4] = {0x002b, {3, 3, 4, 3}};
  EXPECT_EQ(error_of(s), HelloError::SupportedVersions);
}

TEST(ClientHello, ExtensionBlockLengthsMustAgree) {
  Bytes msg = test::message(full_spec());
  // Extensions block length (right after compression methods) one too many.
  std::size_t at = 4 + 2 + 32 + 1 + 32 + 2 + 4 + 1 + 1;
  ASSERT_LT(at + 1, msg.size());
  Bytes longer = msg;
  longer[at + 1] = static_cast<std::uint8_t>(longer[at + 1] + 1);
  EXPECT_EQ(error_of(test::records(longer)), HelloError::ExtensionsLength);
  // The first extension's length running past the block.
  Bytes overrun = msg;
  overrun[at + 2 + 3] = 0xff;
  EXPECT_EQ(error_of(test::records(overrun)), HelloError::Extension);
  // A hello cut inside its random.
  HelloSpec s;
  Bytes cut = test::message(s);
  cut.resize(20);
  cut[1] = 0;
  cut[2] = 0;
  cut[3] = 16;
  EXPECT_EQ(error_of(test::records(cut)), HelloError::Truncated);
}

TEST(ClientHello, CapsOnLists) {
  HelloSpec s;
  std::vector<test::Bytes> names(kMaxAlpn + 1, test::str("x"));
  Bytes list;
  for (auto& n : names) {
    list.push_back(1);
    list.push_back(n[0]);
  }
  Bytes d;
  test::put16(d, list.size());
  d.insert(d.end(), list.begin(), list.end());
  s.extensions = {{0x0010, d}};
  EXPECT_EQ(error_of(s), HelloError::TooManyAlpn);

  s.extensions = {test::sigalgs(std::vector<std::uint16_t>(kMaxSignatureAlgorithms + 1, 0x0403))};
  EXPECT_EQ(error_of(s), HelloError::TooManySignatureAlgorithms);
  s.extensions = {test::groups(std::vector<std::uint16_t>(kMaxSupportedGroups + 1, 0x001d))};
  EXPECT_EQ(error_of(s), HelloError::TooManySupportedGroups);
  s.extensions = {test::versions(std::vector<std::uint16_t>(kMaxSupportedVersions + 1, 0x0304))};
  EXPECT_EQ(error_of(s), HelloError::TooManySupportedVersions);
  s.extensions.clear();
  for (std::size_t i = 0; i <= kMaxExtensions; ++i) {
    s.extensions.push_back(test::empty_ext(static_cast<std::uint16_t>(0x1000 + i)));
  }
  EXPECT_EQ(error_of(s), HelloError::TooManyExtensions);
  s.extensions.pop_back();
  EXPECT_EQ(parse(test::hello(s)).r.status, HelloStatus::Complete);
}

TEST(ClientHello, EveryErrorIsDescribed) {
  for (int e = 1; e <= static_cast<int>(HelloError::TooManySupportedVersions); ++e) {
    auto text = describe(static_cast<HelloError>(e));
    EXPECT_FALSE(text.empty()) << e;
    EXPECT_NE(text, "unknown error") << e;
  }
}

}  // namespace
}  // namespace gh::tls
