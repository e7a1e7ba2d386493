// The `tls:` section of a listener: certificates read, parsed and matched at load, each error at
// the file:line:col of the value that names the bad file.
#include "policy/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "common/tls_certs.h"

namespace gh::tls {
namespace {

class TlsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gh-tls-config-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    ca = std::make_unique<test::TestCa>(dir);
    ASSERT_TRUE(ca->ok());
    ASSERT_TRUE(ca->issue("a", {"a.test", "*.a.test"}));
    ASSERT_TRUE(ca->issue("b", {"b.test"}));
  }
  void TearDown() override { test::sh("rm -rf " + dir); }

  std::string yaml(const std::string& tls) const {
    return "listen:\n"
           "  - address: 127.0.0.1:8443\n"
           "    tls:\n" +
           tls +
           "upstreams:\n"
           "  app:\n"
           "    servers: [127.0.0.1:3000]\n";
  }
  std::vector<std::string> errors(const std::string& tls) const {
    std::vector<std::string> out;
    for (const auto& e : policy::load_config_string(yaml(tls), "test.yaml").errors) {
      out.push_back(e.to_string());
    }
    return out;
  }
  std::string cert_pair(const std::string& cert, const std::string& key) const {
    return "      certificates:\n"
           "        - cert: " +
           cert +
           "\n"
           "          key: " +
           key + "\n";
  }

  std::string dir;
  std::unique_ptr<test::TestCa> ca;
};

TEST_F(TlsConfigTest, LoadsCertificatesAndDefaults) {
  auto r = policy::load_config_string(
      yaml("      certificates:\n"
           "        - { cert: " +
           ca->cert("a") + ", key: " + ca->key("a") + " }\n" +
           "        - { cert: " + ca->cert("b") + ", key: " + ca->key("b") + " }\n"),
      "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().to_string();
  const policy::TlsConfig& t = r.snapshot->config.listen.at(0).tls;
  EXPECT_TRUE(t.enabled);
  ASSERT_EQ(t.certificates.size(), 2u);
  EXPECT_EQ(t.certificates[0].cert_file, ca->cert("a"));
  EXPECT_EQ(t.certificates[1].key_file, ca->key("b"));
  EXPECT_EQ(t.min_version, policy::TlsVersion::Tls12);
  EXPECT_TRUE(t.session_tickets);
  EXPECT_EQ(t.handshake_timeout, 10'000u);
  EXPECT_EQ(t.max_handshakes, 1024u);
  EXPECT_TRUE(t.ktls);
  EXPECT_FALSE(r.snapshot->config.listen.at(0).proxy_protocol);
}

TEST_F(TlsConfigTest, SettingsAreRead) {
  auto r = policy::load_config_string(
      yaml(cert_pair(ca->cert("a"), ca->key("a")) + "      min_version: \"1.3\"\n"
                                                    "      session_tickets: false\n"
                                                    "      ticket_key_rotation: 30m\n"
                                                    "      handshake_timeout: 2s\n"
                                                    "      max_handshakes: 50\n"
                                                    "      ktls: false\n"),
      "test.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().to_string();
  const policy::TlsConfig& t = r.snapshot->config.listen.at(0).tls;
  EXPECT_EQ(t.min_version, policy::TlsVersion::Tls13);
  EXPECT_FALSE(t.session_tickets);
  EXPECT_EQ(t.ticket_key_rotation, 1'800'000u);
  EXPECT_EQ(t.handshake_timeout, 2'000u);
  EXPECT_EQ(t.max_handshakes, 50u);
  EXPECT_FALSE(t.ktls);
}

TEST_F(TlsConfigTest, MissingCertificateFileIsReportedAtItsLine) {
  auto e = errors(cert_pair(dir + "/nope.pem", ca->key("a")));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "test.yaml:5:17: listen[0].tls.certificates[0].cert: cannot read " + dir +
                      "/nope.pem: No such file or directory");
}

TEST_F(TlsConfigTest, KeyThatIsADirectoryIsReported) {
  auto e = errors(cert_pair(ca->cert("a"), dir));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "test.yaml:6:16: listen[0].tls.certificates[0].key: cannot read " + dir +
                      ": it is a directory");
}

TEST_F(TlsConfigTest, MismatchedKeyIsReportedAtTheKey) {
  auto e = errors(cert_pair(ca->cert("a"), ca->key("b")));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "test.yaml:6:16: listen[0].tls.certificates[0].key: " + ca->key("b") +
                      " is not the key of the certificate in " + ca->cert("a"));
}

TEST_F(TlsConfigTest, NotPemIsReported) {
  std::ofstream(dir + "/junk.pem") << "hello\n";
  auto e = errors(cert_pair(dir + "/junk.pem", ca->key("a")));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "test.yaml:5:17: listen[0].tls.certificates[0].cert: " + dir +
                      "/junk.pem holds no PEM certificate");
  e = errors(cert_pair(ca->cert("a"), dir + "/junk.pem"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("junk.pem holds no PEM private key"), std::string::npos) << e[0];
}

TEST_F(TlsConfigTest, SectionShapeErrors) {
  EXPECT_EQ(errors("      min_version: \"1.2\"\n"),
            std::vector<std::string>{
                "test.yaml:3:5: listen[0].tls: missing required key 'certificates'"});
  EXPECT_EQ(errors("      certificates: []\n"),
            std::vector<std::string>{"test.yaml:4:21: listen[0].tls.certificates: a TLS listener "
                                     "needs a certificate"});
  auto e = errors("      certificates:\n        - { cert: " + ca->cert("a") + " }\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "test.yaml:5:11: listen[0].tls.certificates[0]: missing required key 'key'");
  e = errors(cert_pair(ca->cert("a"), ca->key("a")) + "      min_version: \"1.1\"\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("test.yaml:7:20: listen[0].tls.min_version"), std::string::npos) << e[0];
  e = errors(cert_pair(ca->cert("a"), ca->key("a")) + "      handshake_timeout: 10m\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("listen[0].tls.handshake_timeout"), std::string::npos) << e[0];
  e = errors(cert_pair(ca->cert("a"), ca->key("a")) + "      certs: x\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("unknown key 'certs'"), std::string::npos) << e[0];
}

TEST_F(TlsConfigTest, TicketKeyFileMustHoldWholeKeys) {
  ASSERT_TRUE(test::sh("openssl rand 80 > " + dir + "/tickets.key"));
  ASSERT_TRUE(test::sh("openssl rand 79 > " + dir + "/short.key"));
  EXPECT_TRUE(errors(cert_pair(ca->cert("a"), ca->key("a")) + "      ticket_key_file: " + dir +
                     "/tickets.key\n")
                  .empty());
  auto e = errors(cert_pair(ca->cert("a"), ca->key("a")) + "      ticket_key_file: " + dir +
                  "/short.key\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "test.yaml:7:24: listen[0].tls.ticket_key_file: " + dir +
                      "/short.key: expected 1 to 16 keys of 80 random bytes each (e.g. openssl "
                      "rand 80), got 79 bytes");
}

TEST_F(TlsConfigTest, ProxyProtocolWithTlsIsRefused) {
  auto r = policy::load_config_string(
      "listen:\n"
      "  - address: 127.0.0.1:8443\n"
      "    proxy_protocol: true\n"
      "    tls:\n" +
          cert_pair(ca->cert("a"), ca->key("a")) +
          "upstreams:\n"
          "  app:\n"
          "    servers: [127.0.0.1:3000]\n",
      "test.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.yaml:4:5: listen[0]: tls with proxy_protocol is not supported yet");
}

TEST_F(TlsConfigTest, RelativeNamesAreRelativeToTheConfigFile) {
  const std::string sub = dir + "/conf";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  const std::string path = sub + "/gatehouse.yaml";
  std::ofstream(path) << yaml(cert_pair("../a.pem", "../a.key"));
  auto r = policy::load_config_file(path);
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().to_string();
  // ".." is left to the kernel, as for every other name (docs/CONFIG.md, "Files and paths").
  EXPECT_EQ(r.snapshot->config.listen.at(0).tls.certificates.at(0).cert_file,
            sub + "/../a.pem");
}

}  // namespace
}  // namespace gh::tls
