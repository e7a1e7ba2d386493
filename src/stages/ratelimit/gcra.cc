#include "stages/ratelimit/gcra.h"

namespace gh::ratelimit {

std::optional<Limit> make_limit(const RateSpec& spec) {
  if (spec.rate == 0 || spec.period <= 0 || spec.burst == 0) return std::nullopt;
  // Rounded up so that the sustained rate never exceeds the configured one.
  const Nanos t = spec.period / spec.rate + (spec.period % spec.rate != 0 ? 1 : 0);
  if (t > kMaxSpan / spec.burst) return std::nullopt;
  Limit l;
  l.emission_interval = t;
  l.tolerance = t * static_cast<Nanos>(spec.burst - 1);
  l.burst = spec.burst;
  return l;
}

}  // namespace gh::ratelimit
