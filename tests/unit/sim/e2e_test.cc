// End to end: the simulator against the real demo app (in-process), and against a fake shield
// that presents the challenge and queue JSON the shield will, to drive the newcomer's path.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "demo/app.h"
#include "sim/cli.h"
#include "sim/engine.h"
#include "sim/pow.h"
#include "sim/scenario.h"
#include "unit/sim/loopback_server.h"
#include "unit/sim/temp_dir.h"

namespace gh::sim {
namespace {

namespace fs = std::filesystem;

using simtest::TempDir;

TEST(SimEndToEnd, BaselineAgainstTheDemoAppCountsWhatTheAppCounts) {
  TempDir dir;
  demo::Options opt;
  opt.port = 0;
  opt.db_path = (dir.path / "demo.db").string();
  opt.workers = 4;
  opt.pwhash_ops = 1;     // crypto_pwhash_OPSLIMIT_MIN
  opt.pwhash_mem = 8192;  // crypto_pwhash_MEMLIMIT_MIN
  demo::App app(opt);
  std::string error;
  ASSERT_TRUE(app.start(&error)) << error;

  SimOptions o;
  o.scenario_path = std::string(GATEHOUSE_SOURCE_DIR) + "/sim/scenarios/baseline.yaml";
  o.target = "http://127.0.0.1:" + std::to_string(app.port());
  o.duration_s = 3;
  o.quiet = true;
  o.report_path = (dir.path / "report.json").string();
  testing::internal::CaptureStdout();
  ASSERT_EQ(run_sim(o), 0);
  auto table = testing::internal::GetCapturedStdout();
  EXPECT_NE(table.find("residents"), std::string::npos) << table;

  std::ifstream in(o.report_path);
  auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["populations"].size(), 2u);
  const auto& res = j["populations"][0];
  const auto& nc = j["populations"][1];
  EXPECT_EQ(res["name"], "residents");
  // 5/s for 3 s: a Poisson count, almost surely between 3 and 30.
  EXPECT_GE(res["arrivals"].get<int>(), 3);
  EXPECT_EQ(res["users_ok"], res["arrivals"]) << res.dump();
  EXPECT_EQ(res["logged_in"], res["arrivals"]);
  EXPECT_EQ(res["succeeded"].get<int>(), 3 * res["arrivals"].get<int>());  // login + 2 pages
  EXPECT_TRUE(res["refused"].empty()) << res.dump();
  EXPECT_GT(res["latency_ms"]["p50"].get<double>(), 0);
  EXPECT_EQ(res["accounts_created"], 0);  // setup accounts are counted as sim-setup

  EXPECT_EQ(nc["name"], "newcomers");
  EXPECT_GE(nc["arrivals"].get<int>(), 1);
  EXPECT_EQ(nc["registered"], nc["arrivals"]) << nc.dump();
  // The app's count is the truth; it must agree with what the simulator saw.
  EXPECT_EQ(nc["accounts_created"], nc["registered"]);
  auto st = app.stats();
  EXPECT_EQ(st.accounts_by_population["newcomers"], nc["registered"].get<std::uint64_t>());
  EXPECT_EQ(st.accounts_by_population["sim-setup"], 200u);

  // A second run reuses the setup accounts (409 is fine) and counts only its own sign-ups.
  o.duration_s = 0.5;
  testing::internal::CaptureStdout();
  ASSERT_EQ(run_sim(o), 0);
  testing::internal::GetCapturedStdout();
  std::ifstream in2(o.report_path);
  auto j2 = nlohmann::json::parse(in2);
  EXPECT_EQ(j2["populations"][1]["accounts_created"], j2["populations"][1]["registered"]);
  EXPECT_EQ(app.stats().accounts_by_population["sim-setup"], 200u);
  app.stop();
}

// A stand-in for the shield: GET/POST /signup without a clearance cookie -> 403 challenge JSON;
// with clearance but no ticket -> 202 queued (sets the ticket); POST /.gatehouse/challenge with
// a valid nonce -> 303 + clearance cookie. One request per connection.
class FakeShield {
 public:
  std::uint16_t port() const { return server_.port(); }
  std::atomic<int> challenges{0}, solved{0}, bad_solutions{0}, queued{0}, registered{0};
  std::map<std::string, int> peers;  // source address -> requests

 private:
  static std::string field(const std::string& body, const std::string& name) {
    auto at = body.find(name + "=");
    if (at == std::string::npos) return {};
    auto end = body.find('&', at);
    return body.substr(at + name.size() + 1,
                       end == std::string::npos ? std::string::npos : end - at - name.size() - 1);
  }

  void serve(int c) {
    const std::string req = read_request(c);
    const auto head_end = req.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    const std::string head = req.substr(0, head_end), body = req.substr(head_end + 4);
    const bool cleared = head.find("gh_clearance=ok") != std::string::npos;
    const bool ticket = head.find("gh_ticket=t") != std::string::npos;
    std::string status = "200 OK", extra, out_body = "{}";
    if (head.rfind("POST /.gatehouse/challenge ", 0) == 0) {
      std::string token = field(body, "token");
      std::uint64_t nonce = std::stoull("0" + field(body, "nonce"));
      if (field(body, "return") == "%2Fsignup" && pow_valid(token, nonce, 10)) {
        ++solved;
        status = "303 See Other";
        extra = "Location: /signup\r\nSet-Cookie: gh_clearance=ok; Path=/; HttpOnly\r\n";
      } else {
        ++bad_solutions;
        status = "403 Forbidden";
      }
    } else if (!cleared) {
      ++challenges;
      status = "403 Forbidden";
      out_body =
          R"({"error":"challenge","challenge":{"algorithm":"sha256-leading-zero-bits","token":"tk)" +
          std::to_string(challenges.load()) +
          R"(","bits":10,"submit":"/.gatehouse/challenge","expires_in":300}})";
    } else if (!ticket) {
      ++queued;
      status = "202 Accepted";
      extra = "Set-Cookie: gh_ticket=t1; Path=/\r\n";
      out_body = R"({"status":"queued","position":3,"eta_seconds":1,"retry_after":0.2})";
    } else if (head.rfind("POST /signup ", 0) == 0) {
      ++registered;
      status = "201 Created";
      out_body = R"({"ok":true})";
    }
    std::string resp = "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\n" + extra +
                       "Content-Length: " + std::to_string(out_body.size()) +
                       "\r\nConnection: close\r\n\r\n" + out_body;
    [[maybe_unused]] auto w = ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
  }

  LoopbackServer server_{[this](int c, const std::string& peer) {  // last: it starts serving
    ++peers[peer];
    serve(c);
  }};
};

TEST(SimEndToEnd, NewcomersSolveTheChallengeWaitInTheQueueAndRegister) {
  FakeShield shield;
  std::string error;
  auto sc = parse_scenario(R"(
duration: 1s
drain: 5s
populations:
  - name: newcomers
    behaviour: newcomer
    arrival_rate: 8
    sources: 127.2.0.0/24
    rotate: true
    hashes_per_second: 1000000
  - name: bots
    behaviour: signup-flood
    arrival_rate: 20
    sources: 127.3.0.0/24
    solve_challenges: false
)",
                           "inline.yaml", &error);
  ASSERT_TRUE(sc.has_value()) << error;
  auto target = parse_target("http://127.0.0.1:" + std::to_string(shield.port()), &error);
  Engine engine(*sc, *target, false, true);
  ASSERT_TRUE(engine.run(&error)) << error;
  const auto& nc = engine.stats()[0];
  const auto& bots = engine.stats()[1];
  ASSERT_GE(nc.arrivals, 1u);
  // Every newcomer: GET /signup -> challenge -> solve -> queue -> GET again -> POST -> 201.
  EXPECT_EQ(nc.registered, nc.arrivals);
  EXPECT_EQ(nc.users_ok, nc.arrivals);
  EXPECT_EQ(nc.challenged, nc.arrivals);
  EXPECT_EQ(nc.solved, nc.arrivals);
  EXPECT_EQ(nc.queued, nc.arrivals);
  EXPECT_EQ(shield.bad_solutions.load(), 0);
  EXPECT_EQ(nc.to_goal.count(), nc.arrivals);
  // The queue said to come back after 0.2 s: registering took at least that.
  EXPECT_GE(nc.to_goal.min(), static_cast<std::uint64_t>(200 * kMs));
  // Bots that do not solve stop at the challenge.
  EXPECT_EQ(bots.registered, 0u);
  EXPECT_EQ(bots.challenged, bots.arrivals);
  EXPECT_EQ(bots.refused.at(403), bots.arrivals);
  EXPECT_EQ(shield.registered.load(), static_cast<int>(nc.registered));
  // Sources were bound across the configured blocks: rotating newcomers used several addresses.
  int newcomer_addrs = 0;
  for (auto& [ip, n] : shield.peers) {
    EXPECT_TRUE(ip.rfind("127.2.0.", 0) == 0 || ip.rfind("127.3.0.", 0) == 0) << ip;
    newcomer_addrs += ip.rfind("127.2.0.", 0) == 0;
  }
  EXPECT_GT(newcomer_addrs, 1);
}

TEST(SimEndToEnd, ClosedLoopSlowClientsAreHeldUntilTheTargetDropsThem) {
  // A target that reads nothing and closes each connection after 200 ms.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::listen(fd, 64);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::atomic<bool> stop{false};
  std::thread t([&] {
    std::vector<std::pair<int, std::chrono::steady_clock::time_point>> open;
    while (!stop) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10) > 0) {
        int c = ::accept(fd, nullptr, nullptr);
        if (c >= 0) open.emplace_back(c, std::chrono::steady_clock::now());
      }
      auto now = std::chrono::steady_clock::now();
      std::erase_if(open, [&](auto& e) {
        if (now - e.second < std::chrono::milliseconds(200)) return false;
        ::close(e.first);
        return true;
      });
    }
    for (auto& e : open) ::close(e.first);
  });
  std::string error;
  auto sc = parse_scenario(
      "duration: 1s\ndrain: 0s\npopulations:\n  - name: slow\n    behaviour: slow-client\n"
      "    connections: 3\n    trickle_interval: 50ms\n",
      "inline.yaml", &error);
  ASSERT_TRUE(sc.has_value()) << error;
  Engine engine(*sc, *parse_target("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)), &error),
                false, true);
  ASSERT_TRUE(engine.run(&error)) << error;
  stop = true;
  t.join();
  ::close(fd);
  const auto& s = engine.stats()[0];
  // 3 connections, each replaced every ~200 ms over 1 s: about 15 held connections.
  EXPECT_GE(s.errors.count("closed_by_target") ? s.errors.at("closed_by_target") : 0, 6u);
  EXPECT_EQ(s.users_unfinished, 3u);
  EXPECT_GE(s.latency.percentile(0.5), static_cast<std::uint64_t>(180 * kMs));
  EXPECT_LT(s.latency.percentile(0.5), static_cast<std::uint64_t>(400 * kMs));
}

}  // namespace
}  // namespace gh::sim
