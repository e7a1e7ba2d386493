// The shield's tests write their ASN databases with the simulator's MaxMind DB writer
// (sim/mmdb.h, the project's one writer); this adapter only takes the shield's address type.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "client/address-t.h"
#include "sim/mmdb.h"

namespace gh::reputation::testing {

class MmdbWriter {
 public:
  MmdbWriter() {
    w_.set_database_type("GH-Test-ASN");
    w_.set_description("test database");
  }

  // An empty organization leaves the field out; asn_field = false leaves the ASN out (a record
  // without it, to test that path).
  void add(const client::Cidr& net, std::uint32_t asn, std::string_view org = "Test AS",
           bool asn_field = true) {
    sim::Cidr c;
    c.v6 = !net.address.is_v4;
    c.prefix = net.prefix_len;
    if (net.address.is_v4) {
      std::memcpy(c.base.data(), net.address.bytes.data() + 12, 4);  // out of ::ffff:a.b.c.d
    } else {
      c.base = net.address.bytes;
    }
    w_.add(c, asn, org, asn_field);
  }

  std::string bytes() const { return w_.bytes(); }
  bool write(const std::string& path) const { return w_.write(path); }

 private:
  sim::MmdbWriter w_;
};

}  // namespace gh::reputation::testing
