// Page-view continuity and what a sign-up costs: a browser newcomer loads the form, keeps the
// page-view cookie the target set on it, and posts it back at least 2 s later; a farm that skips
// the page posts at once without it, solves at its own speed from another /24 per sign-up, and the
// hashes it spent are counted against it.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/pow.h"
#include "sim/scenario.h"
#include "unit/sim/loopback_server.h"

namespace gh::sim {
namespace {

using Clock = std::chrono::steady_clock;

std::string cookie_value(const std::string& head, const std::string& name) {
  const auto line = head.find("\r\nCookie: ");
  if (line == std::string::npos) return {};
  const auto end = head.find("\r\n", line + 2);
  const std::string cookies = head.substr(line + 10, end - line - 10);
  const auto at = cookies.find(name + "=");
  if (at == std::string::npos) return {};
  const auto stop = cookies.find(';', at);
  return cookies.substr(at + name.size() + 1, stop == std::string::npos
                                                  ? std::string::npos
                                                  : stop - at - name.size() - 1);
}

// A sign-up page behind a shield that sets `gh_view` on GET /signup (one value per view, bound to
// the viewer's address) and, on a POST without a clearance, asks a 12-bit proof of work of a
// client that skipped the page; a viewed page's POST goes straight through.
class SignupTarget {
 public:
  struct Post {
    std::string peer, view;
    bool view_valid = false;  // issued on a GET of this page to the same address
    double age_s = -1;        // since that GET
  };
  SignupTarget() { EXPECT_TRUE(server_.bound()); }
  std::uint16_t port() const { return server_.port(); }
  std::vector<Post> posts() {
    std::lock_guard lock(mu_);
    return posts_;
  }
  int challenges() {
    std::lock_guard lock(mu_);
    return challenges_;
  }

 private:
  struct View {
    std::string peer;
    Clock::time_point at;
  };

  void serve(int c, const std::string& peer) {
    const std::string req = read_request(c);
    const auto head_end = req.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    const std::string head = req.substr(0, head_end + 2), body = req.substr(head_end + 4);
    std::string status = "200 OK", extra, out = "{}";
    std::lock_guard lock(mu_);
    if (head.rfind("GET /signup ", 0) == 0) {
      const std::string v = "v" + std::to_string(views_.size());
      views_[v] = {peer, Clock::now()};
      extra = "Set-Cookie: gh_view=" + v + "; Path=/signup; HttpOnly; SameSite=Lax\r\n";
      out = "<form method=post action=/signup></form>";
    } else if (head.rfind("POST /.gatehouse/challenge ", 0) == 0) {
      const auto t = body.find("token="), n = body.find("nonce=");
      const std::string token = body.substr(t + 6, body.find('&', t) - t - 6);
      const std::uint64_t nonce = std::stoull("0" + body.substr(n + 6, body.find('&', n) - n - 6));
      if (pow_valid(token, nonce, 12)) {
        status = "303 See Other";
        extra = "Location: /signup\r\nSet-Cookie: gh_clearance=ok; Path=/\r\n";
      } else {
        status = "403 Forbidden";
      }
    } else if (head.rfind("POST /signup ", 0) == 0) {
      Post p;
      p.peer = peer;
      p.view = cookie_value(head, "gh_view");
      if (auto it = views_.find(p.view); it != views_.end() && it->second.peer == peer) {
        p.view_valid = true;
        p.age_s = std::chrono::duration<double>(Clock::now() - it->second.at).count();
      }
      if (!p.view_valid && cookie_value(head, "gh_clearance") != "ok") {
        ++challenges_;
        status = "403 Forbidden";
        out = R"({"error":"challenge","challenge":{"algorithm":"sha256-leading-zero-bits",)"
              R"("token":"farm)" +
              std::to_string(challenges_) +
              R"(","bits":12,"submit":"/.gatehouse/challenge","expires_in":300}})";
      } else {
        posts_.push_back(p);
        status = "201 Created";
      }
    }
    const std::string resp =
        "HTTP/1.1 " + status +
        "\r\nContent-Type: " + (out[0] == '<' ? "text/html" : "application/json") + "\r\n" + extra +
        "Content-Length: " + std::to_string(out.size()) + "\r\nConnection: close\r\n\r\n" + out;
    [[maybe_unused]] auto w = ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
  }

  std::mutex mu_;
  std::map<std::string, View> views_;
  std::vector<Post> posts_;
  int challenges_ = 0;
  LoopbackServer server_{[this](int c, const std::string& peer) { serve(c, peer); }};  // last
};

TEST(PageView, ABrowserPostsTheFormsCookieBackAfterFillingItIn) {
  SignupTarget target;
  std::string error;
  auto sc = parse_scenario(R"(
duration: 1s
drain: 10s
populations:
  - name: people
    behaviour: newcomer
    arrival_rate: 4
    sources: 127.2.0.0/16
    spread: true
    profile: browser
  - name: farm
    behaviour: signup-flood
    arrival_rate: 6
    sources: 127.7.0.0/16
    spread: true
    profile: headless
    hashes_per_second: 50000000
)",
                           "inline.yaml", &error);
  ASSERT_TRUE(sc.has_value()) << error;
  Engine engine(*sc, *parse_target("http://127.0.0.1:" + std::to_string(target.port()), &error),
                false, true);
  ASSERT_TRUE(engine.run(&error)) << error;
  const auto& people = engine.stats()[0];
  const auto& farm = engine.stats()[1];
  ASSERT_GE(people.arrivals, 1u);
  ASSERT_GE(farm.arrivals, 2u);
  EXPECT_EQ(people.registered, people.arrivals);
  EXPECT_EQ(farm.registered, farm.arrivals);

  int viewed = 0, skipped = 0;
  std::set<std::string> farm_nets;
  for (const auto& p : target.posts()) {
    if (p.peer.rfind("127.2.", 0) == 0) {
      // The browser kept the cookie its GET got, posted from the same address, after reading.
      EXPECT_TRUE(p.view_valid) << p.peer << " " << p.view;
      EXPECT_GE(p.age_s, 2.0) << p.peer;
      EXPECT_LT(p.age_s, 8.0) << p.peer;
      ++viewed;
    } else {
      EXPECT_EQ(p.peer.rfind("127.7.", 0), 0u) << p.peer;
      EXPECT_TRUE(p.view.empty()) << p.peer;  // never saw the page
      farm_nets.insert(p.peer.substr(0, p.peer.rfind('.')));
      ++skipped;
    }
  }
  EXPECT_EQ(viewed, static_cast<int>(people.arrivals));
  EXPECT_EQ(skipped, static_cast<int>(farm.arrivals));
  // The farm: each sign-up from another /24, each challenged once and paid for.
  EXPECT_EQ(farm_nets.size(), farm.arrivals);
  EXPECT_EQ(target.challenges(), static_cast<int>(farm.arrivals));
  EXPECT_EQ(farm.solutions, farm.arrivals);
  // 12 bits: 4096 hashes expected a sign-up; at least one each, all counted against the farm.
  EXPECT_GE(farm.pow_hashes, farm.arrivals);
  EXPECT_EQ(people.pow_hashes, 0u);  // the page was viewed: nothing asked of them
  // The person's reading time is theirs: the time to register leaves it out.
  EXPECT_LT(people.to_goal.max(), static_cast<std::uint64_t>(2 * kSec));
}

}  // namespace
}  // namespace gh::sim
