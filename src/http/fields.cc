#include "http/fields.h"

#include <charconv>
#include <cstring>

namespace gh::http {

void FieldWriter::put(std::string_view s) {
  if (!ok || s.size() > cap - len) {
    ok = false;
    return;
  }
  if (!s.empty()) std::memcpy(dst + len, s.data(), s.size());
  len += s.size();
}

void FieldWriter::put_uint(std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  put({buf, static_cast<std::size_t>(r.ptr - buf)});
}

std::size_t format_ratelimit_fields(std::string_view policy, std::uint32_t quota,
                                    std::uint32_t window_s, std::uint32_t remaining,
                                    std::uint32_t reset_s, char* out, std::size_t cap) {
  // The policy name is an sf-string: keep only characters that need no escaping.
  char name[64];
  std::size_t n = 0;
  for (char c : policy) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (ok && n < sizeof name) name[n++] = c;
  }
  FieldWriter w(out, cap);
  w.put("RateLimit-Policy: \"");
  w.put({name, n});
  w.put("\";q=");
  w.put_uint(quota);
  w.put(";w=");
  w.put_uint(window_s);
  w.put("\r\nRateLimit: \"");
  w.put({name, n});
  w.put("\";r=");
  w.put_uint(remaining);
  w.put(";t=");
  w.put_uint(reset_s);
  w.put("\r\n");
  return w.ok ? w.len : 0;
}

std::size_t format_set_cookie(std::string_view name, std::string_view value,
                              std::uint64_t max_age_s, char* out, std::size_t cap,
                              bool secure) {
  FieldWriter w(out, cap);
  w.put("Set-Cookie: ");
  w.put(name);
  w.put("=");
  w.put(value);
  w.put("; Path=/; Max-Age=");
  w.put_uint(max_age_s);
  w.put(secure ? "; HttpOnly; SameSite=Lax; Secure\r\n" : "; HttpOnly; SameSite=Lax\r\n");
  return w.ok ? w.len : 0;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace gh::http
