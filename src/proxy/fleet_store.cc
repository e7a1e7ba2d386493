#include "proxy/fleet_store.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "fleet/fleet.h"
#include "fleet/line.h"
#include "fleet/messages.h"
#include "fleet/redis.h"

namespace gh::proxy {
namespace {

std::string hex(const challenge::TokenId& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(id.size() * 2);
  for (std::uint8_t b : id) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// GCRA over every key at once, on Redis's clock (one clock for every node): all conform, and
// all are charged, or the first that does not is named with when it next admits one. ARGV per
// key: its interval and tolerance (burst - 1 intervals), in microseconds. Reply {0, 0}, or
// {i, retry_us} for KEYS[i].
constexpr std::string_view kGcraScript =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local tats = {} "
    "for i, k in ipairs(KEYS) do "
    "  local T = tonumber(ARGV[2 * i - 1]) "
    "  local tau = tonumber(ARGV[2 * i]) "
    "  local tat = tonumber(redis.call('GET', k)) or now "
    "  if tat < now then tat = now end "
    "  if tat - now > tau then return {i, tat - tau - now} end "
    "  tats[i] = tat + T "
    "end "
    "for i, k in ipairs(KEYS) do "
    "  redis.call('SET', k, string.format('%d', tats[i]), 'PX', "
    "             math.floor((tats[i] - now) / 1000) + 1000) "
    "end "
    "return {0, 0}";

const std::string& gcra_sha() {
  static const std::string sha = fleet::script_sha(kGcraScript);
  return sha;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

gate::StoreReply failed(bool timed_out) {
  gate::StoreReply r;
  r.answer = timed_out ? gate::StoreAnswer::TimedOut : gate::StoreAnswer::Failed;
  return r;
}

class FleetStore final : public gate::SharedStore {
 public:
  explicit FleetStore(fleet::Fleet& fleet) : fleet_(fleet) {}

  bool ready() const override { return fleet_.can_ask(); }
  std::int64_t timeout_ms() const override { return fleet_.config().request_timeout; }

  bool ask(const gate::StoreQuery& q, Done done) override {
    switch (q.kind) {
      case gate::StoreQuery::Kind::Claim:
        return claim(fleet_.spent_key(hex(q.id)), fleet_.node(), q, std::move(done));
      case gate::StoreQuery::Kind::Signup:
        // A value no other claim writes: this node's earlier life (a restart forgets its set)
        // or another request here never reads as ours; only this very command, sent again.
        return claim(fleet_.signup_key(hex(q.id)),
                     fleet_.node() + ":" + std::to_string(boot_) + ":" +
                         std::to_string(seq_.fetch_add(1, std::memory_order_relaxed)),
                     q, std::move(done));
      case gate::StoreQuery::Kind::Limits:
        return limits(q, std::move(done));
      case gate::StoreQuery::Kind::Line:
        return line(q, std::move(done));
      case gate::StoreQuery::Kind::None:
        break;
    }
    return false;
  }

 private:
  // SET NX with GET: nil (nobody held it) or `value` (a challenge's: this node's name, which its
  // asynchronous claim of the same key may have written first) is ours; any other value is a
  // claim made first elsewhere.
  bool claim(const std::string& key, std::string value, const gate::StoreQuery& q, Done done) {
    const std::int64_t ttl = std::max<std::int64_t>(1, q.expiry_ms - core::wall_ms());
    std::vector<std::string> argv{"SET", key, value, "NX", "PX", std::to_string(ttl), "GET"};
    return fleet_.ask(
        key, std::move(argv),
        [value = std::move(value), done = std::move(done)](const fleet::Reply* r, bool timed_out) {
          if (r == nullptr) {
            done(failed(timed_out));
            return;
          }
          const auto a = fleet::decode_claim(*r, value);
          gate::StoreReply out;
          if (!a) {
            out.answer = gate::StoreAnswer::Failed;  // an error: decided locally
          } else {
            out.answer =
                *a == fleet::ClaimAnswer::Ours ? gate::StoreAnswer::Yes : gate::StoreAnswer::No;
          }
          done(out);
        });
  }

  // One script call over the exact limits' keys: one hash tag for them all, so that it is one
  // slot in a Cluster (exact limits are low-rate: sign-ups per network per hour).
  bool limits(const gate::StoreQuery& q, Done done) {
    const std::size_t n = std::min<std::size_t>(q.limit_count, q.limits.size());
    if (n == 0) return false;
    std::vector<std::string> argv{"EVALSHA", gcra_sha(), std::to_string(n)};
    for (std::size_t i = 0; i < n; ++i) {
      const gate::StoreQuery::Limit& l = q.limits[i];
      argv.push_back(fleet_.config().prefix + "exact:{x}:" + hex64(l.limit) + ":" + hex64(l.lo) +
                     hex64(l.hi));
    }
    for (std::size_t i = 0; i < n; ++i) {
      argv.push_back(std::to_string(q.limits[i].interval_us));
      argv.push_back(std::to_string(q.limits[i].burst_us));
    }
    const std::string key = argv[3];
    return fleet_.ask(
        key, std::move(argv),
        [n, done = std::move(done)](const fleet::Reply* r, bool timed_out) {
          if (r == nullptr) {
            done(failed(timed_out));
            return;
          }
          const auto a = fleet::decode_gcra(*r, n);  // untrusted: checked field by field
          if (!a) {
            done(failed(false));
            return;
          }
          gate::StoreReply out;
          if (a->refused == 0) {
            out.answer = gate::StoreAnswer::Yes;
          } else {
            out.answer = gate::StoreAnswer::No;
            out.which = static_cast<std::uint8_t>(a->refused - 1);
            out.retry_ms = (a->retry_us + 999) / 1000;
          }
          done(out);
        },
        kGcraScript);
  }

  // The waiting room's line: one script call over the route's keys (fleet/line.h).
  bool line(const gate::StoreQuery& q, Done done) {
    fleet::LineAsk a;
    a.scope = q.line.scope;
    a.id = hex(q.id);
    a.ticket = q.line.ticket;
    a.open = q.line.open;
    a.first_us = q.line.first_us;
    a.interval_us = q.line.interval_us;
    a.burst = q.line.burst;
    a.hold = q.line.hold;
    a.max_queue = q.line.max_queue;
    a.gone_ms = q.line.gone_ms;
    a.back_ms = q.line.back_ms;
    std::vector<std::string> argv = fleet::line_argv(fleet_.config().prefix, a);
    const std::string key = argv[3];
    return fleet_.ask(
        key, std::move(argv),
        [done = std::move(done)](const fleet::Reply* r, bool timed_out) {
          if (r == nullptr) {
            done(failed(timed_out));
            return;
          }
          const auto a = fleet::decode_line(*r);  // untrusted: checked field by field
          if (!a) {
            done(failed(false));
            return;
          }
          gate::StoreReply out;
          out.answer = a->verdict == fleet::LineAnswer::Verdict::Due ? gate::StoreAnswer::Yes
                                                                     : gate::StoreAnswer::No;
          out.position = a->verdict == fleet::LineAnswer::Verdict::Wait ? a->position : 0;
          done(out);
        },
        fleet::line_script());
  }

  fleet::Fleet& fleet_;
  const std::int64_t boot_ = core::wall_us();
  std::atomic<std::uint64_t> seq_{0};
};

}  // namespace

std::unique_ptr<gate::SharedStore> make_fleet_store(fleet::Fleet& fleet) {
  return std::make_unique<FleetStore>(fleet);
}

}  // namespace gh::proxy
