#include "fleet/fleet_room.h"

#include <algorithm>
#include <utility>

namespace gh::fleet {

RoomShare share_room(const RouteFigures& own, const std::vector<RouteFigures>& others,
                     std::uint32_t fleet_per_minute, std::uint64_t fleet_max_active,
                     std::uint32_t live) {
  RoomShare s;
  std::uint64_t others_active = 0, fleet_queued = own.queued;
  // (first-seen, mine): the fleet's line as far as the heartbeats show it.
  std::vector<std::pair<std::int64_t, bool>> line;
  for (std::size_t i = 0; i < own.heads.size() && i < kMaxHeads; ++i)
    line.emplace_back(own.heads[i], true);
  for (const RouteFigures& r : others) {
    others_active += r.active;
    fleet_queued += r.queued;
    for (std::size_t i = 0; i < r.heads.size() && i < kMaxHeads; ++i)
      line.emplace_back(r.heads[i], false);
  }
  // Sessions held elsewhere count against the cap here: the fleet holds at most the cap, give
  // or take what two nodes admit within one heartbeat.
  s.max_active = fleet_max_active > others_active ? fleet_max_active - others_active : 0;
  if (fleet_queued == 0 || line.empty()) {
    // Nobody waits anywhere: newcomers pass at once, each node at an equal part of the rate.
    const std::uint32_t n = std::max<std::uint32_t>(1, live);
    s.per_minute = fleet_per_minute == 0 ? 0 : std::max<std::uint32_t>(1, fleet_per_minute / n);
    return s;
  }
  // Ties go to the other node: an equal time never jumps ahead of a place seen elsewhere.
  std::sort(line.begin(), line.end());
  const std::uint64_t due =
      (static_cast<std::uint64_t>(fleet_per_minute) * kShareWindowMs + 59'999) / 60'000;
  const std::size_t m = static_cast<std::size_t>(
      std::clamp<std::uint64_t>(due, 1, std::min<std::uint64_t>(line.size(), kMaxHeads)));
  s.cutoff_ms = line[m - 1].first;
  std::size_t mine = 0;
  for (std::size_t i = 0; i < m; ++i) mine += line[i].second ? 1 : 0;
  if (mine > 0) {
    s.per_minute = static_cast<std::uint32_t>(std::max<std::uint64_t>(
        1, (static_cast<std::uint64_t>(fleet_per_minute) * mine + m - 1) / m));
  }
  return s;
}

}  // namespace gh::fleet
