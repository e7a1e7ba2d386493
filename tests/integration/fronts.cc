#include "fronts.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace gh::test {
namespace {

std::string read_example(const std::string& name) {
  std::ifstream in(std::string(GATEHOUSE_SOURCE_DIR) + "/examples/" + name);
  std::stringstream s;
  s << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read examples/" + name);
  return s.str();
}

std::string with_ports(std::string text, const FrontPorts& p) {
  const auto port = [](std::uint16_t n) { return "127.0.0.1:" + std::to_string(n); };
  text = replace_all(std::move(text), "127.0.0.1:8000", port(p.front));
  text = replace_all(std::move(text), "http://:8000", "http://:" + std::to_string(p.front));
  text = replace_all(std::move(text), "127.0.0.1:3000", port(p.app));
  text = replace_all(std::move(text), "127.0.0.1:8080", port(p.gatehouse));
  text = replace_all(std::move(text), "127.0.0.1:9100", port(p.decide));
  return text;
}

bool accepts(std::uint16_t port) {
  RawClient c(port);
  return c.connected();
}

}  // namespace

DemoApp::DemoApp(const std::string& dir, unsigned workers) {
  demo::Options o;
  o.port = 0;
  o.db_path = dir + "/demo.db";
  o.workers = workers;  // capacity: requests at a time (Argon2id at its interactive cost)
  app = std::make_unique<demo::App>(o);
  std::string error;
  if (!app->start(&error)) throw std::runtime_error("demo app: " + error);
}

DemoApp::~DemoApp() {
  app->stop();
}

void CookieJar::update(const ClientResponse& r) {
  std::size_t pos = 0;
  while ((pos = r.head.find("Set-Cookie: ", pos)) != std::string::npos) {
    const std::size_t start = pos + 12;
    const std::size_t eq = r.head.find('=', start);
    const std::size_t end = r.head.find_first_of(";\r", start);
    values[r.head.substr(start, eq - start)] = r.head.substr(eq + 1, end - eq - 1);
    pos = end;
  }
}

std::string CookieJar::header() const {
  std::string out;
  for (const auto& [k, v] : values) out += (out.empty() ? "" : "; ") + k + "=" + v;
  return out.empty() ? "" : "Cookie: " + out + "\r\n";
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

Nginx::Nginx(const TempDir& dir, const FrontPorts& ports) : dir_(dir.path()) {
  std::string conf = with_ports(read_example("nginx-auth-request.conf"), ports);
  // Temporary files under the test's own directory: Debian's compiled-in paths are in /var.
  const std::string temps = "http {\n  client_body_temp_path " + dir_ + "/body;\n" +
                            "  proxy_temp_path " + dir_ + "/proxy;\n";
  conf = replace_all(std::move(conf), "http {\n", temps);
  dir.file("nginx.conf", conf);
  child_ = std::make_unique<Child>(
      std::vector<std::string>{"/usr/sbin/nginx", "-p", dir_, "-c", dir_ + "/nginx.conf", "-g",
                               "daemon off; master_process off; pid " + dir_ +
                                   "/nginx.pid; "
                                   "error_log " +
                                   dir_ + "/nginx-error.log;"},
      dir_ + "/nginx.log");
  for (int i = 0; i < 200 && !ready_; ++i) {
    ready_ = accepts(ports.front);
    if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

Nginx::~Nginx() {
  child_->signal(SIGQUIT);
  child_->wait(std::chrono::seconds(5));
}

std::string Nginx::log() const {
  std::ifstream in(dir_ + "/nginx-error.log");
  std::stringstream s;
  s << in.rdbuf();
  return child_->log() + s.str();
}

Caddy::Caddy(const TempDir& dir, const FrontPorts& ports) {
  const std::string file = dir.file("Caddyfile", with_ports(read_example("Caddyfile"), ports));
  child_ = std::make_unique<Child>(
      std::vector<std::string>{"/usr/bin/caddy", "run", "--config", file, "--adapter", "caddyfile"},
      dir.path() + "/caddy.log",
      std::vector<std::string>{"HOME=" + dir.path(), "XDG_DATA_HOME=" + dir.path(),
                               "XDG_CONFIG_HOME=" + dir.path()});
  for (int i = 0; i < 400 && !ready_; ++i) {
    ready_ = accepts(ports.front);
    if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

Caddy::~Caddy() {
  child_->signal(SIGTERM);
  child_->wait(std::chrono::seconds(5));
}

std::string Caddy::log() const {
  return child_->log();
}

}  // namespace gh::test
