#include "stages/challenge/form.h"

#include "http/text.h"
#include "stages/challenge/pow.h"

namespace gh::challenge {

namespace {

// Decodes a urlencoded value into out[0..cap); the decoded length, or a negative status.
enum : int { kTooLong = -1, kBadEncoding = -2 };

int decode_value(std::string_view in, char* out, std::size_t cap) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return kBadEncoding;
      const int hi = http::hex_value(in[i + 1]);
      const int lo = http::hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return kBadEncoding;
      c = static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    if (n == cap) return kTooLong;
    out[n++] = c;
  }
  return static_cast<int>(n);
}

}  // namespace

FormStatus parse_fields(std::string_view text, Solution& out, bool want_nonce) {
  out.token_len_ = 0;
  out.nonce_len_ = 0;
  out.return_len_ = 0;
  bool seen_token = false;
  bool seen_nonce = false;
  bool seen_return = false;
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    // Names are compared as sent: ours are plain ASCII, and an encoded name is not one of ours.
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    char* dest = nullptr;
    std::size_t cap = 0;
    bool* seen = nullptr;
    if (name == "token") {
      dest = out.token_.data(), cap = out.token_.size(), seen = &seen_token;
    } else if (name == "nonce") {
      dest = out.nonce_.data(), cap = out.nonce_.size(), seen = &seen_nonce;
    } else if (name == "return") {
      dest = out.return_.data(), cap = out.return_.size(), seen = &seen_return;
    } else {
      continue;
    }
    if (*seen) return FormStatus::Duplicate;
    *seen = true;
    const int n = decode_value(value, dest, cap);
    if (n == kTooLong) return FormStatus::TooLong;
    if (n == kBadEncoding) return FormStatus::BadEncoding;
    if (seen == &seen_token) out.token_len_ = static_cast<std::uint16_t>(n);
    if (seen == &seen_nonce) out.nonce_len_ = static_cast<std::uint8_t>(n);
    if (seen == &seen_return) out.return_len_ = static_cast<std::uint16_t>(n);
  }
  if (out.token_len_ == 0) return FormStatus::MissingToken;
  if (want_nonce) {
    if (out.nonce_len_ == 0) return FormStatus::MissingNonce;
    if (!nonce_well_formed(out.nonce())) return FormStatus::BadNonce;
  } else if (seen_nonce) {
    return FormStatus::UnexpectedNonce;
  }
  if (out.has_return() && !safe_return_path(out.return_path())) return FormStatus::UnsafeReturn;
  return FormStatus::Ok;
}

FormStatus parse_solution_form(std::string_view body, Solution& out) {
  return parse_fields(body, out, true);
}

FormStatus parse_wait_query(std::string_view query, Solution& out) {
  return parse_fields(query, out, false);
}

bool safe_return_path(std::string_view path) {
  if (path.empty() || path.size() > kMaxReturnBytes || path[0] != '/') return false;
  if (path.size() > 1 && path[1] == '/') return false;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\') return false;
  }
  return true;
}

std::string_view return_or_root(std::string_view target) {
  return safe_return_path(target) ? target : std::string_view("/");
}

}  // namespace gh::challenge
