#include "tls/ja4.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "tls/client_hello.h"

namespace gh::tls {
namespace {

constexpr std::uint16_t kExtServerName = 0x0000;
constexpr std::uint16_t kExtAlpn = 0x0010;
constexpr char kHex[] = "0123456789abcdef";

// Values without GREASE, in order or sorted.
template <std::size_t N>
struct Values {
  std::array<std::uint16_t, N> v{};
  std::size_t n = 0;
};

template <std::size_t N>
Values<N> without_grease(std::span<const std::uint16_t> in, bool sorted, bool drop_sni_alpn) {
  Values<N> out;
  for (std::uint16_t x : in) {
    if (is_grease(x)) continue;
    if (drop_sni_alpn && (x == kExtServerName || x == kExtAlpn)) continue;
    out.v[out.n++] = x;  // in.size() <= N: the lists are bounded by the same caps
  }
  if (sorted) std::sort(out.v.begin(), out.v.begin() + static_cast<std::ptrdiff_t>(out.n));
  return out;
}

// "002f,0035,..." into a fixed buffer (5 chars per value at most).
class Text {
 public:
  void list(const std::uint16_t* v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) put(',');
      put(kHex[v[i] >> 12]);
      put(kHex[(v[i] >> 8) & 0xF]);
      put(kHex[(v[i] >> 4) & 0xF]);
      put(kHex[v[i] & 0xF]);
    }
  }
  void put(char c) { buf_[n_++] = c; }
  std::string_view view() const { return {buf_.data(), n_}; }

 private:
  // The longest text: the extensions and the signature algorithms, "_" between.
  std::array<char, 5 * (kMaxExtensions + kMaxSignatureAlgorithms) + 5 * kMaxCipherSuites> buf_;
  std::size_t n_ = 0;
};

bool alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

struct Parts {
  char a[10];
  Values<kMaxCipherSuites> ciphers;
  Values<kMaxExtensions> extensions;
  Values<kMaxSignatureAlgorithms> signatures;
};

void two_digits(char* out, std::size_t n) {
  n = std::min<std::size_t>(n, 99);
  out[0] = static_cast<char>('0' + n / 10);
  out[1] = static_cast<char>('0' + n % 10);
}

Parts parts(const ClientHello& h, Ja4Order order) {
  bool sorted = order == Ja4Order::Sorted;
  Parts p;
  p.ciphers = without_grease<kMaxCipherSuites>(h.cipher_suites.view(), sorted, false);
  auto all = without_grease<kMaxExtensions>(h.extensions.view(), false, false);
  p.extensions = without_grease<kMaxExtensions>(h.extensions.view(), sorted, sorted);
  p.signatures =
      without_grease<kMaxSignatureAlgorithms>(h.signature_algorithms.view(), false, false);
  std::uint16_t version = h.legacy_version;
  bool any = false;
  for (std::uint16_t v : h.supported_versions.view()) {
    if (is_grease(v)) continue;
    version = any ? std::max(version, v) : v;
    any = true;
  }
  p.a[0] = 't';
  auto code = ja4_version_code(version);
  p.a[1] = code[0];
  p.a[2] = code[1];
  p.a[3] = h.has_server_name ? 'd' : 'i';
  two_digits(p.a + 4, p.ciphers.n);
  two_digits(p.a + 6, all.n);
  p.a[8] = p.a[9] = '0';
  if (h.has_alpn && !h.alpn.empty()) {
    std::string_view first = h.alpn_at(0);  // never empty: the parser refuses empty names
    auto lo = static_cast<unsigned char>(first.front());
    auto hi = static_cast<unsigned char>(first.back());
    if (alnum(lo) && alnum(hi)) {
      p.a[8] = static_cast<char>(lo);
      p.a[9] = static_cast<char>(hi);
    } else {  // the first and last characters of the value's hex
      p.a[8] = kHex[lo >> 4];
      p.a[9] = kHex[hi & 0xF];
    }
  }
  return p;
}

Text cipher_text(const Parts& p) {
  Text t;
  t.list(p.ciphers.v.data(), p.ciphers.n);
  return t;
}

Text extension_text(const Parts& p) {
  Text t;
  t.list(p.extensions.v.data(), p.extensions.n);
  if (p.signatures.n > 0) {
    t.put('_');
    t.list(p.signatures.v.data(), p.signatures.n);
  }
  return t;
}

bool hash12(std::string_view text, bool empty, char* out) {
  if (empty) {
    std::memset(out, '0', 12);
    return true;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(text.data(), text.size(), md, &n, EVP_sha256(), nullptr) != 1) return false;
  for (int i = 0; i < 6; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xF];
  }
  return true;
}

}  // namespace

std::string_view ja4_version_code(std::uint16_t version) {
  switch (version) {
    case 0x0304:
      return "13";
    case 0x0303:
      return "12";
    case 0x0302:
      return "11";
    case 0x0301:
      return "10";
    case 0x0300:
      return "s3";
    case 0x0002:
      return "s2";
    case 0xfeff:
      return "d1";
    case 0xfefd:
      return "d2";
    case 0xfefc:
      return "d3";
    default:
      return "00";
  }
}

std::optional<Ja4> ja4(const ClientHello& hello, Ja4Order order) {
  Parts p = parts(hello, order);
  Ja4 out;
  char* t = out.text.data();
  std::memcpy(t, p.a, 10);
  t[10] = '_';
  t[23] = '_';
  // Text is large: built one at a time.
  if (!hash12(cipher_text(p).view(), p.ciphers.n == 0, t + 11)) return std::nullopt;
  if (!hash12(extension_text(p).view(), p.extensions.n == 0, t + 24)) return std::nullopt;
  return out;
}

std::string ja4_raw(const ClientHello& hello, Ja4Order order) {
  Parts p = parts(hello, order);
  std::string out(p.a, 10);
  out += '_';
  out += cipher_text(p).view();
  out += '_';
  out += extension_text(p).view();
  return out;
}

}  // namespace gh::tls
