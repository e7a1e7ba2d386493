// Gatehouse as a systemd service: the notifications a real `gatehouse run` sends (read from a
// socket the test owns, as systemd would), the watchdog's probe of the event loops with a worker
// really wedged, and the probes of the admin API (/healthz, /readyz).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "client/address.h"
#include "control/admin_server.h"
#include "process.h"
#include "proxy/server.h"
#include "proxy/worker.h"
#include "service/watchdog.h"
#include "support.h"
#include "unit/service/notify_socket.h"

namespace gh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string run_config(std::uint16_t origin, const std::string& extra = "") {
  return "server: { workers: 2 }\n"
         "listen:\n  - address: 127.0.0.1:0\n"
         "upstreams:\n  app: { servers: [127.0.0.1:" +
         std::to_string(origin) +
         "] }\n"
         "admin: { address: 127.0.0.2:0 }\n"
         "state_dir: state\n" +
         extra;
}

std::uint16_t admin_port(const Child& c) {
  return c.port_from_log(std::regex("admin API on http://127\\.0\\.0\\.2:([0-9]+)/"));
}

httplib::Result get(const char* host, std::uint16_t port, const std::string& path) {
  httplib::Client c(host, port);
  c.set_connection_timeout(2);
  c.set_read_timeout(3);
  return c.Get(path);
}

// READY=1 once serving (and not before: the listener and the admin API answer at once), STATUS
// lines, WATCHDOG=1 while the loops turn, RELOADING=1 then READY=1 around a reload (refused or
// not), STOPPING=1 on SIGTERM, and the exit code unchanged.
TEST(Service, NotifiesTheServiceManager) {
  TempDir dir;
  Origin origin;
  NotifySocket sock;
  ASSERT_TRUE(sock.ok());
  const std::string config = dir.file("gatehouse.yaml", run_config(origin.port()));
  // WatchdogSec=400ms: a ping every 100 ms.
  Child c({GATEHOUSE_BINARY, "run", "--config", config}, dir.path() + "/run.log",
          {"NOTIFY_SOCKET=" + sock.path(), "WATCHDOG_USEC=400000", "WATCHDOG_PID"});

  const std::string ready = sock.until("READY=1", 15s);
  ASSERT_FALSE(ready.empty()) << c.log();
  EXPECT_NE(ready.find("STATUS=serving on 127.0.0.1:"), std::string::npos) << ready;
  EXPECT_NE(ready.find("(2 workers); admin API 127.0.0.2:"), std::string::npos) << ready;
  // Everything announced is up: no retry needed.
  const std::uint16_t port = c.listening_port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(roundtrip(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  const std::uint16_t admin = admin_port(c);
  ASSERT_NE(admin, 0) << c.log();
  auto r = get("127.0.0.2", admin, "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;

  // The watchdog: several pings within a second.
  int pings = 0;
  for (const std::string& m : sock.drain(600ms)) pings += m == "WATCHDOG=1" ? 1 : 0;
  EXPECT_GE(pings, 3) << c.log();

  c.signal(SIGHUP);
  EXPECT_FALSE(sock.until("RELOADING=1", 5s).empty()) << c.log();
  const std::string after = sock.until("READY=1", 5s);
  EXPECT_NE(after.find("config generation 2"), std::string::npos) << after;

  // A broken config is refused: the old one keeps serving, and the manager hears READY=1 with
  // the refusal in its status.
  std::ofstream(config, std::ios::trunc) << "listen: [\n";
  c.signal(SIGHUP);
  EXPECT_FALSE(sock.until("RELOADING=1", 5s).empty());
  const std::string refused = sock.until("READY=1", 5s);
  EXPECT_NE(refused.find("last reload refused"), std::string::npos) << refused;

  c.signal(SIGTERM);
  const std::string stopping = sock.until("STOPPING=1", 5s);
  EXPECT_NE(stopping.find("STATUS=stopping"), std::string::npos) << stopping;
  EXPECT_EQ(c.wait(15s), 0) << c.log();
  // Nothing after STOPPING=1: the watchdog ended with it.
  for (const std::string& m : sock.drain(200ms)) EXPECT_NE(m, "WATCHDOG=1");
}

// Without NOTIFY_SOCKET nothing changes: no notification code path runs, nothing is logged
// about a service manager.
TEST(Service, NothingOutsideSystemd) {
  TempDir dir;
  Origin origin;
  Child c({GATEHOUSE_BINARY, "run", "--config", dir.file("g.yaml", run_config(origin.port()))},
          dir.path() + "/run.log", {"NOTIFY_SOCKET", "WATCHDOG_USEC"});
  ASSERT_NE(c.listening_port(), 0) << c.log();
  ASSERT_NE(admin_port(c), 0) << c.log();
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(15s), 0) << c.log();
  EXPECT_EQ(c.log().find("service manager"), std::string::npos) << c.log();
  EXPECT_EQ(c.log().find("watchdog"), std::string::npos) << c.log();
}

// The probe the watchdog uses, on a real server whose worker is really stuck: it waits for a lock
// the test holds (the heavy-hitter lock every refused request takes).
TEST(Service, WatchdogProbeSeesAWedgedWorker) {
  Origin origin;
  Shield shield(replace_all(basic_config(origin.port(), "lists: { deny: [127.0.0.0/8] }\n"),
                            "workers: 1", "workers: 2"));
  proxy::Server& server = shield.server();
  std::uint64_t q = server.ask_workers();
  ASSERT_TRUE(eventually([&] { return server.silent_workers(q).empty(); }));

  std::atomic<int> pings{0};
  service::Watchdog dog(40ms,
                        {[&] { return server.ask_workers(); },
                         [&](std::uint64_t question) { return server.silent_workers(question); }},
                        [&] { pings.fetch_add(1); });
  dog.start();
  ASSERT_TRUE(eventually([&] { return pings.load() >= 3; }));

  std::vector<std::unique_lock<std::mutex>> held;
  server.each_worker([&](proxy::Worker& w) { held.emplace_back(w.observe().top_mu); });
  // A refused request: the worker that takes it blocks recording it.
  RawClient client(shield.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(eventually([&] { return dog.withheld() >= 2; }));
  // Asked once the worker is stuck: asked earlier, it may answer on the turn that reads the
  // request, before it blocks.
  q = server.ask_workers();
  std::this_thread::sleep_for(100ms);
  const std::vector<unsigned> silent = server.silent_workers(q);
  EXPECT_EQ(silent.size(), 1u) << "one worker wedged, the other turning";
  const int at_wedge = pings.load();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(pings.load(), at_wedge) << "no ping while a worker is wedged";

  held.clear();  // unstuck: it answers, and the pings resume
  EXPECT_TRUE(eventually([&] { return server.silent_workers(q).empty(); }));
  EXPECT_TRUE(eventually([&] { return pings.load() >= at_wedge + 3; }));
  EXPECT_EQ(client.read_response().status, 403);
  dog.stop();
}

// /healthz and /readyz over HTTP, without a token even when the API has one, and readiness
// following the server: ready while serving, not ready (with why) once stopping.
TEST(Service, HealthAndReadiness) {
  Origin origin;
  auto shield = std::make_unique<Shield>(basic_config(origin.port()));
  TempDir dir;
  const std::string token = dir.file("admin.token", "probe-test-token-0123456789\n");
  ::chmod(token.c_str(), 0600);
  policy::AdminConfig ac;
  ac.address = *client::parse_socket_address("127.0.0.1:0");
  ac.token_file = token;
  control::AdminServer admin(shield->server(), ac, "test");
  std::string error;
  ASSERT_TRUE(admin.start(&error)) << error;

  auto r = get("127.0.0.1", admin.port(), "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok\n");
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8");

  r = get("127.0.0.1", admin.port(), "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"ready": true, "problems": []})"));
  // A probe with a name for a Host (the kubelet sends the pod's): no rebinding check for probes.
  httplib::Client named("127.0.0.1", admin.port());
  r = named.Get("/readyz", {{"Host", "gatehouse.internal"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  shield->server().stop();  // draining: the load balancer must stop sending
  r = get("127.0.0.1", admin.port(), "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  const json body = json::parse(r->body);
  EXPECT_EQ(body["ready"], false);
  ASSERT_EQ(body["problems"].size(), 1u) << r->body;
  EXPECT_NE(body["problems"][0].get<std::string>().find("stopping"), std::string::npos);
  r = get("127.0.0.1", admin.port(), "/healthz");  // still alive
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  admin.stop();
}

}  // namespace
}  // namespace gh::test
