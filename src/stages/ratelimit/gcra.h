// GCRA (generic cell rate algorithm) over one key's theoretical arrival time (TAT), in integer
// nanoseconds. Pure functions: the caller owns the TAT (a table slot, a test's map) and `now`.
//
// T = ceil(period / rate), tau = T × (burst − 1). A cost-n request conforms when
//   max(TAT, now) − now  <=  tau − (n − 1) × T
// and, when it does, TAT becomes max(TAT, now) + n × T. With n = 1 this is the textbook
// "allow when now >= TAT − tau". From an idle key (TAT <= now) exactly `burst` cost-1 requests
// conform back to back, then one per T. A TAT in the past is the same as no state at all.
#pragma once

#include <cstdint>
#include <optional>

#include "stages/ratelimit/ratelimit-t.h"

namespace gh::ratelimit {

// nullopt when rate, period or burst is 0, or when T × burst exceeds kMaxSpan.
std::optional<Limit> make_limit(const RateSpec& spec);

namespace gcra_detail {

// How far the TAT is ahead of now: the bucket's debt, 0 for an idle key.
constexpr Nanos debt(Nanos tat, Nanos now) {
  return tat > now ? tat - now : 0;
}

// Largest debt at which cost n still conforms; -1 (never) when n exceeds the burst.
constexpr Nanos allowance(const Limit& l, std::uint32_t n) {
  if (n == 0) return kMaxDebt;  // costs nothing: always conforms, changes nothing
  if (n > l.burst) return -1;
  return l.tolerance - static_cast<Nanos>(n - 1) * l.emission_interval;
}

// The values for a state of debt d (after the call): remaining = floor((tau + T − d) / T).
constexpr void fill_headers(const Limit& l, Nanos d, Decision& out) {
  const Nanos full = l.tolerance + l.emission_interval;
  out.remaining = d >= full ? 0 : static_cast<std::uint32_t>((full - d) / l.emission_interval);
  out.reset = d;
}

}  // namespace gcra_detail

// Would a cost-n request conform now? Changes nothing.
constexpr Decision gcra_peek(const Limit& l, Nanos tat, Nanos now, std::uint32_t n) {
  const Nanos d = gcra_detail::debt(tat, now);
  const Nanos need = gcra_detail::allowance(l, n);
  Decision out;
  out.allowed = d <= need;
  out.retry_after = out.allowed ? 0 : (need < 0 ? kNever : d - need);
  gcra_detail::fill_headers(l, d, out);
  return out;
}

// Consume n when conforming; a denied request consumes nothing.
constexpr Decision gcra_decide(const Limit& l, Nanos& tat, Nanos now, std::uint32_t n) {
  Decision out = gcra_peek(l, tat, now, n);
  if (out.allowed && n > 0) {
    // d + n×T <= tau + T <= kMaxSpan: no overflow.
    const Nanos d = gcra_detail::debt(tat, now) + static_cast<Nanos>(n) * l.emission_interval;
    tat = now + d;
    gcra_detail::fill_headers(l, d, out);
  }
  return out;
}

// Count n unconditionally (events that already happened, e.g. a failed login seen in the
// response). The debt is not capped at the burst, so events counted after the fact are paid back
// in full; it saturates at kMaxDebt only to stay in range.
// Returns what a cost-1 peek would say afterwards: allowed = the key is not over the limit.
constexpr Decision gcra_add(const Limit& l, Nanos& tat, Nanos now, std::uint32_t n) {
  Nanos d = gcra_detail::debt(tat, now);
  const Nanos room = kMaxDebt - d;
  if (room > 0) {
    d = static_cast<Nanos>(n) > room / l.emission_interval
            ? kMaxDebt
            : d + static_cast<Nanos>(n) * l.emission_interval;
  }
  tat = now + d;
  return gcra_peek(l, tat, now, 1);
}

// Give back n emissions counted earlier: a count_when request charged on arrival whose response
// status turned out not to count. The debt never drops below 0, so a bucket is never made fuller
// than an idle key's: a charge that has already drained away gives nothing back. For one charge
// made at t0 by gcra_decide and refunded at t1 >= t0 this is an exact undo, since
// max(max(TAT, t0) + T − T, t1) = max(TAT, t1). Returns what a cost-1 peek would say afterwards.
constexpr Decision gcra_refund(const Limit& l, Nanos& tat, Nanos now, std::uint32_t n) {
  const Nanos d = gcra_detail::debt(tat, now);
  if (d > 0) {
    // n × T is formed only when it is at most d, so it cannot overflow.
    const Nanos back = static_cast<Nanos>(n) > d / l.emission_interval
                           ? d
                           : static_cast<Nanos>(n) * l.emission_interval;
    tat = now + (d - back);
  }
  return gcra_peek(l, tat, now, 1);
}

// Currently limited: a cost-1 request would be denied now. Such keys are never evicted.
constexpr bool gcra_limited(const Limit& l, Nanos tat, Nanos now) {
  return gcra_detail::debt(tat, now) > l.tolerance;
}

}  // namespace gh::ratelimit
