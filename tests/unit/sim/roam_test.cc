// Residents that roam: the networks each device uses, and a run in which every visit or every
// connection comes from another /24 while the device keeps its cookie.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/scenario.h"
#include "unit/sim/addresses.h"
#include "unit/sim/loopback_server.h"

namespace gh::sim {
namespace {

using simtest::addr_of;
using simtest::slash24;

PopulationConfig roaming(const char* sources, std::uint32_t networks) {
  PopulationConfig p;
  p.behaviour = Behaviour::Resident;
  p.sources = *parse_cidr(sources);
  p.roam = Roam::Visit;
  p.roam_networks = networks;
  return p;
}

TEST(Roam, EachDeviceHasItsOwnNetworksInDifferentSlash24s) {
  auto p = roaming("127.5.0.0/16", 3);
  for (std::uint64_t account = 0; account < 300; ++account) {
    std::set<std::string> nets;
    for (std::uint32_t slot = 0; slot < 3; ++slot) {
      const std::string a = addr_of(p.sources, roam_index(p, account, slot, 17));
      EXPECT_EQ(a.rfind("127.5.", 0), 0u) << a;
      EXPECT_NE(a.substr(a.rfind('.') + 1), "0");
      EXPECT_NE(a.substr(a.rfind('.') + 1), "255");
      nets.insert(slash24(a));
    }
    EXPECT_EQ(nets.size(), 3u) << "account " << account;
    // Home is network 0 at host account % 254: where prior logins come from.
    EXPECT_EQ(home_index(p, account), roam_index(p, account, 0, account % 254));
  }
  // The host part moves within the network.
  EXPECT_NE(addr_of(p.sources, roam_index(p, 5, 1, 3)), addr_of(p.sources, roam_index(p, 5, 1, 4)));
  EXPECT_EQ(slash24(addr_of(p.sources, roam_index(p, 5, 1, 3))),
            slash24(addr_of(p.sources, roam_index(p, 5, 1, 4))));
  // A block of exactly roam_networks /24s: still distinct per device.
  auto small = roaming("127.5.0.0/23", 2);
  EXPECT_NE(slash24(addr_of(small.sources, roam_index(small, 7, 0, 1))),
            slash24(addr_of(small.sources, roam_index(small, 7, 1, 1))));
}

TEST(Roam, AMoveAlwaysChangesNetwork) {
  auto p = roaming("127.5.0.0/16", 4);
  std::set<std::uint32_t> reached;
  for (std::uint32_t from = 0; from < 4; ++from) {
    for (std::uint64_t draw = 0; draw < 50; ++draw) {
      const auto to = roam_next_slot(p, from, draw);
      EXPECT_NE(to, from);
      EXPECT_LT(to, 4u);
      reached.insert(to);
    }
  }
  EXPECT_EQ(reached.size(), 4u);
  // Without roaming, home is the resident's own source, as before.
  PopulationConfig fixed;
  fixed.sources = *parse_cidr("127.1.0.0/16");
  EXPECT_EQ(home_index(fixed, 9), source_index(fixed, 9));
}

// A login target that records, per request, the peer's address, the request line, and the
// device: the username of a login, the device cookie of a page.
class RoamTarget {
 public:
  struct Seen {
    std::string peer, line, device;
    bool login = false;
    bool had_cookie = false;
  };
  RoamTarget() { EXPECT_TRUE(server_.bound()); }
  std::uint16_t port() const { return server_.port(); }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void serve(int c, const std::string& peer) {
    const std::string req = read_request(c);
    Seen s;
    s.peer = peer;
    s.line = req.substr(0, req.find("\r\n"));
    s.login = s.line.rfind("POST /login ", 0) == 0;
    if (auto at = req.find("\r\nCookie: gh_device="); at != std::string::npos) {
      s.had_cookie = true;
      if (!s.login) s.device = req.substr(at + 20, req.find("\r\n", at + 2) - at - 20);
    }
    if (auto u = req.find("username="); s.login && u != std::string::npos) {
      s.device = req.substr(u + 9, req.find('&', u) - u - 9);
    }
    {
      std::lock_guard lock(mu_);
      seen_.push_back(s);
    }
    std::string out;
    if (s.login) {
      out = "HTTP/1.1 303 See Other\r\nLocation: /account\r\nSet-Cookie: gh_device=" + s.device +
            "; Path=/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    } else {
      out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    }
    ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }

  std::mutex mu_;
  std::vector<Seen> seen_;
  LoopbackServer server_{[this](int c, const std::string& peer) { serve(c, peer); }};  // last
};

// Three devices visiting (a login and two pages each) for a second, each visit well apart from
// the device's next (6 a second over 3 accounts); the target closes every connection.
std::vector<RoamTarget::Seen> run_roaming(const char* roam) {
  RoamTarget target;
  std::string error;
  auto sc = parse_scenario(std::string(R"(
duration: 1500ms
drain: 3s
populations:
  - name: phones
    behaviour: resident
    arrival_rate: 6
    accounts: 3
    pages: 2
    sources: 127.5.0.0/16
    profile: browser
    roam: )") + roam + "\n",
                           "inline.yaml", &error);
  EXPECT_TRUE(sc.has_value()) << error;
  if (!sc) return {};
  Engine engine(*sc, *parse_target("http://127.0.0.1:" + std::to_string(target.port()), &error),
                false, true);
  engine.set_accounts(0, {{"ann", "pw-ann"}, {"bob", "pw-bob"}, {"cat", "pw-cat"}});
  EXPECT_TRUE(engine.run(&error)) << error;
  const auto& st = engine.stats()[0];
  EXPECT_GT(st.users_ok, 3u);
  EXPECT_EQ(st.users_ok, st.arrivals);
  return target.seen();
}

TEST(Roam, EveryConnectionFromAnotherNetworkWithTheSameDevice) {
  const auto seen = run_roaming("connection");
  ASSERT_GE(seen.size(), 12u);
  std::map<std::string, std::string> last;  // device -> address of its last request
  int moves = 0;
  for (const auto& s : seen) {
    ASSERT_FALSE(s.device.empty()) << s.line;
    // The device cookie travels on every request after the device's first login.
    if (last.count(s.device)) {
      EXPECT_TRUE(s.had_cookie) << s.device << " " << s.line;
    }
    if (auto it = last.find(s.device); it != last.end()) {
      EXPECT_NE(slash24(it->second), slash24(s.peer)) << s.device << " " << s.line;
      ++moves;
    }
    last[s.device] = s.peer;
  }
  EXPECT_EQ(last.size(), 3u);
  EXPECT_GE(moves, static_cast<int>(seen.size()) - 3);
}

TEST(Roam, EveryVisitFromAnotherNetwork) {
  const auto seen = run_roaming("visit");
  ASSERT_GE(seen.size(), 12u);
  std::map<std::string, std::string> visit_addr;  // device -> address of its current visit
  int visits = 0, moves = 0;
  for (const auto& s : seen) {
    ASSERT_FALSE(s.device.empty()) << s.line;
    if (s.login) {
      if (auto it = visit_addr.find(s.device); it != visit_addr.end()) {
        EXPECT_NE(slash24(it->second), slash24(s.peer)) << s.device;
        EXPECT_TRUE(s.had_cookie) << s.device;
        ++moves;
      }
      visit_addr[s.device] = s.peer;
      ++visits;
      continue;
    }
    // A visit's pages come from its login's address, though each is a new connection.
    ASSERT_TRUE(visit_addr.count(s.device)) << s.line;
    EXPECT_EQ(visit_addr[s.device], s.peer) << s.device << " " << s.line;
  }
  EXPECT_EQ(visit_addr.size(), 3u);
  EXPECT_EQ(moves, visits - 3);
  EXPECT_GE(visits, 6);
}

}  // namespace
}  // namespace gh::sim
