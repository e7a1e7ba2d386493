#include "sim/setup.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace gh::sim {
namespace {

Nanos mono() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int kPriorLoginAttempts = 10;

int wait_fd(int fd, short events, Nanos deadline) {
  const Nanos left = deadline - mono();
  if (left <= 0) return 0;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left / kMs + 1));
}

}  // namespace

std::optional<Response> blocking_request(const Target& t, const std::string& raw, Nanos timeout,
                                         std::string* error) {
  return blocking_request_from(t, nullptr, raw, timeout, error);
}

std::optional<Response> blocking_request_from(const Target& t, const sockaddr_storage* source,
                                              const std::string& raw, Nanos timeout,
                                              std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Response> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  const Nanos deadline = mono() + timeout;
  int fd = ::socket(t.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (source != nullptr) {
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    const socklen_t slen =
        source->ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(source), slen) != 0)
      return fail(std::string("bind: ") + std::strerror(errno));
  }
  sockaddr_storage dst{};
  socklen_t len;
  if (t.v6) {
    auto* d = reinterpret_cast<sockaddr_in6*>(&dst);
    d->sin6_family = AF_INET6;
    std::memcpy(d->sin6_addr.s6_addr, t.addr.data(), 16);
    d->sin6_port = htons(t.port);
    len = sizeof *d;
  } else {
    auto* d = reinterpret_cast<sockaddr_in*>(&dst);
    d->sin_family = AF_INET;
    std::memcpy(&d->sin_addr, t.addr.data(), 4);
    d->sin_port = htons(t.port);
    len = sizeof *d;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), len) != 0 && errno != EINPROGRESS) {
    return fail("connect to " + t.authority + ": " + std::strerror(errno));
  }
  if (wait_fd(fd, POLLOUT, deadline) <= 0) return fail("connect to " + t.authority + ": timed out");
  int err = 0;
  socklen_t el = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
  if (err != 0) return fail("connect to " + t.authority + ": " + std::strerror(err));
  std::size_t off = 0;
  while (off < raw.size()) {
    auto n = ::send(fd, raw.data() + off, raw.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return fail(std::string("send: ") + std::strerror(errno));
    if (n > 0) off += static_cast<std::size_t>(n);
    if (off < raw.size() && wait_fd(fd, POLLOUT, deadline) <= 0) return fail("send timed out");
  }
  ResponseParser parser;
  char buf[16384];
  while (true) {
    if (wait_fd(fd, POLLIN, deadline) <= 0) return fail("no response from " + t.authority);
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN) continue;
      return fail(std::string("recv: ") + std::strerror(errno));
    }
    ResponseParser::State s;
    if (n == 0) {
      s = parser.finish();
    } else {
      std::size_t used = 0;
      s = parser.feed({buf, static_cast<std::size_t>(n)}, &used);
    }
    if (s == ResponseParser::State::Complete) return std::move(parser.response());
    if (s == ResponseParser::State::Error) return fail("bad response: " + parser.error());
  }
}

namespace {

// Runs task(i) for each i below `count` on `concurrency` threads. A task that fails returns what
// went wrong; the first failure stops the others and is returned (empty when none failed).
std::string run_parallel(std::size_t count, unsigned concurrency,
                         const std::function<std::string(std::size_t)>& task) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::string first_error;
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      std::string failed = task(i);
      if (failed.empty()) continue;
      std::lock_guard lock(mu);
      if (first_error.empty()) first_error = std::move(failed);
      next = count;  // stop the others
      return;
    }
  };
  std::vector<std::thread> threads;
  for (unsigned k = 0; k < std::max(1u, concurrency); ++k) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return first_error;
}

// "<what>: status 503 <body>", or the transport error.
std::string failure(const std::string& what, const std::optional<Response>& r,
                    const std::string& why) {
  return what + ": " +
         (r ? "status " + std::to_string(r->status) + " " + r->body.substr(0, 200) : why);
}

}  // namespace

std::optional<std::vector<Account>> create_accounts(const Target& app, const std::string& pop,
                                                    std::uint32_t count, unsigned concurrency,
                                                    std::string* error) {
  std::vector<Account> accounts(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    accounts[i].username = "sim-" + pop + "-" + std::to_string(i);
    accounts[i].password = "sim-password-" + accounts[i].username;
  }
  const std::string failed = run_parallel(count, concurrency, [&](std::size_t i) {
    const auto& a = accounts[i];
    const std::string body = "username=" + url_encode(a.username) +
                             "&email=" + url_encode(a.username + "@residents.example.com") +
                             "&password=" + url_encode(a.password);
    const std::string raw = "POST /signup HTTP/1.1\r\nHost: " + app.authority +
                            "\r\nAccept: application/json\r\nX-Sim-Population: sim-setup\r\n"
                            "Content-Type: application/x-www-form-urlencoded\r\n"
                            "Content-Length: " +
                            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    std::string why;
    auto r = blocking_request(app, raw, 30 * kSec, &why);
    if (r && (r->status == 201 || r->status == 303 || r->status == 409)) return std::string();
    return failure("creating account " + a.username + " at " + app.authority, r, why);
  });
  if (!failed.empty()) {
    if (error != nullptr) *error = failed;
    return std::nullopt;
  }
  return accounts;
}

namespace {

// One prior login of account `i`: `path` with `body` from the account's home address, as the
// population's client writes it; 429 and 503 retried. The answer, or why there was none.
std::optional<Response> login_once(const Target& target, bool via_xff, const PopulationConfig& pop,
                                   std::size_t i, bool api, const std::string& body,
                                   std::string* why) {
  // The address the engine gives this account in the run, so a shield that binds its device
  // cookie to the network agrees.
  sockaddr_storage src;
  socklen_t len;
  cidr_address(pop.sources, home_index(pop, i), &src, &len);
  std::string extra = "X-Sim-Population: sim-setup\r\n";
  if (via_xff) extra += "X-Forwarded-For: " + address_text(src) + "\r\n";
  HeadSpec h;
  h.method = "POST";
  h.path = api ? "/api/login" : "/login";
  h.authority = target.authority;
  h.kind = api ? Kind::Fetch : Kind::FormPost;
  h.referer = api ? "/" : "/login";
  h.content_type = api ? "application/json" : "application/x-www-form-urlencoded";
  h.content_length = body.size();
  h.default_browser = !api;
  h.extra = extra;
  std::string raw = request_head(pop.profile, pop.tells, h);
  // The default profile always asked the server to close; the others say what their client says.
  if (pop.profile == Profile::Default) raw += "Connection: close\r\n";
  raw += "\r\n" + body;
  std::optional<Response> r;
  // A person whose login meets "busy, try again" (429, 503) tries again a little later.
  for (int attempt = 0; attempt < kPriorLoginAttempts; ++attempt) {
    r = blocking_request_from(target, via_xff ? nullptr : &src, raw, 30 * kSec, why);
    if (!r || (r->status != 429 && r->status != 503)) break;
    double wait_s = 1;
    if (const std::string* ra = r->header("retry-after")) {
      wait_s = std::clamp(std::atof(ra->c_str()), 0.1, 5.0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(wait_s * 1000)));
  }
  return r;
}

}  // namespace

std::optional<std::vector<CookieJar>> prior_logins(const Target& target, bool via_xff,
                                                   const PopulationConfig& pop,
                                                   const std::vector<Account>& accounts,
                                                   unsigned concurrency, std::string* error) {
  std::vector<CookieJar> jars(accounts.size());
  const std::string failed = run_parallel(accounts.size(), concurrency, [&](std::size_t i) {
    const auto& a = accounts[i];
    const std::string body =
        "username=" + url_encode(a.username) + "&password=" + url_encode(a.password);
    std::string why;
    auto r = login_once(target, via_xff, pop, i, false, body, &why);
    if (r && r->status >= 200 && r->status < 400) {
      jars[i].update(r->cookies);  // each index is written by one thread only
      return std::string();
    }
    return failure("prior login of " + a.username + " at " + target.authority, r, why);
  });
  if (!failed.empty()) {
    if (error != nullptr) *error = failed;
    return std::nullopt;
  }
  return jars;
}

std::optional<std::vector<std::string>> prior_api_logins(const Target& target, bool via_xff,
                                                         const PopulationConfig& pop,
                                                         const std::vector<Account>& accounts,
                                                         unsigned concurrency, std::string* error) {
  std::vector<std::string> tokens(accounts.size());
  const std::string failed = run_parallel(accounts.size(), concurrency, [&](std::size_t i) {
    const auto& a = accounts[i];
    const std::string body =
        nlohmann::json{{"username", a.username}, {"password", a.password}}.dump();
    std::string why;
    auto r = login_once(target, via_xff, pop, i, true, body, &why);
    if (r) {
      if (auto token = parse_token(*r)) {
        tokens[i] = std::move(*token);  // each index is written by one thread only
        return std::string();
      }
    }
    return failure("prior API login of " + a.username + " at " + target.authority, r, why);
  });
  if (!failed.empty()) {
    if (error != nullptr) *error = failed;
    return std::nullopt;
  }
  return tokens;
}

std::optional<std::vector<Account>> read_accounts(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error != nullptr) *error = path + ": cannot open: " + std::strerror(errno);
    return std::nullopt;
  }
  std::vector<Account> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
      if (error != nullptr)
        *error = path + ":" + std::to_string(n) + ": expected username:password";
      return std::nullopt;
    }
    if (out.size() >= 1'000'000) break;
    out.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  if (out.empty()) {
    if (error != nullptr) *error = path + ": no accounts";
    return std::nullopt;
  }
  return out;
}

std::optional<AppStats> fetch_app_stats(const Target& app, std::string* error) {
  const std::string raw = "GET /api/stats HTTP/1.1\r\nHost: " + app.authority +
                          "\r\nAccept: application/json\r\nConnection: close\r\n\r\n";
  auto r = blocking_request(app, raw, 10 * kSec, error);
  if (!r) return std::nullopt;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || j.is_discarded() || !j.is_object() ||
      !j.contains("accounts_by_population") || !j["accounts_by_population"].is_object()) {
    if (error != nullptr) {
      *error = "GET /api/stats at " + app.authority + " answered " + std::to_string(r->status) +
               " without accounts_by_population (is --app the demo app?)";
    }
    return std::nullopt;
  }
  AppStats out;
  for (auto& [k, v] : j["accounts_by_population"].items()) {
    if (v.is_number_integer()) out.accounts_by_population[k] = v.get<std::int64_t>();
  }
  if (j.contains("logins_by_population") && j["logins_by_population"].is_object()) {
    out.has_logins = true;
    for (auto& [k, v] : j["logins_by_population"].items()) {
      if (v.is_number_integer()) out.logins_by_population[k] = v.get<std::int64_t>();
    }
  }
  if (j.contains("queued_connections") && j["queued_connections"].is_number_integer()) {
    out.queued_connections = j["queued_connections"].get<std::int64_t>();
  }
  return out;
}

std::optional<AppStats> fetch_app_stats_settled(const Target& app, Nanos max_wait,
                                                std::string* error) {
  const Nanos deadline = mono() + max_wait;
  std::optional<AppStats> last;
  while (true) {
    auto s = fetch_app_stats(app, error);
    if (s) last = s;
    if ((s && s->queued_connections == 0) || mono() >= deadline) return last;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace gh::sim
