#include "sim/engine.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <random>
#include <thread>
#include <utility>

#include "sim/arrival.h"
#include "sim/email.h"
#include "sim/pow.h"
#include "sim/profile.h"
#include "sim/scenario.h"

namespace gh::sim {
namespace {

using nlohmann::json;

constexpr std::uint64_t kSolverEvent = UINT64_MAX;
constexpr std::size_t kMaxSolverJobs = 4096;
constexpr std::uint64_t kSolveSlice = 1 << 14;  // hashes per turn, so jobs share the thread fairly
constexpr std::size_t kMaxWaitingArrivals = 100'000;
constexpr std::size_t kSlowHeadCap = 64 * 1024;  // a slowloris head never ends before this
constexpr Nanos kLateSolve = 50 * kMs;           // a solution later than this counts as late
constexpr Nanos kRegisterBar = 60 * kSec;        // "registered within 60 s"

Nanos now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string hex(std::uint64_t v, int digits) {
  static const char* k = "0123456789abcdef";
  std::string s(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = k[v & 15];
  return s;
}

bool is_2xx3xx(int s) {
  return s >= 200 && s < 400;
}

bool is_resident(Behaviour b) {
  return b == Behaviour::Resident || b == Behaviour::ApiResident;
}

enum class Action : std::uint8_t { None, Resend, Submit, Trickle, PostForm, FollowWait };

struct Req {
  std::string method;
  std::string path;
  std::string body;
  std::string ctype;
  Kind kind = Kind::Navigate;
  std::string referer;  // the page's path the request comes from ("" = none)
  bool user_activated = true;
  bool bearer = false;  // carries the account's API token
};

struct RoamState {
  std::uint32_t slot = 0;  // which of the device's networks it is on (0 = home)
  std::uint32_t host = 0;  // its address in that /24
};

struct Flow {
  std::uint32_t slot = 0;
  std::uint32_t gen = 1;
  bool live = false;
  std::uint32_t pop = 0;
  Nanos arrival = 0;   // intended start
  Nanos own_time = 0;  // the person's own time so far (filling the form): not the target's doing
  Nanos req_t0 = 0;    // latency clock of the current request
  Nanos deadline = INT64_MAX;
  bool solving = false;  // the deadline is the user's patience while the proof of work runs
  Nanos wake = INT64_MAX;
  Action action = Action::None;
  int step = 0;
  unsigned rounds = 0;
  unsigned pages_left = 0;
  bool relogged = false;  // api-resident: logged in again after a 401 this visit
  std::size_t account = SIZE_MAX;
  CookieJar own_jar;
  std::string username, email, password;
  std::uint64_t source = 0;
  bool first_request = true;
  // Connection.
  int fd = -1;
  bool connected = false;
  bool reusable = false;
  bool reused = false;
  bool retried = false;
  bool waiting_slot = false;
  sockaddr_storage addr{};  // the source address of the current connection
  socklen_t addr_len = 0;
  std::string out;
  std::size_t out_off = 0;
  bool awaiting = false;
  ResponseParser parser;
  // What the user is trying to do, kept for retries after a challenge or a queue.
  Req step_req;
  Req cur_req;  // the request on the wire (the step, or a challenge answer)
  bool in_submit = false;
  Challenge challenge;
  Nanos solve_started = 0;
  PowSolution solution;
  std::shared_ptr<std::atomic<bool>> solve_cancel;  // set when the user is gone
  // slow-client
  std::string slow;  // what a slow client trickles
  std::size_t trickled = 0;
  Nanos conn_start = 0;
};

struct Timer {
  Nanos when;
  std::uint32_t slot;
  std::uint32_t gen;
  bool operator>(const Timer& o) const { return when > o.when; }
};

struct Pop {
  PopulationConfig cfg;
  PopulationStats st;
  std::unique_ptr<ArrivalQueue> arrivals;  // open loop
  std::uint32_t in_flight = 0;
  std::uint64_t next_source = 0;
  std::uint64_t next_account = 0;
  std::vector<Account> accounts;
  std::vector<CookieJar> jars;      // one per account: the browser's cookies persist across visits
  std::vector<std::string> tokens;  // api-resident: one bearer token per account ("" = none yet)
  std::vector<RoamState> roam;      // roaming residents: where each device is
  std::uint64_t prev_sent = 0, prev_ok = 0;
  std::uint32_t restarts = 0;  // closed loop: users to replace on the next turn of the loop
};

struct SolveJob {
  std::uint32_t slot, gen, pop;
  std::string token;
  unsigned bits;
  double hashes_per_second;
  Nanos started;
  std::uint64_t next_nonce = 0;
  std::uint64_t budget = 0;  // hashes left before giving up
  std::shared_ptr<std::atomic<bool>> cancel;
  // Where a client hashing at its speed would be by now in this job.
  Nanos virtual_time() const {
    return started + static_cast<Nanos>(static_cast<double>(next_nonce) / hashes_per_second * 1e9);
  }
};

struct SolveResult {
  std::uint32_t slot, gen;
  std::optional<PowSolution> solution;
};

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string html_unescape(std::string_view s) {
  static const std::pair<std::string_view, char> kEntities[] = {{"&amp;", '&'},  {"&lt;", '<'},
                                                                {"&gt;", '>'},   {"&quot;", '"'},
                                                                {"&#39;", '\''}, {"&#x27;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool done = false;
    if (s[i] == '&') {
      for (const auto& [name, c] : kEntities) {
        if (s.substr(i, name.size()) == name) {
          out += c;
          i += name.size() - 1;
          done = true;
          break;
        }
      }
    }
    if (!done) out += s[i];
  }
  return out;
}

bool is_html(const Response& r) {
  const std::string* ct = r.header("content-type");
  return ct != nullptr && lower_ascii(*ct).find("text/html") != std::string::npos;
}

// The tag that contains position `at` of `html`: from its '<' to its '>'.
std::string_view tag_around(std::string_view html, std::size_t at) {
  const std::size_t open = html.rfind('<', at);
  const std::size_t close = html.find('>', at);
  if (open == std::string_view::npos || close == std::string_view::npos) return {};
  return html.substr(open, close - open + 1);
}

// <meta http-equiv="refresh" content="N; url=URL">: N seconds and the URL ("" = this page).
bool meta_refresh(std::string_view html, double* seconds, std::string* url) {
  const std::string low = lower_ascii(html.substr(0, 64 * 1024));
  const std::size_t at = low.find("http-equiv=\"refresh\"");
  if (at == std::string::npos) return false;
  auto content = html_attribute(tag_around(html, at), "content");
  if (!content) return false;
  double n = 0;
  const char* b = content->data();
  auto [end, ec] = std::from_chars(b, b + content->size(), n);
  if (ec != std::errc{} || !(n >= 0)) return false;
  *seconds = n;
  url->clear();
  const std::string rest =
      lower_ascii(std::string_view(end, content->data() + content->size() - end));
  const std::size_t u = rest.find("url=");
  if (u != std::string::npos) {
    *url = content->substr(static_cast<std::size_t>(end - content->data()) + u + 4);
    while (!url->empty() && (url->back() == ' ' || url->back() == '\'' || url->back() == '"')) {
      url->pop_back();
    }
  }
  return true;
}

bool safe_path(std::string_view p) {
  return !p.empty() && p[0] == '/' && p.find_first_of("\r\n ") == std::string_view::npos;
}

}  // namespace

std::string url_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += "0123456789ABCDEF"[u >> 4];
      out += "0123456789ABCDEF"[u & 15];
    }
  }
  return out;
}

std::optional<std::string> html_attribute(std::string_view tag, std::string_view name) {
  const std::string low = lower_ascii(tag);
  const std::string needle = lower_ascii(name) + "=\"";
  for (std::size_t at = low.find(needle); at != std::string::npos; at = low.find(needle, at + 1)) {
    if (at == 0 || !(low[at - 1] == ' ' || low[at - 1] == '\t' || low[at - 1] == '\n')) continue;
    const std::size_t from = at + needle.size();
    const std::size_t to = tag.find('"', from);
    if (to == std::string_view::npos) return std::nullopt;
    return html_unescape(tag.substr(from, to - from));
  }
  return std::nullopt;
}

bool parse_challenge(const Response& r, Challenge* out) {
  if (r.status != 403) return false;
  auto body = decoded_body(r);
  if (!body) return false;
  if (is_html(r)) {
    // The proof-of-work page: <form id="gh-form" action=SUBMIT data-bits=N> with hidden token.
    const std::size_t form_at = body->find("id=\"gh-form\"");
    if (form_at != std::string::npos) {
      const std::string_view html(*body);
      const std::string_view form = tag_around(html, form_at);
      auto bits = html_attribute(form, "data-bits");
      auto action = html_attribute(form, "action");
      const std::size_t end = html.find("</form>", form_at);
      const std::string_view inside = html.substr(
          form_at, end == std::string_view::npos ? std::string_view::npos : end - form_at);
      const std::size_t tok_at = inside.find("name=\"token\"");
      if (!bits || !action || tok_at == std::string_view::npos) return false;
      auto token = html_attribute(tag_around(inside, tok_at), "value");
      unsigned b = 0;
      auto [p, ec] = std::from_chars(bits->data(), bits->data() + bits->size(), b);
      if (!token || ec != std::errc{} || p != bits->data() + bits->size() || !safe_path(*action)) {
        return false;
      }
      *out = Challenge{};
      out->token = *token;
      out->bits = b;
      out->submit = *action;
      return true;
    }
    // The wait page: a meta refresh to the challenge URL.
    double seconds = 0;
    std::string url;
    if (meta_refresh(*body, &seconds, &url) && safe_path(url)) {
      *out = Challenge{};
      out->wait = true;
      out->wait_ms = static_cast<std::int64_t>(seconds * 1000);
      out->url = url;
      return true;
    }
    return false;
  }
  auto j = json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto e = j.find("error");
  auto c = j.find("challenge");
  if (e == j.end() || !e->is_string() || *e != "challenge" || c == j.end() || !c->is_object()) {
    return false;
  }
  auto alg = c->find("algorithm"), tok = c->find("token"), bits = c->find("bits"),
       sub = c->find("submit");
  if (alg == c->end() || !alg->is_string()) return false;
  if (*alg == "wait") {
    auto wait = c->find("wait_ms"), url = c->find("url");
    if (wait == c->end() || !wait->is_number_unsigned() || url == c->end() || !url->is_string() ||
        !safe_path(url->get<std::string>())) {
      return false;
    }
    *out = Challenge{};
    out->wait = true;
    out->wait_ms = wait->get<std::int64_t>();
    out->url = url->get<std::string>();
    return true;
  }
  if (*alg != "sha256-leading-zero-bits") return false;
  if (tok == c->end() || !tok->is_string() || bits == c->end() || !bits->is_number_unsigned()) {
    return false;
  }
  *out = Challenge{};
  out->token = tok->get<std::string>();
  out->bits = bits->get<unsigned>();
  out->submit = sub != c->end() && sub->is_string() ? sub->get<std::string>()
                                                    : std::string("/.gatehouse/challenge");
  return safe_path(out->submit);
}

bool parse_queued(const Response& r, double* retry_after_s) {
  if (r.status != 202 && r.status != 200) return false;
  auto body = decoded_body(r);
  if (!body) return false;
  if (is_html(r)) {
    // A page that reloads itself: the waiting room's "you are in line".
    std::string url;
    double seconds = 0;
    if (!meta_refresh(*body, &seconds, &url) || !url.empty()) return false;
    *retry_after_s = seconds;
    return true;
  }
  if (r.status != 202) return false;
  auto j = json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto s = j.find("status");
  if (s == j.end() || !s->is_string() || *s != "queued") return false;
  auto ra = j.find("retry_after");
  *retry_after_s = ra != j.end() && ra->is_number() ? ra->get<double>() : 5.0;
  if (!(*retry_after_s >= 0)) *retry_after_s = 5.0;
  return true;
}

std::optional<std::string> parse_token(const Response& r) {
  if (r.status != 200) return std::nullopt;
  auto body = decoded_body(r);
  if (!body) return std::nullopt;
  auto j = json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto t = j.find("token");
  if (t == j.end() || !t->is_string()) return std::nullopt;
  std::string token = t->get<std::string>();
  // A JWT is base64url and dots; anything else would not survive a header.
  if (token.empty() || token.size() > 4096 ||
      token.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
          std::string::npos) {
    return std::nullopt;
  }
  return token;
}

struct Engine::Impl {
  Scenario sc;
  Target target;
  bool via_xff;
  bool quiet;
  std::vector<Pop> pops;
  std::vector<PopulationStats> final_stats;
  std::deque<Flow> flows;  // a deque: references stay valid as it grows
  std::vector<std::uint32_t> free_slots;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  std::deque<std::pair<std::uint32_t, std::uint32_t>> slot_waiters;  // (slot, gen)
  std::uint32_t open_conns = 0;
  int ep = -1;
  int solver_fd = -1;
  std::mt19937_64 rng;
  Nanos t0 = 0, end_arrivals = 0, hard_end = 0, ended = 0;
  bool stopping = false;
  std::vector<Account> stuffing_list;  // credential pairs, mostly wrong

  // Solver thread.
  std::thread solver;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<SolveJob> jobs;
  std::vector<SolveResult> results;
  bool solver_stop = false;
  std::unique_ptr<std::atomic<std::uint64_t>[]> hashes;  // per population, written by the solver

  ~Impl() {
    {
      std::lock_guard lock(mu);
      solver_stop = true;
    }
    cv.notify_all();
    if (solver.joinable()) solver.join();
    for (auto& f : flows) {
      if (f.fd >= 0) ::close(f.fd);
    }
    if (solver_fd >= 0) ::close(solver_fd);
    if (ep >= 0) ::close(ep);
  }

  // The next job to work on: cancelled jobs are dropped; jobs behind the pace of their client
  // come first, and among them the slowest clients (people's phones before farms: a phone's
  // solve must not wait for a farm's, which in the world runs on the farm's own hardware); a job
  // that is ahead of its pace runs only when none is behind. The simulator cannot hash as fast as
  // a GPU farm; a farm's solutions then come late, and that is counted (solves_late).
  std::size_t pick_job(Nanos now) {
    std::size_t best = SIZE_MAX;
    for (std::size_t i = 0; i < jobs.size();) {
      if (jobs[i].cancel && jobs[i].cancel->load(std::memory_order_relaxed)) {
        jobs[i] = std::move(jobs.back());
        jobs.pop_back();
        continue;
      }
      if (best == SIZE_MAX) {
        best = i;
      } else {
        const auto& a = jobs[i];
        const auto& b = jobs[best];
        const bool a_behind = a.virtual_time() <= now, b_behind = b.virtual_time() <= now;
        if (a_behind != b_behind) {
          if (a_behind) best = i;
        } else if (a.hashes_per_second != b.hashes_per_second) {
          if (a.hashes_per_second < b.hashes_per_second) best = i;
        } else if (a.virtual_time() < b.virtual_time()) {
          best = i;
        }
      }
      ++i;
    }
    return best;
  }

  void solver_main() {
    std::unique_lock lock(mu);
    while (true) {
      cv.wait(lock, [&] { return solver_stop || !jobs.empty(); });
      if (solver_stop) return;
      const std::size_t i = pick_job(now_ns());
      if (i == SIZE_MAX) continue;
      SolveJob job = std::move(jobs[i]);
      jobs[i] = std::move(jobs.back());
      jobs.pop_back();
      lock.unlock();
      const std::uint64_t n = std::min(kSolveSlice, job.budget);
      auto sol = solve_pow(job.token, job.bits, n, job.next_nonce);
      hashes[job.pop].fetch_add(sol ? sol->hashes : n, std::memory_order_relaxed);
      if (sol) sol->hashes = job.next_nonce + sol->hashes;  // nonces start at 0: tried = nonce+1
      job.budget -= n;
      job.next_nonce += n;
      lock.lock();
      if (sol || job.budget == 0) {
        results.push_back({job.slot, job.gen, sol});
        std::uint64_t one = 1;
        [[maybe_unused]] auto w = ::write(solver_fd, &one, sizeof one);
      } else {
        jobs.push_back(std::move(job));
      }
    }
  }

  Flow* flow_of(std::uint32_t slot, std::uint32_t gen) {
    if (slot >= flows.size()) return nullptr;
    Flow& f = flows[slot];
    return f.live && f.gen == gen ? &f : nullptr;
  }
  static std::uint32_t slot_of(const Flow& f) { return f.slot; }
  Pop& pop_of(const Flow& f) { return pops[f.pop]; }
  CookieJar& jar(Flow& f) {
    auto& p = pop_of(f);
    return f.account < p.jars.size() ? p.jars[f.account] : f.own_jar;
  }
  // An API client never sees a cookie of ours or of the app's.
  bool keeps_cookies(const Flow& f) { return pops[f.pop].cfg.behaviour != Behaviour::ApiResident; }
  // The user's own clock: from arrival, less the time they spent on their own (filling a form).
  Nanos started(const Flow& f) const { return f.arrival + f.own_time; }

  void arm(Flow& f, Nanos when) {
    if (when != INT64_MAX) timers.push({when, slot_of(f), f.gen});
  }

  // Names come from their own generator, seeded per run: the schedule is reproducible, but a
  // rerun against the same database must not collide with the usernames of the last one.
  std::mt19937_64 names{std::random_device{}()};
  std::string rand_hex(int digits) { return hex(names(), digits); }

  // ---- connections ----

  void close_conn(Flow& f) {
    if (f.fd >= 0) {
      ::close(f.fd);
      f.fd = -1;
      --open_conns;
    }
    f.connected = false;
    f.reusable = false;
    f.awaiting = false;
    f.out.clear();
    f.out_off = 0;
    f.deadline = INT64_MAX;
  }

  void error(Flow& f, const std::string& kind) {
    // A request that failed counts in the latency record with the time it took to fail, so a
    // target that drops or stalls requests cannot look fast by not answering.
    if (f.awaiting) pop_of(f).st.latency.record(now_ns() - f.req_t0);
    ++pop_of(f).st.errors[kind];
    finish(f, false);
  }

  // The run ended with this user still in flight; a request outstanding counts as waited so far.
  void abandon(Flow& f) {
    if (f.awaiting) pop_of(f).st.latency.record(now_ns() - f.req_t0);
    ++pop_of(f).st.users_unfinished;
    release(f);
  }

  void finish(Flow& f, bool ok) {
    auto& p = pop_of(f);
    if (ok) {
      ++p.st.users_ok;
    } else {
      ++p.st.users_failed;
    }
    release(f);
  }

  void release(Flow& f) {
    close_conn(f);
    auto& p = pop_of(f);
    --p.in_flight;
    f.live = false;
    ++f.gen;
    if (f.solve_cancel) f.solve_cancel->store(true, std::memory_order_relaxed);
    f.solve_cancel.reset();
    f.out = std::string();
    f.step_req = Req{};
    f.own_jar.clear();
    free_slots.push_back(slot_of(f));
    // Closed loop: the user is replaced on the loop's next turn (not here, so a target that
    // refuses every connect cannot recurse us into the ground).
    if (p.cfg.connections > 0 && !stopping) ++p.restarts;
  }

  bool source_per_connection(const Pop& p) const {
    return p.cfg.rotate || p.cfg.roam == Roam::Connection;
  }

  // A roaming device moves to another of its networks, at another address there.
  void move(Pop& p, std::size_t account) {
    auto& st = p.roam[account];
    st.slot = roam_next_slot(p.cfg, st.slot, rng());
    st.host = static_cast<std::uint32_t>(rng() % 254);
  }

  // The source address of the flow's next connection (or, with --via-xff, request).
  void pick_source(Flow& f) {
    auto& p = pop_of(f);
    std::uint64_t index;
    if (is_resident(p.cfg.behaviour) && p.cfg.roam != Roam::Off) {
      if (p.cfg.roam == Roam::Connection) move(p, f.account);
      const auto& st = p.roam[f.account];
      index = roam_index(p.cfg, f.account, st.slot, st.host);
    } else {
      index = source_index(p.cfg, p.cfg.rotate ? p.next_source++ : f.source);
    }
    cidr_address(p.cfg.sources, index, &f.addr, &f.addr_len);
  }

  // Opens a connection for the flow's request, or waits for a slot under max_connections.
  void connect_flow(Flow& f) {
    if (open_conns >= sc.max_connections) {
      f.waiting_slot = true;
      slot_waiters.emplace_back(slot_of(f), f.gen);
      return;
    }
    f.waiting_slot = false;
    const int fd =
        ::socket(target.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return error(f, "socket");
    f.fd = fd;
    ++open_conns;
    f.connected = false;
    f.reused = false;
    f.conn_start = now_ns();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!via_xff && !target.v6) {
      // Many sources share the loopback's ports; let connect() pick the port per 4-tuple.
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&f.addr), f.addr_len) != 0) {
        return error(f, "bind");
      }
    }
    sockaddr_storage dst{};
    socklen_t dlen;
    if (target.v6) {
      auto* d = reinterpret_cast<sockaddr_in6*>(&dst);
      d->sin6_family = AF_INET6;
      std::memcpy(d->sin6_addr.s6_addr, target.addr.data(), 16);
      d->sin6_port = htons(target.port);
      dlen = sizeof *d;
    } else {
      auto* d = reinterpret_cast<sockaddr_in*>(&dst);
      d->sin_family = AF_INET;
      std::memcpy(&d->sin_addr, target.addr.data(), 4);
      d->sin_port = htons(target.port);
      dlen = sizeof *d;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), dlen) != 0 && errno != EINPROGRESS) {
      return error(f, errno == EADDRNOTAVAIL ? "no_local_port" : "connect");
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = (std::uint64_t{f.gen} << 32) | slot_of(f);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) return error(f, "epoll");
  }

  void pump_slot_waiters() {
    while (open_conns < sc.max_connections && !slot_waiters.empty()) {
      auto [slot, gen] = slot_waiters.front();
      slot_waiters.pop_front();
      if (Flow* f = flow_of(slot, gen); f != nullptr && f->waiting_slot) connect_flow(*f);
    }
  }

  // ---- requests ----

  std::string head_for(Flow& f, const Req& r, bool with_length) {
    auto& p = pop_of(f);
    std::string extra = "X-Sim-Population: " + p.cfg.name + "\r\n";
    if (via_xff) extra += "X-Forwarded-For: " + address_text(f.addr) + "\r\n";
    const std::string cookies = keeps_cookies(f) ? jar(f).header() : std::string();
    HeadSpec s;
    s.method = r.method;
    s.path = r.path;
    s.authority = target.authority;
    s.kind = r.kind;
    s.referer = r.referer;
    s.user_activated = r.user_activated;
    s.content_type = r.ctype;
    if (with_length && (r.method == "POST" || !r.body.empty())) s.content_length = r.body.size();
    s.cookie = cookies;
    if (r.bearer && f.account < p.tokens.size()) s.bearer = p.tokens[f.account];
    s.default_browser = p.cfg.behaviour == Behaviour::Resident;
    s.extra = extra;
    return request_head(p.cfg.profile, p.cfg.tells, s);
  }

  void issue(Flow& f, const Req& r, bool submit) {
    auto& p = pop_of(f);
    f.in_submit = submit;
    if (!submit) f.step_req = r;
    f.cur_req = r;
    const bool per_conn = source_per_connection(p);
    if (f.fd >= 0 && !(f.reusable && (!per_conn || via_xff))) close_conn(f);
    if (f.fd < 0 || f.addr_len == 0 || (via_xff && per_conn)) pick_source(f);
    // Latency of a user's first request runs from the intended arrival: waiting for a
    // connection slot or for the loop counts against the target, not hidden.
    const Nanos now = now_ns();
    f.req_t0 = f.first_request ? started(f) : now;
    f.first_request = false;
    f.out = head_for(f, r, true) + "\r\n" + r.body;
    f.out_off = 0;
    f.awaiting = true;
    f.parser.reset(r.method == "HEAD");
    f.solving = false;
    f.deadline = now + p.cfg.request_timeout;
    arm(f, f.deadline);
    ++p.st.sent;
    if (f.fd >= 0) {
      f.reused = true;
      flush(f);
    } else {
      connect_flow(f);
    }
  }

  void flush(Flow& f) {
    while (f.out_off < f.out.size()) {
      auto n = ::send(f.fd, f.out.data() + f.out_off, f.out.size() - f.out_off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return conn_failed(f, "reset");
      }
      f.out_off += static_cast<std::size_t>(n);
    }
  }

  void conn_failed(Flow& f, const char* kind) {
    // A kept-alive connection the server closed before our request: one fresh retry.
    if (f.reused && !f.retried && !f.parser.started()) {
      f.retried = true;
      close_conn(f);
      --pop_of(f).st.sent;
      const Nanos t0 = f.req_t0;
      issue(f, Req(f.cur_req), f.in_submit);
      f.req_t0 = t0;
      return;
    }
    if (pop_of(f).cfg.behaviour == Behaviour::SlowClient) return slow_closed(f, nullptr);
    error(f, kind);
  }

  void on_event(std::uint64_t data, std::uint32_t events) {
    Flow* fp = flow_of(static_cast<std::uint32_t>(data), static_cast<std::uint32_t>(data >> 32));
    if (fp == nullptr || fp->fd < 0) return;
    Flow& f = *fp;
    const std::uint32_t gen = f.gen;
    if (!f.connected) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(f.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return conn_failed(f, err == ECONNREFUSED ? "refused" : "connect");
      if (!(events & (EPOLLOUT | EPOLLIN | EPOLLHUP))) return;
      f.connected = true;
      if (pop_of(f).cfg.behaviour == Behaviour::SlowClient) {
        slow_connected(f);
        if (f.gen != gen || f.fd < 0) return;
      }
    }
    if (events & EPOLLOUT) {
      flush(f);
      if (f.gen != gen || f.fd < 0) return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_some(f);
  }

  void read_some(Flow& f) {
    char buf[16384];
    const std::uint32_t gen = f.gen;
    while (f.gen == gen && f.fd >= 0) {
      auto n = ::recv(f.fd, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return conn_failed(f, "reset");
      }
      if (n == 0) {
        if (!f.awaiting) {  // idle keep-alive connection closed: fine
          close_conn(f);
          return;
        }
        auto s = f.parser.finish();
        if (s == ResponseParser::State::Complete) return complete(f);
        return conn_failed(f, f.parser.started() ? "truncated_response" : "closed");
      }
      if (!f.awaiting) continue;  // unsolicited bytes on an idle connection: ignored
      std::string_view in(buf, static_cast<std::size_t>(n));
      std::size_t used = 0;
      auto s = f.parser.feed(in, &used);
      if (s == ResponseParser::State::Error) {
        if (pop_of(f).cfg.behaviour == Behaviour::SlowClient) return slow_closed(f, nullptr);
        return error(f, "bad_response");
      }
      if (s == ResponseParser::State::Complete) {
        complete(f);
        return;
      }
    }
  }

  void complete(Flow& f) {
    f.awaiting = false;
    f.deadline = INT64_MAX;
    const Nanos now = now_ns();
    auto& p = pop_of(f);
    Response& r = f.parser.response();
    p.st.latency.record(now - f.req_t0);
    f.retried = false;
    if (keeps_cookies(f)) jar(f).update(r.cookies);
    f.reusable = r.keep_alive;
    if (!f.reusable) close_conn(f);
    if (p.cfg.behaviour == Behaviour::SlowClient) return slow_closed(f, &r);
    on_response(f, r, now);
  }

  // ---- behaviours ----

  void refuse(Flow& f, int status) {
    ++pop_of(f).st.refused[status];
    finish(f, false);
  }

  // After a challenge was passed, the request it stood in front of again: a GET as the browser
  // follows the solver's 303 back to it (no user activation), anything else as it was.
  static Req again(const Req& r) {
    Req out = r;
    if (r.method == "GET" && r.kind != Kind::Fetch) {
      out.kind = Kind::Redirect;
      out.user_activated = false;
      out.referer = r.path;
    }
    return out;
  }

  void on_response(Flow& f, const Response& r, Nanos now) {
    auto& p = pop_of(f);
    Challenge ch;
    double retry = 0;
    if (parse_challenge(r, &ch)) {
      ++p.st.challenged;
      if (!p.cfg.solve_challenges) return refuse(f, r.status);
      if (++f.rounds > p.cfg.max_rounds) return error(f, "too_many_rounds");
      if (now - started(f) > p.cfg.give_up_after) return error(f, "gave_up");
      if (ch.wait) {
        const Nanos wait = std::max<Nanos>(ch.wait_ms, 0) * kMs;
        if (now + wait - started(f) > p.cfg.give_up_after) return error(f, "gave_up");
        f.challenge = std::move(ch);
        f.action = Action::FollowWait;
        f.wake = now + wait;
        arm(f, f.wake);
        return;
      }
      if (ch.bits > p.cfg.max_bits) return error(f, "challenge_too_hard");
      return start_solve(f, std::move(ch), now);
    }
    if (parse_queued(r, &retry)) {
      ++p.st.queued;
      if (!p.cfg.wait_in_queue) return refuse(f, r.status);
      if (++f.rounds > p.cfg.max_rounds) return error(f, "too_many_rounds");
      Nanos wait = static_cast<Nanos>(std::max(retry, 0.2) * 1e9);
      wait = std::min(wait, p.cfg.max_retry_wait);
      if (now + wait - started(f) > p.cfg.give_up_after) return error(f, "gave_up");
      f.action = Action::Resend;
      f.wake = now + wait;
      arm(f, f.wake);
      return;
    }
    if (f.in_submit) {
      f.in_submit = false;
      if (!is_2xx3xx(r.status)) return refuse(f, r.status);
      ++p.st.solved;
      return issue(f, again(f.step_req), false);
    }
    switch (p.cfg.behaviour) {
      case Behaviour::Resident:
        if (f.step == 0) {
          if (r.status != 303 && r.status != 200) return refuse(f, r.status);
          ++p.st.succeeded;
          ++p.st.logged_in;
          f.step = 1;
          f.pages_left = p.cfg.pages;
          if (f.pages_left == 0) break;
          // The browser follows the login's redirect to the account page.
          return issue(f,
                       {"GET", "/account", "", "", r.status == 303 ? Kind::Redirect : Kind::Link,
                        "/login", true, false},
                       false);
        }
        if (r.status != 200) return refuse(f, r.status);
        ++p.st.succeeded;
        if (--f.pages_left == 0) break;
        return issue(f, {"GET", "/account", "", "", Kind::Link, "/account", true, false}, false);
      case Behaviour::ApiResident:
        if (f.step == 0) {
          auto token = parse_token(r);
          if (!token) return refuse(f, r.status);
          p.tokens[f.account] = *token;
          ++p.st.succeeded;
          ++p.st.logged_in;
          f.step = 1;
          f.pages_left = p.cfg.pages;
          if (f.pages_left == 0) break;
          return issue(f, api_call(f), false);
        }
        if (r.status == 401 && !f.relogged) {
          // The token went stale (expired, revoked): the app logs in again, once.
          f.relogged = true;
          f.step = 0;
          p.tokens[f.account].clear();
          return issue(f, api_login_req(p.accounts[f.account]), false);
        }
        if (r.status != 200) return refuse(f, r.status);
        ++p.st.succeeded;
        ++p.st.api_calls;
        if (--f.pages_left == 0) break;
        return issue(f, api_call(f), false);
      case Behaviour::Newcomer:
      case Behaviour::SignupFlood:
        if (f.step == 0) {
          // The sign-up page, viewed: its cookies are kept, then the form is filled in.
          if (r.status != 200) return refuse(f, r.status);
          ++p.st.succeeded;
          f.step = 1;
          return fill_form(f, now);
        }
        if (r.status != 201 && r.status != 303) return refuse(f, r.status);
        ++p.st.succeeded;
        ++p.st.registered;
        p.st.to_goal.record(now - started(f));
        if (now - started(f) <= kRegisterBar) ++p.st.registered_60s;
        return finish(f, true);
      case Behaviour::CredentialStuffing:
        if (r.status != 200 && r.status != 303) return refuse(f, r.status);
        ++p.st.succeeded;
        ++p.st.logged_in;
        return finish(f, true);
      case Behaviour::SlowClient:
        return slow_closed(f, &r);
    }
    // A visit's last page.
    p.st.to_goal.record(now - f.arrival);
    finish(f, true);
  }

  static Req login_req(const Account& a) {
    return {"POST",
            "/login",
            "username=" + url_encode(a.username) + "&password=" + url_encode(a.password),
            "application/x-www-form-urlencoded",
            Kind::FormPost,
            "/login",
            true,
            false};
  }

  static Req api_login_req(const Account& a) {
    return {"POST",
            "/api/login",
            json{{"username", a.username}, {"password", a.password}}.dump(),
            "application/json",
            Kind::Fetch,
            "/",
            true,
            false};
  }

  // An API resident's calls alternate between its profile and its items.
  Req api_call(const Flow& f) {
    return {"GET", f.pages_left % 2 == 0 ? "/api/me" : "/api/items", "", "", Kind::Fetch, "/", true,
            true};
  }

  Req signup_req(Flow& f) {
    return {"POST",
            "/signup",
            "username=" + url_encode(f.username) + "&email=" + url_encode(f.email) +
                "&password=" + url_encode(f.password),
            "application/x-www-form-urlencoded",
            Kind::FormPost,
            "/signup",
            true,
            false};
  }

  // The person fills the form in (form_fill), then posts it. Their time is their own: it is
  // neither the target's latency nor counted against their patience.
  void fill_form(Flow& f, Nanos now) {
    const auto& c = pop_of(f).cfg;
    Nanos fill = c.form_fill_min;
    if (c.form_fill_max > c.form_fill_min) {
      fill += static_cast<Nanos>(std::uniform_real_distribution<double>(
          0.0, static_cast<double>(c.form_fill_max - c.form_fill_min))(rng));
    }
    if (fill <= 0) return issue(f, signup_req(f), false);
    f.own_time += fill;
    f.action = Action::PostForm;
    f.wake = now + fill;
    arm(f, f.wake);
  }

  void start_solve(Flow& f, Challenge ch, Nanos now) {
    auto& p = pop_of(f);
    f.challenge = std::move(ch);
    f.solve_started = now;
    // Budget: what the user's speed allows before giving up, and 64x the expected work.
    const double expected = std::ldexp(1.0, static_cast<int>(f.challenge.bits));
    const double by_time = p.cfg.hashes_per_second *
                           static_cast<double>(p.cfg.give_up_after - (now - started(f))) / 1e9;
    const auto budget = static_cast<std::uint64_t>(std::max(1.0, std::min(expected * 64, by_time)));
    f.solve_cancel = std::make_shared<std::atomic<bool>>(false);
    bool full;
    {
      std::lock_guard lock(mu);
      full = jobs.size() >= kMaxSolverJobs;
      if (!full) {
        jobs.push_back({slot_of(f), f.gen, f.pop, f.challenge.token, f.challenge.bits,
                        p.cfg.hashes_per_second, now, 0, budget, f.solve_cancel});
      }
    }
    if (full) return error(f, "solver_busy");
    cv.notify_one();
    // The user's patience runs while the work is done (however slowly the simulator does it).
    f.solving = true;
    f.deadline = started(f) + p.cfg.give_up_after;
    arm(f, f.deadline);
  }

  void on_solved() {
    std::uint64_t v;
    [[maybe_unused]] auto r = ::read(solver_fd, &v, sizeof v);
    std::vector<SolveResult> done;
    {
      std::lock_guard lock(mu);
      done.swap(results);
    }
    const Nanos now = now_ns();
    for (auto& d : done) {
      Flow* f = flow_of(d.slot, d.gen);
      if (f == nullptr) continue;
      f->solve_cancel.reset();
      if (!d.solution) {
        error(*f, "unsolved");
        continue;
      }
      f->solution = *d.solution;
      ++pop_of(*f).st.solutions;
      // Pacing: a client at hashes_per_second would only be done now.
      auto& p = pop_of(*f);
      const Nanos paced =
          f->solve_started + static_cast<Nanos>(static_cast<double>(d.solution->hashes) /
                                                p.cfg.hashes_per_second * 1e9);
      if (now - paced > kLateSolve) {
        ++p.st.solves_late;
        p.st.solve_lag.record(now - paced);
      }
      f->action = Action::Submit;
      f->wake = std::max(paced, now);
      arm(*f, f->wake);
    }
  }

  void submit(Flow& f) {
    const std::string ret = f.step_req.path.empty() ? "/" : f.step_req.path;
    // The challenge page's script submits its form (form.submit(): no user activation).
    Req r{"POST",
          f.challenge.submit,
          "token=" + url_encode(f.challenge.token) + "&nonce=" + std::to_string(f.solution.nonce) +
              "&return=" + url_encode(ret),
          "application/x-www-form-urlencoded",
          Kind::ScriptSubmit,
          ret,
          false,
          false};
    issue(f, r, true);
  }

  // ---- slow clients ----

  void slow_connected(Flow& f) {
    auto& p = pop_of(f);
    Req r{"POST",         "/signup", "",   "application/x-www-form-urlencoded",
          Kind::FormPost, "/signup", true, false};
    // The response (if any) is read like any other; EOF or a reset ends the user.
    f.awaiting = true;
    f.parser.reset();
    f.req_t0 = f.conn_start;
    if (p.cfg.slow_mode == SlowMode::Head) {
      f.slow = head_for(f, r, false);
      for (int i = 0; f.slow.size() < kSlowHeadCap; ++i) {
        f.slow += "X-Pad-" + std::to_string(i) + ": x\r\n";
      }
      f.trickled = 0;
    } else {
      r.body.assign(p.cfg.body_bytes, 'a');
      const auto head = head_for(f, r, true) + "\r\n";
      f.slow = head + r.body;
      auto n = ::send(f.fd, head.data(), head.size(), MSG_NOSIGNAL);
      if (n < 0) return slow_closed(f, nullptr);
      f.trickled = static_cast<std::size_t>(n);  // the head goes at once, the body byte by byte
    }
    f.action = Action::Trickle;
    f.wake = now_ns() + p.cfg.trickle_interval;
    arm(f, f.wake);
  }

  void trickle(Flow& f) {
    if (f.fd < 0 || !f.connected) return;
    if (f.trickled < f.slow.size()) {
      auto n = ::send(f.fd, f.slow.data() + f.trickled, 1, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) return slow_closed(f, nullptr);
      if (n == 1) ++f.trickled;
    }
    f.action = Action::Trickle;
    f.wake = now_ns() + pop_of(f).cfg.trickle_interval;
    arm(f, f.wake);
  }

  // The target answered or closed a slow client: how long it held us is the measure.
  void slow_closed(Flow& f, const Response* r) {
    auto& p = pop_of(f);
    if (r == nullptr) p.st.latency.record(now_ns() - f.conn_start);
    if (r != nullptr) {
      ++p.st.refused[r->status];
    } else {
      ++p.st.errors["closed_by_target"];
    }
    finish(f, false);
  }

  // ---- users ----

  void start_flow(std::uint32_t pi, Nanos intended) {
    auto& p = pops[pi];
    std::uint32_t slot;
    if (!free_slots.empty()) {
      slot = free_slots.back();
      free_slots.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(flows.size());
      flows.emplace_back();
    }
    Flow& f = flows[slot];
    const std::uint32_t gen = f.gen;
    f = Flow{};
    f.slot = slot;
    f.gen = gen;
    f.live = true;
    f.pop = pi;
    f.arrival = intended;
    ++p.in_flight;
    ++p.st.arrivals;
    f.source = p.next_source++;
    switch (p.cfg.behaviour) {
      case Behaviour::Resident:
      case Behaviour::ApiResident: {
        f.account = p.next_account++ % p.accounts.size();
        f.source = f.account;  // a person keeps their address (and device cookie)
        if (p.cfg.roam == Roam::Visit) move(p, f.account);
        if (p.cfg.behaviour == Behaviour::Resident) {
          issue(f, login_req(p.accounts[f.account]), false);
        } else if (p.tokens[f.account].empty()) {
          issue(f, api_login_req(p.accounts[f.account]), false);
        } else {
          f.step = 1;
          f.pages_left = std::max(1u, p.cfg.pages);
          issue(f, api_call(f), false);
        }
        break;
      }
      case Behaviour::Newcomer:
      case Behaviour::SignupFlood:
        f.username = (p.cfg.behaviour == Behaviour::Newcomer ? "n" : "b") + rand_hex(14);
        f.email = make_email(p.cfg.emails, f.username, names);
        f.password = "pw-" + rand_hex(16);
        if (p.cfg.page_view) {
          issue(f, {"GET", "/signup", "", "", Kind::Navigate, "", true, false}, false);
        } else {
          f.step = 1;
          fill_form(f, now_ns());
        }
        break;
      case Behaviour::CredentialStuffing: {
        const auto& a = stuffing_list[p.next_account++ % stuffing_list.size()];
        issue(f, p.cfg.api_login ? api_login_req(a) : login_req(a), false);
        break;
      }
      case Behaviour::SlowClient:
        ++p.st.sent;
        pick_source(f);
        connect_flow(f);
        break;
    }
  }

  void on_timer(Flow& f, Nanos now) {
    if (f.deadline <= now) {
      if (pop_of(f).cfg.behaviour != Behaviour::SlowClient) {
        if (f.solving && f.action != Action::Submit) ++pop_of(f).st.solves_unfinished;
        return error(f, f.solving ? "gave_up" : "timeout");
      }
    }
    if (f.wake <= now) {
      auto a = f.action;
      f.action = Action::None;
      f.wake = INT64_MAX;
      switch (a) {
        case Action::Resend:
          return issue(f, Req(f.step_req), false);
        case Action::Submit:
          return submit(f);
        case Action::Trickle:
          return trickle(f);
        case Action::PostForm:
          return issue(f, signup_req(f), false);
        case Action::FollowWait:
          // The wait page's refresh: back to the challenge URL, which clears the way.
          return issue(f,
                       {"GET", f.challenge.url, "", "", Kind::Link,
                        f.step_req.path.empty() ? "/" : f.step_req.path, false, false},
                       true);
        case Action::None:
          return;
      }
    }
  }

  void build_stuffing_list() {
    std::vector<Account> known;
    for (auto& p : pops) known.insert(known.end(), p.accounts.begin(), p.accounts.end());
    std::uint32_t size = 0;
    double known_ratio = 0, valid = 0;
    for (auto& p : pops) {
      if (p.cfg.behaviour == Behaviour::CredentialStuffing) {
        size = std::max(size, p.cfg.list_size);
        known_ratio = p.cfg.known_user_ratio;
        valid = p.cfg.valid_ratio;
      }
    }
    std::uniform_real_distribution<double> u(0, 1);
    for (std::uint32_t i = 0; i < size; ++i) {
      const double x = u(rng);
      if (!known.empty() && x < valid) {
        stuffing_list.push_back(known[rng() % known.size()]);
      } else if (!known.empty() && x < valid + known_ratio) {
        stuffing_list.push_back({known[rng() % known.size()].username, "leaked-" + rand_hex(10)});
      } else {
        stuffing_list.push_back({"user" + rand_hex(8), "leaked-" + rand_hex(10)});
      }
    }
  }

  void progress(Nanos now) {
    std::string line = "[" + std::to_string((now - t0) / kSec) + "s]";
    for (auto& p : pops) {
      const auto sent = p.st.sent - p.prev_sent, ok = p.st.succeeded - p.prev_ok;
      p.prev_sent = p.st.sent;
      p.prev_ok = p.st.succeeded;
      char buf[160];
      std::snprintf(buf, sizeof buf, " %s %llu/s ok %llu/s fly %u p99 %.0fms |", p.cfg.name.c_str(),
                    static_cast<unsigned long long>(sent), static_cast<unsigned long long>(ok),
                    p.in_flight, static_cast<double>(p.st.latency.percentile(0.99)) / 1e6);
      line += buf;
    }
    line.resize(line.size() - 2);  // the last " |"
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  bool run(std::string* error) {
    if (target.v6 && !via_xff) {
      *error = "an IPv6 target cannot be reached from bound 127.x sources; use --via-xff";
      return false;
    }
    // Raise the descriptor limit as far as allowed: every user holds a socket.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < sc.max_connections + 64) {
      sc.max_connections = static_cast<std::uint32_t>(rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64);
      if (!quiet) {
        std::fprintf(stderr, "sim: max_connections lowered to %u (open file limit)\n",
                     sc.max_connections);
      }
    }
    for (auto& p : pops) {
      if (is_resident(p.cfg.behaviour) && p.accounts.empty()) {
        *error = "population '" + p.cfg.name + "' has no accounts";
        return false;
      }
      p.tokens.resize(p.accounts.size());
      p.roam.resize(p.accounts.size());
      for (std::size_t a = 0; a < p.roam.size(); ++a) {
        p.roam[a] = {0, static_cast<std::uint32_t>(a % 254)};  // at home (home_index)
      }
    }
    build_stuffing_list();
    ep = epoll_create1(EPOLL_CLOEXEC);
    solver_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep < 0 || solver_fd < 0) {
      *error = std::string("epoll/eventfd: ") + std::strerror(errno);
      return false;
    }
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.u64 = kSolverEvent;
    epoll_ctl(ep, EPOLL_CTL_ADD, solver_fd, &sev);
    hashes = std::make_unique<std::atomic<std::uint64_t>[]>(pops.size());
    solver = std::thread([this] { solver_main(); });

    t0 = now_ns();
    end_arrivals = t0 + sc.duration;
    hard_end = end_arrivals + sc.drain;
    for (std::size_t i = 0; i < pops.size(); ++i) {
      auto& p = pops[i];
      const Nanos start = t0 + p.cfg.start_after;
      if (p.cfg.arrival_rate > 0) {
        p.arrivals = std::make_unique<ArrivalQueue>(p.cfg.arrival_rate, start, end_arrivals,
                                                    sc.seed * 7919 + i, kMaxWaitingArrivals);
      }
    }
    std::vector<bool> closed_started(pops.size(), false);
    Nanos next_progress = t0 + kSec;
    std::vector<epoll_event> evs(1024);
    while (true) {
      Nanos now = now_ns();
      if (!stopping && now >= end_arrivals) {
        stopping = true;
        // Slow clients and closed-loop users stop with the arrivals; open-loop users drain.
        for (auto& f : flows) {
          if (f.live && pops[f.pop].cfg.connections > 0) abandon(f);
        }
      }
      if (now >= hard_end) break;
      bool busy = false;
      for (std::size_t i = 0; i < pops.size(); ++i) {
        auto& p = pops[i];
        if (p.arrivals) {
          p.arrivals->advance(now);
          while (p.arrivals->has_waiting() && p.in_flight < p.cfg.max_in_flight) {
            start_flow(static_cast<std::uint32_t>(i), p.arrivals->take());
          }
          busy = busy || p.in_flight > 0 || p.arrivals->next_due() != INT64_MAX;
        } else if (!stopping) {
          if (!closed_started[i] && now >= t0 + p.cfg.start_after) {
            closed_started[i] = true;
            p.restarts = p.cfg.connections;
          }
          const std::uint32_t n = std::exchange(p.restarts, 0);
          for (std::uint32_t k = 0; k < n; ++k) start_flow(static_cast<std::uint32_t>(i), now);
          busy = true;
        }
      }
      if (stopping && !busy) break;
      pump_slot_waiters();
      // Timers due.
      now = now_ns();
      while (!timers.empty() && timers.top().when <= now) {
        Timer t = timers.top();
        timers.pop();
        if (Flow* f = flow_of(t.slot, t.gen)) on_timer(*f, now);
      }
      if (!quiet && now >= next_progress) {
        progress(now);
        next_progress += kSec;
      }
      // Sleep until the next timer, arrival or progress line (1 ms resolution).
      Nanos next = std::min({next_progress, hard_end, stopping ? hard_end : end_arrivals});
      if (!timers.empty()) next = std::min(next, timers.top().when);
      for (auto& p : pops) {
        if (p.arrivals && p.in_flight < p.cfg.max_in_flight) {
          next = std::min(next, p.arrivals->next_due());
        }
      }
      const Nanos wait = next - now_ns();
      const int ms =
          wait <= 0 ? 0 : static_cast<int>(std::min<Nanos>((wait + kMs - 1) / kMs, 1000));
      const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), ms);
      for (int i = 0; i < n; ++i) {
        if (evs[static_cast<std::size_t>(i)].data.u64 == kSolverEvent) {
          on_solved();
        } else {
          on_event(evs[static_cast<std::size_t>(i)].data.u64,
                   evs[static_cast<std::size_t>(i)].events);
        }
      }
    }
    ended = now_ns();
    stopping = true;
    for (auto& f : flows) {
      if (f.live) abandon(f);
    }
    // The solver stops before its counts are read (a job may be in its last slice).
    {
      std::lock_guard lock(mu);
      solver_stop = true;
    }
    cv.notify_all();
    if (solver.joinable()) solver.join();
    for (std::size_t i = 0; i < pops.size(); ++i) {
      auto& p = pops[i];
      if (p.arrivals) {
        // Arrivals still waiting for a place under max_in_flight never started: unfinished
        // users whose first request has waited since its intended start.
        const Nanos now = now_ns();
        while (p.arrivals->has_waiting()) {
          p.st.latency.record(now - p.arrivals->take());
          ++p.st.arrivals;
          ++p.st.users_unfinished;
        }
        p.st.dropped = p.arrivals->dropped();
      }
      p.st.pow_hashes = hashes[i].load();
      final_stats.push_back(p.st);
    }
    return true;
  }
};

Engine::Engine(Scenario scenario, Target target, bool via_xff, bool quiet)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.rng.seed(scenario.seed);
  for (const auto& p : scenario.populations) {
    Pop pop;
    pop.cfg = p;
    m.pops.push_back(std::move(pop));
  }
  m.sc = std::move(scenario);
  m.target = target;
  m.via_xff = via_xff;
  m.quiet = quiet;
}

Engine::~Engine() = default;

void Engine::set_accounts(std::size_t index, std::vector<Account> accounts,
                          std::vector<CookieJar> jars) {
  auto& p = impl_->pops.at(index);
  jars.resize(accounts.size());
  p.jars = std::move(jars);
  p.accounts = std::move(accounts);
}

void Engine::set_tokens(std::size_t index, std::vector<std::string> tokens) {
  impl_->pops.at(index).tokens = std::move(tokens);
}

bool Engine::run(std::string* error) {
  return impl_->run(error);
}

const std::vector<PopulationStats>& Engine::stats() const {
  return impl_->final_stats;
}

double Engine::elapsed_s() const {
  return static_cast<double>(impl_->ended - impl_->t0) / 1e9;
}

}  // namespace gh::sim
