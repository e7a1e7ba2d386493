// Hand-made ClientHellos for the tests, laid out from RFC 8446 4.1.2 (not from the parser).
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gh::tls::test {

using Bytes = std::vector<std::uint8_t>;

inline void put16(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

inline void put24(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 16));
  put16(b, v);
}

struct Ext {
  std::uint16_t type;
  Bytes data;
};

struct HelloSpec {
  std::uint16_t legacy_version = 0x0303;
  Bytes session_id = Bytes(32, 0x5a);
  std::vector<std::uint16_t> ciphers = {0x1301, 0xc02b};
  Bytes compression = {0};
  std::vector<Ext> extensions;
  bool extensions_block = true;  // false: a hello that ends after compression methods
};

// server_name with one host_name.
inline Ext sni(std::string_view host) {
  Bytes d;
  put16(d, host.size() + 3);
  d.push_back(0);
  put16(d, host.size());
  d.insert(d.end(), host.begin(), host.end());
  return {0x0000, d};
}

inline Ext alpn(std::initializer_list<Bytes> names) {
  Bytes list;
  for (const Bytes& n : names) {
    list.push_back(static_cast<std::uint8_t>(n.size()));
    list.insert(list.end(), n.begin(), n.end());
  }
  Bytes d;
  put16(d, list.size());
  d.insert(d.end(), list.begin(), list.end());
  return {0x0010, d};
}

inline Bytes str(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// A list of 16-bit values behind a length of `prefix` bytes (2, or 1 for supported_versions).
inline Ext u16_list(std::uint16_t type, const std::vector<std::uint16_t>& v,
                    std::size_t prefix = 2) {
  Bytes d;
  if (prefix == 1) {
    d.push_back(static_cast<std::uint8_t>(v.size() * 2));
  } else {
    put16(d, v.size() * 2);
  }
  for (auto x : v) put16(d, x);
  return {type, d};
}

inline Ext versions(const std::vector<std::uint16_t>& v) {
  return u16_list(0x002b, v, 1);
}
inline Ext sigalgs(const std::vector<std::uint16_t>& v) {
  return u16_list(0x000d, v);
}
inline Ext groups(const std::vector<std::uint16_t>& v) {
  return u16_list(0x000a, v);
}
inline Ext empty_ext(std::uint16_t type) {
  return {type, {}};
}

// The handshake message: type 1, 24-bit length, body.
inline Bytes message(const HelloSpec& s) {
  Bytes body;
  put16(body, s.legacy_version);
  body.insert(body.end(), 32, 0x42);  // random
  body.push_back(static_cast<std::uint8_t>(s.session_id.size()));
  body.insert(body.end(), s.session_id.begin(), s.session_id.end());
  put16(body, s.ciphers.size() * 2);
  for (auto c : s.ciphers) put16(body, c);
  body.push_back(static_cast<std::uint8_t>(s.compression.size()));
  body.insert(body.end(), s.compression.begin(), s.compression.end());
  if (s.extensions_block) {
    Bytes exts;
    for (const Ext& e : s.extensions) {
      put16(exts, e.type);
      put16(exts, e.data.size());
      exts.insert(exts.end(), e.data.begin(), e.data.end());
    }
    put16(body, exts.size());
    body.insert(body.end(), exts.begin(), exts.end());
  }
  Bytes m = {1};
  put24(m, body.size());
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

// The message in handshake records, cut after each offset in `cuts` (ascending).
inline Bytes records(const Bytes& msg, std::vector<std::size_t> cuts = {}) {
  Bytes out;
  std::size_t from = 0;
  cuts.push_back(msg.size());
  for (std::size_t to : cuts) {
    out.push_back(22);
    put16(out, 0x0301);
    put16(out, to - from);
    out.insert(out.end(), msg.begin() + static_cast<std::ptrdiff_t>(from),
               msg.begin() + static_cast<std::ptrdiff_t>(to));
    from = to;
  }
  return out;
}

inline Bytes hello(const HelloSpec& s) {
  return records(message(s));
}

inline Bytes from_hex(std::string_view hex) {
  Bytes out;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    int hi = nib(hex[i]), lo = nib(hex[i + 1]);
    if (hi < 0 || lo < 0) break;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

inline std::string data_path(std::string_view name) {
  return std::string(GATEHOUSE_SOURCE_DIR) + "/tests/unit/tls/data/" + std::string(name);
}

inline Bytes fixture(std::string_view name) {
  std::ifstream f(data_path(name));
  if (!f) throw std::runtime_error("no fixture " + std::string(name));
  std::stringstream ss;
  ss << f.rdbuf();
  return from_hex(ss.str());
}

inline const std::vector<std::string>& fixtures() {
  static const std::vector<std::string> names = {
      "chromium.hex",         "chromium_2.hex",       "curl.hex",
      "curl_http1_tls12.hex", "openssl_s_client.hex", "openssl_s_client_tls12_nosni.hex"};
  return names;
}

}  // namespace gh::tls::test
