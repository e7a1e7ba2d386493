// The holes of issue 11, each reproduced against a keep-alive upstream that logs what it parses
// and reads requests the way common frameworks do (%uXXXX and every escape decoded, ;parameters
// cut, case and one trailing slash ignored, gzip and deflate bodies inflated). Every test here
// failed on the code before the fix.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/lenient_decode.h"
#include "support.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;

// ---- what a lenient framework makes of a request ---------------------------------------------

// The route a framework picks: decode (twice, as double-decoding stacks do), '\' as '/', cut
// ;parameters, resolve dot segments, lower case, no trailing slash.
std::string framework_route(const std::string& target) {
  std::string path = lenient_decode(lenient_decode(target.substr(0, target.find('?'))));
  for (char& c : path) {
    if (c == '\\') c = '/';
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::vector<std::string> segs;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t end = path.find('/', i);
    if (end == std::string::npos) end = path.size();
    std::string seg = path.substr(i, end - i);
    seg = seg.substr(0, seg.find(';'));
    if (seg == "..") {
      if (!segs.empty()) segs.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segs.push_back(seg);
    }
    i = end + 1;
  }
  std::string out;
  for (const std::string& s : segs) out += "/" + s;
  return out.empty() ? "/" : out;
}

std::string inflate_body(const std::string& in, bool gzip) {
  z_stream z{};
  if (inflateInit2(&z, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) return {};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out(64 * 1024, '\0');
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

std::string deflate_body(const std::string& in, bool gzip) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 16 + MAX_WBITS : MAX_WBITS, 8,
               Z_DEFAULT_STRATEGY);
  std::string out(in.size() + 128, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A form field as the framework reads the (inflated) body.
std::string form_field(const std::string& body, const std::string& name) {
  std::size_t i = 0;
  while (i <= body.size()) {
    std::size_t amp = body.find('&', i);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(i, amp - i);
    const std::size_t eq = pair.find('=');
    if (eq != std::string::npos && pair.substr(0, eq) == name) {
      return lenient_decode(pair.substr(eq + 1));
    }
    i = amp + 1;
  }
  return {};
}

struct Seen {
  std::string route;
  std::string username;
};

// The application: records the route and account of every request it parsed; a login of
// password "right" succeeds with a session cookie.
class FrameworkApp {
 public:
  FrameworkApp()
      : origin_([this](const OriginRequest& q) { return handle(q); }) {}
  std::uint16_t port() const { return origin_.port(); }
  Origin& origin() { return origin_; }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::size_t count(const std::string& route, const std::string& user = "") const {
    std::size_t n = 0;
    for (const Seen& s : seen()) n += s.route == route && (user.empty() || s.username == user);
    return n;
  }

 private:
  OriginReply handle(const OriginRequest& q) {
    Seen s;
    s.route = framework_route(q.target);
    std::string body = q.body;
    const std::string enc = q.header("content-encoding");
    if (enc == "gzip" || enc == "deflate") body = inflate_body(body, enc == "gzip");
    s.username = form_field(body, "username");
    {
      std::lock_guard lock(mu_);
      seen_.push_back(s);
    }
    OriginReply r;
    r.body = s.route;
    if (s.route == "/login") {
      const bool ok = form_field(body, "password") == "right";
      r.status = ok ? 200 : 401;
      // A careless app: the session cookie on any successful /login answer, even a GET.
      if (ok || q.method == "GET") r.headers.push_back({"Set-Cookie", "sid=s3ss10n; Path=/"});
      if (q.method == "GET") r.status = 200;
    }
    if (s.route == "/slow") r.delay = 300ms;
    return r;
  }

  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  Origin origin_;
};

std::string form_post(const std::string& path, const std::string& body,
                      const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: a\r\nUser-Agent: " + kBrowserUa + "\r\n" + extra +
         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// ---- 1. Connection naming an end-to-end field ------------------------------------------------

constexpr const char* kClosedSignup =
    "residents: { success_cookie: sid }\n"
    "routes:\n"
    "  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
    "    signup: { mode: closed }\n"
    "  - name: login\n    match: { path: /login }\n    class: login\n"
    "  - name: app\n";

TEST(Smuggling, ConnectionNamingAnEndToEndFieldIsRefused) {
  FrameworkApp app;
  Shield shield(basic_config(app.port(), kClosedSignup));
  const std::string smuggled = "POST /signup HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
  for (const char* connection :
       {"content-length", "close, content-length", "Content-Length, keep-alive", "content-type",
        "keep-alive, content-encoding", "host", "cookie", "authorization", "user-agent",
        "x-forwarded-for", "x-custom"}) {
    RawClient c(shield.port());
    c.send("POST /hello HTTP/1.1\r\nHost: a\r\nConnection: " + std::string(connection) +
           "\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
    EXPECT_EQ(c.read_response().status, 400) << connection;
  }
  EXPECT_EQ(app.count("/signup"), 0u) << "a sign-up went through while sign-up was closed";
  EXPECT_EQ(app.origin().request_count(), 0u);
  EXPECT_EQ(app.origin().garbage(), "");
  // The next client gets its own answer.
  ClientResponse next = roundtrip(shield.port(), request("GET", "/hello", ""));
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "/hello");
}

TEST(Smuggling, HopByHopConnectionOptionsStillPass) {
  FrameworkApp app;
  Shield shield(basic_config(app.port(), kClosedSignup));
  for (const char* connection : {"keep-alive", "keep-alive, TE", "TE, close", "Upgrade2"}) {
    const std::string extra = "Connection: " + std::string(connection) + "\r\nTE: trailers\r\n";
    const int want = std::string(connection) == "Upgrade2" ? 400 : 200;
    EXPECT_EQ(roundtrip(shield.port(), request("GET", "/hello", extra)).status, want)
        << connection;
  }
  for (const OriginRequest& q : app.origin().requests()) {
    EXPECT_EQ(q.header("te"), "");
    EXPECT_EQ(q.header("connection"), "");
  }
}

// An upstream answer that makes its own Content-Length hop-by-hop would reach the client
// unframed, and what follows it would be read as the next client's answer.
TEST(Smuggling, UpstreamConnectionNamingContentLengthIs502AndNotReused) {
  const std::string poison = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON";
  Origin origin([&](const OriginRequest& q) {
    OriginReply r;
    if (q.target == "/evil") {
      r.raw = "HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: " +
              std::to_string(poison.size()) + "\r\n\r\n" + poison;
    } else {
      r.body = "mine:" + q.target;
    }
    return r;
  });
  Shield shield(basic_config(origin.port()));
  EXPECT_EQ(roundtrip(shield.port(), request("GET", "/evil", "")).status, 502);
  for (int i = 0; i < 3; ++i) {
    ClientResponse r = roundtrip(shield.port(), request("GET", "/next" + std::to_string(i), ""));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "mine:/next" + std::to_string(i));
  }
}

// A 204 that announces a body may send it late; on a reused connection the next client would
// read it as its answer (response queue poisoning).
TEST(Smuggling, BodyAfterA204NeverReachesTheNextClient) {
  std::mutex mu;
  std::set<std::size_t> owes_body;  // connections whose 204 body is still to come
  const std::string poison = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON";
  Origin origin([&](const OriginRequest& q) {
    std::lock_guard lock(mu);
    OriginReply r;
    if (q.target == "/nocontent") {
      r.raw = "HTTP/1.1 204 No Content\r\nContent-Length: " + std::to_string(poison.size()) +
              "\r\n\r\n";
      owes_body.insert(q.connection_id);
      return r;
    }
    const std::string mine = "HTTP/1.1 200 OK\r\nContent-Length: " +
                             std::to_string(5 + q.target.size()) + "\r\n\r\nmine:" + q.target;
    r.raw = owes_body.erase(q.connection_id) != 0 ? poison + mine : mine;
    return r;
  });
  Shield shield(basic_config(origin.port()));
  EXPECT_EQ(roundtrip(shield.port(), request("GET", "/nocontent", "")).status, 204);
  ClientResponse r = roundtrip(shield.port(), request("GET", "/victim", ""));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "mine:/victim");
}

// ---- 2. Paths the application decodes and Gatehouse did not --------------------------------

// Spellings of /signup (and of a path that is none) that some framework reads as /signup.
const char* const kSignupSpellings[] = {
    "/signup",         "/%73ignup",          "/%u0073ignup",     "/%U0073ignup",
    "/SIGNUP",         "/SignUp/",           "/signup/",         "/signup;jsessionid=1",
    "/x/..;/signup",   "/%2573ignup",        "/%25u0073ignup",   "/x%2F..%2Fsignup",
    "/x%5C..%5Csignup", "/x\\..\\signup",     "/.%2e/signup",     "//signup",
    "/%2e/signup",     "/%EF%BD%93ignup",    "/signup%00",       "/%C0%AFsignup",
    "/sign%75p",       "/sIgNuP;x=1/",       "/signup%3Bx",      "/%u0053ignup"};

TEST(PathEscapes, NoSpellingOfSignupPassesAClosedSignup) {
  FrameworkApp app;
  Shield shield(basic_config(app.port(), kClosedSignup));
  for (const char* path : kSignupSpellings) {
    const int status =
        roundtrip(shield.port(), form_post(path, "username=bot&password=x")).status;
    EXPECT_TRUE(status == 400 || status == 503) << path << " answered " << status;
  }
  EXPECT_EQ(app.count("/signup"), 0u);
}

TEST(PathEscapes, EverySpellingOfLoginMeetsItsLimit) {
  FrameworkApp app;
  Shield shield(basic_config(
      app.port(),
      "residents: { success_cookie: sid }\n"
      "routes:\n"
      "  - name: login\n    match: { path: /login }\n    class: login\n"
      "    limits:\n      - { name: once, key: [], rate: 1/hour, burst: 1 }\n"
      "  - name: app\n"));
  int passed = 0;
  for (const char* path : {"/login", "/%6Cogin", "/%u006Cogin", "/LOGIN", "/login/", "/Login;x",
                           "/a/../login", "/%2e%2e/login", "/login%2F", "/log%69n"}) {
    const int status = roundtrip(shield.port(), form_post(path, "username=alice&password=x")).status;
    passed += status == 401;
    EXPECT_TRUE(status == 401 || status == 429 || status == 400) << path << " " << status;
  }
  EXPECT_EQ(passed, 1);
  EXPECT_EQ(app.count("/login"), 1u);
}

// ---- 3. Body-keyed limits and encodings ------------------------------------------------------

TEST(BodyKeys, EncodedBodiesFallIntoTheUnknownBucket) {
  FrameworkApp app;
  Shield shield(basic_config(
      app.port(),
      "residents: { success_cookie: sid }\n"
      "routes:\n"
      "  - name: login\n    match: { path: /login, methods: [POST] }\n    class: login\n"
      "    limits:\n      - { name: per-account, key: [body.username], rate: 3/hour, burst: 3 }\n"
      "  - name: app\n"));
  const std::string guess = "username=alice&password=guess";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(roundtrip(shield.port(), form_post("/login", guess)).status, 401);
  }
  EXPECT_EQ(roundtrip(shield.port(), form_post("/login", guess)).status, 429);
  // The same guesses compressed: the app inflates them; Gatehouse cannot read them, so they
  // share one bucket instead of skipping the limit.
  int reached = 0;
  for (int i = 0; i < 10; ++i) {
    const bool gzip = i % 2 == 0;
    const std::string z = deflate_body(guess, gzip);
    const ClientResponse r = roundtrip(
        shield.port(), "POST /login HTTP/1.1\r\nHost: a\r\nContent-Encoding: " +
                           std::string(gzip ? "gzip" : "deflate") +
                           "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: " +
                           std::to_string(z.size()) + "\r\n\r\n" + z);
    reached += r.status == 401;
  }
  EXPECT_LE(reached, 3);
  EXPECT_LE(app.count("/login", "alice"), 6u);
}

// ---- 4. Device tokens only for a real, unambiguous login --------------------------------------

struct DeviceTokens : ::testing::Test {
  FrameworkApp app;
  Shield shield{basic_config(app.port(),
                             "residents: { success_cookie: sid }\n"
                             "routes:\n"
                             "  - name: login\n    match: { path: /login }\n    class: login\n"
                             "  - name: app\n")};
};

TEST_F(DeviceTokens, IssuedForAPlainSuccessfulLogin) {
  const ClientResponse ok = roundtrip(shield.port(), form_post("/login", "username=alice&password=right"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(set_cookie(ok, "gh_device"), "");
}

TEST_F(DeviceTokens, NotForAnEncodedBody) {
  const std::string z = deflate_body("username=victim&password=right", true);
  const ClientResponse r = roundtrip(
      shield.port(), "POST /login HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                         std::to_string(z.size()) + "\r\n\r\n" + z);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(set_cookie(r, "gh_device"), "");
}

TEST_F(DeviceTokens, NotForAGetWithABody) {
  const ClientResponse r =
      roundtrip(shield.port(), request("GET", "/login", "", "username=victim&password=right"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(set_cookie(r, "sid"), "");  // the careless app set its cookie
  EXPECT_EQ(set_cookie(r, "gh_device"), "");
}

TEST_F(DeviceTokens, NotWhenGatehouseAndTheAppReadTheBodyTwoWays) {
  // JSON to Gatehouse, a form to an app that takes the last Content-Type.
  const std::string body = "username=attacker&password=right&{\"username\":\"victim\"}";
  const ClientResponse two_types = roundtrip(
      shield.port(), "POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(set_cookie(two_types, "gh_device"), "");
  const std::string json = R"({"username":"victim","password":"right"})";
  const ClientResponse hop = roundtrip(
      shield.port(), "POST /login HTTP/1.1\r\nHost: a\r\nConnection: content-type\r\n"
                     "Content-Type: application/json\r\nContent-Length: " +
                         std::to_string(json.size()) + "\r\n\r\n" + json);
  EXPECT_EQ(hop.status, 400);
}

TEST(DeviceTokensSignal, ABareStatusIsNoLogin) {
  Origin origin([](const OriginRequest&) { return OriginReply{}; });  // 200 to everything
  Shield shield(basic_config(origin.port(),
                             "residents: { success_cookie: sid }\n"
                             "routes:\n"
                             "  - name: login\n    match: { path: /login }\n    class: login\n"));
  const ClientResponse r = roundtrip(shield.port(), form_post("/login", "username=victim&password=x"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(set_cookie(r, "gh_device"), "");
}

// ---- 5. One device token, a whole network of bots --------------------------------------------

TEST(DeviceTokenCaps, OneTokenCarriesOnePersonNotACrowd) {
  FrameworkApp app;
  Shield shield(basic_config(
      app.port(),
      "residents: { success_cookie: sid, device_concurrency: 4, device_rate: 100/s, "
      "device_burst: 1000 }\n"
      "routes:\n"
      "  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
      "    signup: { mode: closed }\n"
      "  - name: login\n    match: { path: /login }\n    class: login\n"
      "  - name: app\n"));
  const ClientResponse login =
      roundtrip(shield.port(), form_post("/login", "username=alice&password=right"));
  const std::string device = set_cookie(login, "gh_device");
  ASSERT_NE(device, "");
  const std::uint64_t residents_before = shield.server().stats().class_resident;
  // 24 bots of the /24 at once, each with the one token, each request slow.
  std::vector<std::future<int>> bots;
  for (int i = 0; i < 24; ++i) {
    const std::string source = "127.0.0." + std::to_string(10 + i);
    bots.push_back(std::async(std::launch::async, [&, source] {
      return roundtrip(shield.port(), request("GET", "/slow", cookie_header(device)),
                       source.c_str())
          .status;
    }));
  }
  for (auto& b : bots) EXPECT_EQ(b.get(), 200);
  const auto st = shield.server().stats();
  EXPECT_LE(st.class_resident - residents_before, 4u + 4u);  // at most the cap at once (+ slack)
  EXPECT_GE(st.device_tokens_demoted, 16u);
  // And a device token never opens a closed sign-up.
  const ClientResponse signup = roundtrip(
      shield.port(), form_post("/signup", "username=bot&password=x", cookie_header(device)));
  EXPECT_EQ(signup.status, 503);
  EXPECT_EQ(app.count("/signup"), 0u);
}

// ---- 9. One waiting-room ticket, one network's sign-ups ---------------------------------------

TEST(WaitingRoomTicket, AdmitsAFewSignupsNotANetwork) {
  FrameworkApp app;
  Shield shield(basic_config(
      app.port(),
      "routes:\n"
      "  - name: signup\n    match: { path_prefix: /signup }\n    class: signup\n"
      "    signup:\n      mode: queue\n"
      "      waiting_room: { new_users_per_minute: 1, max_signups_per_ticket: 3 }\n"
      "  - name: app\n"));
  const ClientResponse first = roundtrip(shield.port(), request("GET", "/signup", ""), "127.0.0.1");
  const std::string ticket = set_cookie(first, "gh_ticket");
  ASSERT_NE(ticket, "");
  ASSERT_EQ(first.status, 200);
  int reached = 0;
  for (int i = 0; i < 9; ++i) {
    const std::string source = "127.0.0." + std::to_string(20 + i);
    const ClientResponse r = roundtrip(
        shield.port(),
        form_post("/signup", "username=bot" + std::to_string(i) + "&password=x",
                  cookie_header(ticket)),
        source.c_str());
    reached += r.body == "/signup";
  }
  EXPECT_EQ(reached, 3);
  EXPECT_EQ(app.count("/signup"), 3u + (first.body == "/signup" ? 1u : 0u));
}

// ---- 10. Client claims from untrusted peers ---------------------------------------------------

TEST(ClientClaims, DroppedFromUntrustedPeersAndOverridesFromEveryone) {
  Origin origin;
  const std::string claims =
      "X-Real-IP: 1.2.3.4\r\nTrue-Client-IP: 1.2.3.4\r\nCF-Connecting-IP: 1.2.3.4\r\n"
      "Client-IP: 1.2.3.4\r\nX-Client-IP: 1.2.3.4\r\nX-Forwarded-Host: evil.test\r\n"
      "X-Forwarded-Port: 1\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\n"
      "X-HTTP-Method-Override: DELETE\r\nX-Method-Override: DELETE\r\n";
  {
    Shield shield(basic_config(origin.port()));
    ASSERT_EQ(roundtrip(shield.port(), request("GET", "/", claims)).status, 200);
  }
  {
    Shield trusted(basic_config(origin.port(), "clients: { trusted_proxies: [127.0.0.0/8] }\n"));
    ASSERT_EQ(roundtrip(trusted.port(), request("GET", "/", claims)).status, 200);
  }
  const auto seen = origin.requests();
  ASSERT_EQ(seen.size(), 2u);
  for (const char* h : {"x-real-ip", "true-client-ip", "cf-connecting-ip", "client-ip",
                        "x-client-ip", "x-forwarded-host", "x-forwarded-port"}) {
    EXPECT_EQ(seen[0].header(h), "") << h;
    EXPECT_NE(seen[1].header(h), "") << h << " (trusted peer)";
  }
  for (const auto& q : seen) {
    for (const char* h :
         {"x-original-url", "x-rewrite-url", "x-http-method-override", "x-method-override"}) {
      EXPECT_EQ(q.header(h), "") << h;
    }
  }
}

}  // namespace
}  // namespace gh::test
