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

std::uint32_t Room::refresh_seconds(const policy::WaitingRoomConfig& c) {
  return std::max<std::uint32_t>(1, (c.refresh + 999) / 1000);
}

std::int64_t Room::burst_for(const policy::WaitingRoomConfig& c) {
  return std::max<std::int64_t>(1,
                                (std::int64_t{c.new_users_per_minute} * kBurstSeconds + 59) / 60);
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
  std::int64_t burst = burst_for(config_);
  // In a fleet every node refills at the whole rate and pays for every admission it hears of,
  // but the burst is split (rounded down): N calm nodes that a crowd reaches faster than the
  // news of each other's admissions let in about one burst, not N. At least two units where the
  // burst has them: one more than the head needs, so that the refill goes on while the head's
  // holder is on its way (its next poll), and the line keeps the rate.
  if (fleet_.on) {
    burst =
        std::max(std::min<std::int64_t>(2, burst), burst / std::max<std::uint32_t>(1, fleet_.live));
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
    case State::Elsewhere:
      return elsewhere_;
    case State::Guest:
      return guests_;
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
    order_.erase(OrderKey{r.order, r.seq});
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
  // An admission the fleet's line made may find this bucket empty: at most a burst in debt.
  credit_ = std::max(-credit_cap_, credit_ - kUnit);
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
  if (fleet_.on && fleet_.line) return;  // Redis's line admits, on its holder's visit
  if (fleet_.on) {
    admit_ready_fleet();
    return;
  }
  while (queued_.size > 0 && can_admit()) {
    const auto head = order_.begin();
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
  while (guests_.head != kNil && n < kMaxExpiryPerTick &&
         records_[guests_.head].touched + idle <= now) {
    release(guests_.head);
    ++n;
  }
  n = 0;
  while (elsewhere_.head != kNil && n < kMaxExpiryPerTick &&
         records_[elsewhere_.head].touched + gone_ms_ <= now) {
    release(elsewhere_.head);
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
  return waiting_at(fleet_.on ? fleet_rank(r) : order_.order_of_key(OrderKey{r.order, r.seq}));
}

// ---- a fleet's one line -----------------------------------------------------------------------

namespace {
// The fleet's order: first-seen microseconds, then ticket id (the same on every node).
bool before(std::int64_t order_a, const TicketId& a, std::int64_t order_b, const TicketId& b) {
  return order_a != order_b ? order_a < order_b : a < b;
}
}  // namespace

std::uint64_t Room::others_ahead(std::int64_t order, const TicketId& id) const {
  const auto& o = fleet_.others;
  const auto it = std::lower_bound(o.begin(), o.end(), 0, [&](const FleetPlace& p, int) {
    return before(order_us(p.first_seen_ms, p.first_seen_us), p.id, order, id);
  });
  return static_cast<std::uint64_t>(it - o.begin());
}

std::uint64_t Room::fleet_rank(const Record& r) const {
  return order_.order_of_key(OrderKey{r.order, r.seq}) + others_ahead(r.order, r.id);
}

bool Room::due_at(std::uint64_t rank, std::int64_t first_seen, std::int64_t credit) const {
  // rank + 1 admissions must fit in the credit: the ones ahead go first. And the place must be
  // old enough for every node to know of it and of any older place elsewhere.
  return rank < static_cast<std::uint64_t>(credit_cap_ / kUnit) &&
         credit >= static_cast<std::int64_t>(rank + 1) * kUnit &&
         first_seen <= last_now_ - fleet_.settle_ms;
}

void Room::drop_other(const TicketId& id) {
  auto& o = fleet_.others;
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (it->id == id) {
      o.erase(it);
      return;
    }
  }
}

void Room::admitted(std::uint32_t i) {
  if (!fleet_.on) return;
  drop_other(records_[i].id);
  if (on_admit_ && to_publish_.size() < 4096) to_publish_.push_back(records_[i].id);
}

bool Room::visitors_full() const {
  return std::uint64_t{elsewhere_.size} + guests_.size >= config_.max_queue;
}

void Room::become(std::uint32_t i, State s, std::int64_t now) {
  Record& r = records_[i];
  unlink(list_of(r.state), i);
  if (r.state == State::Queued) {
    order_.erase(OrderKey{r.order, r.seq});
    auto it = prefix_counts_.find(r.prefix);
    if (it != prefix_counts_.end() && --it->second == 0) prefix_counts_.erase(it);
  }
  r.state = s;
  r.touched = now;
  link_tail(list_of(s), i);
}

// The due places of the fleet's line that this node holds and is the holder to admit (its
// score beats every other holder's), oldest first, while the fleet's bucket holds a unit for
// every place ahead. A place held elsewhere too is admitted here only if this node wins it;
// its holder's next visit to any node admits it anyway.
void Room::admit_ready_fleet() {
  std::uint64_t own_ahead = 0;
  auto it = order_.begin();
  while (it != order_.end() && std::uint64_t{pending_.size} + active_.size < cap()) {
    const std::uint32_t i = it->second;
    Record& r = records_[i];
    // Not due: nor is anyone behind (each wants more credit, and is no older).
    if (!due_at(own_ahead + others_ahead(r.order, r.id), r.first_seen, credit_)) break;
    if (r.rival != 0 && holder_score(r.id, fleet_.self) < r.rival) {
      ++own_ahead;
      ++it;
      continue;
    }
    ++it;
    unlink(queued_, i);
    order_.erase(OrderKey{r.order, r.seq});
    auto pc = prefix_counts_.find(r.prefix);
    if (pc != prefix_counts_.end() && --pc->second == 0) prefix_counts_.erase(pc);
    r.state = State::Pending;
    r.touched = last_now_;
    link_tail(pending_, i);
    consume(last_now_);
    admitted(i);
  }
}

void Room::admitted_elsewhere(const TicketId& id, std::int64_t now) {
  {
    std::lock_guard lock(mu_);
    last_now_ = std::max(last_now_, now);
    refill(now);
    ++admitted_elsewhere_total_;
    // The fleet's bucket pays for every admission, wherever made (never below an empty bucket's
    // debt of one burst, so a flood of news cannot stall the room for long).
    credit_ = std::max(-credit_cap_, credit_ - kUnit);
    drop_other(id);
    auto it = index_.find(id);
    if (it == index_.end()) {
      if (!visitors_full()) {
        const std::uint32_t i = alloc(id);
        records_[i].touched = now;
        records_[i].state = State::Elsewhere;
        link_tail(elsewhere_, i);
      }
      return;
    }
    const std::uint32_t i = it->second;
    switch (records_[i].state) {
      case State::Queued:
        become(i, State::Elsewhere, now);
        break;
      case State::Pending:
        // Admitted here too but not collected: ours yields (and is refunded), so the person
        // counts once. Two admissions collected on two nodes at once both stand.
        credit_ = std::min(credit_cap_, credit_ + kUnit);
        if (admitted_total_ > 0) --admitted_total_;  // not an admission after all
        become(i, State::Elsewhere, now);
        break;
      default:
        break;
    }
  }
}

void Room::on_admit(std::function<void(const TicketId&)> f) {
  std::lock_guard lock(mu_);
  on_admit_ = std::move(f);
}

bool Room::fleet() const {
  std::lock_guard lock(mu_);
  return fleet_.on;
}

bool Room::in_line(const TicketId& id) const {
  std::lock_guard lock(mu_);
  const auto it = index_.find(id);
  return it == index_.end() || records_[it->second].state == State::Queued;
}

bool Room::has_room() const {
  std::lock_guard lock(mu_);
  return std::uint64_t{pending_.size} + active_.size < cap();
}

// The signed first-seen time orders the line, clamped into [now - ticket_lifetime, now]: a
// ticket from another node's clock cannot jump ahead from the future, and a hoarded old ticket
// gains at most one ticket lifetime.
std::int64_t Room::clamp_first_seen(std::int64_t first_seen, std::int64_t now,
                                    const policy::WaitingRoomConfig& c) {
  const std::int64_t oldest = now - static_cast<std::int64_t>(c.ticket_lifetime);
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
  std::vector<TicketId> news;
  std::function<void(const TicketId&)> tell;
  Answer a;
  {
    std::lock_guard lock(mu_);
    a = visit_locked(v, now);
    if (!to_publish_.empty()) {  // told outside the lock: the hook queues for the fleet thread
      news.swap(to_publish_);
      tell = on_admit_;
    }
  }
  for (const TicketId& id : news) tell(id);
  return a;
}

Answer Room::visit_locked(const Visit& v, std::int64_t now) {
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
      case State::Guest:
        if (r.touched + static_cast<std::int64_t>(config_.session_idle) > now) {
          unlink(guests_, i);
          r.touched = std::max(r.touched, now);
          link_tail(guests_, i);
          return use(i, v);
        }
        release(i);
        break;
      case State::Elsewhere:  // admitted by another node: a session here as well
        become(i, State::Guest, now);
        return use(i, v);
      case State::Queued:
        if (fleet_.on && v.admitted) {  // admitted by another node before its news arrived
          become(i, State::Guest, now);
          return use(i, v);
        }
        // Keeps the place even past the gone timeout if tick() has not dropped it yet.
        unlink(queued_, i);
        r.touched = std::max(r.touched, now);
        link_tail(queued_, i);
        if (v.line == LineVerdict::Wait) return waiting_answer(r);
        if (v.line == LineVerdict::Admit ||
            (fleet_.on && std::uint64_t{pending_.size} + active_.size < cap() &&
             due_at(fleet_rank(r), r.first_seen, credit_))) {
          // Due in the fleet's line and here to use it: admitted on whichever node it asks.
          become(i, State::Active, now);
          consume(now);
          admitted(i);
          admit_ready(now);
          return use(i, v);
        }
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
  const std::int64_t first_seen = clamp_first_seen(v.first_seen_ms, now, config_);
  const std::int64_t order = order_us(first_seen, v.first_seen_us);
  bool admit_now = queued_.size == 0 && can_admit();  // calm: no needless waiting
  if (fleet_.on) {
    if (v.admitted) {  // admitted by another node; honoured untracked when the table is full
      if (visitors_full()) return Answer{Answer::Kind::Admitted, 0, 0};
      const std::uint32_t i = alloc(v.id);
      Record& r = records_[i];
      r.first_seen = first_seen;
      r.prefix = v.prefix;
      r.touched = now;
      r.state = State::Guest;
      link_tail(guests_, i);
      return use(i, v);
    }
    // Nobody waiting anywhere (as far as the heartbeats show): calm, no settling needed.
    const bool calm = queued_.size == 0 && fleet_.others.empty();
    const std::uint64_t rank =
        order_.order_of_key(OrderKey{order, ~std::uint64_t{0}}) + others_ahead(order, v.id);
    admit_now = std::uint64_t{pending_.size} + active_.size < cap() &&
                (calm ? credit_ >= kUnit : due_at(rank, first_seen, credit_));
  }
  if (v.line != LineVerdict::Local) admit_now = v.line == LineVerdict::Admit;
  if (admit_now) {
    const std::uint32_t i = alloc(v.id);
    Record& r = records_[i];
    r.first_seen = first_seen;
    r.prefix = v.prefix;
    r.touched = now;
    r.state = State::Active;
    link_tail(active_, i);
    consume(now);
    admitted(i);
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
  r.order = order;
  r.seq = next_seq_++;
  r.prefix = v.prefix;
  r.touched = now;
  r.state = State::Queued;
  link_tail(queued_, i);
  order_.insert({OrderKey{order, r.seq}, i});
  if (fleet_.on) {  // held by other nodes too: who wins it, and counted once
    for (auto o = fleet_.others.begin(); o != fleet_.others.end(); ++o) {
      if (o->id == v.id) {
        r.rival = o->rival;
        fleet_.others.erase(o);
        break;
      }
    }
  }
  if (pc != prefix_counts_.end()) {
    ++pc->second;
  } else {
    prefix_counts_.emplace(v.prefix, 1);
  }
  if (v.line == LineVerdict::Wait) return waiting_answer(records_[i]);
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
    if (r.state == State::Queued && !(fleet_.on && v.admitted)) return waiting_answer(r);
    return Answer{Answer::Kind::Admitted, 0, 0};
  }
  // The bucket as refill(now) would leave it, without touching it.
  std::int64_t credit = credit_;
  if (started_ && now > refill_at_) {
    const std::int64_t elapsed = std::min<std::int64_t>(now - refill_at_, 3'600'000);
    credit = std::min(credit_cap_, credit + elapsed * static_cast<std::int64_t>(rate()));
  }
  const bool capacity = credit >= kUnit && std::uint64_t{pending_.size} + active_.size < cap();
  const std::int64_t first_seen = clamp_first_seen(v.first_seen_ms, now, config_);
  const std::int64_t order = order_us(first_seen, v.first_seen_us);
  std::uint64_t fleet_rank = 0;
  if (fleet_.on) {
    if (v.admitted) return Answer{Answer::Kind::Admitted, 0, 0};
    fleet_rank =
        order_.order_of_key(OrderKey{order, ~std::uint64_t{0}}) + others_ahead(order, v.id);
    const bool calm = queued_.size == 0 && fleet_.others.empty();
    if (capacity && (calm || due_at(fleet_rank, first_seen, credit)))
      return Answer{Answer::Kind::Admitted, 0, 0};
  } else if (queued_.size == 0 && capacity) {
    return Answer{Answer::Kind::Admitted, 0, 0};
  }
  if (queued_.size >= config_.max_queue) return Answer{Answer::Kind::QueueFull, 0, 0};
  auto pc = prefix_counts_.find(v.prefix);
  if (config_.max_per_prefix > 0 && pc != prefix_counts_.end() &&
      pc->second >= config_.max_per_prefix) {
    return Answer{Answer::Kind::PrefixFull, 0, 0};
  }
  if (fleet_.on) return waiting_at(fleet_rank);
  // Ranked after every place with the same first-seen time, as a new arrival would be.
  const OrderKey key{order, ~std::uint64_t{0}};
  return waiting_at(order_.order_of_key(key));
}

void Room::tick(std::int64_t now) {
  std::vector<TicketId> news;
  std::function<void(const TicketId&)> tell;
  {
    std::lock_guard lock(mu_);
    last_now_ = std::max(last_now_, now);
    refill(now);
    expire(now);
    admit_ready(now);
    if (!to_publish_.empty()) {
      news.swap(to_publish_);
      tell = on_admit_;
    }
  }
  for (const TicketId& id : news) tell(id);
}

void Room::set_fleet_share(const FleetShare& share) {
  std::lock_guard lock(mu_);
  fleet_.on = share.on;
  fleet_.self = share.self;
  fleet_.max_active = share.max_active;
  fleet_.live = share.live;
  fleet_.settle_ms = share.settle_ms;
  fleet_.line = share.on && share.line;
  fleet_.others.clear();
  set_credit_cap();
  if (!share.on) return;
  // Rivals are what the heartbeats say now: a node that dropped a place no longer contests it.
  // Only the places that can be due (at most a bucket's worth) are ever admitted for being won.
  const std::size_t look = std::max<std::size_t>(64, static_cast<std::size_t>(credit_cap_ / kUnit));
  std::size_t n = 0;
  for (auto it = order_.begin(); it != order_.end() && n < look; ++it, ++n)
    records_[it->second].rival = 0;
  // Places this node holds are ranked from its own line; ones admitted anywhere (known here)
  // are no longer in the fleet's line.
  for (const FleetPlace& p : share.others) {
    if (fleet_.others.size() >= kMaxOthers) break;
    if (auto it = index_.find(p.id); it != index_.end()) {
      Record& r = records_[it->second];
      if (r.state == State::Queued) r.rival = std::max(r.rival, p.rival);
      continue;
    }
    fleet_.others.push_back(p);
  }
  std::sort(fleet_.others.begin(), fleet_.others.end(),
            [](const FleetPlace& a, const FleetPlace& b) {
              return before(order_us(a.first_seen_ms, a.first_seen_us), a.id,
                            order_us(b.first_seen_ms, b.first_seen_us), b.id);
            });
}

std::vector<Head> Room::line_heads(std::size_t n) const {
  std::lock_guard lock(mu_);
  std::vector<Head> out;
  out.reserve(std::min<std::size_t>(n, order_.size()));
  for (auto it = order_.begin(); it != order_.end() && out.size() < n; ++it) {
    const Record& r = records_[it->second];
    out.push_back(
        Head{r.first_seen, r.id, static_cast<std::uint16_t>(r.order - r.first_seen * 1000)});
  }
  return out;
}

std::vector<std::int64_t> Room::heads(std::size_t n) const {
  std::lock_guard lock(mu_);
  std::vector<std::int64_t> out;
  out.reserve(std::min<std::size_t>(n, order_.size()));
  for (auto it = order_.begin(); it != order_.end() && out.size() < n; ++it)
    out.push_back(records_[it->second].first_seen);
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
    s.oldest_wait_ms =
        std::max<std::int64_t>(0, last_now_ - records_[order_.begin()->second].first_seen);
  }
  s.prefixes = prefix_counts_.size();
  s.guests = guests_.size;
  s.admitted_elsewhere_total = admitted_elsewhere_total_;
  return s;
}

}  // namespace gh::waitroom
