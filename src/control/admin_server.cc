#include "control/admin_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "client/address.h"
#include "control/api.h"
#include "control/text.h"

namespace gh::control {

namespace {

ApiRequest to_api_request(const httplib::Request& req, bool with_body) {
  ApiRequest r;
  r.method = req.method;
  r.path = req.path;  // httplib has decoded it (%2F -> '/', '+' kept)
  r.authorization_count = req.get_header_value_count("Authorization");
  r.authorization = req.get_header_value("Authorization");
  r.content_type = req.get_header_value("Content-Type");
  r.host = req.get_header_value("Host");
  if (req.has_header("Content-Length")) {
    const std::string v = req.get_header_value("Content-Length");
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    // Unparseable: httplib refuses the request itself before reading a body.
    if (ec == std::errc() && end == v.data() + v.size()) r.content_length = n;
  }
  if (with_body) r.body = req.body;
  for (const auto& [name, value] : req.params) r.query[name] = value;
  r.user_agent = req.get_header_value("User-Agent");
  return r;
}

bool has_body(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  const std::string cl = req.get_header_value("Content-Length");
  return !cl.empty() && cl != "0";
}

void write(const ApiResponse& api, httplib::Response& res) {
  res.status = api.status;
  for (const auto& [name, value] : api.headers) res.set_header(name, value);
  // Replace, not throw, on invalid UTF-8 (it can only come from echoed request bytes).
  if (!api.text.empty()) {
    res.set_content(api.text, api.content_type.empty() ? "text/plain; version=0.0.4; charset=utf-8"
                                                       : api.content_type);
    return;
  }
  res.set_content(api.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

const char* reason_of(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 404:
      return "not found";
    case 408:
      return "request timeout";
    case 413:
      return "body larger than 16 KiB";
    case 414:
      return "request target too long";
    case 415:
      return "unsupported media type";
    case 431:
      return "request header fields too large";
    default:
      return "error";
  }
}

}  // namespace

AdminServer::AdminServer(proxy::Server& server, const policy::AdminConfig& config,
                         std::string version)
    : server_(server), config_(config), version_(std::move(version)), bound_(config.address) {}

AdminServer::~AdminServer() {
  stop();
}

bool AdminServer::start(std::string* error) {
  if (http_) {
    if (error) *error = "admin API already started";
    return false;
  }
  const std::string where = client::format_socket_address(config_.address);
  AdminApi::Options options;
  options.loopback = is_loopback(config_.address.ip);
  options.version = version_;
  options.reload = reload_;
  if (!config_.token_file.empty()) {
    std::string why;
    options.token = BearerToken::load(config_.token_file, &why);
    if (!options.token) {
      if (error) *error = why;
      return false;
    }
  }
  if (!options.loopback && !options.token) {
    if (error) {
      *error =
          "admin.address " + where +
          " is not a loopback address: set admin.token_file (a token is required off loopback), "
          "or use 127.0.0.1";
    }
    return false;
  }

  auto http = std::make_unique<httplib::Server>();
  http->new_task_queue = [] { return new httplib::ThreadPool(2); };
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let a second
  // gatehouse bind the same admin port silently and receive half of the requests.
  http->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http->set_address_family(config_.address.ip.is_v4 ? AF_INET : AF_INET6);
  http->set_payload_max_length(kMaxBodyBytes);
  http->set_read_timeout(5);
  http->set_write_timeout(5);
  http->set_keep_alive_timeout(2);  // two threads: an idle client must not hold one for long
  http->set_default_headers({{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}});

  const std::string host = client::format_ip(config_.address.ip);
  errno = 0;
  int port = config_.address.port;
  bool bound = false;
  if (port == 0) {
    port = http->bind_to_any_port(host);
    bound = port > 0;
  } else {
    bound = http->bind_to_port(host, port);
  }
  if (!bound) {
    const int e = errno;
    if (error) {
      *error = "cannot listen on " + where + ": " + (e != 0 ? std::strerror(e) : "bind failed") +
               (e == EADDRINUSE
                    ? " (another process, perhaps another gatehouse, uses it; set admin.address "
                      "or admin.enabled: false)"
                    : "");
    }
    return false;
  }
  bound_.port = static_cast<std::uint16_t>(port);
  options.address = bound_;
  api_ = std::make_unique<AdminApi>(server_, std::move(options));
  AdminApi* api = api_.get();
  // Route, method, token, type and declared size are decided before the body is read.
  http->set_pre_routing_handler([api](const httplib::Request& req, httplib::Response& res) {
    auto refused = api->check_head(to_api_request(req, false));
    if (!refused) return httplib::Server::HandlerResponse::Unhandled;
    if (has_body(req)) refused->headers.emplace_back("Connection", "close");  // body left unread
    write(*refused, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Expect: 100-continue: refuse before the client sends the body, not after.
  http->set_expect_100_continue_handler([api](const httplib::Request& req, httplib::Response& res) {
    auto refused = api->check_head(to_api_request(req, false));
    if (!refused) return 100;
    refused->headers.emplace_back("Connection", "close");
    write(*refused, res);
    return refused->status;
  });
  auto handler = [api](const httplib::Request& req, httplib::Response& res) {
    write(api->handle(to_api_request(req, true)), res);
  };
  http->Get(".*", handler);
  http->Post(".*", handler);
  http->Delete(".*", handler);
  // Errors httplib produces itself (413 over the body limit, 400 on a malformed request): JSON too.
  http->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) write(error_response(res.status, reason_of(res.status)), res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what += std::string(": ") + e.what();
        } catch (...) {
        }
        spdlog::error("admin API: {}", what);
        write(error_response(500, what), res);
      });

  http_ = std::move(http);
  thread_ = std::thread([server = http_.get()] { server->listen_after_bind(); });
  // stop() does nothing until the server runs; wait for it so that a quick stop() cannot hang.
  for (int i = 0; i < 5000 && !http_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void AdminServer::stop() {
  if (!http_) return;
  http_->stop();
  if (thread_.joinable()) thread_.join();
  http_.reset();
  api_.reset();
}

}  // namespace gh::control
