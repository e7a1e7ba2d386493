// A deliberately plain reference limiter for property tests: a token bucket per key in a
// std::map, with the token count held as an exact rational (numerator in token-nanoseconds over
// the denominator T), no eviction and no shortcuts. It shares only the Limit (T, burst) with the
// real code; the equivalence GCRA <=> token bucket is what the tests check.
#pragma once

#include <cstdint>
#include <map>

#include "stages/ratelimit/ratelimit-t.h"

namespace gh::ratelimit::test {

class ReferenceLimiter {
 public:
  explicit ReferenceLimiter(const Limit& limit) : limit_(limit) {}

  Decision decide(const Key& key, Nanos now, std::uint32_t n) {
    Bucket& b = refill(key, now);
    Decision d = judge(b, n);
    if (d.allowed) b.level -= cost(n);
    headers(b, d);
    return d;
  }

  Decision peek(const Key& key, Nanos now, std::uint32_t n) const {
    Bucket b = current(key, now);
    Decision d = judge(b, n);
    headers(b, d);
    return d;
  }

  Decision add(const Key& key, Nanos now, std::uint32_t n) {
    Bucket& b = refill(key, now);
    b.level -= cost(n);
    Decision d = judge(b, 1);
    headers(b, d);
    return d;
  }

  std::size_t size() const { return buckets_.size(); }

 private:
  // level = tokens × T: full at burst × T; a request of cost n needs n × T; may go negative
  // after add(). Refill is one token-nanosecond per elapsed nanosecond.
  struct Bucket {
    __int128 level = 0;
    Nanos last = 0;
  };

  __int128 full() const { return static_cast<__int128>(limit_.burst) * limit_.emission_interval; }
  __int128 cost(std::uint32_t n) const {
    return static_cast<__int128>(n) * limit_.emission_interval;
  }

  Bucket current(const Key& key, Nanos now) const {
    auto it = buckets_.find(key);
    Bucket b{full(), now};
    if (it != buckets_.end()) {
      b = it->second;
      b.level += now - b.last;  // times are non-decreasing in the tests
      if (b.level > full()) b.level = full();
      b.last = now;
    }
    return b;
  }

  Bucket& refill(const Key& key, Nanos now) {
    Bucket b = current(key, now);
    return buckets_[key] = b;
  }

  Decision judge(const Bucket& b, std::uint32_t n) const {
    Decision d;
    if (n > limit_.burst) {
      d.allowed = false;
      d.retry_after = kNever;
    } else if (b.level >= cost(n)) {
      d.allowed = true;
    } else {
      d.retry_after = static_cast<Nanos>(cost(n) - b.level);
    }
    return d;
  }

  void headers(const Bucket& b, Decision& d) const {
    d.remaining = b.level <= 0 ? 0 : static_cast<std::uint32_t>(b.level / limit_.emission_interval);
    d.reset = static_cast<Nanos>(full() - b.level);
  }

  Limit limit_;
  std::map<Key, Bucket> buckets_;
};

}  // namespace gh::ratelimit::test
