// Real services for tests that need them: the demo application in-process, a cookie jar, and
// real nginx and Caddy (Debian's packages) as children on loopback, each configured from the
// example file that ships with Gatehouse, with only the addresses rewritten.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "demo/app.h"
#include "process.h"
#include "support.h"

namespace gh::test {

struct DemoApp {
  explicit DemoApp(const std::string& dir, unsigned workers = 2);
  ~DemoApp();
  std::uint16_t port() const { return app->port(); }
  std::unique_ptr<demo::App> app;
};

// A browser's cookie jar, as far as these tests need one: later Set-Cookie replaces earlier.
struct CookieJar {
  std::map<std::string, std::string> values;
  void update(const ClientResponse& r);
  std::string header() const;  // "Cookie: a=1; b=2\r\n", or "" when empty
};

// A port nothing listens on right now (bound and released; the kernel does not hand it out
// again at once).
std::uint16_t free_port();

// The addresses of the example files, and what a test puts in their place.
struct FrontPorts {
  std::uint16_t front = 0;      // where the proxy in front listens (examples: 8000)
  std::uint16_t app = 0;        // the application (3000)
  std::uint16_t gatehouse = 0;  // Gatehouse inline (8080)
  std::uint16_t decide = 0;     // Gatehouse's decision service (9100)
};

// examples/nginx-auth-request.conf, as shipped, under `nginx -p DIR`.
class Nginx {
 public:
  Nginx(const TempDir& dir, const FrontPorts& ports);
  ~Nginx();
  bool ready() const { return ready_; }
  std::string log() const;

 private:
  std::string dir_;
  std::unique_ptr<Child> child_;
  bool ready_ = false;
};

// examples/Caddyfile, as shipped, under `caddy run`.
class Caddy {
 public:
  Caddy(const TempDir& dir, const FrontPorts& ports);
  ~Caddy();
  bool ready() const { return ready_; }
  std::string log() const;

 private:
  std::unique_ptr<Child> child_;
  bool ready_ = false;
};

}  // namespace gh::test
