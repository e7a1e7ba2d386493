// The ASN database wrapper against .mmdb files made by the test writer, and its error paths.
#include "stages/reputation/asn.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "mmdb_writer.h"
#include "test_util.h"

namespace gh::reputation {
namespace {

using testing::cidr;
using testing::ip;
using testing::MmdbWriter;
using testing::TempDir;

TEST(AsnDatabase, LooksUpIpv4AndIpv6Networks) {
  TempDir dir;
  MmdbWriter w;
  w.add(cidr("192.0.2.0/24"), 64500, "Documentation One");
  w.add(cidr("198.51.100.0/25"), 64501);
  w.add(cidr("198.51.100.128/25"), 4200000000u);  // a 4-byte ASN
  w.add(cidr("2001:db8::/32"), 64502);
  w.add(cidr("2001:db8:1::/48"), 64503);  // more specific, inside the /32
  const std::string path = dir.file("asn.mmdb");
  ASSERT_TRUE(w.write(path));

  std::string error;
  auto db = AsnDatabase::open(path, error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_EQ(db->database_type(), "GH-Test-ASN");
  EXPECT_EQ(db->ip_version(), 6u);

  EXPECT_EQ(db->lookup(ip("192.0.2.1")), 64500u);
  EXPECT_EQ(db->lookup(ip("192.0.2.255")), 64500u);
  EXPECT_EQ(db->lookup(ip("198.51.100.5")), 64501u);
  EXPECT_EQ(db->lookup(ip("198.51.100.200")), 4200000000u);
  EXPECT_EQ(db->lookup(ip("2001:db8:ffff::1")), 64502u);
  EXPECT_EQ(db->lookup(ip("2001:db8:1::7")), 64503u);
  EXPECT_EQ(db->lookup(ip("2001:db8:2::7")), 64502u);

  EXPECT_EQ(db->lookup(ip("192.0.3.1")), std::nullopt);
  EXPECT_EQ(db->lookup(ip("203.0.113.9")), std::nullopt);
  EXPECT_EQ(db->lookup(ip("2001:db9::1")), std::nullopt);
  EXPECT_EQ(db->lookup(ip("::1")), std::nullopt);
}

TEST(AsnDatabase, RecordWithoutAsnFieldIsNoAnswer) {
  TempDir dir;
  MmdbWriter w;
  w.add(cidr("192.0.2.0/24"), 0, "Org only", /*asn_field=*/false);
  w.add(cidr("198.51.100.0/24"), 64501, /*org=*/"");
  const std::string path = dir.file("asn.mmdb");
  ASSERT_TRUE(w.write(path));
  std::string error;
  auto db = AsnDatabase::open(path, error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_EQ(db->lookup(ip("192.0.2.1")), std::nullopt);
  EXPECT_EQ(db->lookup(ip("198.51.100.1")), 64501u);
}

TEST(AsnDatabase, MissingFileIsAClearError) {
  TempDir dir;
  std::string error;
  const std::string path = dir.file("absent.mmdb");
  EXPECT_EQ(AsnDatabase::open(path, error), nullptr);
  EXPECT_NE(error.find("cannot open '" + path + "'"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST(AsnDatabase, NotAMaxMindFileIsAClearError) {
  TempDir dir;
  const std::string path = dir.file("text.mmdb");
  {
    std::ofstream f(path);
    f << "this is not a MaxMind database\n";
  }
  std::string error;
  EXPECT_EQ(AsnDatabase::open(path, error), nullptr);
  EXPECT_NE(error.find("cannot open '" + path + "'"), std::string::npos) << error;
  EXPECT_NE(error.find("metadata"), std::string::npos) << error;

  // The marker without a valid metadata map is refused too, as is a truncated tree.
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << std::string(64, '\0') << "\xAB\xCD\xEFMaxMind.com"
      << "\xE0";
  }
  EXPECT_EQ(AsnDatabase::open(path, error), nullptr);

  MmdbWriter w;
  w.add(cidr("192.0.2.0/24"), 64500);
  std::string bytes = w.bytes();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << bytes.substr(bytes.size() / 2);  // metadata intact, tree cut
  }
  error.clear();
  EXPECT_EQ(AsnDatabase::open(path, error), nullptr) << "opened a cut database";
}

}  // namespace
}  // namespace gh::reputation
