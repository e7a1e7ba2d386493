// A minimal MaxMind DB (format 2.0) writer for tests only: an IPv6 search tree with 32-bit
// records, a data section of {autonomous_system_number, autonomous_system_organization} maps and
// the metadata map. IPv4 networks go at ::a.b.c.d/(96 + n), where libmaxminddb looks for IPv4
// addresses. Debian ships no writer, and a checked-in binary would be opaque.
#pragma once

#include <array>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "client/address-t.h"

namespace gh::reputation::testing {

class MmdbWriter {
 public:
  // An empty organization leaves the field out; asn_field = false leaves the ASN out (a record
  // without it, to test that path).
  void add(const client::Cidr& net, std::uint32_t asn, std::string_view org = "Test AS",
           bool asn_field = true) {
    const std::size_t offset = data_.size();
    std::vector<std::uint8_t> m;
    const unsigned pairs = (asn_field ? 1 : 0) + (org.empty() ? 0 : 1);
    control(m, 7, pairs);
    if (asn_field) {
      string(m, "autonomous_system_number");
      unsigned_int(m, 6, asn);
    }
    if (!org.empty()) {
      string(m, "autonomous_system_organization");
      string(m, org);
    }
    data_.insert(data_.end(), m.begin(), m.end());
    const unsigned len = net.address.is_v4 ? 96u + net.prefix_len : net.prefix_len;
    std::array<std::uint8_t, 16> bits = net.address.bytes;
    if (net.address.is_v4) {
      bits[10] = 0;  // ::a.b.c.d, not ::ffff:a.b.c.d
      bits[11] = 0;
    }
    insert(bits, len, offset);
  }

  std::string bytes() const {
    const auto n = static_cast<std::uint32_t>(nodes_.size());
    std::string out;
    auto record = [&](std::int64_t r) {
      std::uint32_t v = n;  // empty
      if (r >= kData) {
        v = static_cast<std::uint32_t>(n + 16 + (r - kData));
      } else if (r >= 0) {
        v = static_cast<std::uint32_t>(r);
      }
      for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
    };
    for (const auto& node : nodes_) {
      record(node[0]);
      record(node[1]);
    }
    out.append(16, '\0');
    out.append(data_.begin(), data_.end());
    out.append("\xAB\xCD\xEFMaxMind.com");
    std::vector<std::uint8_t> m;
    control(m, 7, 9);
    string(m, "binary_format_major_version");
    unsigned_int(m, 5, 2);
    string(m, "binary_format_minor_version");
    unsigned_int(m, 5, 0);
    string(m, "build_epoch");
    unsigned_int(m, 9, 1700000000);
    string(m, "database_type");
    string(m, "GH-Test-ASN");
    string(m, "description");
    control(m, 7, 1);
    string(m, "en");
    string(m, "test database");
    string(m, "ip_version");
    unsigned_int(m, 5, 6);
    string(m, "languages");
    control(m, 11, 1);
    string(m, "en");
    string(m, "node_count");
    unsigned_int(m, 6, n);
    string(m, "record_size");
    unsigned_int(m, 5, 32);
    out.append(m.begin(), m.end());
    return out;
  }

  bool write(const std::string& path) const {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    const std::string b = bytes();
    f.write(b.data(), static_cast<std::streamsize>(b.size()));
    return static_cast<bool>(f);
  }

 private:
  static constexpr std::int64_t kEmpty = -1;
  static constexpr std::int64_t kData = std::int64_t{1} << 40;  // kData + offset: a data record

  // Type numbers of the spec; 8 and above are "extended" (a second byte holds type - 7).
  static void control(std::vector<std::uint8_t>& out, unsigned type, std::size_t size) {
    unsigned bits = 0;
    std::vector<std::uint8_t> extra;
    if (size < 29) {
      bits = static_cast<unsigned>(size);
    } else if (size < 29 + 256) {
      bits = 29;
      extra = {static_cast<std::uint8_t>(size - 29)};
    } else {
      bits = 30;
      const std::size_t s = size - 285;
      extra = {static_cast<std::uint8_t>(s >> 8), static_cast<std::uint8_t>(s)};
    }
    if (type <= 7) {
      out.push_back(static_cast<std::uint8_t>(type << 5 | bits));
    } else {
      out.push_back(static_cast<std::uint8_t>(bits));
      out.push_back(static_cast<std::uint8_t>(type - 7));
    }
    out.insert(out.end(), extra.begin(), extra.end());
  }

  static void string(std::vector<std::uint8_t>& out, std::string_view s) {
    control(out, 2, s.size());
    out.insert(out.end(), s.begin(), s.end());
  }

  // uint16 (5), uint32 (6) or uint64 (9), big-endian without leading zero bytes.
  static void unsigned_int(std::vector<std::uint8_t>& out, unsigned type, std::uint64_t v) {
    std::vector<std::uint8_t> b;
    for (; v != 0; v >>= 8) b.insert(b.begin(), static_cast<std::uint8_t>(v));
    control(out, type, b.size());
    out.insert(out.end(), b.begin(), b.end());
  }

  void insert(const std::array<std::uint8_t, 16>& bits, unsigned len, std::size_t offset) {
    if (nodes_.empty()) nodes_.push_back({kEmpty, kEmpty});
    std::size_t node = 0;
    for (unsigned depth = 0; depth < len; ++depth) {
      const unsigned bit = (bits[depth / 8] >> (7 - depth % 8)) & 1;
      if (depth + 1 == len) {
        nodes_[node][bit] = kData + static_cast<std::int64_t>(offset);
        return;
      }
      const std::int64_t r = nodes_[node][bit];
      if (r >= 0 && r < kData) {
        node = static_cast<std::size_t>(r);
        continue;
      }
      // Empty, or a shorter network's data: a new node whose both halves inherit it.
      nodes_.push_back({r, r});
      const std::size_t child = nodes_.size() - 1;
      nodes_[node][bit] = static_cast<std::int64_t>(child);
      node = child;
    }
  }

  std::vector<std::array<std::int64_t, 2>> nodes_;
  std::vector<std::uint8_t> data_;
};

}  // namespace gh::reputation::testing
