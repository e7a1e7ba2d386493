// Header lines Gatehouse composes (cookies it signs, the RateLimit fields, reason phrases),
// written into fixed buffers: no allocation on the request path, overflow reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gh::http {

// Appends to a fixed span; one write that does not fit marks the whole result unusable.
struct FieldWriter {
  char* dst;
  std::size_t cap;
  std::size_t len = 0;
  bool ok = true;
  FieldWriter(char* d, std::size_t c) : dst(d), cap(c) {}
  void put(std::string_view s);
  void put_uint(std::uint64_t v);
  std::string_view view() const { return {dst, ok ? len : 0}; }
};

// "Set-Cookie: NAME=VALUE; Path=/; Max-Age=N; HttpOnly; SameSite=Lax[; Secure]\r\n" for the
// cookies Gatehouse signs (device token, clearance, queue ticket). Returns the bytes written
// (0 when it does not fit).
std::size_t format_set_cookie(std::string_view name, std::string_view value,
                              std::uint64_t max_age_s, char* out, std::size_t cap,
                              bool secure = false);

// The draft-ietf-httpapi-ratelimit-headers fields for one policy. Returns the bytes written (0
// when they do not fit).
std::size_t format_ratelimit_fields(std::string_view policy, std::uint32_t quota,
                                    std::uint32_t window_s, std::uint32_t remaining,
                                    std::uint32_t reset_s, char* out, std::size_t cap);

std::string_view reason_phrase(int status);

}  // namespace gh::http
