#include "client/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>

#include "client/address.h"

namespace gh::client {
namespace {

using namespace std::string_literals;

const std::string kSig = "\r\n\r\n\0\r\nQUIT\n"s;

std::string v2(unsigned char ver_cmd, unsigned char fam, const std::string& payload) {
  std::string out = kSig;
  out.push_back(static_cast<char>(ver_cmd));
  out.push_back(static_cast<char>(fam));
  out.push_back(static_cast<char>(payload.size() >> 8));
  out.push_back(static_cast<char>(payload.size() & 0xff));
  return out + payload;
}

std::string tcp4_payload() {
  return "\xc0\x00\x02\x01"s + "\xc6\x33\x64\x02"s + "\x12\x67"s +
         "\x01\xbb"s;  // 192.0.2.1:4711 -> 198.51.100.2:443
}

// Every strict prefix of a valid header must be NeedMore, never Error.
void expect_prefixes_need_more(const std::string& header) {
  for (std::size_t n = 0; n < header.size(); ++n) {
    auto r = parse_proxy_header(std::string_view(header).substr(0, n));
    EXPECT_EQ(r.status, ProxyStatus::NeedMore) << "prefix " << n;
  }
}

TEST(ProxyV1, Tcp4) {
  std::string h = "PROXY TCP4 192.0.2.1 198.51.100.2 4711 443\r\n";
  auto r = parse_proxy_header(h + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(r.status, ProxyStatus::Complete);
  EXPECT_EQ(r.version, 1);
  EXPECT_EQ(r.consumed, h.size());
  EXPECT_FALSE(r.local);
  EXPECT_EQ(format_socket_address(r.source), "192.0.2.1:4711");
  EXPECT_EQ(format_socket_address(r.destination), "198.51.100.2:443");
  expect_prefixes_need_more(h);
}

TEST(ProxyV1, Tcp6AndUnknown) {
  std::string h = "PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n";
  auto r = parse_proxy_header(h);
  ASSERT_EQ(r.status, ProxyStatus::Complete);
  EXPECT_EQ(format_socket_address(r.source), "[2001:db8::1]:65535");
  EXPECT_EQ(format_socket_address(r.destination), "[2001:db8::2]:0");
  expect_prefixes_need_more(h);

  r = parse_proxy_header("PROXY UNKNOWN\r\n");
  ASSERT_EQ(r.status, ProxyStatus::Complete);
  EXPECT_TRUE(r.local);
  EXPECT_EQ(r.consumed, 15u);
  r = parse_proxy_header("PROXY UNKNOWN whatever the sender put here\r\nX");
  ASSERT_EQ(r.status, ProxyStatus::Complete);
  EXPECT_TRUE(r.local);
  EXPECT_EQ(r.consumed, 44u);
}

TEST(ProxyV1, LongestLineFits) {
  std::string a = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string h = "PROXY TCP6 " + a + " " + a + " 65535 65535\r\n";
  EXPECT_EQ(parse_proxy_header(h).status, ProxyStatus::Complete);
  // The spec's worst case: UNKNOWN followed by the longest TCP6 fields.
  std::string worst = "PROXY UNKNOWN " + a + " " + a + " 65535 65535\r\n";
  ASSERT_EQ(worst.size(), kProxyV1MaxBytes);
  EXPECT_EQ(parse_proxy_header(worst).status, ProxyStatus::Complete);
  std::string u = "PROXY UNKNOWN " + std::string(91, 'x') + "\r\n";
  ASSERT_EQ(u.size(), 107u);
  EXPECT_EQ(parse_proxy_header(u).status, ProxyStatus::Complete);
  std::string too_long = "PROXY UNKNOWN " + std::string(92, 'x') + "\r\n";
  EXPECT_EQ(parse_proxy_header(too_long).status, ProxyStatus::Error);
  EXPECT_EQ(parse_proxy_header(too_long.substr(0, 106)).status, ProxyStatus::NeedMore);
  EXPECT_EQ(parse_proxy_header(too_long.substr(0, 107)).status, ProxyStatus::Error);
}

TEST(ProxyV1, Errors) {
  for (std::string bad : {"X"s,
                          "GET / HTTP/1.1\r\n"s,
                          "PROXY\r\n"s,
                          "PROXYTCP4"s,
                          "proxy TCP4"s,
                          "PROXY TCP5 "s,
                          "PROXY UDP4 "s,
                          "PROXY UNKNOWNX\r\n"s,
                          "PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX"s,
                          "PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n"s,
                          "PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 1 2x"s,
                          "PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n"s,
                          "PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n"s,
                          "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3 "s,
                          "PROXY TCP4 " + std::string(100, '1')}) {
    EXPECT_EQ(parse_proxy_header(bad).status, ProxyStatus::Error) << bad;
  }
}

TEST(ProxyV2, Tcp4WithTlvs) {
  std::string h = v2(0x21, 0x11,
                     tcp4_payload() +
                         "\x04\x00\x03"
                         "abc"s);
  auto r = parse_proxy_header(h + "payload");
  ASSERT_EQ(r.status, ProxyStatus::Complete);
  EXPECT_EQ(r.version, 2);
  EXPECT_EQ(r.consumed, h.size());
  EXPECT_FALSE(r.local);
  EXPECT_EQ(format_socket_address(r.source), "192.0.2.1:4711");
  EXPECT_EQ(format_socket_address(r.destination), "198.51.100.2:443");
  expect_prefixes_need_more(h);
}

TEST(ProxyV2, Tcp6) {
  std::string src = "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x01"s;
  std::string dst = std::string(10, '\0') + "\xff\xff\x0a\x00\x00\x01"s;  // v4-mapped 10.0.0.1
  std::string h = v2(0x21, 0x21, src + dst + "\x00\x50\x01\xbb"s);
  auto r = parse_proxy_header(h);
  ASSERT_EQ(r.status, ProxyStatus::Complete);
  EXPECT_EQ(format_socket_address(r.source), "[2001:db8::1]:80");
  EXPECT_EQ(format_socket_address(r.destination), "10.0.0.1:443");
  expect_prefixes_need_more(h);
}

TEST(ProxyV2, LocalAndUnmappedFamilies) {
  auto r = parse_proxy_header(v2(0x20, 0x00, ""));
  ASSERT_EQ(r.status, ProxyStatus::Complete);
  EXPECT_TRUE(r.local);
  EXPECT_EQ(r.consumed, 16u);
  // LOCAL ignores the family, even an undefined one, and skips its block.
  r = parse_proxy_header(v2(0x20, 0xff, "xyz"));
  ASSERT_EQ(r.status, ProxyStatus::Complete);
  EXPECT_EQ(r.consumed, 19u);
  for (unsigned char fam : {0x00, 0x01, 0x12, 0x22, 0x31, 0x32}) {
    r = parse_proxy_header(v2(0x21, fam, std::string(216, '\0')));
    ASSERT_EQ(r.status, ProxyStatus::Complete) << int(fam);
    EXPECT_TRUE(r.local) << int(fam);
  }
}

TEST(ProxyV2, Errors) {
  EXPECT_EQ(parse_proxy_header("\r\n\r\n\0X"s).status, ProxyStatus::Error);  // bad signature, early
  EXPECT_EQ(parse_proxy_header(kSig + "\x11"s).status, ProxyStatus::Error);  // version 1
  EXPECT_EQ(parse_proxy_header(kSig + "\x22"s).status, ProxyStatus::Error);  // command 2
  EXPECT_EQ(parse_proxy_header(kSig + "\x21\x41"s).status, ProxyStatus::Error);  // family 4
  EXPECT_EQ(parse_proxy_header(kSig + "\x21\x13"s).status, ProxyStatus::Error);  // transport 3
  EXPECT_EQ(parse_proxy_header(kSig + "\x21\x11\x08\x01"s).status,
            ProxyStatus::Error);  // 2049 > cap
  EXPECT_EQ(parse_proxy_header(kSig + "\x21\x11\x00\x0b"s).status,
            ProxyStatus::Error);  // short INET
  EXPECT_EQ(parse_proxy_header(kSig + "\x21\x21\x00\x23"s).status,
            ProxyStatus::Error);  // short INET6
  auto at_cap = v2(0x21, 0x11, tcp4_payload() + std::string(2048 - 12, '\0'));
  EXPECT_EQ(parse_proxy_header(at_cap).status, ProxyStatus::Complete);
  EXPECT_EQ(parse_proxy_header(std::string_view(at_cap).substr(0, 100)).status,
            ProxyStatus::NeedMore);
}

TEST(ProxyHeader, FirstByteDecides) {
  EXPECT_EQ(parse_proxy_header("").status, ProxyStatus::NeedMore);
  EXPECT_EQ(parse_proxy_header("P").status, ProxyStatus::NeedMore);
  EXPECT_EQ(parse_proxy_header("\r").status, ProxyStatus::NeedMore);
  EXPECT_EQ(parse_proxy_header("G").status, ProxyStatus::Error);
  EXPECT_EQ(parse_proxy_header("\x16\x03\x01"s).status, ProxyStatus::Error);  // a TLS hello
}

}  // namespace
}  // namespace gh::client
