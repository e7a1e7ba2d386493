// Random operation sequences (decide / peek / add / refund / ban / unban / time steps) on a tiny
// table, checked against a shadow of every key's TAT. Invariants: occupancy within capacity,
// counters consistent, a banned or limited key is never evicted, and a tracked key decides exactly
// as its shadow GCRA state does.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "fuzz_check.h"
#include "stages/ratelimit/table.h"

using namespace gh::ratelimit;

namespace {

using gh::fuzz::Input;

constexpr int kKeys = 24;

struct Shadow {
  Nanos tat = 0;
  bool banned = false;
};

void check_decision(const Limit& l, const Decision& d) {
  FUZZ_CHECK(d.allowed == (d.retry_after == 0));
  FUZZ_CHECK(d.retry_after >= 0);
  FUZZ_CHECK(d.reset >= 0);
  FUZZ_CHECK(d.remaining <= l.burst);
}

void check_same(const Decision& real, const Decision& shadow) {
  FUZZ_CHECK(real.allowed == shadow.allowed);
  FUZZ_CHECK(real.retry_after == shadow.retry_after);
  FUZZ_CHECK(real.remaining == shadow.remaining);
  FUZZ_CHECK(real.reset == shadow.reset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const RateSpec spec{1u + in.byte() % 8, Nanos{1'000'000} * (1 + in.byte() % 64),
                      1u + in.byte() % 6};
  const std::optional<Limit> limit = make_limit(spec);
  FUZZ_CHECK(limit.has_value());
  const Limit l = *limit;
  const std::uint8_t shape = in.byte();
  const TableConfig config{static_cast<std::uint64_t>(kSlotsPerBucket) * (1 + shape % 3),
                           (shape & 0x80) != 0 ? FullPolicy::FailOpen : FullPolicy::FailClosed};
  const auto table = Table::create(l, config, HashSeed{in.byte(), in.byte()});
  FUZZ_CHECK(table != nullptr);

  std::map<int, Shadow> shadow;  // keys the table should still hold
  Nanos now = 1'000'000'000;
  for (int step = 0; step < 4096 && !in.empty(); ++step) {
    const std::uint8_t op = in.byte();
    const int ki = in.byte() % kKeys;
    const std::uint8_t arg = in.byte();
    const Key key{static_cast<std::uint64_t>(ki), 0x5eed};
    const std::uint32_t n = arg % (l.burst + 2);  // 0 .. burst + 1
    const Nanos before = now;
    auto it = shadow.find(ki);
    // In a one-bucket table, TableFull means every slot holds a banned or limited key.
    const auto full_is_justified = [&] {
      if (table->capacity() != kSlotsPerBucket) return true;
      if (shadow.size() != kSlotsPerBucket) return false;
      for (const auto& [k, s] : shadow) {
        if (!s.banned && !gcra_limited(l, s.tat, now)) return false;
      }
      return true;
    };
    switch (op % 9) {
      case 0:
      case 1: {
        const Decision d = table->decide(key, now, n);
        check_decision(l, d);
        if (it != shadow.end()) {
          check_same(d, gcra_decide(l, it->second.tat, now, n));
          FUZZ_CHECK(d.status == Status::Tracked);
          FUZZ_CHECK(d.banned == it->second.banned);
        } else if (d.status == Status::Tracked) {
          Shadow s{now, false};
          check_same(d, gcra_decide(l, s.tat, now, n));
          shadow[ki] = s;
        } else if (d.status == Status::TableFull) {
          FUZZ_CHECK(full_is_justified());
          FUZZ_CHECK(d.allowed == (config.full_policy == FullPolicy::FailOpen));
        }
        break;
      }
      case 2: {
        const Decision d = table->peek(key, now, n);
        check_decision(l, d);
        FUZZ_CHECK((d.status == Status::Tracked) == (it != shadow.end()));
        if (it != shadow.end()) check_same(d, gcra_peek(l, it->second.tat, now, n));
        break;
      }
      case 3: {
        const Decision d = table->add(key, now, n);
        if (it != shadow.end()) {
          check_same(d, gcra_add(l, it->second.tat, now, n));
        } else if (d.status == Status::Tracked) {
          Shadow s{now, false};
          check_same(d, gcra_add(l, s.tat, now, n));
          shadow[ki] = s;
        } else if (d.status == Status::TableFull) {
          FUZZ_CHECK(full_is_justified());
        }
        break;
      }
      case 4: {
        const Status s = table->set_banned(key, true, now);
        if (it != shadow.end()) {
          FUZZ_CHECK(s == Status::Tracked);
          it->second.banned = true;
        } else if (s == Status::Tracked) {
          shadow[ki] = Shadow{now, true};
        } else {
          FUZZ_CHECK(s == Status::TableFull);
          FUZZ_CHECK(full_is_justified());
        }
        break;
      }
      case 5: {
        const Status s = table->set_banned(key, false, now);
        FUZZ_CHECK((s == Status::Tracked) == (it != shadow.end()));
        if (it != shadow.end()) it->second.banned = false;
        break;
      }
      case 6:
        now += Nanos{arg} * l.emission_interval / 16;
        break;
      case 7: {
        // Only a tracked key is refunded, and no key is ever tracked by a refund.
        const Decision d = table->refund(key, now, n);
        check_decision(l, d);
        FUZZ_CHECK((d.status == Status::Tracked) == (it != shadow.end()));
        if (it != shadow.end()) {
          check_same(d, gcra_refund(l, it->second.tat, now, n));
          FUZZ_CHECK(d.banned == it->second.banned);
        }
        break;
      }
      default:
        now += Nanos{arg} * 1000;  // workers' clocks differ slightly: sometimes go back
        if ((op & 0x40) != 0) now = now > 300'000 ? now - 300'000 : 0;
        break;
    }
    // Whatever the table dropped must have been evictable when it was dropped.
    for (auto s = shadow.begin(); s != shadow.end();) {
      if (table->peek(Key{static_cast<std::uint64_t>(s->first), 0x5eed}, now).status ==
          Status::Tracked) {
        ++s;
        continue;
      }
      FUZZ_CHECK(!s->second.banned);
      FUZZ_CHECK(!gcra_limited(l, s->second.tat, before));
      s = shadow.erase(s);
    }
    const TableStats st = table->stats();
    FUZZ_CHECK(st.tracked <= table->capacity());
    FUZZ_CHECK(st.tracked == table->count_occupied());
    FUZZ_CHECK(shadow.size() == st.tracked);
    FUZZ_CHECK(st.inserts == st.tracked + st.evictions_expired + st.evictions_least_limited);
  }
  return 0;
}
