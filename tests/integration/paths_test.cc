// Where the shield reads and writes: state files under state_dir, relative names relative to the
// configuration file (not the working directory), `validate` naming every file, quick mode
// writing nothing unless asked, and the quick modes' --admin.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "process.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Runs the binary to its end in `cwd`; its exit code, its output in *out.
int run_in(const std::string& cwd, const std::vector<std::string>& args, std::string* out,
           const std::string& log) {
  std::vector<std::string> full = {GATEHOUSE_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  Child c(full, log, {}, cwd);
  const int rc = c.wait(15s);
  *out = c.log();
  return rc;
}

std::set<std::string> files_under(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.insert(e.path().string());
  }
  return out;
}

int http_status(const char* host, std::uint16_t port, const std::string& path) {
  httplib::Client c(host, port);
  c.set_connection_timeout(2);
  c.set_read_timeout(3);
  auto r = c.Get(path);
  return r ? r->status : 0;
}

// `gatehouse run` started from another directory: every file it writes is under state_dir, next
// to the configuration, and `validate` names each one beforehand.
TEST(Paths, StateFilesStayInStateDirNextToTheConfig) {
  TempDir dir;
  Origin origin;
  const std::string conf = dir.path() + "/conf";
  const std::string elsewhere = dir.path() + "/elsewhere";
  fs::create_directories(conf);
  fs::create_directories(elsewhere);
  dir.file("conf/deny.txt", "192.0.2.0/24\n");
  const std::string token = dir.file("conf/admin.token", "paths-test-token-0123456789\n");
  ::chmod(token.c_str(), 0600);
  const std::string config =
      dir.file("conf/gatehouse.yaml",
               "server: { workers: 1 }\n"
               "listen:\n  - address: 127.0.0.1:0\n"
               "upstreams:\n  app: { servers: [127.0.0.1:" +
                   std::to_string(origin.port()) +
                   "] }\n"
                   "admin: { address: 127.0.0.2:0, token_file: admin.token }\n"
                   "lists: { deny_files: [deny.txt] }\n"
                   "state_dir: state\n"
                   "bans: { journal: journal/bans.journal }\n");

  Child c({GATEHOUSE_BINARY, "run", "--config", config}, dir.path() + "/run.log", {}, elsewhere);
  const std::uint16_t port = c.listening_port();
  ASSERT_NE(port, 0) << c.log();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(roundtrip(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  }
  const std::uint16_t admin =
      c.port_from_log(std::regex("admin API on http://127\\.0\\.0\\.2:([0-9]+)/"));
  ASSERT_NE(admin, 0) << c.log();  // the token was found next to the config
  httplib::Client api("127.0.0.2", admin);
  api.set_read_timeout(3);
  auto revoked =
      api.Post("/v1/residents/revoke", {{"Authorization", "Bearer paths-test-token-0123456789"}},
               R"({"account": "alice"})", "application/json");
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 200) << revoked->body;
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(15s), 0) << c.log();

  EXPECT_TRUE(fs::is_empty(elsewhere)) << "nothing in the working directory";
  const std::string state = conf + "/state";
  for (const char* f :
       {"secret.key", "journal/bans.journal", "events.jsonl", "revocations", "access.log"}) {
    EXPECT_TRUE(fs::exists(state + "/" + f)) << f << "\n" << c.log();
  }
  std::string listed;
  ASSERT_EQ(run_in(elsewhere, {"validate", "--config", config}, &listed, dir.path() + "/v.log"), 0)
      << listed;
  const std::set<std::string> inputs = {config, conf + "/deny.txt", token, dir.path() + "/run.log",
                                        dir.path() + "/v.log"};
  for (const std::string& f : files_under(dir.path())) {
    if (inputs.count(f) != 0) continue;
    EXPECT_EQ(f.rfind(state + "/", 0), 0u) << f << " is outside state_dir";
    // Listed by validate: the file itself, or its folder (reports/).
    const std::string parent = fs::path(f).parent_path().string() + "/";
    EXPECT_TRUE(listed.find(" " + f + " ") != std::string::npos ||
                listed.find(" " + parent + " ") != std::string::npos)
        << f << " is not named by validate:\n"
        << listed;
  }
}

// validate's list: each file with the key that names it, resolved by the rules, nothing created.
TEST(Paths, ValidatePrintsWhereEachFileIsReadOrWritten) {
  TempDir dir;
  const std::string d = dir.path();
  fs::create_directories(d + "/conf/sub");
  dir.file("conf/sub/allow.txt", "10.0.0.0/8\n");
  dir.file("conf/theme.css", "body { color: #333 }\n");
  dir.file("conf/sub/more.yaml", "lists: { allow_files: [allow.txt] }\n");
  dir.file("conf/main.yaml",
           "include: [sub/more.yaml]\n"
           "listen:\n  - address: 127.0.0.1:8080\n"
           "upstreams:\n  app: { servers: [127.0.0.1:3000] }\n"
           "admin: { token_file: ./secrets/admin.token }\n"
           "secrets: { key_file: " +
               d + "/keys/secret.key }\n" +
               "challenge: { theme_css_file: theme.css }\n"
               "access_log: { path: logs/access.jsonl }\n");
  std::string out;
  // The config named relative to the working directory, as an operator would.
  ASSERT_EQ(run_in(d, {"validate", "--config", "conf/main.yaml"}, &out, d + "/v.log"), 0) << out;
  const std::string c = d + "/conf";
  const std::pair<const char*, std::string> expected[] = {
      {"config", c + "/main.yaml"},
      {"include", c + "/sub/more.yaml"},
      {"lists.allow_files", c + "/sub/allow.txt"},  // relative to the file naming it
      {"admin.token_file", c + "/secrets/admin.token"},
      {"challenge.theme_css_file", c + "/theme.css"},
      {"secrets.key_file", d + "/keys/secret.key"},  // absolute: as written
      {"state_dir", c + "/var"},                     // the default, next to the config
      {"bans.journal", c + "/var/bans.journal"},     // state: inside state_dir
      {"revocations", c + "/var/revocations"},
      {"events", c + "/var/events.jsonl"},
      {"access_log.path", c + "/var/logs/access.jsonl"},
  };
  for (const auto& [key, path] : expected) {
    const std::regex line("\n  " + std::string(key) + " +" + path + " +[a-z]");
    EXPECT_TRUE(std::regex_search(out, line)) << key << " " << path << "\n" << out;
  }
  EXPECT_FALSE(fs::exists(c + "/var")) << "validate creates nothing";
  EXPECT_FALSE(fs::exists(d + "/keys"));
}

// `gatehouse proxy` leaves no file behind (it used to write ./var/events.jsonl), unless given
// --state-dir, where the key, events and the access log then go.
TEST(QuickMode, WritesNothingUnlessAsked) {
  TempDir dir;
  Origin origin;
  const std::string cwd = dir.path() + "/cwd";
  fs::create_directories(cwd);
  const std::string to = "127.0.0.1:" + std::to_string(origin.port());
  {
    Child c({GATEHOUSE_BINARY, "proxy", "--from", "127.0.0.1:0", "--to", to, "--admin", "off"},
            dir.path() + "/proxy.log", {}, cwd);
    const std::uint16_t port = c.listening_port();
    ASSERT_NE(port, 0) << c.log();
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(roundtrip(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
    }
    EXPECT_EQ(roundtrip(port, "GET /%u0073 HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);  // refused
    c.signal(SIGTERM);
    ASSERT_EQ(c.wait(15s), 0) << c.log();
    EXPECT_NE(c.log().find("nothing is written to the disk"), std::string::npos) << c.log();
    EXPECT_EQ(c.log().find("admin API"), std::string::npos) << c.log();  // --admin off
  }
  EXPECT_TRUE(fs::is_empty(cwd)) << "quick mode wrote " << *files_under(cwd).begin();

  Child c({GATEHOUSE_BINARY, "proxy", "--from", "127.0.0.1:0", "--to", to, "--admin", "off",
           "--state-dir", "kept"},
          dir.path() + "/proxy2.log", {}, cwd);
  const std::uint16_t port = c.listening_port();
  ASSERT_NE(port, 0) << c.log();
  EXPECT_EQ(roundtrip(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(15s), 0) << c.log();
  for (const char* f : {"secret.key", "events.jsonl", "access.log"}) {
    EXPECT_TRUE(fs::exists(cwd + "/kept/" + f)) << f << "\n" << c.log();
  }
  for (const std::string& f : files_under(cwd)) {
    EXPECT_EQ(f.rfind(cwd + "/kept/", 0), 0u) << f;
  }
}

// A port nobody else can take while the test runs: a socket listening on it.
class TakenPort {
 public:
  TakenPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 1) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  ~TakenPort() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(QuickMode, AdminFlag) {
  TempDir dir;
  Origin origin;
  const std::string to = "127.0.0.1:" + std::to_string(origin.port());
  {
    Child c(
        {GATEHOUSE_BINARY, "proxy", "--from", "127.0.0.1:0", "--to", to, "--admin", "127.0.0.1:0"},
        dir.path() + "/a.log", {}, dir.path());
    const std::uint16_t admin =
        c.port_from_log(std::regex("admin API on http://127\\.0\\.0\\.1:([0-9]+)/"));
    ASSERT_NE(admin, 0) << c.log();
    EXPECT_EQ(http_status("127.0.0.1", admin, "/healthz"), 200);
    EXPECT_EQ(http_status("127.0.0.1", admin, "/readyz"), 200);
    c.signal(SIGTERM);
    EXPECT_EQ(c.wait(15s), 0) << c.log();
  }
  std::string out;
  // Asked for and not to be had: an error, not a warning (the default address would only warn).
  TakenPort taken;
  ASSERT_NE(taken.port(), 0);
  EXPECT_EQ(run_in(dir.path(),
                   {"proxy", "--from", "127.0.0.1:0", "--to", to, "--admin",
                    "127.0.0.1:" + std::to_string(taken.port())},
                   &out, dir.path() + "/b.log"),
            1);
  EXPECT_NE(out.find("cannot start the admin API"), std::string::npos) << out;
  // Usage errors: exit 2, nothing started.
  EXPECT_EQ(run_in(dir.path(), {"proxy", "--from", "127.0.0.1:0", "--to", to, "--admin", "nope"},
                   &out, dir.path() + "/c.log"),
            2);
  EXPECT_NE(out.find("--admin: 'nope' is not an address"), std::string::npos) << out;
  EXPECT_EQ(run_in(dir.path(),
                   {"proxy", "--from", "127.0.0.1:18080", "--to", to, "--admin", "127.0.0.1:18080"},
                   &out, dir.path() + "/d.log"),
            2);
  EXPECT_NE(out.find("the shield's own address"), std::string::npos) << out;
  EXPECT_EQ(run_in(dir.path(), {"proxy", "--help"}, &out, dir.path() + "/e.log"), 0);
  EXPECT_NE(out.find("--admin"), std::string::npos);
  EXPECT_NE(out.find("7462"), std::string::npos) << out;
}

TEST(Demo, AdminFlag) {
  TempDir dir;
  {
    Child c({GATEHOUSE_BINARY, "demo", "--listen", "127.0.0.1:0", "--https", "off", "--app",
             "127.0.0.1:0", "--db", dir.path() + "/app.db", "--admin", "127.0.0.1:0", "-w", "1"},
            dir.path() + "/demo.log", {}, dir.path());
    const std::uint16_t admin =
        c.port_from_log(std::regex("Dashboard: +http://127\\.0\\.0\\.1:([0-9]+)/dashboard"));
    ASSERT_NE(admin, 0) << c.log();
    EXPECT_EQ(http_status("127.0.0.1", admin, "/healthz"), 200);
    EXPECT_EQ(http_status("127.0.0.1", admin, "/readyz"), 200);
    c.signal(SIGTERM);
    EXPECT_EQ(c.wait(15s), 0) << c.log();
  }
  // --https off: the demo's default HTTPS port (8443) may be taken by another demo running.
  Child c({GATEHOUSE_BINARY, "demo", "--listen", "127.0.0.1:0", "--https", "off", "--app",
           "127.0.0.1:0", "--db", dir.path() + "/app.db", "--admin", "off", "-w", "1"},
          dir.path() + "/demo2.log", {}, dir.path());
  ASSERT_NE(c.port_from_log(std::regex("protected service: +http://127\\.0\\.0\\.1:([0-9]+)/")), 0)
      << c.log();
  EXPECT_NE(c.log().find("Dashboard:                   off (--admin off)"), std::string::npos)
      << c.log();
  EXPECT_EQ(c.log().find("admin API on"), std::string::npos) << c.log();
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(15s), 0) << c.log();
}

}  // namespace
}  // namespace gh::test
