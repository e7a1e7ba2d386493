#include "fleet/fleet_room.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <unordered_map>

#include "core/hash.h"

namespace gh::fleet {

std::uint64_t node_hash(std::string_view node) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then mixed
  for (char c : node) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
  return core::mix64(h);
}

std::uint64_t holder_score(const PlaceId& id, std::uint64_t node) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < 8; ++i) x = x << 8 | id[i];
  return core::mix64(x ^ (node + 0x9e3779b97f4a7c15ULL)) | 1;
}

std::string id_hex(const PlaceId& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(32);
  for (std::uint8_t b : id) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

bool parse_id_hex(std::string_view text, PlaceId& out) {
  if (text.size() != 32) return false;
  auto nibble = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

RoomShare share_room(const std::vector<std::pair<std::uint64_t, RouteFigures>>& others,
                     std::uint64_t fleet_max_active) {
  RoomShare s;
  std::uint64_t others_active = 0;
  std::unordered_map<std::string_view, std::size_t> at;  // id text -> index in s.others
  for (const auto& [node, r] : others) {
    others_active += r.active;
    if (r.ids.size() != r.heads.size()) continue;
    for (std::size_t i = 0; i < r.heads.size() && i < kMaxHeads; ++i) {
      PlaceId id;
      if (!parse_id_hex(r.ids[i], id)) continue;
      const std::uint64_t score = holder_score(id, node);
      const std::uint16_t us = r.subs.size() == r.ids.size() ? r.subs[i] : 0;
      // One person polling several nodes is one place: the earliest time any node saw (they
      // are the same signed time, clamped alike), the best holder's score.
      auto [it, fresh] = at.emplace(r.ids[i], s.others.size());
      if (fresh) {
        s.others.push_back({r.heads[i], id, score, us});
      } else {
        OtherPlace& p = s.others[it->second];
        if (std::pair(r.heads[i], us) < std::pair(p.first_seen_ms, p.first_seen_us)) {
          p.first_seen_ms = r.heads[i];
          p.first_seen_us = us;
        }
        p.rival = std::max(p.rival, score);
      }
    }
  }
  std::sort(s.others.begin(), s.others.end(), [](const OtherPlace& a, const OtherPlace& b) {
    return std::tie(a.first_seen_ms, a.first_seen_us, a.id) <
           std::tie(b.first_seen_ms, b.first_seen_us, b.id);
  });
  // Sessions held elsewhere count against the cap here: the fleet holds at most the cap, give
  // or take what two nodes admit within one heartbeat.
  s.max_active = fleet_max_active > others_active ? fleet_max_active - others_active : 0;
  return s;
}

}  // namespace gh::fleet
