// A small MaxMind DB (format 2.0) writer: an IPv6 search tree with 32-bit records, a data section
// of {autonomous_system_number, autonomous_system_organization} maps (GeoLite2-ASN's field names)
// and the metadata map. IPv4 networks go at ::a.b.c.d/(96 + n), where libmaxminddb looks for
// IPv4 addresses. `gatehouse sim asn-db` writes a scenario's networks with it, and the shield's
// tests write their databases with it: Debian ships no writer, and a checked-in binary would be
// opaque.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/sim-t.h"

namespace gh::sim {

class MmdbWriter {
 public:
  // A network and its AS. An empty organization leaves that field out; asn_field = false leaves
  // the number out (a record without it). A network added after a wider one that holds it
  // overrides it there; added before, it is covered by the wider one (add wide ones first).
  void add(const Cidr& net, std::uint32_t asn, std::string_view org = "Test AS",
           bool asn_field = true);
  void set_database_type(std::string type) { type_ = std::move(type); }
  void set_description(std::string text) { description_ = std::move(text); }
  void set_build_epoch(std::uint64_t epoch) { epoch_ = epoch; }

  std::string bytes() const;
  // Writes bytes() to `path` (replacing it). false, with *error when given, on failure.
  bool write(const std::string& path, std::string* error = nullptr) const;

  std::size_t node_count() const { return nodes_.size(); }

 private:
  void insert(const std::array<std::uint8_t, 16>& bits, unsigned len, std::size_t offset);

  std::vector<std::array<std::int64_t, 2>> nodes_;
  std::vector<std::uint8_t> data_;
  std::string type_ = "Gatehouse-Sim-ASN";
  std::string description_ = "written by gatehouse sim";
  std::uint64_t epoch_ = 1700000000;
};

}  // namespace gh::sim
