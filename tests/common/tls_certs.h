// A test CA and its certificates, made with the openssl command-line tool (not with Gatehouse's
// code, which these files then test): ECDSA P-256 keys, certificates valid for two days.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

namespace gh::test {

// Runs `cmd` with /bin/sh; true when it exits 0. Output goes to /dev/null.
inline bool sh(const std::string& cmd) {
  return std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) == 0;
}

class TestCa {
 public:
  // Makes DIR/ca.key and DIR/ca.pem.
  explicit TestCa(std::string dir) : dir_(std::move(dir)) {
    ok_ = sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + dir_ +
             "/ca.key") &&
          sh("openssl req -x509 -new -key " + dir_ + "/ca.key -subj '/CN=Gatehouse Test CA' " +
             "-days 2 -out " + dir_ + "/ca.pem");
  }
  bool ok() const { return ok_; }
  std::string ca_pem() const { return dir_ + "/ca.pem"; }
  std::string cert(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

  // DIR/NAME.pem and DIR/NAME.key: a certificate for `dns` (subjectAltName), with common name
  // `cn` (default: the first DNS name), signed by the CA. Overwrites an earlier NAME.
  bool issue(const std::string& name, const std::vector<std::string>& dns,
             const std::string& cn = "") {
    std::string san = "subjectAltName=";
    for (std::size_t i = 0; i < dns.size(); ++i) san += (i ? ",DNS:" : "DNS:") + dns[i];
    const std::string ext = dir_ + "/" + name + ".ext";
    const std::string common = cn.empty() ? dns.at(0) : cn;
    return sh("printf '%s\\n' '" + san + "' > " + ext) &&
           sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + key(name)) &&
           sh("openssl req -new -key " + key(name) + " -subj '/CN=" + common + "' -out " + dir_ +
              "/" + name + ".csr") &&
           sh("openssl x509 -req -in " + dir_ + "/" + name + ".csr -CA " + ca_pem() + " -CAkey " +
              dir_ + "/ca.key -CAcreateserial -days 2 -extfile " + ext + " -out " + cert(name));
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

}  // namespace gh::test
