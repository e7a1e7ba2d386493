// Returning residents (`prior_login`), people from many networks (`spread`) and the scenario
// keys that select them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sim/scenario.h"
#include "sim/setup.h"
#include "unit/sim/addresses.h"
#include "unit/sim/loopback_server.h"

namespace gh::sim {
namespace {

using simtest::addr_of;
using simtest::slash24;

TEST(Spread, SuccessivePeopleComeFromDifferentNetworks) {
  PopulationConfig p;
  p.sources = *parse_cidr("127.2.0.0/16");
  p.spread = true;
  std::set<std::string> seen;
  std::string prev;
  const std::uint64_t usable = 256 * 254;  // .0 and .255 skipped
  for (std::uint64_t i = 0; i < usable; ++i) {
    const std::string a = addr_of(p.sources, source_index(p, i));
    if (i > 0 && i < 1000) {
      EXPECT_NE(slash24(a), slash24(prev)) << "user " << i << " shares a /24 with the one before";
    }
    prev = a;
    seen.insert(a);
  }
  // Every usable address once per cycle: the stride is coprime to the block.
  EXPECT_EQ(seen.size(), usable);
  EXPECT_EQ(addr_of(p.sources, source_index(p, usable)), addr_of(p.sources, source_index(p, 0)));

  p.spread = false;  // counting up: neighbours
  EXPECT_EQ(slash24(addr_of(p.sources, source_index(p, 1))),
            slash24(addr_of(p.sources, source_index(p, 0))));
}

TEST(Spread, AndPriorLoginAreScenarioKeys) {
  std::string error;
  auto s = parse_scenario(R"(
populations:
  - name: residents
    behaviour: resident
    arrival_rate: 1
    accounts: 3
    prior_login: true
  - name: newcomers
    behaviour: newcomer
    arrival_rate: 1
    sources: 127.2.0.0/16
    spread: true
)",
                          "s.yaml", &error);
  ASSERT_TRUE(s.has_value()) << error;
  EXPECT_TRUE(s->populations[0].prior_login);
  EXPECT_FALSE(s->populations[0].spread);
  EXPECT_TRUE(s->populations[1].spread);
  EXPECT_FALSE(s->populations[1].prior_login);

  auto bad = parse_scenario(
      "populations:\n  - name: bots\n    behaviour: signup-flood\n    arrival_rate: 1\n"
      "    prior_login: true\n",
      "s.yaml", &error);
  EXPECT_FALSE(bad.has_value());
  EXPECT_EQ(error, "s.yaml:5:18: population 'bots': prior_login is for resident populations");
}

// A target that answers POST /login: the first attempt of every account with 503 (Retry-After:
// 0), then 303 with a device cookie naming the account and the address it came from.
class LoginTarget {
 public:
  explicit LoginTarget(bool always_refuse = false) : always_refuse_(always_refuse) {
    EXPECT_TRUE(server_.bound());
  }
  std::uint16_t port() const { return server_.port(); }
  int requests() const { return requests_; }

 private:
  void serve(int c, const std::string& ip) {
    const std::string req = read_request(c);
    ++requests_;
    std::string user;
    if (auto u = req.find("username="); u != std::string::npos) {
      user = req.substr(u + 9, req.find('&', u) - u - 9);
    }
    std::string out;
    const bool first = tried_.insert(user).second;
    if (always_refuse_ || first) {
      out =
          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n"
          "Connection: close\r\n\r\n";
    } else {
      out = "HTTP/1.1 303 See Other\r\nLocation: /account\r\nSet-Cookie: gh_device=" + user + "@" +
            ip + "; Path=/; HttpOnly\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    }
    ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }

  bool always_refuse_;
  std::atomic<int> requests_{0};
  std::set<std::string> tried_;  // the server thread only
  LoopbackServer server_{[this](int c, const std::string& ip) { serve(c, ip); }};  // last
};

Target target_of(std::uint16_t port) {
  std::string error;
  auto t = parse_target("http://127.0.0.1:" + std::to_string(port), &error);
  EXPECT_TRUE(t.has_value()) << error;
  return *t;
}

TEST(PriorLogin, EveryAccountLogsInOnceFromItsOwnAddressRetryingBusyAnswers) {
  LoginTarget server;
  PopulationConfig pop;
  pop.name = "residents";
  pop.behaviour = Behaviour::Resident;
  pop.sources = *parse_cidr("127.1.0.0/16");
  std::vector<Account> accounts;
  for (int i = 0; i < 6; ++i)
    accounts.push_back({"u" + std::to_string(i), "pw-" + std::to_string(i)});
  std::string error;
  auto jars = prior_logins(target_of(server.port()), false, pop, accounts, 3, &error);
  ASSERT_TRUE(jars.has_value()) << error;
  ASSERT_EQ(jars->size(), accounts.size());
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const std::string* dev = (*jars)[i].get("gh_device");
    ASSERT_NE(dev, nullptr) << i;
    // The address the engine gives account i in the run: a shield binding devices to the
    // network sees the same one.
    EXPECT_EQ(*dev, accounts[i].username + "@" + addr_of(pop.sources, i));
  }
  EXPECT_EQ(server.requests(), 12);  // one 503 and one 303 each
}

TEST(PriorLogin, ATargetThatNeverAcceptsIsAnError) {
  LoginTarget server(/*always_refuse=*/true);
  PopulationConfig pop;
  pop.name = "residents";
  pop.behaviour = Behaviour::Resident;
  pop.sources = *parse_cidr("127.1.0.0/16");
  std::vector<Account> accounts{{"alice", "secret-1"}};
  std::string error;
  auto jars = prior_logins(target_of(server.port()), false, pop, accounts, 1, &error);
  EXPECT_FALSE(jars.has_value());
  EXPECT_NE(error.find("prior login of alice"), std::string::npos) << error;
  EXPECT_NE(error.find("status 503"), std::string::npos) << error;
  EXPECT_EQ(server.requests(), 10);  // the attempts are bounded
}

}  // namespace
}  // namespace gh::sim
