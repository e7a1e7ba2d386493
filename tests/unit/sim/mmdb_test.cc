// The MaxMind DB writer, read back with libmaxminddb (the reader the shield uses), and
// `gatehouse sim asn-db`, which writes a scenario's networks with it.
#include "sim/mmdb.h"

#include <gtest/gtest.h>
#include <maxminddb.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "sim/cli.h"
#include "sim/scenario.h"
#include "unit/sim/temp_dir.h"

namespace gh::sim {
namespace {

namespace fs = std::filesystem;

using simtest::TempDir;

struct Found {
  std::optional<std::uint32_t> asn;
  std::optional<std::string> org;
};

class Reader {
 public:
  explicit Reader(const std::string& path) {
    ok_ = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db_) == MMDB_SUCCESS;
  }
  ~Reader() {
    if (ok_) MMDB_close(&db_);
  }
  bool ok() const { return ok_; }
  const MMDB_metadata_s& meta() const { return db_.metadata; }

  // nullopt: the address is in no network of the database.
  std::optional<Found> lookup(const std::string& ip) {
    int gai = 0, err = 0;
    MMDB_lookup_result_s r = MMDB_lookup_string(&db_, ip.c_str(), &gai, &err);
    EXPECT_EQ(gai, 0) << ip;
    EXPECT_EQ(err, MMDB_SUCCESS) << ip;
    if (!r.found_entry) return std::nullopt;
    Found f;
    MMDB_entry_data_s d;
    if (MMDB_get_value(&r.entry, &d, "autonomous_system_number", nullptr) == MMDB_SUCCESS &&
        d.has_data && d.type == MMDB_DATA_TYPE_UINT32) {
      f.asn = d.uint32;
    }
    if (MMDB_get_value(&r.entry, &d, "autonomous_system_organization", nullptr) == MMDB_SUCCESS &&
        d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING) {
      f.org = std::string(d.utf8_string, d.data_size);
    }
    return f;
  }

 private:
  MMDB_s db_{};
  bool ok_ = false;
};

Cidr cidr(const char* text) {
  auto c = parse_cidr(text);
  EXPECT_TRUE(c.has_value()) << text;
  return *c;
}

TEST(Mmdb, RoundTripThroughLibmaxminddb) {
  TempDir dir;
  MmdbWriter w;
  w.set_database_type("GH-Round-Trip");
  w.add(cidr("127.7.0.0/16"), 16509, "Amazon.com, Inc.");
  w.add(cidr("127.8.0.0/17"), 7018, "AT&T Services, Inc.");
  w.add(cidr("127.8.128.0/17"), 4200000000u, "");  // a 4-byte ASN, no organization
  w.add(cidr("2001:db8::/32"), 64502, "Doc Six");
  w.add(cidr("2001:db8:1::/48"), 64503, "Doc Six Inner");  // more specific, inside the /32
  w.add(cidr("127.9.9.0/24"), 0, "Org only", /*asn_field=*/false);
  const std::string path = dir.file("asn.mmdb");
  std::string error;
  ASSERT_TRUE(w.write(path, &error)) << error;

  Reader r(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.meta().binary_format_major_version, 2);
  EXPECT_EQ(r.meta().ip_version, 6);
  EXPECT_EQ(r.meta().record_size, 32);
  EXPECT_STREQ(r.meta().database_type, "GH-Round-Trip");
  EXPECT_EQ(r.meta().node_count, w.node_count());

  auto a = r.lookup("127.7.200.9");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->asn, 16509u);
  EXPECT_EQ(a->org, "Amazon.com, Inc.");
  EXPECT_EQ(r.lookup("127.8.1.1")->asn, 7018u);
  auto big = r.lookup("127.8.200.1");
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->asn, 4200000000u);
  EXPECT_FALSE(big->org.has_value());
  EXPECT_EQ(r.lookup("2001:db8:2::1")->asn, 64502u);
  EXPECT_EQ(r.lookup("2001:db8:1::1")->asn, 64503u);
  auto org_only = r.lookup("127.9.9.9");
  ASSERT_TRUE(org_only.has_value());
  EXPECT_FALSE(org_only->asn.has_value());
  EXPECT_EQ(org_only->org, "Org only");
  EXPECT_FALSE(r.lookup("127.1.0.1").has_value());
  EXPECT_FALSE(r.lookup("10.0.0.1").has_value());
  EXPECT_FALSE(r.lookup("2001:db9::1").has_value());
}

TEST(Mmdb, LongStringsAndAnEmptyDatabase) {
  TempDir dir;
  MmdbWriter w;
  const std::string org(300, 'x');  // a size of 285 and more takes two more bytes
  w.add(cidr("192.0.2.0/24"), 64500, org);
  ASSERT_TRUE(w.write(dir.file("long.mmdb")));
  Reader r(dir.file("long.mmdb"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.lookup("192.0.2.7")->org, org);

  MmdbWriter empty;
  ASSERT_TRUE(empty.write(dir.file("empty.mmdb")));
  Reader e(dir.file("empty.mmdb"));
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e.lookup("192.0.2.7").has_value());
}

TEST(Mmdb, AsnDbWritesAScenariosNetworksNarrowestWinning) {
  TempDir dir;
  const std::string scenario = dir.file("s.yaml");
  std::ofstream(scenario) << R"(
name: nets
networks:
  - { cidr: 127.8.5.0/24, asn: 64511, org: "Inner" }   # listed before the /16 that holds it
  - { cidr: 127.8.0.0/16, asn: 7922, org: "Comcast Cable Communications, LLC" }
  - { cidr: 127.7.0.0/16, asn: 16509, org: "Amazon.com, Inc." }
populations:
  - { name: a, behaviour: newcomer, arrival_rate: 1 }
)";
  const std::string out = dir.file("nets.mmdb");
  ASSERT_EQ(run_asn_db(scenario, out), 0);
  Reader r(out);
  ASSERT_TRUE(r.ok());
  EXPECT_STREQ(r.meta().database_type, "Gatehouse-Sim-ASN");
  EXPECT_EQ(r.lookup("127.8.5.1")->asn, 64511u);
  EXPECT_EQ(r.lookup("127.8.6.1")->asn, 7922u);
  EXPECT_EQ(r.lookup("127.7.0.1")->org, "Amazon.com, Inc.");
}

TEST(Mmdb, AsnDbRefusesAScenarioWithoutNetworks) {
  TempDir dir;
  const std::string scenario = dir.file("s.yaml");
  std::ofstream(scenario)
      << "populations:\n  - { name: a, behaviour: newcomer, arrival_rate: 1 }\n";
  EXPECT_EQ(run_asn_db(scenario, dir.file("x.mmdb")), 2);
  EXPECT_FALSE(fs::exists(dir.file("x.mmdb")));
  EXPECT_EQ(run_asn_db(dir.file("missing.yaml"), dir.file("x.mmdb")), 2);
  // A place that cannot be written.
  std::ofstream(scenario)
      << "networks: [{cidr: 127.7.0.0/16, asn: 1}]\n"
         "populations:\n  - { name: a, behaviour: newcomer, arrival_rate: 1 }\n";
  EXPECT_EQ(run_asn_db(scenario, dir.file("no/such/dir/x.mmdb")), 1);
}

}  // namespace
}  // namespace gh::sim
