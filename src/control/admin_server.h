// The admin API listener: a separate HTTP server (cpp-httplib, two threads) on admin.address,
// serving control/api.h. Changes need the bearer token from admin.token_file; reads need it too
// unless the address is loopback. See docs/ADMIN.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "client/address-t.h"
#include "policy/config-t.h"

namespace httplib {
class Server;
}

namespace gh::proxy {
class Server;
}

namespace gh::control {

class AdminApi;

class AdminServer {
 public:
  // `server` must be started before start() and outlive stop().
  AdminServer(proxy::Server& server, const policy::AdminConfig& config,
              std::string version = "dev");
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Reads the token file, binds admin.address and starts serving. False with a message saying
  // what to fix (token file missing, empty or not private; a non-loopback address without a
  // token; the address in use).
  bool start(std::string* error);
  // POST /v1/reload calls this (the serve loop's reload, shared with SIGHUP). Before start().
  void set_reload(std::function<bool(const std::string& by, std::string* error)> reload) {
    reload_ = std::move(reload);
  }
  // Stops accepting, finishes the requests being served and joins the threads. Idempotent.
  void stop();

  std::uint16_t port() const { return bound_.port; }
  client::SocketAddress address() const { return bound_; }  // with the bound port

 private:
  proxy::Server& server_;
  policy::AdminConfig config_;
  std::string version_;
  client::SocketAddress bound_;
  std::unique_ptr<AdminApi> api_;
  std::function<bool(const std::string&, std::string*)> reload_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace gh::control
