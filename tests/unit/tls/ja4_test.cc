#include "tls/ja4.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tls/client_hello.h"
#include "unit/tls/hello_builder.h"

namespace gh::tls {
namespace {

using test::Bytes;
using test::HelloSpec;

struct Prints {
  std::string ja4, ja4_r, ja4_o, ja4_ro;
};

Prints gatehouse(const Bytes& b) {
  auto h = std::make_unique<ClientHello>();
  auto r = parse_client_hello(b, *h);
  EXPECT_EQ(r.status, HelloStatus::Complete) << describe(r.error);
  Prints p;
  auto f = ja4(*h);
  auto o = ja4(*h, Ja4Order::Original);
  EXPECT_TRUE(f && o);
  if (f) p.ja4 = std::string(f->view());
  if (o) p.ja4_o = std::string(o->view());
  p.ja4_r = ja4_raw(*h);
  p.ja4_ro = ja4_raw(*h, Ja4Order::Original);
  return p;
}

// tests/unit/tls/ja4_reference.py: JA4 written from the specification in Python, apart from
// src/tls. Reads a hex file, prints ja4, ja4_r, ja4_o, ja4_ro.
Prints reference_of_file(const std::string& path) {
  std::string cmd = "/usr/bin/python3 " + std::string(GATEHOUSE_SOURCE_DIR) +
                    "/tests/unit/tls/ja4_reference.py " + path;
  FILE* f = popen(cmd.c_str(), "r");
  EXPECT_NE(f, nullptr);
  Prints p;
  if (f == nullptr) return p;
  std::array<char, 8192> line{};
  std::vector<std::string> lines;
  while (lines.size() < 4 && std::fgets(line.data(), line.size(), f) != nullptr) {
    std::string s(line.data());
    if (!s.empty() && s.back() == '\n') s.pop_back();
    lines.push_back(s);
  }
  EXPECT_EQ(pclose(f), 0) << cmd;
  EXPECT_EQ(lines.size(), 4u);
  lines.resize(4);
  return {lines[0], lines[1], lines[2], lines[3]};
}

Prints reference(const Bytes& b) {
  auto path =
      std::filesystem::temp_directory_path() / ("gh_ja4_" + std::to_string(::getpid()) + ".hex");
  {
    std::ofstream f(path);
    static const char* hex = "0123456789abcdef";
    for (auto c : b) f << hex[c >> 4] << hex[c & 15];
    f << '\n';
  }
  Prints p = reference_of_file(path.string());
  std::filesystem::remove(path);
  return p;
}

void expect_same(const Prints& got, const Prints& want) {
  EXPECT_EQ(got.ja4, want.ja4);
  EXPECT_EQ(got.ja4_r, want.ja4_r);
  EXPECT_EQ(got.ja4_o, want.ja4_o);
  EXPECT_EQ(got.ja4_ro, want.ja4_ro);
}

TEST(Ja4, CapturedHellosMatchTheReference) {
  for (const auto& name : test::fixtures()) {
    SCOPED_TRACE(name);
    Prints want = reference_of_file(test::data_path(name));
    ASSERT_EQ(want.ja4.size(), kJa4Size);
    expect_same(gatehouse(test::fixture(name)), want);
  }
}

TEST(Ja4, CapturedHellosKnownValues) {
  // Pinned, so a change of the reference and the code together still shows. The cipher hash of
  // Chromium is the one in the specification's example (Chrome's 15 suites).
  EXPECT_EQ(gatehouse(test::fixture("chromium.hex")).ja4, "t13d1517h2_8daaf6152771_cb7bf5808d99");
  EXPECT_EQ(gatehouse(test::fixture("curl.hex")).ja4, "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6");
  EXPECT_EQ(gatehouse(test::fixture("openssl_s_client_tls12_nosni.hex")).ja4,
            "t12i280600_d943125447b4_e7e480e5a997");
}

TEST(Ja4, ChromiumsShuffledExtensionsGiveOneJa4) {
  // Chromium permutes its extensions per connection: ja4 sorts them, ja4_o does not.
  Prints a = gatehouse(test::fixture("chromium.hex"));
  Prints b = gatehouse(test::fixture("chromium_2.hex"));
  EXPECT_EQ(a.ja4, b.ja4);
  EXPECT_EQ(a.ja4_r, b.ja4_r);
  EXPECT_NE(a.ja4_o, b.ja4_o);
}

// The specification's worked example (technical_details/JA4.md).
HelloSpec spec_example() {
  HelloSpec s;
  s.ciphers = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
               0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
  for (std::uint16_t t : {0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005,
                          0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015}) {
    switch (t) {
      case 0x0000:
        s.extensions.push_back(test::sni("example.com"));
        break;
      case 0x0010:
        s.extensions.push_back(test::alpn({test::str("h2"), test::str("http/1.1")}));
        break;
      case 0x000d:
        s.extensions.push_back(
            test::sigalgs({0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}));
        break;
      case 0x002b:
        s.extensions.push_back(test::versions({0x0304, 0x0303}));
        break;
      case 0x000a:
        s.extensions.push_back(test::groups({0x001d, 0x0017}));
        break;
      default:
        s.extensions.push_back(test::empty_ext(t));
    }
  }
  return s;
}

TEST(Ja4, TheSpecificationsExample) {
  Prints p = gatehouse(test::hello(spec_example()));
  EXPECT_EQ(p.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
  EXPECT_EQ(p.ja4_r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
            "cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,"
            "0401,0503,0805,0501,0806,0601");
  EXPECT_EQ(p.ja4_o, "t13d1516h2_acb858a92679_18f69afefd3d");
  EXPECT_EQ(p.ja4_ro,
            "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,"
            "0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_"
            "0403,0804,0401,0503,0805,0501,0806,0601");
  expect_same(p, reference(test::hello(spec_example())));
}

TEST(Ja4, WithoutSignatureAlgorithmsNoUnderscore) {
  // The specification's value for its example list with no signature algorithms (000d kept in
  // the list: a hello the parser would refuse, so the algorithms are dropped after parsing).
  auto h = std::make_unique<ClientHello>();
  ASSERT_EQ(parse_client_hello(test::hello(spec_example()), *h).status, HelloStatus::Complete);
  h->signature_algorithms.count = 0;
  EXPECT_EQ(ja4(*h)->view().substr(24), "6d807ffa2a79");
  EXPECT_TRUE(
      ja4_raw(*h).ends_with("_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,"
                            "0033,4469,ff01"));
  // Without the extension at all, the same rule, and the reference agrees.
  HelloSpec s = spec_example();
  std::erase_if(s.extensions, [](const test::Ext& e) { return e.type == 0x000d; });
  Prints p = gatehouse(test::hello(s));
  EXPECT_TRUE(p.ja4_r.ends_with("4469,ff01")) << p.ja4_r;
  expect_same(p, reference(test::hello(s)));
}

TEST(Ja4, GreaseEverywhereChangesNothing) {
  HelloSpec plain = spec_example();
  HelloSpec greased = plain;
  greased.ciphers.insert(greased.ciphers.begin(), 0x2a2a);
  greased.ciphers.push_back(0xfafa);
  for (auto& e : greased.extensions) {
    if (e.type == 0x000d)
      e = test::sigalgs({0x0403, 0x0804, 0x0401, 0x5a5a, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601});
    if (e.type == 0x002b) e = test::versions({0xdada, 0x0304, 0x0303});
    if (e.type == 0x000a) e = test::groups({0x8a8a, 0x001d, 0x0017});
  }
  greased.extensions.insert(greased.extensions.begin(), test::empty_ext(0x0a0a));
  greased.extensions.push_back({0x4a4a, Bytes{0}});
  Prints a = gatehouse(test::hello(plain));
  Prints b = gatehouse(test::hello(greased));
  EXPECT_EQ(a.ja4, b.ja4);
  EXPECT_EQ(a.ja4_r, b.ja4_r);
  EXPECT_EQ(a.ja4_o, b.ja4_o);
  EXPECT_EQ(a.ja4_ro, b.ja4_ro);
  expect_same(b, reference(test::hello(greased)));
}

TEST(Ja4, NoServerNameIsI) {
  HelloSpec s = spec_example();
  std::erase_if(s.extensions, [](const test::Ext& e) { return e.type == 0x0000; });
  Prints p = gatehouse(test::hello(s));
  EXPECT_EQ(p.ja4.substr(0, 10), "t13i1515h2");
  // The c part leaves SNI out: the same as with it.
  EXPECT_EQ(p.ja4.substr(24), "e5627efa2ab1");
  expect_same(p, reference(test::hello(s)));
}

std::string alpn_part(const Bytes& first) {
  HelloSpec s;
  s.extensions = {test::alpn({first, test::str("http/1.1")})};
  Bytes b = test::hello(s);
  std::string got = gatehouse(b).ja4.substr(8, 2);
  EXPECT_EQ(got, reference(b).ja4.substr(8, 2));
  return got;
}

TEST(Ja4, AlpnCharacters) {
  EXPECT_EQ(alpn_part(test::str("h2")), "h2");
  EXPECT_EQ(alpn_part(test::str("http/1.1")), "h1");
  EXPECT_EQ(alpn_part(test::str("h")), "hh");
  EXPECT_EQ(alpn_part(test::str("h3-29")), "h9");
  // The specification's examples of non-alphanumeric ends: the hex form's first and last digit.
  EXPECT_EQ(alpn_part(Bytes{0xab}), "ab");
  EXPECT_EQ(alpn_part(Bytes{0xab, 0xcd}), "ad");
  EXPECT_EQ(alpn_part(Bytes{0x30, 0xab}), "3b");
  EXPECT_EQ(alpn_part(Bytes{0x30, 0x31, 0xab, 0xcd}), "3d");
  EXPECT_EQ(alpn_part(Bytes{0x30, 0xab, 0xcd, 0x31}), "01");
  EXPECT_EQ(alpn_part(test::str("/x")), "28");
  EXPECT_EQ(alpn_part(test::str("x.")), "7e");
}

TEST(Ja4, NoAlpnIsZeroZero) {
  HelloSpec s = spec_example();
  std::erase_if(s.extensions, [](const test::Ext& e) { return e.type == 0x0010; });
  Prints p = gatehouse(test::hello(s));
  EXPECT_EQ(p.ja4.substr(0, 10), "t13d151500");
  expect_same(p, reference(test::hello(s)));
}

TEST(Ja4, VersionFromSupportedVersionsElseLegacy) {
  HelloSpec s;
  s.extensions = {test::versions({0x0303, 0x0304, 0x0302})};
  EXPECT_EQ(gatehouse(test::hello(s)).ja4.substr(0, 3), "t13");
  s.extensions = {test::versions({0x0303})};
  s.legacy_version = 0x0301;
  EXPECT_EQ(gatehouse(test::hello(s)).ja4.substr(0, 3), "t12");
  // TLS 1.2-only hello: no supported_versions, legacy_version is the version.
  s.extensions = {test::sigalgs({0x0401})};
  s.legacy_version = 0x0303;
  EXPECT_EQ(gatehouse(test::hello(s)).ja4.substr(0, 3), "t12");
  s.legacy_version = 0x0301;
  EXPECT_EQ(gatehouse(test::hello(s)).ja4.substr(0, 3), "t10");
  s.legacy_version = 0x0300;
  EXPECT_EQ(gatehouse(test::hello(s)).ja4.substr(0, 3), "ts3");
  s.legacy_version = 0x0305;
  EXPECT_EQ(gatehouse(test::hello(s)).ja4.substr(0, 3), "t00");
  // Only GREASE in supported_versions: the legacy version.
  s.legacy_version = 0x0303;
  s.extensions = {test::versions({0x1a1a})};
  EXPECT_EQ(gatehouse(test::hello(s)).ja4.substr(0, 3), "t12");
  expect_same(gatehouse(test::hello(s)), reference(test::hello(s)));
  EXPECT_EQ(ja4_version_code(0xfefd), "d2");
  EXPECT_EQ(ja4_version_code(0x0002), "s2");
}

TEST(Ja4, CountsStopAt99) {
  HelloSpec s;
  s.ciphers.clear();
  for (std::uint16_t c = 0x0100; c < 0x0100 + 120; ++c) s.ciphers.push_back(c);
  for (std::uint16_t t = 0x2000; t < 0x2000 + 105; ++t) s.extensions.push_back(test::empty_ext(t));
  Prints p = gatehouse(test::hello(s));
  EXPECT_EQ(p.ja4.substr(0, 10), "t12i999900");
  expect_same(p, reference(test::hello(s)));
}

TEST(Ja4, EmptyListsHashAsZeros) {
  // No extensions at all, then only SNI and ALPN (which c leaves out).
  HelloSpec s;
  s.extensions_block = false;
  Prints p = gatehouse(test::hello(s));
  EXPECT_EQ(p.ja4.substr(24), "000000000000");
  EXPECT_EQ(p.ja4, "t12i020000_" + p.ja4.substr(11, 12) + "_000000000000");
  s.extensions_block = true;
  s.extensions = {test::sni("a.example"), test::alpn({test::str("h2")})};
  p = gatehouse(test::hello(s));
  EXPECT_EQ(p.ja4.substr(0, 10), "t12d0202h2");
  EXPECT_EQ(p.ja4.substr(24), "000000000000");
  EXPECT_NE(p.ja4_o.substr(24), "000000000000");  // ja4_o keeps them
  expect_same(p, reference(test::hello(s)));
  // No cipher suites cannot be parsed (RFC 8446: at least one), but a hello built by hand has
  // a JA4 of zeros for them.
  auto h = std::make_unique<ClientHello>();
  h->legacy_version = 0x0303;
  EXPECT_EQ(ja4(*h)->view(), "t12i000000_000000000000_000000000000");
  EXPECT_EQ(ja4_raw(*h), "t12i000000__");
}

TEST(Ja4, SplitRecordsGiveTheSameFingerprint) {
  Bytes msg = test::message(spec_example());
  EXPECT_EQ(gatehouse(test::records(msg, {7, 100})).ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
  expect_same(gatehouse(test::records(msg, {7, 100})), reference(test::records(msg, {7, 100})));
}

}  // namespace
}  // namespace gh::tls
