// HTTP/2 with prior knowledge (h2c) through Gatehouse: curl (Debian's, built on nghttp2) as the
// client, the recording origin or the demo app behind; the same pipeline answers as for
// HTTP/1.1 (routes, limits, challenges), and the upstream always gets HTTP/1.1. The flood probes
// (tests/integration/h2_probes.py, Debian's python3-h2) check that each attack connection is cut
// with GOAWAY while a legitimate client on another connection is served.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fronts.h"
#include "process.h"
#include "stages/challenge/pow.h"
#include "support.h"

namespace gh::test {
namespace {

using json = nlohmann::json;

struct CurlResult {
  int status = 0;
  std::string version;  // "2" when HTTP/2 was spoken
  std::string head;
  std::string body;
  std::string header(const std::string& lower) const {
    std::size_t at = 0;
    while (at < head.size()) {
      std::size_t end = head.find('\n', at);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(at, end - at);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos && line.substr(0, colon) == lower) {
        std::size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        return line.substr(v);
      }
      at = end + 1;
    }
    return "";
  }
};

std::string quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) {
    if (c == '\'') {
      r += "'\\''";
    } else {
      r += c;
    }
  }
  return r + "'";
}

// One request with `curl --http2-prior-knowledge`; bounded by --max-time.
CurlResult curl_h2(std::uint16_t port, const std::string& method, const std::string& path,
                   const std::vector<std::string>& headers = {}, const std::string& body = "",
                   const std::string& source = "") {
  std::string cmd = "curl -s -i --http2-prior-knowledge --max-time 10 -A " + quote(kBrowserUa) +
                    " -X " + method + " -w '\\n%{http_version}'";
  if (!source.empty()) cmd += " --interface " + source;
  for (const auto& h : headers) cmd += " -H " + quote(h);
  if (!body.empty()) cmd += " --data-binary " + quote(body);
  cmd += " " + quote("http://127.0.0.1:" + std::to_string(port) + path) + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  CurlResult r;
  if (p == nullptr) return r;
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  const std::size_t last = out.rfind('\n');
  if (last == std::string::npos) return r;
  r.version = out.substr(last + 1);
  out.resize(last);
  const std::size_t split = out.find("\r\n\r\n");
  if (split == std::string::npos) return r;
  r.head = out.substr(0, split);
  r.body = out.substr(split + 4);
  if (r.head.rfind("HTTP/2 ", 0) == 0) r.status = std::atoi(r.head.c_str() + 7);
  return r;
}

std::string h2_config(std::uint16_t origin_port, const std::string& extra = "") {
  return "server: { workers: 1 }\n"
         "listen:\n  - address: 127.0.0.1:0\n    http2: true\n"
         "upstreams:\n  app:\n    servers: [127.0.0.1:" +
         std::to_string(origin_port) + "]\n" + extra;
}

TEST(Http2, ForwardsOverHttp11AndRelaysTheAnswer) {
  Origin origin([](const OriginRequest& q) {
    OriginReply r;
    r.body = "hello " + q.method + " " + q.target + " " + q.body;
    r.headers = {{"X-App", "yes"}};
    return r;
  });
  Shield shield(h2_config(origin.port()));
  CurlResult get = curl_h2(shield.port(), "GET", "/a?b=1");
  EXPECT_EQ(get.version, "2");
  ASSERT_EQ(get.status, 200) << get.head;
  EXPECT_EQ(get.body, "hello GET /a?b=1 ");
  EXPECT_EQ(get.header("x-app"), "yes");
  EXPECT_EQ(get.header("connection"), "");  // no HTTP/1.1 hop-by-hop field in an h2 answer

  CurlResult post = curl_h2(shield.port(), "POST", "/form", {"Content-Type: text/plain"}, "abc");
  ASSERT_EQ(post.status, 200) << post.head;
  EXPECT_EQ(post.body, "hello POST /form abc");

  auto seen = origin.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].version, "HTTP/1.1");
  EXPECT_EQ(seen[0].header("host"), "127.0.0.1:" + std::to_string(shield.port()));
  EXPECT_EQ(seen[0].header("x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(seen[1].header("content-length"), "3");
  EXPECT_EQ(origin.garbage(), "");
  EXPECT_GE(shield.server().stats().h2_streams, 2u);
}

TEST(Http2, RoutesAndLimitsApplyPerStream) {
  Origin origin;
  Shield shield(h2_config(origin.port(),
                          "routes:\n"
                          "  - name: login\n"
                          "    match: { path: /login }\n"
                          "    limits:\n"
                          "      - name: per_ip\n"
                          "        key: [client.ip]\n"
                          "        rate: 2/minute\n"
                          "        burst: 2\n"
                          "        action: reject\n"
                          "  - name: app\n"));
  EXPECT_EQ(curl_h2(shield.port(), "POST", "/login", {}, "u=a&p=b").status, 200);
  EXPECT_EQ(curl_h2(shield.port(), "POST", "/login", {}, "u=a&p=b").status, 200);
  CurlResult refused = curl_h2(shield.port(), "POST", "/login", {}, "u=a&p=b");
  EXPECT_EQ(refused.status, 429) << refused.head;
  EXPECT_FALSE(refused.header("retry-after").empty());
  EXPECT_EQ(origin.request_count(), 2u);
  // The path the route sees is the canonical one, as for HTTP/1.1.
  EXPECT_EQ(curl_h2(shield.port(), "POST", "/%6Cogin", {}, "u=a&p=b").status, 429);
  EXPECT_EQ(curl_h2(shield.port(), "GET", "/other").status, 200);
}

TEST(Http2, ChallengeIsAnsweredAndItsClearanceHonoured) {
  Origin origin;
  Shield shield(h2_config(origin.port(),
                          "challenge: { levels: [{rate: 0, bits: 8}], refresh_wait: 1s }\n"
                          "routes:\n"
                          "  - name: signup\n"
                          "    match: { path_prefix: /signup }\n"
                          "    class: signup\n"
                          "    require_clearance: true\n"
                          "  - name: app\n"));
  CurlResult api = curl_h2(shield.port(), "GET", "/signup", {"Accept: application/json"});
  ASSERT_EQ(api.status, 403) << api.head;
  json j = json::parse(api.body);
  const std::string token = j["challenge"]["token"].get<std::string>();
  auto nonce = challenge::pow_solve(token, j["challenge"]["bits"].get<std::uint8_t>(), 1u << 26);
  ASSERT_TRUE(nonce.has_value());
  CurlResult cleared =
      curl_h2(shield.port(), "POST", "/.gatehouse/challenge", {"Accept: application/json"},
              "token=" + token + "&nonce=" + *nonce + "&return=/signup");
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  std::string cookie = cleared.header("set-cookie");
  cookie = cookie.substr(0, cookie.find(';'));
  ASSERT_EQ(cookie.rfind("gh_clearance=", 0), 0u) << cleared.head;
  EXPECT_EQ(origin.request_count(), 0u);
  EXPECT_EQ(curl_h2(shield.port(), "GET", "/signup", {"Cookie: " + cookie}).status, 200);
  EXPECT_EQ(origin.request_count(), 1u);
}

TEST(Http2, SignupAndLoginThroughTheDemoApp) {
  TempDir dir;
  DemoApp demo(dir.path());
  Shield shield(h2_config(demo.port(),
                          "routes:\n"
                          "  - name: signup\n"
                          "    match: { path: /signup }\n"
                          "    class: signup\n"
                          "  - name: login\n"
                          "    match: { path: /api/login }\n"
                          "    class: login\n"
                          "  - name: app\n"
                          "residents: { enabled: false }\n"));
  const std::vector<std::string> json_headers = {"Content-Type: application/json",
                                                 "Accept: application/json"};
  CurlResult up = curl_h2(
      shield.port(), "POST", "/signup", json_headers,
      R"({"username":"carol","email":"carol@example.com","password":"correct horse battery"})");
  ASSERT_EQ(up.status, 201) << up.head << up.body;
  CurlResult in = curl_h2(shield.port(), "POST", "/api/login", json_headers,
                          R"({"username":"carol","password":"correct horse battery"})");
  ASSERT_EQ(in.status, 200) << in.body;
  EXPECT_TRUE(json::parse(in.body).contains("token"));
  CurlResult bad = curl_h2(shield.port(), "POST", "/api/login", json_headers,
                           R"({"username":"carol","password":"wrong"})");
  EXPECT_EQ(bad.status, 401) << bad.body;
}

// A stream parks for an admission slot like an HTTP/1.1 request: granted when the holder's slot
// comes back, or shed with 503 when the queue timeout passes first.
TEST(Http2, AStreamWaitsForAnAdmissionSlotAndIsShedAtTheQueueTimeout) {
  Origin origin([](const OriginRequest& q) {
    OriginReply r;
    if (q.target.rfind("/brief", 0) == 0) r.delay = std::chrono::milliseconds(300);
    if (q.target.rfind("/slow", 0) == 0) r.delay = std::chrono::milliseconds(1500);
    return r;
  });
  // Two slots, one kept for residents: anonymous streams get one.
  Shield shield(h2_config(
      origin.port(),
      "    admission: { min_limit: 2, max_limit: 2, initial_limit: 2, resident_share: 50%,\n"
      "                 queue_max: 2, queue_timeout: 700ms, codel_target: 3s,\n"
      "                 codel_interval: 10s, retry_after: 7s }\n"));
  const auto h2_async = [&](const std::string& path) {
    return std::async(std::launch::async,
                      [port = shield.port(), path] { return curl_h2(port, "GET", path); });
  };

  // Granted: the holder is brief, so the waiter queues and gets its slot within the timeout.
  auto holder = h2_async("/brief/1");
  ASSERT_TRUE(eventually([&] { return origin.request_count() >= 1; }));
  auto waiter = h2_async("/brief/2");
  const CurlResult held = holder.get();
  const CurlResult granted = waiter.get();
  EXPECT_EQ(held.status, 200) << held.head;
  EXPECT_EQ(granted.status, 200) << granted.head;
  EXPECT_EQ(granted.version, "2");
  EXPECT_EQ(shield.server().stats().admission_queued, 1u);
  EXPECT_EQ(shield.server().stats().admission_shed, 0u);

  // Shed: the holder keeps its slot past the waiter's queue timeout.
  const std::uint64_t queued = shield.server().stats().admission_queued;
  auto slow = h2_async("/slow/1");
  ASSERT_TRUE(eventually([&] { return origin.request_count() >= 3; }));
  auto shed_waiter = h2_async("/slow/2");
  ASSERT_TRUE(eventually([&] { return shield.server().stats().admission_queued > queued; }));
  const CurlResult shed = shed_waiter.get();
  EXPECT_EQ(shed.status, 503) << shed.head;
  EXPECT_EQ(shed.header("retry-after"), "7");
  EXPECT_EQ(slow.get().status, 200);
  EXPECT_EQ(origin.request_count(), 3u);  // the shed stream never reached the application
  EXPECT_EQ(shield.server().stats().admission_shed, 1u);
}

TEST(Http2, AHttp11ClientOnAnHttp2ListenerIsCut) {
  // Prior knowledge only: an HTTP/1.1 request line is not the connection preface.
  Origin origin;
  Shield shield(h2_config(origin.port()));
  RawClient c(shield.port());
  ASSERT_TRUE(c.send(request("GET", "/", "")));
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(origin.request_count(), 0u);
}

TEST(Http2, FloodsAreCutAndALegitimateClientIsServed) {
  Origin origin;
  Shield shield(h2_config(origin.port(), "routes:\n  - name: app\n"));
  TempDir dir;
  Child probe(
      {"/usr/bin/python3", std::string(GATEHOUSE_SOURCE_DIR) + "/tests/integration/h2_probes.py",
       "127.0.0.1", std::to_string(shield.port())},
      dir.path() + "/probes.log");
  const int rc = probe.wait(std::chrono::seconds(100));
  const std::string log = probe.log();
  EXPECT_EQ(rc, 0) << log;
  for (const char* name :
       {"rapid_reset", "server_resets", "continuation", "settings_flood", "ping_flood"}) {
    EXPECT_NE(log.find(std::string("PASS ") + name), std::string::npos) << name << "\n" << log;
  }
  const proxy::StatsTotals st = shield.server().stats();
  EXPECT_GE(st.h2_cut_rapid_reset, 1u);
  EXPECT_GE(st.h2_cut_server_resets, 1u);
  EXPECT_GE(st.h2_cut_control_flood, 2u);
}

}  // namespace
}  // namespace gh::test
