#include "fleet/fleet.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "fleet/cluster.h"
#include "fleet/redis.h"
#include "net/event_loop.h"
#include "net/timer.h"

namespace gh::fleet {
namespace {

constexpr std::size_t kMaxRoutesSeen = 4096;
constexpr std::int64_t kTickMs = net::TimerWheel::kTickMs;

std::int64_t wall_s() {
  return core::wall_ms() / 1000;
}

// The key a command is routed by in a Cluster: EVAL's first key, else the first argument.
const std::string& routing_key(const std::vector<std::string>& argv) {
  static const std::string kNone;
  if ((argv[0] == "EVAL" || argv[0] == "EVALSHA") && argv.size() > 3) return argv[3];
  return argv.size() > 1 ? argv[1] : kNone;
}

ClusterClient::Mode client_mode(policy::ClusterMode m) {
  switch (m) {
    case policy::ClusterMode::Standalone:
      return ClusterClient::Mode::Standalone;
    case policy::ClusterMode::Cluster:
      return ClusterClient::Mode::Cluster;
    case policy::ClusterMode::Auto:
      break;
  }
  return ClusterClient::Mode::Auto;
}

}  // namespace

// Wakes the fleet's loop at the first ask's deadline.
class Fleet::AskTimer final : public net::Handler {
 public:
  explicit AskTimer(Fleet& f) : fleet_(f) {}
  void on_events(std::uint32_t) override {
    std::uint64_t expirations = 0;
    while (::read(fleet_.ask_timer_fd_, &expirations, sizeof expirations) > 0) {
    }
    fleet_.expire_asks();
  }

 private:
  Fleet& fleet_;
};

Fleet::Fleet(policy::ClusterConfig config, FleetSinks sinks)
    : config_(std::move(config)),
      sinks_(std::move(sinks)),
      heartbeat_(config_.node, config_.prefix + "nodes"),
      breaker_(config_.breaker_failures, config_.breaker_open_for) {}

Fleet::~Fleet() {
  stop();
}

bool Fleet::start(std::string* error) {
  if (config_.seeds.empty()) {
    if (error) *error = "cluster: no seeds";
    return false;
  }
  user_ = config_.user;
  if (!config_.password_file.empty()) {
    std::ifstream in(config_.password_file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      if (error) *error = "cluster.password_file " + config_.password_file + ": cannot read it";
      return false;
    }
    password_ = ss.str();
    while (!password_.empty() && (password_.back() == '\n' || password_.back() == '\r')) {
      password_.pop_back();
    }
    if (password_.empty()) {
      if (error) *error = "cluster.password_file " + config_.password_file + ": empty";
      return false;
    }
  }
  stats_.down_since_ms.store(core::wall_ms());
  loop_ = std::make_unique<net::EventLoop>();
  thread_ = std::thread([this] { run(); });
  return true;
}

void Fleet::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  loop_->wake();
  thread_.join();
}

void Fleet::run() {
  ClusterClient::Options o;
  for (const policy::ClusterSeed& seed : config_.seeds) o.seeds.push_back({seed.host, seed.port});
  o.mode = client_mode(config_.mode);
  o.connect_timeout_ms = config_.connect_timeout;
  o.command_timeout_ms = config_.command_timeout;
  // Room for a redirection or two and a retry after a lost master, and no more: a command that
  // cannot be placed by then takes the node fail-static, as a timeout does.
  o.deadline_ms = std::max<std::int64_t>(100, 4 * config_.command_timeout);
  o.max_commands = std::size_t{2} * config_.max_pending + 1024;
  o.user = user_;
  o.password = password_;
  client_ =
      std::make_unique<ClusterClient>(*loop_, o, [this](const std::string& w) { on_down(w); });
  net::Timer timer;
  timer.owner = this;
  timer.callback = [](void* owner) {
    auto* self = static_cast<Fleet*>(owner);
    self->tick();
  };
  ask_timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  ask_timer_ = std::make_unique<AskTimer>(*this);
  if (ask_timer_fd_ >= 0) loop_->add(ask_timer_fd_, ask_timer_.get(), EPOLLIN | EPOLLET);
  loop_->set_wake_hook([this] {
    send_asks();
    if (up_) flush();
    if (limits_ && limits_->is_urgent()) limits_->tick(loop_->now_ms(), up_);
  });
  tick();
  while (!stop_.load()) {
    loop_->timers().arm(timer, loop_->now_ms() + kTickMs);
    loop_->run([this, &timer] { return !stop_.load() && timer.armed; });
  }
  loop_->timers().cancel(timer);
  up_ = connecting_ = false;  // the closes below report nothing
  client_->close();
  if (sub_) sub_->close();
  loop_->run_deferred();
  // Every ask is answered once: those not sent, and those whose reply will never come.
  send_asks();
  while (!asked_.empty()) finish_ask(asked_.begin()->first, nullptr, false);
  ask_deadlines_.clear();
  if (ask_timer_fd_ >= 0) {
    loop_->remove(ask_timer_fd_);
    ::close(ask_timer_fd_);
    ask_timer_fd_ = -1;
  }
  client_.reset();
  sub_.reset();
  stats_.up.store(false);
}

bool Fleet::ask(std::string key, std::vector<std::string> argv, Answer done,
                std::string_view script) {
  if (!can_ask() || !loop_) return false;
  if (asking_.fetch_add(1, std::memory_order_relaxed) >= kMaxAsks) {
    asking_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  Ask a;
  a.id = ask_ids_.fetch_add(1, std::memory_order_relaxed) + 1;
  a.key = std::move(key);
  a.argv = std::move(argv);
  a.script = script;
  a.done = std::move(done);
  a.deadline_us = core::monotonic_ns() / 1000 + config_.request_timeout * 1000;
  {
    std::lock_guard lock(ask_mu_);
    asks_.push_back(std::move(a));
  }
  loop_->wake();
  return true;
}

void Fleet::send_asks() {
  std::vector<Ask> batch;
  {
    std::lock_guard lock(ask_mu_);
    batch.swap(asks_);
  }
  if (batch.empty()) return;
  const std::int64_t now = core::monotonic_ns() / 1000;
  const bool was_empty = ask_deadlines_.empty();
  for (Ask& a : batch) {
    asked_.emplace(a.id, std::move(a.done));
    if (!up_ || stop_.load()) {
      finish_ask(a.id, nullptr, false);
      continue;
    }
    if (now >= a.deadline_us) {
      finish_ask(a.id, nullptr, true);
      continue;
    }
    ask_deadlines_.emplace_back(a.deadline_us, a.id);
    send_ask(a.id, a.key, std::move(a.argv), a.script);
  }
  if (was_empty) arm_ask_timer();
}

void Fleet::send_ask(std::uint64_t id, const std::string& key, std::vector<std::string> argv,
                     std::string_view script) {
  std::vector<std::string> again;
  if (!script.empty()) {
    again = argv;
    again[0] = "EVAL";
    again[1] = std::string(script);
  }
  const bool sent = client_->command(
      key, std::move(argv), [this, id, key, again = std::move(again)](const Reply* r) mutable {
        if (r != nullptr && !again.empty() && r->type == Reply::Type::Error &&
            r->str.starts_with("NOSCRIPT") && asked_.count(id) != 0) {
          // A restarted or failed-over Redis forgot the script: EVAL loads it again.
          if (!client_->command(key, std::move(again),
                                [this, id](const Reply* r2) { finish_ask(id, r2, false); })) {
            finish_ask(id, nullptr, false);
          }
          return;
        }
        finish_ask(id, r, false);
      });
  if (!sent) finish_ask(id, nullptr, false);
}

void Fleet::finish_ask(std::uint64_t id, const Reply* r, bool timed_out) {
  auto it = asked_.find(id);
  if (it == asked_.end()) return;  // answered already (its deadline came first)
  Answer done = std::move(it->second);
  asked_.erase(it);
  asking_.fetch_sub(1, std::memory_order_relaxed);
  if (done) done(r, timed_out);
}

void Fleet::expire_asks() {
  const std::int64_t now = core::monotonic_ns() / 1000;
  while (!ask_deadlines_.empty() && ask_deadlines_.front().first <= now) {
    const std::uint64_t id = ask_deadlines_.front().second;
    ask_deadlines_.pop_front();
    finish_ask(id, nullptr, true);
  }
  // Answered ones leave their deadline behind: dropped once at the front.
  while (!ask_deadlines_.empty() && asked_.count(ask_deadlines_.front().second) == 0) {
    ask_deadlines_.pop_front();
  }
  arm_ask_timer();
}

void Fleet::arm_ask_timer() {
  if (ask_timer_fd_ < 0) return;
  itimerspec t{};
  if (!ask_deadlines_.empty()) {
    const std::int64_t at = std::max<std::int64_t>(1, ask_deadlines_.front().first);
    t.it_value.tv_sec = at / 1'000'000;
    t.it_value.tv_nsec = (at % 1'000'000) * 1000;
  }
  ::timerfd_settime(ask_timer_fd_, TFD_TIMER_ABSTIME, &t, nullptr);
}

void Fleet::tick() {
  const std::int64_t now = loop_->now_ms();
  client_->check(now);
  if (sub_) sub_->check(now);
  const ClusterClient::Stats& cs = client_->stats();
  stats_.moved.store(cs.moved, std::memory_order_relaxed);
  stats_.asked.store(cs.asked, std::memory_order_relaxed);
  stats_.map_refreshes.store(cs.refreshes, std::memory_order_relaxed);
  if (!up_ && !connecting_ && breaker_.allow(now)) try_connect();
  if (up_) {
    say_up(announce_.tick(now));
    flush();
    if (now >= next_resync_ms_) resync();
    heartbeat_.tick(core::wall_ms(), [this](std::vector<std::string> argv, auto reply) {
      // Every heartbeat command (HSET, HGETALL, HDEL) names the nodes hash as its key.
      const std::string key = argv.size() > 1 ? argv[1] : std::string();
      return client_->command(key, std::move(argv),
                              [this, reply = std::move(reply)](const Reply* r) {
                                if (r == nullptr) {
                                  on_down("no reply to a heartbeat");
                                  return;
                                }
                                reply(*r);
                              });
    });
  }
  if (limits_) limits_->tick(now, up_);
  stats_.breaker.store(static_cast<std::uint8_t>(breaker_.state(now)));
  std::lock_guard lock(mu_);
  stats_.pending.store(outbox_.size() + inflight_.size());
}

void Fleet::share_limits(LimitsSync::Hooks hooks) {
  // Every call goes through the cluster client, routed by the slot of `key` (one {gs:NN} shard
  // per call, so a call never spans slots).
  limits_ = std::make_unique<LimitsSync>(
      config_, std::move(hooks),
      [this](const std::string& key, const std::vector<std::string>& argv,
             LimitsSync::Callback cb) {
        return up_ && client_ != nullptr && client_->command(key, argv, std::move(cb));
      });
}

void Fleet::limits_urgent() {
  if (limits_ == nullptr) return;
  limits_->urgent();
  if (loop_) loop_->wake();
}

void Fleet::auth(RedisConnection& c, std::function<void(bool)> then) {
  std::vector<std::string> argv;
  if (password_.empty()) {
    argv = {"PING"};
  } else if (user_.empty()) {
    argv = {"AUTH", password_};
  } else {
    argv = {"AUTH", user_, password_};
  }
  c.command(argv, [this, then = std::move(then)](const Reply* r) {
    if (r == nullptr) {
      on_down("no answer to " + std::string(password_.empty() ? "PING" : "AUTH"));
      return;
    }
    if (r->type == Reply::Type::Error) {
      on_down("refused: " + r->str.substr(0, 200));
      return;
    }
    then(true);
  });
}

void Fleet::try_connect() {
  // The old subscriber goes first, while its last callbacks can change nothing.
  sub_.reset();
  connecting_ = true;
  cmd_ready_ = sub_ready_ = false;
  stats_.connects.fetch_add(1, std::memory_order_relaxed);
  client_->start([this](bool ok, const std::string& why) {
    if (!ok) {
      on_down(why);
      return;
    }
    stats_.cluster.store(client_->is_cluster(), std::memory_order_relaxed);
    cmd_ready_ = true;
    // PUBLISH reaches every node of a Cluster: any node, the one that answered, will do.
    connect_subscriber(client_->node().host, client_->node().port);
  });
}

void Fleet::connect_subscriber(const std::string& host, std::uint16_t port) {
  RedisConnection::Options o;
  o.host = host;
  o.port = port;
  o.connect_timeout_ms = config_.connect_timeout;
  o.command_timeout_ms = config_.command_timeout;
  sub_ = std::make_unique<RedisConnection>(*loop_, o, [this](const std::string& w) { on_down(w); });
  std::string error;
  if (!sub_->connect(&error)) {
    on_down(error);
    return;
  }
  auth(*sub_, [this](bool) {
    // One handler for both channels: shared limits' exact figures, and everything else.
    auto on_msg = [this](std::string_view channel, std::string_view payload) {
      if (limits_ && channel == limits_->channel()) {
        limits_->on_published(payload);
      } else {
        on_message(payload);
      }
    };
    if (limits_) sub_->subscribe(limits_->channel(), on_msg, [](const Reply*) {});
    sub_->subscribe(key("events"), on_msg, [this](const Reply* r) {
      if (r == nullptr || r->type == Reply::Type::Error) {
        on_down("SUBSCRIBE refused");
        return;
      }
      sub_ready_ = true;
      if (cmd_ready_) became_up();
    });
  });
}

void Fleet::on_down(const std::string& why) {
  if (!up_ && !connecting_) return;  // already counted (a close calls back every command)
  up_ = connecting_ = false;
  heartbeat_.reset();
  cmd_ready_ = sub_ready_ = false;
  const std::int64_t now = loop_->now_ms();
  const std::uint64_t opens = breaker_.opens();
  breaker_.failure(now);
  if (breaker_.opens() != opens) stats_.breaker_opens.fetch_add(1, std::memory_order_relaxed);
  stats_.failures.fetch_add(1, std::memory_order_relaxed);
  client_->rotate();  // the next attempt asks the next node
  {
    // Written but not confirmed: written again when Redis is back (writes are idempotent).
    std::lock_guard lock(mu_);
    while (!inflight_.empty()) {
      outbox_.push_front(std::move(inflight_.back()));
      inflight_.pop_back();
    }
    while (outbox_.size() > config_.max_pending) {
      outbox_.pop_front();
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Closed later, off whichever hiredis callback brought us here.
  loop_->defer([this] {
    if (up_ || connecting_) return;
    client_->close();
    if (sub_) sub_->close();
  });
  stats_.up.store(false);
  if (announce_.lost(now).now) {
    stats_.down_since_ms.store(core::wall_ms());
    if (sinks_.state) sinks_.state(false, why);
  }
}

void Fleet::say_up(const Announcer::Say& say) {
  if (!say.now) return;
  stats_.down_since_ms.store(0);
  if (!sinks_.state) return;
  std::string what = std::string("connected to ") +
                     (client_->is_cluster() ? "Redis Cluster through " : "Redis at ") +
                     client_->node().text();
  if (say.flaps != 0) {
    what += "; held after " + std::to_string(say.flaps) + " reconnect" +
            (say.flaps == 1 ? "" : "s") + " that failed again";
  }
  sinks_.state(true, what);
}

void Fleet::became_up() {
  up_ = true;
  connecting_ = false;
  breaker_.success();
  stats_.up.store(true);
  say_up(announce_.reached(loop_->now_ms()));
  flush();
  resync();
}

void Fleet::enqueue(Write w) {
  {
    std::lock_guard lock(mu_);
    if (outbox_.size() >= config_.max_pending) {
      outbox_.pop_front();
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    }
    outbox_.push_back(std::move(w));
  }
  if (loop_) loop_->wake();
}

void Fleet::publish_ban(BanRecord ban) {
  ban.node = config_.node;
  Message m;
  m.kind = Message::Kind::Ban;
  m.ban = ban;
  enqueue({{"HSET", key("bans"), ban.cidr, encode_ban(ban)}, encode_message(m), {}, 0, false});
}

void Fleet::publish_unban(const std::string& cidr) {
  Message m;
  m.kind = Message::Kind::Unban;
  m.ban.cidr = cidr;
  m.ban.node = config_.node;
  enqueue({{"HDEL", key("bans"), cidr}, encode_message(m), {}, 0, false});
}

void Fleet::publish_mode(ModeRecord mode) {
  mode.node = config_.node;
  Message m;
  m.kind = Message::Kind::Mode;
  m.mode = mode;
  // Stored only when newer than what the hash holds: a node writing back a change it queued
  // while cut off must not overwrite a later one (every node applies the latest at_ms).
  static constexpr const char* kSetIfNewer =
      "local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
      "if cur then "
      "  local ok, j = pcall(cjson.decode, cur) "
      "  if ok and type(j) == 'table' and tonumber(j.at_ms) and "
      "     tonumber(j.at_ms) >= tonumber(ARGV[3]) then return 0 end "
      "end "
      "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1";
  enqueue({{"EVAL", kSetIfNewer, "1", key("modes"), mode.route, encode_mode(mode),
            std::to_string(mode.at_ms)},
           encode_message(m),
           mode.route,
           mode.at_ms,
           false});
}

void Fleet::publish_spent(SpentRecord spent) {
  spent.node = config_.node;
  const std::int64_t ttl = std::max<std::int64_t>(1, spent.expiry_ms - core::wall_ms());
  Message m;
  m.kind = Message::Kind::Spent;
  m.spent = spent;
  // GET: the holder's name comes back, so this node's own awaited claim (the same key, made
  // first on the request path) is no conflict.
  Write w{{"SET", spent_key(spent.id), config_.node, "NX", "PX", std::to_string(ttl), "GET"},
          encode_message(m),
          {},
          0,
          true};
  enqueue(std::move(w));
}

void Fleet::publish_admit(AdmitRecord admit) {
  admit.node = config_.node;
  Message m;
  m.kind = Message::Kind::Admit;
  m.admit = admit;
  // The key says which node admitted the id (for an operator's look); the message is the news.
  Write w{{"SET", key("admit:" + admit.id), config_.node, "PX", "600000"},
          encode_message(m),
          {},
          0,
          false};
  enqueue(std::move(w));
}

void Fleet::flush() {
  std::deque<Write> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(outbox_);
  }
  // Pipelined: every write and its message go out in one batch; the replies come in order.
  for (Write& w : batch) {
    if (!w.route.empty() && mode_seen_.size() < kMaxRoutesSeen) {
      auto& seen = mode_seen_[w.route];
      seen = std::max(seen, w.at_ms);
    }
    const bool ok_store =
        client_->command(routing_key(w.store), w.store, [this, spent = w.spent](const Reply* r) {
          if (r == nullptr) {
            on_down("no reply to a write");
            return;
          }
          if (spent && r->is_string() && r->str != config_.node) {
            stats_.spent_conflicts.fetch_add(1, std::memory_order_relaxed);
          }
        });
    const std::string channel = key("events");
    const bool ok_pub =
        ok_store &&
        client_->command(channel, {"PUBLISH", channel, w.message}, [this](const Reply* r) {
          if (r == nullptr) {
            on_down("no reply to PUBLISH");
            return;
          }
          std::lock_guard lock(mu_);
          if (!inflight_.empty()) inflight_.pop_front();
          stats_.published.fetch_add(1, std::memory_order_relaxed);
        });
    std::lock_guard lock(mu_);
    if (ok_pub) {
      inflight_.push_back(std::move(w));
    } else {
      outbox_.push_front(std::move(w));
    }
  }
}

void Fleet::resync() {
  const std::int64_t now = loop_->now_ms();
  next_resync_ms_ = now + std::max<std::int64_t>(1000, std::int64_t{25} * config_.sync_interval);
  stats_.resyncs.fetch_add(1, std::memory_order_relaxed);
  read_hash("bans", [this](const Reply& field, const Reply& value) {
    std::optional<BanRecord> b;
    if (value.is_string()) b = decode_ban(value.str);
    if (!b) {
      stats_.malformed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (b->expiry != kNoExpiry && b->expiry <= wall_s()) {
      // Over: whichever node sees it first takes it out (a hash field has no expiry of its own).
      if (field.is_string()) {
        const std::string bans = key("bans");
        client_->command(bans, {"HDEL", bans, field.str}, nullptr);
      }
      return;
    }
    stats_.received.fetch_add(1, std::memory_order_relaxed);
    if (sinks_.ban) sinks_.ban(*b);
  });
  read_hash("modes", [this](const Reply&, const Reply& value) {
    std::optional<ModeRecord> m;
    if (value.is_string()) m = decode_mode(value.str);
    if (!m) {
      stats_.malformed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    deliver_mode(*m);
  });
}

void Fleet::read_hash(const char* name, std::function<void(const Reply&, const Reply&)> each) {
  const std::string hash = key(name);
  client_->command(hash, {"HGETALL", hash}, [this, each = std::move(each)](const Reply* r) {
    if (r == nullptr) {
      on_down("no reply to HGETALL");
      return;
    }
    if (r->type != Reply::Type::Array || r->elements.size() % 2 != 0) {
      stats_.malformed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2)
      each(r->elements[i], r->elements[i + 1]);
  });
}

void Fleet::on_message(std::string_view payload) {
  std::optional<Message> m = decode_message(payload);
  if (!m) {
    stats_.malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string& from = m->kind == Message::Kind::Mode    ? m->mode.node
                            : m->kind == Message::Kind::Spent ? m->spent.node
                            : m->kind == Message::Kind::Admit ? m->admit.node
                                                              : m->ban.node;
  if (from == config_.node) return;  // ours, applied when made
  deliver(*m);
}

void Fleet::deliver(const Message& m) {
  stats_.received.fetch_add(1, std::memory_order_relaxed);
  switch (m.kind) {
    case Message::Kind::Ban:
      if (sinks_.ban) sinks_.ban(m.ban);
      break;
    case Message::Kind::Unban:
      if (sinks_.unban) sinks_.unban(m.ban);
      break;
    case Message::Kind::Mode:
      deliver_mode(m.mode);
      break;
    case Message::Kind::Spent:
      if (sinks_.spent) sinks_.spent(m.spent);
      break;
    case Message::Kind::Admit:
      if (sinks_.admit) sinks_.admit(m.admit);
      break;
  }
}

void Fleet::deliver_mode(const ModeRecord& m) {
  auto it = mode_seen_.find(m.route);
  if (it == mode_seen_.end()) {
    if (mode_seen_.size() >= kMaxRoutesSeen) return;
    it = mode_seen_.emplace(m.route, -1).first;
  }
  if (m.at_ms <= it->second) return;  // applied already, or older than what we hold
  it->second = m.at_ms;
  if (sinks_.mode) sinks_.mode(m);
}

}  // namespace gh::fleet
