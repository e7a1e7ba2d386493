#include "stages/waitroom/room.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace gh::waitroom {
namespace {

using Kind = Answer::Kind;

constexpr std::int64_t kSec = 1000;
constexpr std::int64_t kMin = 60 * kSec;
constexpr std::int64_t kT0 = 10 * 3600 * kSec;  // an arbitrary monotonic start

TicketId id_of(std::uint32_t n) {
  TicketId id{};
  id[0] = static_cast<std::uint8_t>(n);
  id[1] = static_cast<std::uint8_t>(n >> 8);
  id[2] = static_cast<std::uint8_t>(n >> 16);
  id[3] = static_cast<std::uint8_t>(n >> 24);
  id[15] = 0xA5;
  return id;
}

client::Cidr prefix_of(std::uint32_t n) {
  client::Cidr c;
  c.address.is_v4 = true;
  c.address.bytes[10] = c.address.bytes[11] = 0xff;
  c.address.bytes[12] = 10;
  c.address.bytes[13] = static_cast<std::uint8_t>(n >> 8);
  c.address.bytes[14] = static_cast<std::uint8_t>(n);
  c.prefix_len = 24;
  return c;
}

// Every visitor on its own prefix unless said otherwise.
Visit visitor(std::uint32_t n, std::int64_t first_seen, std::uint32_t prefix = 0xffff'ffff) {
  return Visit{id_of(n), first_seen, prefix_of(prefix == 0xffff'ffff ? n : prefix)};
}

policy::WaitingRoomConfig config(std::uint32_t per_min, std::uint32_t max_active) {
  policy::WaitingRoomConfig c;
  c.new_users_per_minute = per_min;
  c.max_active = max_active;
  c.max_per_prefix = 1000;
  return c;
}

TEST(Room, CalmRoomAdmitsAtOnce) {
  Room room(config(60, 10));
  const Answer a = room.visit(visitor(1, kT0), kT0);
  EXPECT_EQ(a.kind, Kind::Admitted);
  EXPECT_EQ(room.stats().active, 1u);
  EXPECT_EQ(room.stats().queued, 0u);
  EXPECT_EQ(room.stats().admitted_total, 1u);
}

TEST(Room, FifoByFirstSeenAndOlderTicketGoesAhead) {
  Room room(config(60, 1));
  ASSERT_EQ(room.visit(visitor(1, kT0), kT0).kind, Kind::Admitted);  // fills max_active
  for (std::uint32_t n = 2; n <= 5; ++n) {
    const Answer a = room.visit(visitor(n, kT0 + n * kSec), kT0 + n * kSec);
    ASSERT_EQ(a.kind, Kind::Waiting);
    EXPECT_EQ(a.position, n - 1);
  }
  // Ticket 9 was first seen before 3 (e.g. before a restart) but arrives last: it goes second.
  const Answer late = room.visit(visitor(9, kT0 + 2 * kSec + 500), kT0 + 10 * kSec);
  ASSERT_EQ(late.kind, Kind::Waiting);
  EXPECT_EQ(late.position, 2u);
  EXPECT_EQ(room.visit(visitor(2, kT0), kT0 + 11 * kSec).position, 1u);
  EXPECT_EQ(room.visit(visitor(3, kT0), kT0 + 11 * kSec).position, 3u);
  EXPECT_EQ(room.visit(visitor(5, kT0), kT0 + 11 * kSec).position, 5u);
}

TEST(Room, EqualFirstSeenGoesInArrivalOrder) {
  Room room(config(60, 1));
  room.visit(visitor(1, kT0), kT0);
  for (std::uint32_t n = 2; n <= 4; ++n) room.visit(visitor(n, kT0), kT0);
  EXPECT_EQ(room.visit(visitor(2, kT0), kT0).position, 1u);
  EXPECT_EQ(room.visit(visitor(3, kT0), kT0).position, 2u);
  EXPECT_EQ(room.visit(visitor(4, kT0), kT0).position, 3u);
}

TEST(Room, FutureAndHoardedTicketsAreClamped) {
  auto c = config(60, 1);
  c.ticket_lifetime = 60 * kMin;
  Room room(c);
  const std::int64_t now = kT0;
  room.visit(visitor(1, now), now);                     // admitted
  room.visit(visitor(2, now - 2 * 3600 * kSec), now);   // clamped to now - 1 h
  room.visit(visitor(3, now - 10 * 3600 * kSec), now);  // also clamped: no head start over 2
  room.visit(visitor(4, now + 3600 * kSec), now);       // from the future: clamped to now
  room.visit(visitor(5, now - kMin), now);
  EXPECT_EQ(room.visit(visitor(2, 0), now).position, 1u);
  EXPECT_EQ(room.visit(visitor(3, 0), now).position, 2u);
  EXPECT_EQ(room.visit(visitor(5, 0), now).position, 3u);
  EXPECT_EQ(room.visit(visitor(4, 0), now).position, 4u);
}

TEST(Room, EtaIsPeopleAheadOverRateAtLeastRefresh) {
  EXPECT_EQ(Room::eta_for(0, 60, 20), 20u);
  EXPECT_EQ(Room::eta_for(19, 60, 20), 20u);
  EXPECT_EQ(Room::eta_for(29, 60, 20), 29u);
  EXPECT_EQ(Room::eta_for(99, 60, 20), 99u);
  EXPECT_EQ(Room::eta_for(100, 30, 20), 200u);
  EXPECT_EQ(Room::eta_for(1, 7, 1), 9u);  // 60/7 = 8.57 -> 9
  EXPECT_EQ(Room::eta_for(5, 0, 20), kEtaUnknown);

  auto c = config(60, 1);
  c.refresh = 20 * kSec;
  Room room(c);
  room.visit(visitor(0, kT0), kT0);
  for (std::uint32_t n = 1; n <= 100; ++n) room.visit(visitor(n, kT0 + n), kT0 + n);
  const Answer a = room.visit(visitor(100, 0), kT0 + 200);
  EXPECT_EQ(a.position, 100u);
  EXPECT_EQ(a.eta_s, 99u);
  EXPECT_EQ(room.visit(visitor(1, 0), kT0 + 200).eta_s, 20u);  // at the head: one refresh
}

TEST(Room, AdmissionRateSixtyPerMinuteIsOnePerSecond) {
  Room room(config(60, 10'000));
  // The bucket starts with 5 s worth (kBurstSeconds): those are admitted at once.
  std::uint32_t admitted = 0;
  for (std::uint32_t n = 0; n < 105; ++n) {
    if (room.visit(visitor(n, kT0), kT0).kind == Kind::Admitted) ++admitted;
  }
  EXPECT_EQ(admitted, Room::kBurstSeconds);
  EXPECT_EQ(room.stats().queued, 105u - Room::kBurstSeconds);
  for (int s = 1; s <= 30; ++s) room.tick(kT0 + s * kSec);
  const Stats st = room.stats();
  EXPECT_EQ(st.admitted_total, Room::kBurstSeconds + 30u);
  EXPECT_EQ(st.queued, 105u - Room::kBurstSeconds - 30u);
  EXPECT_EQ(st.admission_rate_per_min, Room::kBurstSeconds + 30u);
  // Half-second ticks admit one every other tick, not one per tick.
  for (int h = 1; h <= 10; ++h) room.tick(kT0 + 30 * kSec + h * 500);
  EXPECT_EQ(room.stats().admitted_total, Room::kBurstSeconds + 35u);
}

TEST(Room, MaxActiveHoldsTheLineUntilSessionsEnd) {
  auto c = config(6000, 3);
  c.session_idle = 5 * kMin;
  Room room(c);
  for (std::uint32_t n = 1; n <= 3; ++n)
    EXPECT_EQ(room.visit(visitor(n, kT0), kT0).kind, Kind::Admitted);
  Answer a = room.visit(visitor(4, kT0), kT0);
  ASSERT_EQ(a.kind, Kind::Waiting);
  EXPECT_EQ(a.position, 1u);
  // Visitor 4 keeps refreshing; visitors 1-3 go quiet.
  std::int64_t t = kT0;
  for (int i = 0; i < 14; ++i) {
    t += 20 * kSec;
    room.tick(t);
    ASSERT_EQ(room.visit(visitor(4, 0), t).kind, Kind::Waiting) << i;
  }
  t = kT0 + 5 * kMin;  // sessions 1-3 idle for session_idle
  room.tick(t);
  EXPECT_EQ(room.stats().expired_total, 3u);
  EXPECT_EQ(room.visit(visitor(4, 0), t).kind, Kind::Admitted);
  EXPECT_EQ(room.stats().active, 1u);
}

TEST(Room, VisitsRenewTheSessionAndItEndsWhenIdle) {
  auto c = config(60, 10);
  c.session_idle = 5 * kMin;
  Room room(c);
  ASSERT_EQ(room.visit(visitor(1, kT0), kT0).kind, Kind::Admitted);
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0 + 4 * kMin).kind, Kind::Admitted);
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0 + 8 * kMin).kind, Kind::Admitted);
  room.tick(kT0 + 13 * kMin - 1);
  EXPECT_EQ(room.stats().active, 1u);
  room.tick(kT0 + 13 * kMin);
  EXPECT_EQ(room.stats().active, 0u);
  EXPECT_EQ(room.stats().expired_total, 1u);
}

TEST(Room, AnExpiredSessionSeenBeforeTickStartsOver) {
  auto c = config(60, 1);
  c.session_idle = kMin;
  Room room(c);
  ASSERT_EQ(room.visit(visitor(1, kT0), kT0).kind, Kind::Admitted);
  // No tick ran; the visit itself notices the idle session and treats 1 as a newcomer, who is
  // admitted again because the line is empty and capacity allows.
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0 + 2 * kMin).kind, Kind::Admitted);
  EXPECT_EQ(room.stats().expired_total, 1u);
  EXPECT_EQ(room.stats().admitted_total, 2u);
}

TEST(Room, AdmittedSessionIsNeverSentBackMidSignup) {
  auto c = config(60, 2);
  c.session_idle = 5 * kMin;
  Room room(c);
  ASSERT_EQ(room.visit(visitor(1, kT0), kT0).kind, Kind::Admitted);
  ASSERT_EQ(room.visit(visitor(2, kT0), kT0).kind, Kind::Admitted);
  // A crowd with older tickets arrives; the room is at max_active.
  for (std::uint32_t n = 10; n < 60; ++n) {
    ASSERT_EQ(room.visit(visitor(n, kT0 - 30 * kMin), kT0 + kSec).kind, Kind::Waiting);
  }
  std::int64_t t = kT0;
  for (int i = 0; i < 60; ++i) {  // 20 minutes of activity, once every 20 s
    t += 20 * kSec;
    room.tick(t);
    ASSERT_EQ(room.visit(visitor(1, kT0), t).kind, Kind::Admitted) << i;
    for (std::uint32_t n = 10; n < 60; ++n) room.visit(visitor(n, kT0 - 30 * kMin), t);
  }
  // Visitor 2 went idle: its slot went to the head of the line (who collected it), visitor 1
  // kept its own.
  EXPECT_EQ(room.stats().active, 2u);
  EXPECT_EQ(room.stats().queued, 49u);
}

// One admitted place, shared by a whole /24 (the ticket binds to the prefix), registers
// max_signups_per_ticket accounts, not the network's: then it is used up and starts over.
TEST(Room, APlaceServesAFewSubmissionsThenIsSpent) {
  auto c = config(60, 100);
  c.max_signups_per_ticket = 3;
  Room room(c);
  Visit v = visitor(1, kT0);
  ASSERT_EQ(room.visit(v, kT0).kind, Kind::Admitted);  // the sign-up page: no submission
  v.submission = true;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(room.visit(v, kT0 + i).kind, Kind::Admitted) << i;
  EXPECT_EQ(room.visit(v, kT0 + 10).kind, Kind::Spent);
  EXPECT_EQ(room.stats().spent_total, 1u);
  EXPECT_EQ(room.stats().active, 0u);
  // The id is forgotten: coming back with it is a newcomer again (the proxy issues a new
  // ticket instead), and page views never count.
  v.submission = false;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(room.visit(v, kT0 + 20 + i).kind, Kind::Admitted);
  // No cap: submissions are not counted.
  c.max_signups_per_ticket = 0;
  Room open(c);
  Visit w = visitor(2, kT0);
  w.submission = true;
  for (int i = 0; i < 50; ++i) ASSERT_EQ(open.visit(w, kT0 + i).kind, Kind::Admitted) << i;
}

TEST(Room, PerPrefixCapKeepsOneRangeFromFillingTheLine) {
  auto c = config(60, 1);
  c.max_per_prefix = 2;
  Room room(c);
  room.visit(visitor(1, kT0), kT0);  // admitted, not a place
  EXPECT_EQ(room.visit(visitor(2, kT0, 7), kT0).kind, Kind::Waiting);
  EXPECT_EQ(room.visit(visitor(3, kT0, 7), kT0).kind, Kind::Waiting);
  EXPECT_EQ(room.visit(visitor(4, kT0, 7), kT0).kind, Kind::PrefixFull);
  EXPECT_EQ(room.visit(visitor(5, kT0, 8), kT0).kind, Kind::Waiting);
  EXPECT_EQ(room.visit(visitor(2, kT0, 7), kT0).kind, Kind::Waiting);  // known places unaffected
  EXPECT_EQ(room.stats().refused_prefix, 1u);
  EXPECT_EQ(room.stats().prefixes, 2u);
  // Once one of prefix 7's places is admitted, the prefix may queue again.
  room.revoke(id_of(1));
  room.tick(kT0 + 2 * kSec);
  EXPECT_EQ(room.visit(visitor(2, kT0, 7), kT0 + 2 * kSec).kind, Kind::Admitted);
  EXPECT_EQ(room.visit(visitor(4, kT0, 7), kT0 + 2 * kSec).kind, Kind::Waiting);
}

TEST(Room, QueueCapRefusesNewcomersButNotPlaceHolders) {
  auto c = config(60, 1);
  c.max_queue = 3;
  Room room(c);
  room.visit(visitor(1, kT0), kT0);
  for (std::uint32_t n = 2; n <= 4; ++n)
    ASSERT_EQ(room.visit(visitor(n, kT0), kT0).kind, Kind::Waiting);
  EXPECT_EQ(room.visit(visitor(5, kT0), kT0).kind, Kind::QueueFull);
  EXPECT_EQ(room.visit(visitor(6, kT0 - kMin), kT0).kind, Kind::QueueFull);
  EXPECT_EQ(room.visit(visitor(3, kT0), kT0).kind, Kind::Waiting);
  const Stats st = room.stats();
  EXPECT_EQ(st.queued, 3u);
  EXPECT_EQ(st.refused_full, 2u);
}

TEST(Room, ReconfigureKeepsLineSessionsAndCredit) {
  auto c = config(60, 1);
  Room room(c);
  ASSERT_EQ(room.visit(visitor(1, kT0), kT0).kind, Kind::Admitted);
  for (std::uint32_t n = 2; n <= 11; ++n) room.visit(visitor(n, kT0 + n), kT0 + n);
  auto c2 = c;
  c2.new_users_per_minute = 120;
  c2.max_queue = 5;  // below the current 10 places: nobody is evicted
  room.reconfigure(c2);
  EXPECT_EQ(room.stats().queued, 10u);
  EXPECT_EQ(room.visit(visitor(1, 0), kT0 + 100).kind, Kind::Admitted);
  const Answer a = room.visit(visitor(11, 0), kT0 + 100);
  EXPECT_EQ(a.position, 10u);
  EXPECT_EQ(a.eta_s, 20u);  // 9 ahead at 2/s = 4.5 s, floored to the refresh interval
  EXPECT_EQ(room.visit(visitor(50, kT0), kT0 + 100).kind, Kind::QueueFull);
  EXPECT_EQ(room.config().new_users_per_minute, 120u);
}

TEST(Room, GonePlacesDropAndReturnByFirstSeen) {
  auto c = config(60, 1);
  c.refresh = 20 * kSec;
  Room room(c);
  EXPECT_EQ(Room::gone_ms_for(c), 90 * kSec);
  room.visit(visitor(1, kT0), kT0);  // admitted, keeps visiting below
  room.visit(visitor(2, kT0), kT0);  // closes the tab
  room.visit(visitor(3, kT0 + 1), kT0 + 1);
  for (std::int64_t t = kT0 + 20 * kSec; t <= kT0 + 100 * kSec; t += 20 * kSec) {
    room.visit(visitor(1, kT0), t);
    room.visit(visitor(3, kT0 + 1), t);
    room.tick(t);
  }
  const Stats st = room.stats();
  EXPECT_EQ(st.gone_total, 1u);
  EXPECT_EQ(st.queued, 1u);
  EXPECT_EQ(room.visit(visitor(3, kT0 + 1), kT0 + 101 * kSec).position, 1u);
  // Coming back with the same ticket restores the place its first-seen time earns.
  EXPECT_EQ(room.visit(visitor(2, kT0), kT0 + 101 * kSec).position, 1u);
  EXPECT_EQ(room.visit(visitor(3, kT0 + 1), kT0 + 101 * kSec).position, 2u);
}

TEST(Room, UncollectedAdmissionEndsAfterGoneTimeout) {
  auto c = config(60, 1);
  c.refresh = 20 * kSec;
  c.session_idle = 30 * kMin;
  Room room(c);
  room.visit(visitor(1, kT0), kT0);
  room.visit(visitor(2, kT0), kT0);
  room.visit(visitor(3, kT0), kT0);
  room.revoke(id_of(1));
  room.tick(kT0 + kSec);  // 2 admitted (pending), never comes back
  EXPECT_EQ(room.stats().pending, 1u);
  std::int64_t t = kT0 + kSec;
  for (int i = 0; i < 5; ++i) {
    t += 20 * kSec;
    room.tick(t);
    room.visit(visitor(3, kT0), t);
  }
  // 101 s later the admission of 2 lapsed (90 s) and 3 got the slot.
  EXPECT_EQ(room.stats().expired_total, 1u);
  EXPECT_EQ(room.visit(visitor(3, kT0), t).kind, Kind::Admitted);
}

TEST(Room, PendingAdmissionIsCollectedOnNextVisit) {
  Room room(config(60, 1));
  room.visit(visitor(1, kT0), kT0);
  EXPECT_EQ(room.visit(visitor(2, kT0), kT0).kind, Kind::Waiting);
  room.revoke(id_of(1));
  room.tick(kT0 + kSec);
  Stats st = room.stats();
  EXPECT_EQ(st.pending, 1u);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(room.visit(visitor(2, kT0), kT0 + 5 * kSec).kind, Kind::Admitted);
  st = room.stats();
  EXPECT_EQ(st.pending, 0u);
  EXPECT_EQ(st.active, 1u);
}

TEST(Room, RevokeForgetsTheId) {
  Room room(config(60, 1));
  room.visit(visitor(1, kT0), kT0);
  room.visit(visitor(2, kT0), kT0);
  room.visit(visitor(3, kT0), kT0);
  EXPECT_TRUE(room.revoke(id_of(2)));
  EXPECT_FALSE(room.revoke(id_of(2)));
  EXPECT_EQ(room.visit(visitor(3, kT0), kT0).position, 1u);
  EXPECT_TRUE(room.revoke(id_of(1)));
  EXPECT_EQ(room.stats().active, 0u);
  EXPECT_EQ(room.stats().revoked_total, 2u);
  EXPECT_EQ(room.stats().prefixes, 1u);
}

TEST(Room, ZeroRateAdmitsNobodyAndEtaIsUnknown) {
  Room room(config(0, 10));
  // The bucket holds one admission even at rate 0 (burst is at least 1).
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0).kind, Kind::Admitted);
  const Answer a = room.visit(visitor(2, kT0), kT0);
  EXPECT_EQ(a.kind, Kind::Waiting);
  EXPECT_EQ(a.eta_s, kEtaUnknown);
  for (std::int64_t t = kT0; t <= kT0 + 10 * kMin; t += 20 * kSec) {
    room.tick(t);
    EXPECT_EQ(room.visit(visitor(2, kT0), t).kind, Kind::Waiting);
  }
  EXPECT_EQ(room.stats().queued, 1u);
  EXPECT_EQ(room.stats().admitted_total, 1u);
}

TEST(Room, PreviewChangesNothing) {
  auto c = config(60, 1);
  c.max_queue = 4;
  c.max_per_prefix = 2;
  Room room(c);
  EXPECT_EQ(room.preview(visitor(1, kT0), kT0).kind, Kind::Admitted);
  EXPECT_EQ(room.stats().active, 0u);
  room.visit(visitor(1, kT0), kT0);
  room.visit(visitor(2, kT0 - 10), kT0);
  room.visit(visitor(3, kT0 + 10), kT0 + 10);
  Answer a = room.preview(visitor(9, kT0), kT0 + 20);
  EXPECT_EQ(a.kind, Kind::Waiting);
  EXPECT_EQ(a.position, 2u);  // after 2 (older), before 3 (newer)
  EXPECT_EQ(room.preview(visitor(9, kT0 + 20), kT0 + 20).position, 3u);
  EXPECT_EQ(room.preview(visitor(3, 0), kT0 + 20).position, 2u);  // a known place
  EXPECT_EQ(room.preview(visitor(9, kT0, 2), kT0 + 20).kind, Kind::Waiting);
  room.visit(visitor(4, kT0, 2), kT0 + 20);
  EXPECT_EQ(room.preview(visitor(9, kT0, 2), kT0 + 20).kind, Kind::PrefixFull);
  room.visit(visitor(5, kT0), kT0 + 20);
  EXPECT_EQ(room.preview(visitor(9, kT0), kT0 + 20).kind, Kind::QueueFull);
  room.visit(visitor(6, kT0), kT0 + 20);
  const Stats s = room.stats();
  EXPECT_EQ(s.queued, 4u);
  EXPECT_EQ(s.refused_prefix, 0u);
  EXPECT_EQ(s.refused_full, 1u);  // visitor 6, not the previews
}

TEST(Room, StatsReportOldestWait) {
  Room room(config(60, 1));
  room.visit(visitor(1, kT0), kT0);
  room.visit(visitor(2, kT0 - 5 * kSec), kT0);
  room.visit(visitor(3, kT0), kT0 + 7 * kSec);
  EXPECT_EQ(room.stats().oldest_wait_ms, 12 * kSec);
}

TEST(Room, TimeGoingBackwardsByAFewMsIsHarmless) {
  Room room(config(60, 1));
  room.visit(visitor(1, kT0), kT0 + 10);
  EXPECT_EQ(room.visit(visitor(2, kT0), kT0 + 5).kind, Kind::Waiting);
  EXPECT_EQ(room.visit(visitor(1, kT0), kT0 + 3).kind, Kind::Admitted);
  room.tick(kT0);
  EXPECT_EQ(room.stats().active, 1u);
  EXPECT_EQ(room.stats().queued, 1u);
}

}  // namespace
}  // namespace gh::waitroom
