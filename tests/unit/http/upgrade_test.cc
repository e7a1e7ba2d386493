// What a request asks to switch to, and whether a 101 accepts exactly that (http/upgrade.h).
#include "http/upgrade.h"

#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"

namespace gh::http {
namespace {

std::string_view protocol_of(const std::string& text, RequestHead& head) {
  const ParseResult r = parse_request(text, HeadLimits{}, head);
  EXPECT_EQ(r.status, ParseStatus::Complete) << text;
  return upgrade_protocol(head);
}

bool accepts(const std::string& text, std::string_view protocol) {
  ResponseHead head;
  const ParseResult r = parse_response(text, HeadLimits{}, Method::Get, head);
  EXPECT_EQ(r.status, ParseStatus::Complete) << text;
  return switch_accepted(head, protocol);
}

TEST(Upgrade, OneProtocolWithConnectionUpgrade) {
  RequestHead h;
  const std::string ws =
      "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  EXPECT_EQ(protocol_of(ws, h), "websocket");
  EXPECT_TRUE(h.upgrade);
  EXPECT_EQ(
      protocol_of("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: foo/2\r\n\r\n", h),
      "foo/2");
}

TEST(Upgrade, NothingWhenAmbiguousOrIncomplete) {
  RequestHead h;
  // No Connection: upgrade: the Upgrade field is not an upgrade request.
  EXPECT_EQ(protocol_of("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", h), "");
  // Several protocols offered, or two Upgrade fields: the upstream would pick.
  EXPECT_EQ(protocol_of("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket, "
                        "h2c\r\n\r\n",
                        h),
            "");
  EXPECT_EQ(protocol_of("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: "
                        "websocket\r\nUpgrade: websocket\r\n\r\n",
                        h),
            "");
  EXPECT_EQ(protocol_of("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: web socket"
                        "\r\n\r\n",
                        h),
            "");
  EXPECT_EQ(
      protocol_of("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: foo/\r\n\r\n", h),
      "");
}

TEST(Upgrade, SwitchMustNameTheProtocolAsked) {
  const std::string ok =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  EXPECT_TRUE(accepts(ok, "websocket"));
  EXPECT_FALSE(accepts(ok, "foo"));
  EXPECT_FALSE(accepts(ok, ""));
  EXPECT_FALSE(
      accepts("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: "
              "upgrade\r\n\r\n",
              "websocket"));
  EXPECT_FALSE(
      accepts("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "websocket"));
  EXPECT_FALSE(
      accepts("HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
              "Content-Length: 0\r\n\r\n",
              "websocket"));
}

}  // namespace
}  // namespace gh::http
