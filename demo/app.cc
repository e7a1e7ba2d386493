#include "demo/app.h"

#include <httplib.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "demo/db.h"
#include "demo/forms.h"
#include "demo/jwt.h"
#include "demo/pages.h"

namespace gh::demo {
namespace {

using httplib::Request;
using httplib::Response;
using nlohmann::json;

constexpr std::size_t kMaxBody = std::size_t{16} << 10;
constexpr std::int64_t kSessionTtl = std::int64_t{24} * 3600;
constexpr std::string_view kCookie = "demo_session";

static_assert(kPwhashOpsInteractive == crypto_pwhash_OPSLIMIT_INTERACTIVE);

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

std::string random_token() {
  unsigned char b[32];
  randombytes_buf(b, sizeof b);
  return to_hex(b, sizeof b);
}

// Sessions are stored by hash of the cookie value, so a copy of the database does not hand
// out live sessions.
std::string session_key(std::string_view token) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return to_hex(h, sizeof h);
}

bool is_token(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool json_body(const Request& req) {
  return media_type(req.get_header_value("Content-Type")) == "application/json";
}

// JSON bodies, /api/*, and clients asking for JSON get JSON; browsers get HTML.
bool wants_json(const Request& req) {
  return json_body(req) || req.path.rfind("/api/", 0) == 0 ||
         req.get_header_value("Accept").find("application/json") != std::string::npos;
}

void send_json(Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_html(Response& res, int status, const std::string& html) {
  res.status = status;
  res.set_content(html, "text/html; charset=utf-8");
}

void see_other(Response& res, const std::string& to) {
  res.status = 303;
  res.set_header("Location", to);
  res.set_content("<!doctype html><title>See other</title><p><a href=\"" + to + "\">Continue</a>",
                  "text/html; charset=utf-8");
}

void set_session_cookie(Response& res, const std::string& token) {
  res.set_header("Set-Cookie", std::string(kCookie) + "=" + token + "; Path=/; Max-Age=" +
                                   std::to_string(kSessionTtl) + "; HttpOnly; SameSite=Lax");
}

void clear_session_cookie(Response& res) {
  res.set_header("Set-Cookie",
                 std::string(kCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
}

std::optional<std::string> session_token(const Request& req) {
  for (std::size_t i = 0, n = req.get_header_value_count("Cookie"); i < n; ++i) {
    auto v = cookie_value(req.get_header_value("Cookie", i), kCookie);
    if (v && is_token(*v)) return v;
  }
  return std::nullopt;
}

// The fields of a POST body, from a form or a JSON object.
struct Input {
  int status = 200;   // 400 or 415 when the body could not be read
  std::string error;  // why, when status != 200
  std::map<std::string, std::string> fields;
  const std::string& get(const std::string& k) const {
    static const std::string empty;
    auto it = fields.find(k);
    return it == fields.end() ? empty : it->second;
  }
};

Input read_input(const Request& req, std::initializer_list<const char*> names) {
  Input in;
  auto type = media_type(req.get_header_value("Content-Type"));
  if (type == "application/json") {
    auto j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      in.status = 400;
      in.error = "Request body must be a JSON object.";
      return in;
    }
    for (const char* name : names) {
      auto it = j.find(name);
      if (it == j.end() || it->is_null()) continue;
      if (!it->is_string()) {
        in.status = 400;
        in.error = std::string("Field '") + name + "' must be a string.";
        return in;
      }
      in.fields[name] = it->get<std::string>();
    }
  } else if (type == "application/x-www-form-urlencoded" || type.empty()) {
    in.fields = parse_urlencoded(req.body);
  } else {
    in.status = 415;
    in.error = "Send application/x-www-form-urlencoded or application/json.";
  }
  return in;
}

// Counts what the worker pool is doing, for Stats; the pool itself is httplib's.
class CountingPool final : public httplib::TaskQueue {
 public:
  CountingPool(std::size_t n, std::atomic<unsigned>& busy, std::atomic<unsigned>& queued)
      : pool_(n), busy_(busy), queued_(queued) {}
  void enqueue(std::function<void()> fn) override {
    ++queued_;
    pool_.enqueue([this, fn = std::move(fn)] {
      --queued_;
      ++busy_;
      struct Done {
        std::atomic<unsigned>& b;
        ~Done() { --b; }
      } done{busy_};
      fn();
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  std::atomic<unsigned>& busy_;
  std::atomic<unsigned>& queued_;
};

// httplib's stop() does nothing until listen has begun; closing the listener ourselves also
// covers a stop() that races the listening thread's start.
class Server final : public httplib::Server {
 public:
  void close_listener() {
    auto sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) {
      ::shutdown(sock, SHUT_RDWR);
      ::close(sock);
    }
  }
};

}  // namespace

struct App::Impl {
  Options opt;
  std::unique_ptr<Db> db;
  std::unique_ptr<Server> server;
  std::thread listener;
  std::uint16_t port = 0;
  std::string dummy_hash;  // verified against for unknown usernames, so timing hides them

  std::unique_ptr<JwtSigner> jwt;
  std::atomic<std::uint64_t> requests{0}, logins_ok{0}, logins_failed{0}, signups_ok{0},
      signups_failed{0}, api_logins_ok{0}, api_logins_failed{0}, api_requests{0},
      api_unauthorized{0};
  std::atomic<unsigned> busy{0}, queued{0};
  mutable std::mutex pop_mu;
  std::map<std::string, std::uint64_t> by_population;
  std::map<std::string, std::uint64_t> logins_by_population;  // pop_mu; capped

  void count_login(const Request& req) {
    std::string pop;
    if (req.has_header("X-Sim-Population")) pop = req.get_header_value("X-Sim-Population");
    pop = population_of(req.has_header("X-Sim-Population") ? &pop : nullptr);
    std::lock_guard lock(pop_mu);
    if (logins_by_population.size() >= kMaxPopulations && !logins_by_population.count(pop)) {
      pop = "other";
    }
    ++logins_by_population[pop];
  }

  // The account for a username and password, verified with Argon2id. An unknown name is
  // verified against a dummy hash, so it costs the same and timing does not tell names apart.
  Db::Result check_credentials(const std::string& username, const std::string& password,
                               Account* a) {
    auto found = db->find_account(username, a);
    if (found == Db::Result::error) return found;
    const auto& hash = found == Db::Result::ok ? a->password_hash : dummy_hash;
    const bool verified =
        crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
    return found == Db::Result::ok && verified ? Db::Result::ok : Db::Result::not_found;
  }

  bool hash_password(const std::string& pw, std::string* out) const {
    char buf[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(buf, pw.data(), pw.size(), opt.pwhash_ops, opt.pwhash_mem,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
      return false;
    }
    out->assign(buf);
    return true;
  }

  // The logged-in account, if the request carries a live session cookie.
  std::optional<Account> current(const Request& req) {
    auto token = session_token(req);
    Account a;
    if (token && db->account_for_session(session_key(*token), now_s(), &a) == Db::Result::ok) {
      return a;
    }
    return std::nullopt;
  }

  void fail(const Request& req, Response& res, int status, const std::string& error,
            const char* field = nullptr) {
    if (wants_json(req)) {
      json j{{"ok", false}, {"error", error}};
      if (field != nullptr) j["field"] = field;
      send_json(res, status, j);
    } else {
      send_html(res, status,
                message_page(status >= 500 ? "Server error" : "Error", error, nullptr));
    }
  }

  void home(const Request& req, Response& res) {
    auto a = current(req);
    send_html(res, 200, home_page(a ? &a->username : nullptr));
  }

  void signup(const Request& req, Response& res) {
    auto in = read_input(req, {"username", "email", "password"});
    if (in.status != 200) {
      ++signups_failed;
      return fail(req, res, in.status, in.error);
    }
    FormState f{in.get("username"), in.get("email"), {}, {}, {}, {}};
    const auto& password = in.get("password");
    f.username_error = check_username(f.username);
    f.email_error = check_email(f.email);
    f.password_error = check_password(password);
    auto reject = [&](int status) {
      ++signups_failed;
      if (!wants_json(req)) return send_html(res, status, signup_page(f));
      if (!f.username_error.empty()) return fail(req, res, status, f.username_error, "username");
      if (!f.email_error.empty()) return fail(req, res, status, f.email_error, "email");
      fail(req, res, status, f.password_error, "password");
    };
    if (!f.username_error.empty() || !f.email_error.empty() || !f.password_error.empty()) {
      return reject(400);
    }

    Account a;
    a.username = f.username;
    a.email = f.email;
    a.created_at = now_s();
    std::string pop;
    if (req.has_header("X-Sim-Population")) pop = req.get_header_value("X-Sim-Population");
    a.population = population_of(req.has_header("X-Sim-Population") ? &pop : nullptr);
    if (!hash_password(password, &a.password_hash)) {
      ++signups_failed;
      return fail(req, res, 500, "Could not create the account, try again later.");
    }
    auto token = random_token();
    switch (db->create_account(a, session_key(token), a.created_at + kSessionTtl)) {
      case Db::Result::ok:
        break;
      case Db::Result::username_taken:
        f.username_error = "That username is taken.";
        return reject(409);
      case Db::Result::email_taken:
        f.email_error = "An account with this email already exists.";
        return reject(409);
      default:
        ++signups_failed;
        return fail(req, res, 500, "Could not create the account, try again later.");
    }
    ++signups_ok;
    {
      std::lock_guard lock(pop_mu);
      ++by_population[a.population];
    }
    set_session_cookie(res, token);
    if (wants_json(req)) return send_json(res, 201, {{"ok", true}, {"username", a.username}});
    see_other(res, "/account");
  }

  void login(const Request& req, Response& res) {
    auto in = read_input(req, {"username", "password"});
    if (in.status != 200) {
      ++logins_failed;
      return fail(req, res, in.status, in.error);
    }
    FormState f{in.get("username"), {}, {}, {}, {}, {}};
    const auto& password = in.get("password");
    if (f.username.empty()) f.username_error = "Enter your username.";
    if (password.empty()) f.password_error = "Enter your password.";
    auto reject = [&](int status, const std::string& msg, const char* field) {
      ++logins_failed;
      if (!wants_json(req)) return send_html(res, status, login_page(f));
      fail(req, res, status, msg, field);
    };
    if (!f.username_error.empty()) return reject(400, f.username_error, "username");
    if (!f.password_error.empty()) return reject(400, f.password_error, "password");

    Account a;
    count_login(req);
    const auto found = check_credentials(f.username, password, &a);
    if (found == Db::Result::error) {
      ++logins_failed;
      return fail(req, res, 500, "Could not log in, try again later.");
    }
    if (found != Db::Result::ok) {
      f.form_error = "Wrong username or password.";
      return reject(401, f.form_error, nullptr);
    }
    auto token = random_token();
    auto now = now_s();
    if (db->create_session(a.id, session_key(token), now + kSessionTtl, now) != Db::Result::ok) {
      ++logins_failed;
      return fail(req, res, 500, "Could not log in, try again later.");
    }
    ++logins_ok;
    set_session_cookie(res, token);
    if (wants_json(req)) return send_json(res, 200, {{"ok", true}, {"username", a.username}});
    see_other(res, "/account");
  }

  // POST /api/login: the API's login, JSON or form `username` and `password`, answered with a
  // bearer token (no session cookie).
  void api_login(const Request& req, Response& res) {
    res.set_header("Cache-Control", "no-store");
    auto in = read_input(req, {"username", "password"});
    if (in.status != 200) {
      ++api_logins_failed;
      return fail(req, res, in.status, in.error);
    }
    const auto& username = in.get("username");
    const auto& password = in.get("password");
    if (username.empty() || password.empty()) {
      ++api_logins_failed;
      return fail(req, res, 400, "Send username and password.",
                  username.empty() ? "username" : "password");
    }
    count_login(req);
    Account a;
    const auto found = check_credentials(username, password, &a);
    if (found == Db::Result::error) {
      ++api_logins_failed;
      return fail(req, res, 500, "Could not log in, try again later.");
    }
    if (found != Db::Result::ok) {
      ++api_logins_failed;
      return fail(req, res, 401, "Wrong username or password.");
    }
    const std::string token = jwt->sign(a.username, now_s());
    if (token.empty()) {
      ++api_logins_failed;
      return fail(req, res, 500, "Could not log in, try again later.");
    }
    ++api_logins_ok;
    send_json(
        res, 200,
        {{"ok", true}, {"token", token}, {"token_type", "Bearer"}, {"expires_in", kJwtLifetime}});
  }

  // The account a valid `Authorization: Bearer <jwt>` names; otherwise answers 401 itself.
  std::optional<std::string> bearer(const Request& req, Response& res) {
    const std::string h = req.get_header_value("Authorization");
    std::string why = "missing token";
    if (req.get_header_value_count("Authorization") == 1 && h.size() > 7 &&
        (h.compare(0, 7, "Bearer ") == 0 || h.compare(0, 7, "bearer ") == 0)) {
      if (auto sub = jwt->verify(std::string_view(h).substr(7), now_s(), &why)) {
        ++api_requests;
        return sub;
      }
    }
    ++api_unauthorized;
    res.set_header("WWW-Authenticate", why == "missing token"
                                           ? std::string("Bearer realm=\"gatehouse-demo\"")
                                           : "Bearer realm=\"gatehouse-demo\", "
                                             "error=\"invalid_token\"");
    fail(req, res, 401, "A valid bearer token is required (" + why + ").");
    return std::nullopt;
  }

  void api_me(const Request& req, Response& res) {
    res.set_header("Cache-Control", "no-store");
    auto sub = bearer(req, res);
    if (!sub) return;
    Account a;
    switch (db->find_account(*sub, &a)) {
      case Db::Result::ok:
        break;
      case Db::Result::not_found:
        return fail(req, res, 401, "The token's account does not exist.");
      default:
        return fail(req, res, 500, "Server error.");
    }
    send_json(res, 200, {{"ok", true}, {"username", a.username}, {"email", a.email}});
  }

  // A stand-in for the application's data: a few items of the token's account.
  void api_items(const Request& req, Response& res) {
    res.set_header("Cache-Control", "no-store");
    auto sub = bearer(req, res);
    if (!sub) return;
    json items = json::array();
    for (int i = 1; i <= 3; ++i) {
      items.push_back({{"id", i}, {"title", "Item " + std::to_string(i) + " of " + *sub}});
    }
    send_json(res, 200, {{"ok", true}, {"items", items}});
  }

  void account(const Request& req, Response& res) {
    res.set_header("Cache-Control", "no-store");
    auto a = current(req);
    if (!a) {
      if (wants_json(req)) return fail(req, res, 401, "Not logged in.");
      return see_other(res, "/login");
    }
    if (wants_json(req)) {
      char iso[32];
      std::time_t t = static_cast<std::time_t>(a->created_at);
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
      return send_json(
          res, 200,
          {{"ok", true}, {"username", a->username}, {"email", a->email}, {"created_at", iso}});
    }
    send_html(res, 200, account_page(*a));
  }

  void logout(const Request& req, Response& res) {
    if (auto token = session_token(req)) {
      if (db->delete_session(session_key(*token)) != Db::Result::ok) {
        return fail(req, res, 500, "Could not log out, try again later.");
      }
    }
    clear_session_cookie(res);
    if (wants_json(req)) return send_json(res, 200, {{"ok", true}});
    see_other(res, "/");
  }

  Stats stats() const {
    Stats s;
    {
      std::lock_guard lock(pop_mu);
      s.accounts_by_population = by_population;
    }
    {
      std::lock_guard lock(pop_mu);
      s.logins_by_population = logins_by_population;
    }
    for (auto& [pop, n] : s.accounts_by_population) s.accounts_total += n;
    s.api_logins_ok = api_logins_ok;
    s.api_logins_failed = api_logins_failed;
    s.api_requests = api_requests;
    s.api_unauthorized = api_unauthorized;
    s.requests = requests;
    s.logins_ok = logins_ok;
    s.logins_failed = logins_failed;
    s.signups_ok = signups_ok;
    s.signups_failed = signups_failed;
    s.workers = opt.workers;
    s.busy_workers = busy;
    s.queued_connections = queued;
    return s;
  }

  void routes() {
    auto& s = *server;
    s.Get("/", [this](const Request& q, Response& r) { home(q, r); });
    s.Get("/signup", [](const Request&, Response& r) { send_html(r, 200, signup_page({})); });
    s.Post("/signup", [this](const Request& q, Response& r) { signup(q, r); });
    s.Get("/login", [](const Request&, Response& r) { send_html(r, 200, login_page({})); });
    s.Post("/login", [this](const Request& q, Response& r) { login(q, r); });
    s.Get("/account", [this](const Request& q, Response& r) { account(q, r); });
    s.Post("/logout", [this](const Request& q, Response& r) { logout(q, r); });
    s.Get("/api/health", [](const Request&, Response& r) { send_json(r, 200, {{"ok", true}}); });
    s.Post("/api/login", [this](const Request& q, Response& r) { api_login(q, r); });
    s.Get("/api/me", [this](const Request& q, Response& r) { api_me(q, r); });
    s.Get("/api/items", [this](const Request& q, Response& r) { api_items(q, r); });
    s.Get("/api/stats", [this](const Request&, Response& r) {
      auto st = stats();
      send_json(r, 200,
                {{"accounts_total", st.accounts_total},
                 {"accounts_by_population", st.accounts_by_population},
                 {"requests", st.requests},
                 {"logins_ok", st.logins_ok},
                 {"logins_failed", st.logins_failed},
                 {"signups_ok", st.signups_ok},
                 {"signups_failed", st.signups_failed},
                 {"api_logins_ok", st.api_logins_ok},
                 {"api_logins_failed", st.api_logins_failed},
                 {"api_requests", st.api_requests},
                 {"api_unauthorized", st.api_unauthorized},
                 {"logins_by_population", st.logins_by_population},
                 {"workers", st.workers},
                 {"busy_workers", st.busy_workers},
                 {"queued_connections", st.queued_connections}});
    });
    s.set_pre_routing_handler([this](const Request&, Response&) {
      ++requests;
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // Give bodiless errors (404, 413, httplib's 400s) a body; leave ours alone.
    s.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& q, Response& r) {
      if (!r.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      const char* msg = r.status == 404   ? "Not found."
                        : r.status == 413 ? "Request body too large."
                        : r.status < 500  ? "Bad request."
                                          : "Server error.";
      fail(q, r, r.status, msg);
      return httplib::Server::HandlerResponse::Handled;
    }));
    s.set_exception_handler([this](const Request& q, Response& r, std::exception_ptr) {
      fail(q, r, 500, "Server error.");
    });
  }
};

App::App(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  if (impl_->opt.workers == 0) impl_->opt.workers = 1;
}

App::~App() {
  stop();
}

bool App::start(std::string* error) {
  auto fail = [&](std::string why) {
    if (error != nullptr) *error = std::move(why);
    return false;
  };
  auto& m = *impl_;
  if (m.server) return fail("demo app already started");
  if (sodium_init() < 0) return fail("libsodium failed to initialise");
  if (m.opt.pwhash_ops < crypto_pwhash_OPSLIMIT_MIN ||
      m.opt.pwhash_ops > crypto_pwhash_OPSLIMIT_MAX ||
      m.opt.pwhash_mem < crypto_pwhash_MEMLIMIT_MIN ||
      m.opt.pwhash_mem > crypto_pwhash_MEMLIMIT_MAX) {
    return fail("Argon2id cost out of libsodium's range");
  }
  std::string why;
  m.jwt = m.opt.jwt_key_path.empty() ? JwtSigner::ephemeral(&why)
                                     : JwtSigner::load_or_create(m.opt.jwt_key_path, &why);
  if (!m.jwt) return fail("API token key: " + why);
  m.db = Db::open(m.opt.db_path, m.opt.workers, &why);
  if (!m.db) return fail(why);
  if (m.db->count_by_population(&m.by_population) != Db::Result::ok) {
    m.db.reset();
    return fail("cannot read accounts from " + m.opt.db_path);
  }
  if (!m.hash_password(random_token(), &m.dummy_hash)) {
    m.db.reset();
    return fail("cannot compute a password hash (out of memory?)");
  }

  m.server = std::make_unique<Server>();
  auto& s = *m.server;
  unsigned n = m.opt.workers;
  s.new_task_queue = [n, &m] { return new CountingPool(n, m.busy, m.queued); };
  s.set_payload_max_length(kMaxBody);
  // httplib holds a worker for a connection's whole keep-alive life. One request per connection
  // makes the capacity "workers requests at a time", and idle connections pooled by a proxy in
  // front cannot pin workers that real requests need.
  s.set_keep_alive_max_count(1);
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let a second
  // app silently share the port instead of failing to bind.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                         {"Referrer-Policy", "same-origin"},
                         {"Content-Security-Policy",
                          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'"}});
  m.routes();

  int port = m.opt.port == 0 ? s.bind_to_any_port(m.opt.host)
                             : (s.bind_to_port(m.opt.host, m.opt.port) ? m.opt.port : -1);
  if (port <= 0) {
    m.server.reset();
    m.db.reset();
    return fail("cannot listen on " + m.opt.host + ":" + std::to_string(m.opt.port));
  }
  m.port = static_cast<std::uint16_t>(port);
  m.listener = std::thread([&s] { s.listen_after_bind(); });
  return true;
}

std::uint16_t App::port() const {
  return impl_->port;
}

void App::stop() {
  auto& m = *impl_;
  if (!m.listener.joinable()) return;
  m.server->close_listener();
  m.listener.join();  // also drains the worker pool
  m.db.reset();
}

Stats App::stats() const {
  return impl_->stats();
}

std::string App::jwt_public_pem() const {
  return impl_->jwt ? impl_->jwt->public_pem() : std::string();
}

std::string App::jwt_public_path() const {
  return impl_->jwt ? impl_->jwt->public_path() : std::string();
}

}  // namespace gh::demo
