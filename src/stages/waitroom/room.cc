#include "stages/waitroom/room.h"

#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/hash.h"

namespace gh::waitroom {
namespace {

constexpr std::int64_t kUnit = 60'000;  // bucket units per admission (ms per minute)

// Ids are server-chosen random bytes, but prefixes are the client's to pick within what it
// owns: both tables are seeded per process so nobody can aim at one hash chain.
std::uint64_t process_seed() {
  static const std::uint64_t seed = [] {
    std::uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
      s = static_cast<std::uint64_t>(core::monotonic_ns());
    }
    return core::mix64(s | 1);
  }();
  return seed;
}

std::uint32_t refresh_seconds(const policy::WaitingRoomConfig& c) {
  return std::max<std::uint32_t>(1, (c.refresh + 999) / 1000);
}

}  // namespace

std::size_t Room::IdHash::operator()(const TicketId& id) const {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, id.data(), 8);
  std::memcpy(&b, id.data() + 8, 8);
  return static_cast<std::size_t>(core::mix64(a ^ seed) ^ core::mix64(b + seed));
}

std::size_t Room::PrefixHash::operator()(const client::Cidr& c) const {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, c.address.bytes.data(), 8);
  std::memcpy(&b, c.address.bytes.data() + 8, 8);
  return static_cast<std::size_t>(core::mix64(a ^ seed) ^ core::mix64(b + seed + c.prefix_len));
}

std::int64_t Room::gone_ms_for(const policy::WaitingRoomConfig& c) {
  std::int64_t gone = 3 * static_cast<std::int64_t>(c.refresh) + kGoneGraceMs;
  if (c.ticket_lifetime > 0) gone = std::min<std::int64_t>(gone, c.ticket_lifetime);
  return gone;
}

std::uint32_t Room::eta_for(std::uint64_t ahead, std::uint32_t per_minute,
                            std::uint32_t refresh_s) {
  if (per_minute == 0) return kEtaUnknown;
  // ahead < 2^32 and 60 * ahead + per_minute fits easily in 64 bits.
  const std::uint64_t s = (ahead * 60 + per_minute - 1) / per_minute;
  const std::uint64_t capped = std::min<std::uint64_t>(s, kEtaUnknown - 1);
  return std::max(static_cast<std::uint32_t>(capped), refresh_s);
}

Room::Room(const policy::WaitingRoomConfig& config)
    : index_(16, IdHash{process_seed()}),
      prefix_counts_(16, PrefixHash{core::mix64(process_seed())}) {
  reconfigure(config);
  credit_ = credit_cap_;  // start full: a calm room admits at once
}

void Room::reconfigure(const policy::WaitingRoomConfig& config) {
  std::lock_guard lock(mu_);
  config_ = config;
  gone_ms_ = gone_ms_for(config);
  set_credit_cap();
}

void Room::set_credit_cap() {
  const std::int64_t per_min = config_.new_users_per_minute;
  std::int64_t burst = std::max<std::int64_t>(1, (per_min * kBurstSeconds + 59) / 60);
  // In a fleet the burst is shared as the rate is (rounded down, at least one), or N calm nodes
  // would let N bursts in at once when a crowd arrives.
  if (fleet_.on && per_min > 0) {
    burst = std::max<std::int64_t>(
        1, burst * std::min<std::int64_t>(fleet_.per_minute, per_min) / per_min);
  }
  credit_cap_ = burst * kUnit;
  credit_ = std::min(credit_, credit_cap_);
}

policy::WaitingRoomConfig Room::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

Room::List& Room::list_of(State s) {
  switch (s) {
    case State::Queued:
      return queued_;
    case State::Pending:
      return pending_;
    default:
      return active_;
  }
}

void Room::link_tail(List& l, std::uint32_t i) {
  Record& r = records_[i];
  r.prev = l.tail;
  r.next = kNil;
  if (l.tail != kNil) {
    records_[l.tail].next = i;
  } else {
    l.head = i;
  }
  l.tail = i;
  ++l.size;
}

void Room::unlink(List& l, std::uint32_t i) {
  Record& r = records_[i];
  if (r.prev != kNil) {
    records_[r.prev].next = r.next;
  } else {
    l.head = r.next;
  }
  if (r.next != kNil) {
    records_[r.next].prev = r.prev;
  } else {
    l.tail = r.prev;
  }
  r.prev = r.next = kNil;
  --l.size;
}

std::uint32_t Room::alloc(const TicketId& id) {
  std::uint32_t i;
  if (free_head_ != kNil) {
    i = free_head_;
    free_head_ = records_[i].next;
  } else {
    i = static_cast<std::uint32_t>(records_.size());
    records_.emplace_back();
  }
  Record& r = records_[i];
  r = Record{};
  r.id = id;
  index_.emplace(id, i);
  return i;
}

void Room::release(std::uint32_t i) {
  Record& r = records_[i];
  unlink(list_of(r.state), i);
  if (r.state == State::Queued) {
    order_.erase(OrderKey{r.first_seen, r.seq});
    auto it = prefix_counts_.find(r.prefix);
    if (it != prefix_counts_.end() && --it->second == 0) prefix_counts_.erase(it);
  }
  index_.erase(r.id);
  r.state = State::Free;
  r.next = free_head_;
  free_head_ = i;
}

void Room::refill(std::int64_t now) {
  if (!started_) {
    started_ = true;
    refill_at_ = now;
    return;
  }
  if (now <= refill_at_) return;  // threads may pass slightly older instants: never refill back
  // Capped so the product stays far from overflow; an hour refills any bucket we can build.
  const std::int64_t elapsed = std::min<std::int64_t>(now - refill_at_, 3'600'000);
  credit_ = std::min(credit_cap_, credit_ + elapsed * static_cast<std::int64_t>(rate()));
  refill_at_ = now;
}

bool Room::can_admit() const {
  return credit_ >= kUnit && std::uint64_t{pending_.size} + active_.size < cap();
}

void Room::consume(std::int64_t now) {
  credit_ -= kUnit;
  ++admitted_total_;
  const std::int64_t sec = now >= 0 ? now / 1000 : 0;
  const std::size_t slot = static_cast<std::size_t>(sec % 60);
  if (second_of_[slot] != sec) {
    second_of_[slot] = sec;
    per_second_[slot] = 0;
  }
  ++per_second_[slot];
}

void Room::admit_ready(std::int64_t now) {
  while (queued_.size > 0 && can_admit()) {
    const auto head = order_.begin();
    if (!due(head->first.first)) break;  // older places on other nodes go first
    const std::uint32_t i = head->second;
    Record& r = records_[i];
    unlink(queued_, i);
    order_.erase(head);
    auto pc = prefix_counts_.find(r.prefix);
    if (pc != prefix_counts_.end() && --pc->second == 0) prefix_counts_.erase(pc);
    // Pending until the person's next refresh picks the admission up; an admission nobody
    // collects ends after the gone timeout instead of holding a slot for a whole session.
    r.state = State::Pending;
    r.touched = now;
    link_tail(pending_, i);
    consume(now);
  }
}

void Room::expire(std::int64_t now) {
  const std::int64_t idle = config_.session_idle;
  std::uint32_t n = 0;
  while (active_.head != kNil && n < kMaxExpiryPerTick &&
         records_[active_.head].touched + idle <= now) {
    release(active_.head);
    ++expired_total_;
    ++n;
  }
  n = 0;
  while (pending_.head != kNil && n < kMaxExpiryPerTick &&
         records_[pending_.head].touched + gone_ms_ <= now) {
    release(pending_.head);
    ++expired_total_;
    ++n;
  }
  n = 0;
  while (queued_.head != kNil && n < kMaxExpiryPerTick &&
         records_[queued_.head].touched + gone_ms_ <= now) {
    release(queued_.head);
    ++gone_total_;
    ++n;
  }
}

Answer Room::waiting_answer(const Record& r) const {
  return waiting_at(order_.order_of_key(OrderKey{r.first_seen, r.seq}));
}

// The signed first-seen time orders the line, clamped into [now - ticket_lifetime, now]: a
// ticket from another node's clock cannot jump ahead from the future, and a hoarded old ticket
// gains at most one ticket lifetime.
std::int64_t Room::clamp_first_seen(std::int64_t first_seen, std::int64_t now) const {
  const std::int64_t oldest = now - static_cast<std::int64_t>(config_.ticket_lifetime);
  return std::clamp(first_seen, std::min(oldest, now), now);
}

Answer Room::waiting_at(std::uint64_t ahead) const {
  Answer a;
  a.kind = Answer::Kind::Waiting;
  a.position = static_cast<std::uint32_t>(std::min<std::uint64_t>(ahead + 1, 0xffff'ffff));
  a.eta_s = eta_for(ahead, config_.new_users_per_minute, refresh_seconds(config_));
  return a;
}

// An admitted place serves at most max_signups_per_ticket submissions (non-GET requests): a
// ticket shared across a network (its binding is the prefix) registers a few accounts, not a
// crowd's. Past that the place is used up and the holder starts over at the back.
Answer Room::use(std::uint32_t i, const Visit& v) {
  Record& r = records_[i];
  if (v.submission && config_.max_signups_per_ticket != 0 &&
      ++r.submissions > config_.max_signups_per_ticket) {
    release(i);
    ++spent_total_;
    return Answer{Answer::Kind::Spent, 0, 0};
  }
  return Answer{Answer::Kind::Admitted, 0, 0};
}

Answer Room::visit(const Visit& v, std::int64_t now) {
  std::lock_guard lock(mu_);
  last_now_ = std::max(last_now_, now);
  refill(now);

  auto it = index_.find(v.id);
  if (it != index_.end()) {
    const std::uint32_t i = it->second;
    Record& r = records_[i];
    switch (r.state) {
      case State::Active:
        if (r.touched + static_cast<std::int64_t>(config_.session_idle) > now) {
          unlink(active_, i);
          r.touched = std::max(r.touched, now);
          link_tail(active_, i);
          return use(i, v);
        }
        release(i);  // the session ended; this visit starts over as a newcomer
        ++expired_total_;
        break;
      case State::Pending:
        if (r.touched + gone_ms_ > now) {
          unlink(pending_, i);
          r.state = State::Active;
          r.touched = std::max(r.touched, now);
          link_tail(active_, i);
          return use(i, v);
        }
        release(i);
        ++expired_total_;
        break;
      case State::Queued:
        // Keeps the place even past the gone timeout if tick() has not dropped it yet.
        unlink(queued_, i);
        r.touched = std::max(r.touched, now);
        link_tail(queued_, i);
        admit_ready(now);
        if (r.state == State::Pending) {  // admitted just now, and here to use it
          unlink(pending_, i);
          r.state = State::Active;
          link_tail(active_, i);
          return use(i, v);
        }
        return waiting_answer(r);
      case State::Free:
        break;  // unreachable: free records are not indexed
    }
  }

  // A newcomer.
  const std::int64_t first_seen = clamp_first_seen(v.first_seen_ms, now);

  if (queued_.size == 0 && can_admit() && due(first_seen)) {  // calm: no needless waiting
    const std::uint32_t i = alloc(v.id);
    Record& r = records_[i];
    r.first_seen = first_seen;
    r.prefix = v.prefix;
    r.touched = now;
    r.state = State::Active;
    link_tail(active_, i);
    consume(now);
    return use(i, v);
  }
  if (queued_.size >= config_.max_queue) {
    ++refused_full_;
    return Answer{Answer::Kind::QueueFull, 0, 0};
  }
  auto pc = prefix_counts_.find(v.prefix);
  if (config_.max_per_prefix > 0 && pc != prefix_counts_.end() &&
      pc->second >= config_.max_per_prefix) {
    ++refused_prefix_;
    return Answer{Answer::Kind::PrefixFull, 0, 0};
  }
  const std::uint32_t i = alloc(v.id);
  Record& r = records_[i];
  r.first_seen = first_seen;
  r.seq = next_seq_++;
  r.prefix = v.prefix;
  r.touched = now;
  r.state = State::Queued;
  link_tail(queued_, i);
  order_.insert({OrderKey{first_seen, r.seq}, i});
  if (pc != prefix_counts_.end()) {
    ++pc->second;
  } else {
    prefix_counts_.emplace(v.prefix, 1);
  }
  admit_ready(now);
  Record& after = records_[i];
  if (after.state == State::Pending) {  // an old ticket at the head while capacity allows
    unlink(pending_, i);
    after.state = State::Active;
    link_tail(active_, i);
    return use(i, v);
  }
  return waiting_answer(after);
}

Answer Room::preview(const Visit& v, std::int64_t now) const {
  std::lock_guard lock(mu_);
  if (const auto it = index_.find(v.id); it != index_.end()) {
    // Known ids are not newcomers; visit() is the way to use them. Report the place they hold.
    const Record& r = records_[it->second];
    if (r.state == State::Queued) return waiting_answer(r);
    return Answer{Answer::Kind::Admitted, 0, 0};
  }
  // The bucket as refill(now) would leave it, without touching it.
  std::int64_t credit = credit_;
  if (started_ && now > refill_at_) {
    const std::int64_t elapsed = std::min<std::int64_t>(now - refill_at_, 3'600'000);
    credit = std::min(credit_cap_, credit + elapsed * static_cast<std::int64_t>(rate()));
  }
  const bool capacity = credit >= kUnit && std::uint64_t{pending_.size} + active_.size < cap();
  if (queued_.size == 0 && capacity && due(clamp_first_seen(v.first_seen_ms, now))) {
    return Answer{Answer::Kind::Admitted, 0, 0};
  }
  if (queued_.size >= config_.max_queue) return Answer{Answer::Kind::QueueFull, 0, 0};
  auto pc = prefix_counts_.find(v.prefix);
  if (config_.max_per_prefix > 0 && pc != prefix_counts_.end() &&
      pc->second >= config_.max_per_prefix) {
    return Answer{Answer::Kind::PrefixFull, 0, 0};
  }
  // Ranked after every place with the same first-seen time, as a new arrival would be.
  const OrderKey key{clamp_first_seen(v.first_seen_ms, now), ~std::uint64_t{0}};
  return waiting_at(order_.order_of_key(key));
}

void Room::tick(std::int64_t now) {
  std::lock_guard lock(mu_);
  last_now_ = std::max(last_now_, now);
  refill(now);
  expire(now);
  admit_ready(now);
}

void Room::set_fleet_share(const FleetShare& share) {
  std::lock_guard lock(mu_);
  fleet_ = share;
  set_credit_cap();
}

std::vector<std::int64_t> Room::heads(std::size_t n) const {
  std::lock_guard lock(mu_);
  std::vector<std::int64_t> out;
  out.reserve(std::min<std::size_t>(n, order_.size()));
  for (auto it = order_.begin(); it != order_.end() && out.size() < n; ++it)
    out.push_back(it->first.first);
  return out;
}

bool Room::revoke(const TicketId& id) {
  std::lock_guard lock(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  release(it->second);
  ++revoked_total_;
  return true;
}

std::uint64_t Room::rate_last_minute() const {
  const std::int64_t sec = last_now_ / 1000;
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < 60; ++k) {
    if (second_of_[k] > sec - 60 && second_of_[k] <= sec) sum += per_second_[k];
  }
  return sum;
}

Stats Room::stats() const {
  std::lock_guard lock(mu_);
  Stats s;
  s.queued = queued_.size;
  s.pending = pending_.size;
  s.active = std::uint64_t{pending_.size} + active_.size;
  s.admitted_total = admitted_total_;
  s.refused_full = refused_full_;
  s.refused_prefix = refused_prefix_;
  s.gone_total = gone_total_;
  s.expired_total = expired_total_;
  s.revoked_total = revoked_total_;
  s.spent_total = spent_total_;
  s.admission_rate_per_min = rate_last_minute();
  if (!order_.empty()) {
    s.oldest_wait_ms = std::max<std::int64_t>(0, last_now_ - order_.begin()->first.first);
  }
  s.prefixes = prefix_counts_.size();
  return s;
}

}  // namespace gh::waitroom
