// status_for, describe, method names, iequals, is_hop_by_hop, hex_value, trim_ows.
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <string_view>

#include "http/parser.h"
#include "http/text.h"

namespace gh::http {
namespace {

constexpr ParseError kAllErrors[] = {
    ParseError::BadRequestLine,
    ParseError::BadMethod,
    ParseError::BadTarget,
    ParseError::UriTooLong,
    ParseError::BadVersion,
    ParseError::UnsupportedVersion,
    ParseError::HeadTooLarge,
    ParseError::TooManyFields,
    ParseError::BadFieldName,
    ParseError::SpaceBeforeColon,
    ParseError::BadFieldValue,
    ParseError::ObsFold,
    ParseError::BadLineEnding,
    ParseError::BadContentLength,
    ParseError::DuplicateContentLength,
    ParseError::LengthAndChunked,
    ParseError::BadTransferEncoding,
    ParseError::UnsupportedTransferCoding,
    ParseError::MissingHost,
    ParseError::DuplicateHost,
    ParseError::BadHost,
    ParseError::HostMismatch,
    ParseError::BadStatusLine,
    ParseError::BadChunk,
    ParseError::BadTrailer,
};

TEST(StatusFor, EveryError) {
  for (ParseError e : kAllErrors) {
    int expected = 400;
    switch (e) {
      case ParseError::UriTooLong:
        expected = 414;
        break;
      case ParseError::HeadTooLarge:
      case ParseError::TooManyFields:
        expected = 431;
        break;
      case ParseError::UnsupportedVersion:
        expected = 505;
        break;
      case ParseError::UnsupportedTransferCoding:
        expected = 501;
        break;
      case ParseError::BadStatusLine:
        expected = 502;
        break;
      default:
        break;
    }
    EXPECT_EQ(status_for(e), expected) << describe(e);
  }
}

TEST(StatusFor, NoneIsOk) {
  EXPECT_EQ(status_for(ParseError::None), 200);
}

TEST(Describe, ShortLowercaseAndDistinct) {
  std::set<std::string_view> seen;
  for (ParseError e : kAllErrors) {
    const std::string_view d = describe(e);
    EXPECT_FALSE(d.empty());
    EXPECT_LE(d.size(), 48u);
    for (char c : d) {
      EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << d;
    }
    EXPECT_TRUE(seen.insert(d).second) << d;
  }
  EXPECT_EQ(describe(ParseError::LengthAndChunked), "content-length with transfer-encoding");
}

TEST(Methods, RoundTrip) {
  for (Method m : {Method::Get, Method::Head, Method::Post, Method::Put, Method::Delete,
                   Method::Options, Method::Patch, Method::Trace, Method::Connect}) {
    EXPECT_EQ(method_from(method_name(m)), m) << method_name(m);
  }
  EXPECT_EQ(method_name(Method::Get), "GET");
  EXPECT_EQ(method_name(Method::Other), "");
}

TEST(Methods, CaseSensitiveAndOther) {
  EXPECT_EQ(method_from("get"), Method::Other);
  EXPECT_EQ(method_from("Post"), Method::Other);
  EXPECT_EQ(method_from("GETX"), Method::Other);
  EXPECT_EQ(method_from(""), Method::Other);
  EXPECT_EQ(method_from("PROPFIND"), Method::Other);
}

TEST(Iequals, AsciiCaseInsensitive) {
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("Host", "Hos"));
  EXPECT_FALSE(iequals("Host", "Hosu"));
  EXPECT_FALSE(iequals("@", "`"));  // differ only in bit 0x20, but are not letters
  EXPECT_FALSE(iequals("\xc9", "\xe9"));
}

TEST(HexValue, EveryByte) {
  for (int c = 0; c < 256; ++c) {
    const int want =
        std::isxdigit(c) ? std::stoi(std::string(1, static_cast<char>(c)), nullptr, 16) : -1;
    EXPECT_EQ(hex_value(static_cast<char>(c)), want) << c;
  }
}

TEST(TrimOws, SpacesAndTabsOnly) {
  EXPECT_EQ(trim_ows(" \t a b\t "), "a b");
  EXPECT_EQ(trim_ows("\r\na\n"), "\r\na\n");
  EXPECT_EQ(trim_ows(" \t"), "");
  EXPECT_EQ(trim_ows(""), "");
}

TEST(HopByHop, FixedList) {
  for (std::string_view n : {"Connection", "keep-alive", "Proxy-Connection", "TE", "Trailer",
                             "transfer-encoding", "UPGRADE"}) {
    EXPECT_TRUE(is_hop_by_hop(n, "")) << n;
  }
  for (std::string_view n : {"Host", "Content-Length", "Trailers", "X-Te", "Cookie"}) {
    EXPECT_FALSE(is_hop_by_hop(n, "")) << n;
  }
}

TEST(ConnectionOption, OnlyHopByHop) {
  for (std::string_view t : {"close", "Keep-Alive", "upgrade", "TE", "trailer", "HTTP2-Settings",
                             "proxy-connection", "Proxy-Authorization"}) {
    EXPECT_TRUE(is_connection_option(t)) << t;
  }
  for (std::string_view t : {"content-length", "Transfer-Encoding", "content-type", "host",
                             "cookie", "authorization", "x-forwarded-for", "x-foo", "",
                             "close "}) {
    EXPECT_FALSE(is_connection_option(t)) << t;
  }
}

TEST(HopByHop, ListedInConnection) {
  EXPECT_TRUE(is_hop_by_hop("X-Secret", "close, x-secret"));
  EXPECT_TRUE(is_hop_by_hop("x-secret", " ,X-Secret ,"));
  EXPECT_TRUE(is_hop_by_hop("Cookie", "a,\tcookie\t,b"));
  EXPECT_FALSE(is_hop_by_hop("X-Secret", "close, x-secret2"));
  EXPECT_FALSE(is_hop_by_hop("X-Secret", "x-secre"));
  EXPECT_FALSE(is_hop_by_hop("", "a,,b"));
}

}  // namespace
}  // namespace gh::http
