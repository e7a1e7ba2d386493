#include "sim/mmdb.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace gh::sim {
namespace {

constexpr std::int64_t kEmpty = -1;
constexpr std::int64_t kData = std::int64_t{1} << 40;  // kData + offset: a data record

// The control byte(s) of a field: type numbers of the spec; 8 and above are "extended" (a
// second byte holds type - 7). Sizes of 29 and more take one to three more bytes.
void control(std::vector<std::uint8_t>& out, unsigned type, std::size_t size) {
  unsigned bits = 0;
  std::vector<std::uint8_t> extra;
  if (size < 29) {
    bits = static_cast<unsigned>(size);
  } else if (size < 29 + 256) {
    bits = 29;
    extra = {static_cast<std::uint8_t>(size - 29)};
  } else if (size < 285 + 65536) {
    bits = 30;
    const std::size_t s = size - 285;
    extra = {static_cast<std::uint8_t>(s >> 8), static_cast<std::uint8_t>(s)};
  } else {
    bits = 31;
    const std::size_t s = size - 65821;
    extra = {static_cast<std::uint8_t>(s >> 16), static_cast<std::uint8_t>(s >> 8),
             static_cast<std::uint8_t>(s)};
  }
  if (type <= 7) {
    out.push_back(static_cast<std::uint8_t>(type << 5 | bits));
  } else {
    out.push_back(static_cast<std::uint8_t>(bits));
    out.push_back(static_cast<std::uint8_t>(type - 7));
  }
  out.insert(out.end(), extra.begin(), extra.end());
}

void string(std::vector<std::uint8_t>& out, std::string_view s) {
  control(out, 2, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// uint16 (5), uint32 (6) or uint64 (9), big-endian without leading zero bytes.
void unsigned_int(std::vector<std::uint8_t>& out, unsigned type, std::uint64_t v) {
  std::vector<std::uint8_t> b;
  for (; v != 0; v >>= 8) b.insert(b.begin(), static_cast<std::uint8_t>(v));
  control(out, type, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

}  // namespace

void MmdbWriter::add(const Cidr& net, std::uint32_t asn, std::string_view org, bool asn_field) {
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
  std::array<std::uint8_t, 16> bits{};
  unsigned len = net.prefix;
  if (net.v6) {
    bits = net.base;
  } else {
    std::memcpy(bits.data() + 12, net.base.data(), 4);  // ::a.b.c.d
    len += 96;
  }
  insert(bits, len, offset);
}

void MmdbWriter::insert(const std::array<std::uint8_t, 16>& bits, unsigned len,
                        std::size_t offset) {
  if (nodes_.empty()) nodes_.push_back({kEmpty, kEmpty});
  if (len == 0) {  // ::/0: both halves of the root
    nodes_[0] = {kData + static_cast<std::int64_t>(offset),
                 kData + static_cast<std::int64_t>(offset)};
    return;
  }
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
    // Empty, or a wider network's data: a new node whose both halves inherit it.
    nodes_.push_back({r, r});
    const std::size_t child = nodes_.size() - 1;
    nodes_[node][bit] = static_cast<std::int64_t>(child);
    node = child;
  }
}

std::string MmdbWriter::bytes() const {
  std::vector<std::array<std::int64_t, 2>> nodes = nodes_;
  if (nodes.empty()) nodes.push_back({kEmpty, kEmpty});  // a tree of one empty node
  const auto n = static_cast<std::uint32_t>(nodes.size());
  std::string out;
  auto record = [&](std::int64_t r) {
    std::uint32_t v = n;  // "no data"
    if (r >= kData) {
      v = static_cast<std::uint32_t>(n + 16 + (r - kData));
    } else if (r >= 0) {
      v = static_cast<std::uint32_t>(r);
    }
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
  };
  for (const auto& node : nodes) {
    record(node[0]);
    record(node[1]);
  }
  out.append(16, '\0');  // the data section separator
  out.append(data_.begin(), data_.end());
  out.append("\xAB\xCD\xEFMaxMind.com");
  std::vector<std::uint8_t> m;
  control(m, 7, 9);
  string(m, "binary_format_major_version");
  unsigned_int(m, 5, 2);
  string(m, "binary_format_minor_version");
  unsigned_int(m, 5, 0);
  string(m, "build_epoch");
  unsigned_int(m, 9, epoch_);
  string(m, "database_type");
  string(m, type_);
  string(m, "description");
  control(m, 7, 1);
  string(m, "en");
  string(m, description_);
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

bool MmdbWriter::write(const std::string& path, std::string* error) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) {
    if (error != nullptr) *error = path + ": cannot write: " + std::strerror(errno);
    return false;
  }
  const std::string b = bytes();
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
  f.close();
  if (!f) {
    if (error != nullptr) *error = path + ": write failed";
    return false;
  }
  return true;
}

}  // namespace gh::sim
