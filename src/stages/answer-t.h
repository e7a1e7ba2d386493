// A response Gatehouse writes itself (a refusal, a challenge or queue page, a redirect): what a
// stage or the pipeline decides, as a small value. The transport (HTTP/1.1 session, HTTP/2
// stream, decision service) alone turns it into bytes on its wire.
#pragma once

#include <cstdint>
#include <string_view>

namespace gh::stages {

struct Answer {
  std::uint16_t status = 0;
  // Empty: a short text body "<code> <reason>: <detail>\n". Otherwise a page of this type.
  std::string_view content_type;
  std::string_view body;    // with content_type
  std::string_view detail;  // without
  // Extra header lines, each ending in CRLF (Set-Cookie, Location, RateLimit-*).
  std::string_view fields;
  std::uint32_t retry_after_s = 0;
  // Close the connection after it whatever else holds (a tarpit's end, a refused tunnel).
  bool close = false;
};

inline constexpr std::string_view kHtml = "text/html; charset=utf-8";
inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kText = "text/plain; charset=utf-8";

inline Answer refusal(std::uint16_t status, std::string_view detail,
                      std::uint32_t retry_after_s = 0) {
  Answer a;
  a.status = status;
  a.detail = detail;
  a.retry_after_s = retry_after_s;
  return a;
}

inline Answer page(std::uint16_t status, std::string_view content_type, std::string_view body,
                   std::uint32_t retry_after_s = 0, std::string_view fields = {}) {
  Answer a;
  a.status = status;
  a.content_type = content_type;
  a.body = body;
  a.retry_after_s = retry_after_s;
  a.fields = fields;
  return a;
}

}  // namespace gh::stages
