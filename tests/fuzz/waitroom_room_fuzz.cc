// Random sequences of visits, previews, ticks, revokes and reconfigures on a small room, alone or
// in a fleet (other nodes' places, news of admissions elsewhere, admitted tickets).
// Invariants: the caps hold (queued <= max_queue, active <= max_active, the largest each has been),
// a waiting position lies within the line (in a fleet: with the other nodes' places), an admitted
// session is never sent back while it is used within session_idle, and revoking every id leaves
// the room and its count tables empty.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "stages/waitroom/room.h"

using namespace gh::waitroom;

namespace {

using gh::fuzz::Input;

constexpr int kIds = 32;
constexpr std::int64_t kIdle = 30'000;

TicketId id_of(int n) {
  TicketId id{};
  id[0] = static_cast<std::uint8_t>(n);
  id[7] = 0x42;
  return id;
}

struct Shadow {
  bool admitted = false;
  std::int64_t used_at = 0;  // last Admitted answer
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  gh::policy::WaitingRoomConfig c;
  c.new_users_per_minute = 1 + in.byte() % 120;
  c.max_active = in.byte() % 8;
  c.max_queue = in.byte() % 24;
  c.max_per_prefix = in.byte() % 6;
  c.session_idle = kIdle;
  c.refresh = 2'000;
  c.ticket_lifetime = 60'000;
  Room room(c);
  const bool fleet = in.byte() & 1;
  std::size_t others = 0;  // the other nodes' places in the fleet's share
  if (fleet) {
    FleetShare share;
    share.on = true;
    share.max_active = c.max_active;
    room.set_fleet_share(share);
  }
  std::uint32_t queue_hi = c.max_queue;
  std::uint32_t active_hi = c.max_active;
  std::array<Shadow, kIds> shadow{};
  std::int64_t now = 1'000'000;

  while (!in.empty()) {
    const std::uint8_t op = in.byte();
    now += (op >> 4) * 250;
    switch (op & 7) {
      case 3: {  // preview changes nothing
        Visit v;
        v.id = id_of(in.byte() % kIds);
        v.first_seen_ms = now - static_cast<std::int64_t>(in.byte()) * 1'000;
        v.prefix.address.bytes[15] = static_cast<std::uint8_t>(in.byte() % 5);
        v.prefix.prefix_len = 128;
        const Stats before = room.stats();
        v.admitted = fleet && v.id[0] == 29;  // id 29 comes with a ticket admitted elsewhere
        const Answer a = room.preview(v, now);
        const Stats after = room.stats();
        FUZZ_CHECK(before.queued == after.queued && before.active == after.active);
        FUZZ_CHECK(before.admitted_total == after.admitted_total);
        FUZZ_CHECK(before.refused_full == after.refused_full);
        FUZZ_CHECK(before.refused_prefix == after.refused_prefix);
        if (a.kind == Answer::Kind::Waiting)
          FUZZ_CHECK(a.position >= 1 && a.position <= after.queued + 1 + others);
        break;
      }
      case 0:
      case 1:
      case 2: {
        const int n = in.byte() % kIds;
        Visit v;
        v.id = id_of(n);
        v.first_seen_ms = now - static_cast<std::int64_t>(in.byte()) * 1'000 + 100'000 * (n == 31);
        v.prefix.address.bytes[15] = static_cast<std::uint8_t>(n % 5);
        v.prefix.prefix_len = 128;
        v.admitted = fleet && n == 29;
        const Answer a = room.visit(v, now);
        const Stats s = room.stats();
        Shadow& sh = shadow[static_cast<std::size_t>(n)];
        if (sh.admitted && now - sh.used_at < kIdle) {
          FUZZ_CHECK(a.kind == Answer::Kind::Admitted);
        }
        if (a.kind == Answer::Kind::Admitted) {
          sh.admitted = true;
          sh.used_at = now;
          FUZZ_CHECK(a.position == 0);
        } else {
          sh.admitted = false;
        }
        if (a.kind == Answer::Kind::Waiting) {
          FUZZ_CHECK(a.position >= 1 && a.position <= s.queued + others);
          FUZZ_CHECK(a.eta_s >= 2);
        }
        FUZZ_CHECK(s.queued <= queue_hi);
        FUZZ_CHECK(s.active <= active_hi);
        break;
      }
      case 4:
        room.tick(now);
        break;
      case 5: {
        const std::uint8_t b = in.byte();
        const int n = b % kIds;
        if (fleet && (b & 0x80)) {
          room.admitted_elsewhere(id_of(n), now);  // stays admitted if it was
        } else {
          room.revoke(id_of(n));
          shadow[static_cast<std::size_t>(n)].admitted = false;
        }
        break;
      }
      case 6: {
        if (fleet && (in.byte() & 1)) {  // a new view of the fleet
          FleetShare share;
          share.on = true;
          share.self = in.byte();
          share.max_active = in.byte() % 8;
          share.live = 1 + in.byte() % 3;
          share.settle_ms = (in.byte() % 4) * 1'000;
          active_hi =
              std::max<std::uint32_t>(active_hi, static_cast<std::uint32_t>(share.max_active));
          const std::size_t k = in.byte() % 8;
          for (std::size_t i = 0; i < k; ++i) {
            FleetPlace p;
            p.id = id_of(in.byte() % kIds);
            p.first_seen_ms = now - static_cast<std::int64_t>(in.byte()) * 1'000;
            p.rival = in.byte() * 0x0101010101010101ULL;
            share.others.push_back(p);
          }
          std::sort(share.others.begin(), share.others.end(),
                    [](const FleetPlace& a, const FleetPlace& b) {
                      return a.first_seen_ms != b.first_seen_ms ? a.first_seen_ms < b.first_seen_ms
                                                                : a.id < b.id;
                    });
          others = share.others.size();
          room.set_fleet_share(share);
          break;
        }
        c.new_users_per_minute = in.byte() % 200;
        c.max_active = in.byte() % 8;
        c.max_queue = in.byte() % 24;
        c.max_per_prefix = in.byte() % 6;
        queue_hi = std::max(queue_hi, c.max_queue);
        active_hi = std::max(active_hi, c.max_active);
        room.reconfigure(c);
        break;
      }
      default:
        now += 20'000;
        room.tick(now);
        break;
    }
    const Stats s = room.stats();
    FUZZ_CHECK(s.queued <= queue_hi);
    FUZZ_CHECK(s.active <= active_hi);
    FUZZ_CHECK(s.pending <= s.active);
    FUZZ_CHECK(s.prefixes <= s.queued);
    FUZZ_CHECK(s.queued + s.active <= kIds);
  }
  for (int n = 0; n < kIds; ++n) room.revoke(id_of(n));
  const Stats s = room.stats();
  FUZZ_CHECK(s.queued == 0 && s.active == 0 && s.pending == 0 && s.prefixes == 0);
  FUZZ_CHECK(s.guests == 0);
  FUZZ_CHECK(s.oldest_wait_ms == 0);
  return 0;
}
