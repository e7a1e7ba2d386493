#include "control/api.h"

#include <gtest/gtest.h>

#include "client/address.h"
#include "policy/quick.h"
#include "proxy/server.h"

namespace gh::control {
namespace {

using nlohmann::json;

std::optional<BanRequest> parse(const std::string& body, ApiResponse* error) {
  return parse_ban_request(json::parse(body), error);
}

TEST(BanRequestBody, Valid) {
  ApiResponse error;
  auto r = parse(R"({"key": "203.0.113.7", "duration": "1h", "reason": "abuse"})", &error);
  ASSERT_TRUE(r) << error.body.dump();
  EXPECT_EQ(client::format_cidr(r->key), "203.0.113.7/32");
  EXPECT_EQ(r->seconds, 3600);
  EXPECT_EQ(r->max_seconds, 3600);  // no escalation unless asked for
  EXPECT_EQ(r->reason, "abuse");

  r = parse(R"({"key": "2001:db8::1/48", "duration": "10m", "max": "24h"})", &error);
  ASSERT_TRUE(r) << error.body.dump();
  EXPECT_EQ(client::format_cidr(r->key), "2001:db8::/48");  // host bits cleared
  EXPECT_EQ(r->seconds, 600);
  EXPECT_EQ(r->max_seconds, 86'400);
  EXPECT_EQ(r->reason, "");
}

struct BadBody {
  const char* body;
  const char* field;
  const char* message_part;
};

TEST(BanRequestBody, Invalid) {
  const BadBody cases[] = {
      {R"([1])", "", "JSON object"},
      {R"({"duration": "1h"})", "key", "key is required"},
      {R"({"key": "1.2.3.4"})", "duration", "duration is required"},
      {R"({"key": 7, "duration": "1h"})", "key", "must be a string"},
      {R"({"key": "1.2.3", "duration": "1h"})", "key", "invalid key"},
      {R"({"key": "010.0.0.1", "duration": "1h"})", "key", "invalid key"},
      {R"({"key": "1.2.3.4/33", "duration": "1h"})", "key", "invalid key"},
      {R"({"key": "1.2.3.4", "duration": 3600})", "duration", "must be a string"},
      {R"({"key": "1.2.3.4", "duration": "3600"})", "duration", "add a unit"},
      {R"({"key": "1.2.3.4", "duration": "0s"})", "duration", "between 1s and 365d"},
      {R"({"key": "1.2.3.4", "duration": "366d"})", "duration", "between 1s and 365d"},
      {R"({"key": "1.2.3.4", "duration": "1h", "max": "30m"})", "max", "must not be below"},
      {R"({"key": "1.2.3.4", "duration": "1h", "max": "2y"})", "max", "invalid duration"},
      {R"({"key": "1.2.3.4", "duration": "1h", "reason": 5})", "reason", "must be a string"},
      {R"({"key": "1.2.3.4", "duration": "1h", "source": "x"})", "source", "unknown field 'source'"},
  };
  for (const BadBody& c : cases) {
    ApiResponse error;
    EXPECT_FALSE(parse(c.body, &error)) << c.body;
    EXPECT_EQ(error.status, 400) << c.body;
    const std::string message = error.body.value("error", "");
    EXPECT_NE(message.find(c.message_part), std::string::npos) << c.body << " -> " << message;
    EXPECT_EQ(error.body.value("field", ""), c.field) << c.body;
  }
  ApiResponse error;
  EXPECT_FALSE(parse(R"({"key": "1.2.3.4", "duration": "1h", "reason": ")" + std::string(64, 'x') + "\"}", &error));
  EXPECT_EQ(error.body.value("field", ""), "reason");
  EXPECT_TRUE(parse(R"({"key": "1.2.3.4", "duration": "1h", "reason": ")" + std::string(63, 'x') + "\"}", &error));
}

TEST(BanJson, Forever) {
  lists::BanInfo b;
  b.key = *client::parse_cidr("10.0.0.0/8");
  b.start = 100;
  b.expiry = lists::kForever;
  b.source = lists::ShortText<lists::kSourceMax>::from("manual");
  json j = ban_json(b, 150);
  EXPECT_EQ(j["key"], "10.0.0.0/8");
  EXPECT_TRUE(j["expiry"].is_null());
  EXPECT_TRUE(j["expires_in_s"].is_null());
  b.expiry = 160;
  j = ban_json(b, 150);
  EXPECT_EQ(j["expiry"], 160);
  EXPECT_EQ(j["expires_in_s"], 10);
}

// check_head needs no running proxy: it decides from the request head alone.
class Head : public ::testing::Test {
 protected:
  Head()
      : server_(policy::make_proxy_snapshot(*client::parse_socket_address("127.0.0.1:0"),
                                            *client::parse_socket_address("127.0.0.1:1"), 1)) {}

  AdminApi api(bool loopback, bool token) {
    AdminApi::Options o;
    o.loopback = loopback;
    if (token) o.token = BearerToken::from_string("tok");
    return AdminApi(server_, std::move(o));
  }
  static ApiRequest request(const std::string& method, const std::string& path, const std::string& auth = "") {
    ApiRequest r;
    r.method = method;
    r.path = path;
    r.host = "127.0.0.1:9090";
    if (!auth.empty()) {
      r.authorization = auth;
      r.authorization_count = 1;
    }
    if (method == "POST") r.content_type = "application/json";
    return r;
  }
  static int status(const std::optional<ApiResponse>& r) { return r ? r->status : 0; }
  static std::string header(const std::optional<ApiResponse>& r, const std::string& name) {
    if (!r) return "";
    for (const auto& [n, v] : r->headers) {
      if (n == name) return v;
    }
    return "";
  }

  proxy::Server server_;
};

TEST_F(Head, RoutesAndMethods) {
  AdminApi a = api(true, true);
  EXPECT_EQ(status(a.check_head(request("GET", "/v1/status"))), 0);
  EXPECT_EQ(status(a.check_head(request("HEAD", "/v1/status"))), 0);
  EXPECT_EQ(status(a.check_head(request("GET", "/v1/bans"))), 0);
  EXPECT_EQ(status(a.check_head(request("GET", "/v1/bans/10.0.0.0/8"))), 0);
  EXPECT_EQ(status(a.check_head(request("GET", "/v2/status"))), 404);
  EXPECT_EQ(status(a.check_head(request("GET", "/v1/bans/"))), 404);
  EXPECT_EQ(status(a.check_head(request("GET", "/"))), 0);  // the dashboard
  EXPECT_EQ(status(a.check_head(request("GET", "/nope"))), 404);
  auto r = a.check_head(request("POST", "/v1/status", "Bearer tok"));
  EXPECT_EQ(status(r), 405);
  EXPECT_EQ(header(r, "Allow"), "GET, HEAD");
  r = a.check_head(request("PUT", "/v1/bans", "Bearer tok"));
  EXPECT_EQ(status(r), 405);
  EXPECT_EQ(header(r, "Allow"), "GET, HEAD, POST");
  EXPECT_EQ(status(a.check_head(request("DELETE", "/v1/bans", "Bearer tok"))), 405);
  EXPECT_EQ(status(a.check_head(request("POST", "/v1/bans/1.2.3.4", "Bearer tok"))), 405);
}

TEST_F(Head, ChangesNeedTheToken) {
  AdminApi a = api(true, true);
  auto r = a.check_head(request("POST", "/v1/bans"));
  EXPECT_EQ(status(r), 401);
  EXPECT_EQ(header(r, "WWW-Authenticate"), "Bearer realm=\"gatehouse\"");
  r = a.check_head(request("POST", "/v1/bans", "Bearer nope"));
  EXPECT_EQ(status(r), 401);
  EXPECT_NE(header(r, "WWW-Authenticate").find("invalid_token"), std::string::npos);
  EXPECT_EQ(status(a.check_head(request("POST", "/v1/bans", "Basic dG9rOg=="))), 401);
  EXPECT_EQ(status(a.check_head(request("DELETE", "/v1/bans/1.2.3.4", "Bearer tokk"))), 401);
  EXPECT_EQ(status(a.check_head(request("POST", "/v1/bans", "Bearer tok"))), 0);
  EXPECT_EQ(status(a.check_head(request("DELETE", "/v1/bans/1.2.3.4", "bearer tok"))), 0);

  ApiRequest twice = request("POST", "/v1/bans", "Bearer tok");
  twice.authorization_count = 2;  // two Authorization fields: ambiguous, refused
  EXPECT_EQ(status(a.check_head(twice)), 401);
}

TEST_F(Head, WithoutATokenFileChangesAreDisabled) {
  AdminApi a = api(true, false);
  auto r = a.check_head(request("POST", "/v1/bans", "Bearer anything"));
  EXPECT_EQ(status(r), 403);
  EXPECT_EQ(r->body["error"], "admin changes disabled: set admin.token_file");
  EXPECT_EQ(status(a.check_head(request("DELETE", "/v1/bans/1.2.3.4"))), 403);
  EXPECT_EQ(status(a.check_head(request("GET", "/v1/bans"))), 0);
  EXPECT_EQ(status(a.check_head(request("GET", "/v1/bans", "Bearer ignored"))), 0);
}

TEST_F(Head, Reads) {
  AdminApi loop = api(true, true);
  EXPECT_EQ(status(loop.check_head(request("GET", "/v1/status"))), 0);
  EXPECT_EQ(status(loop.check_head(request("GET", "/v1/status", "Bearer wrong"))), 401);  // checked if sent

  ApiRequest rebound = request("GET", "/v1/status");
  rebound.host = "attacker.example:9090";  // DNS rebinding
  EXPECT_EQ(status(loop.check_head(rebound)), 403);
  rebound.authorization = "Bearer tok";
  rebound.authorization_count = 1;
  EXPECT_EQ(status(loop.check_head(rebound)), 0);

  AdminApi remote = api(false, true);
  EXPECT_EQ(status(remote.check_head(request("GET", "/v1/status"))), 401);
  EXPECT_EQ(status(remote.check_head(request("GET", "/v1/status", "Bearer tok"))), 0);
}

TEST_F(Head, ContentTypeAndLength) {
  AdminApi a = api(true, true);
  ApiRequest r = request("POST", "/v1/bans", "Bearer tok");
  r.content_type = "application/json; charset=utf-8";
  EXPECT_EQ(status(a.check_head(r)), 0);
  r.content_type = "Application/JSON";
  EXPECT_EQ(status(a.check_head(r)), 0);
  for (const char* t : {"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"}) {
    r.content_type = t;
    EXPECT_EQ(status(a.check_head(r)), 415) << t;
  }
  r.content_type = "application/json";
  r.content_length = kMaxBodyBytes;
  EXPECT_EQ(status(a.check_head(r)), 0);
  r.content_length = kMaxBodyBytes + 1;
  EXPECT_EQ(status(a.check_head(r)), 413);
  // Authorization comes first: a stranger learns nothing about the body rules.
  r.authorization_count = 0;
  EXPECT_EQ(status(a.check_head(r)), 401);
}

// Probes carry no token and may come from anywhere (a load balancer, the kubelet): /healthz and
// /readyz answer them whatever the admin address, the token or the Host.
TEST_F(Head, ProbesNeedNoToken) {
  AdminApi remote = api(false, true);
  for (const char* path : {"/healthz", "/readyz"}) {
    ApiRequest r = request("GET", path);
    r.host = "10.1.2.3:7462";
    EXPECT_EQ(status(remote.check_head(r)), 0) << path;
    r.host = "gatehouse.internal";
    EXPECT_EQ(status(remote.check_head(r)), 0) << path;
    EXPECT_EQ(status(remote.check_head(request("HEAD", path))), 0) << path;
    auto refused = remote.check_head(request("POST", path, "Bearer tok"));
    EXPECT_EQ(status(refused), 405) << path;
    EXPECT_EQ(header(refused, "Allow"), "GET, HEAD");
  }
  // Other reads still need the token off loopback.
  EXPECT_EQ(status(remote.check_head(request("GET", "/v1/status"))), 401);
}

// Not started: alive, and not ready, with the reasons.
TEST_F(Head, ProbesBeforeStart) {
  AdminApi a = api(true, true);
  ApiResponse alive = a.handle(request("GET", "/healthz"));
  EXPECT_EQ(alive.status, 200);
  EXPECT_EQ(alive.text, "ok\n");
  EXPECT_EQ(alive.content_type, "text/plain; charset=utf-8");
  ApiResponse ready = a.handle(request("GET", "/readyz"));
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body["ready"], false);
  const std::string problems = ready.body["problems"].dump();
  EXPECT_NE(problems.find("listeners not bound"), std::string::npos) << problems;
  EXPECT_NE(problems.find("no configuration loaded"), std::string::npos) << problems;
}

TEST_F(Head, HandleBeforeStartIs503NotACrash) {
  AdminApi a = api(true, true);
  EXPECT_EQ(a.handle(request("GET", "/v1/bans")).status, 503);
}

}  // namespace
}  // namespace gh::control
