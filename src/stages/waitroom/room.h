// The waiting room of one sign-up route: a FIFO line ordered by the ticket's signed first-seen
// time, admission by a token bucket (new users per minute) and a cap on admitted sessions.
// Shared by all worker threads behind one mutex; `now` is always an argument. README.md has the
// behaviour in full.
#pragma once

#include <array>
#include <cstdint>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "stages/waitroom/config-t.h"
#include "stages/waitroom/waitroom-t.h"

namespace gh::waitroom {

class Room {
 public:
  // A queued place not visited for 3 refresh intervals plus this grace is gone (README.md).
  static constexpr std::int64_t kGoneGraceMs = 30'000;
  // The token bucket holds this many seconds of admissions (at least one): after a calm spell
  // the app sees a short burst, not a minute's worth at once.
  static constexpr std::uint32_t kBurstSeconds = 5;
  // Expiry work per list per tick is bounded so one tick never holds the lock for long; what is
  // left is done on the next tick.
  static constexpr std::uint32_t kMaxExpiryPerTick = 16'384;

  explicit Room(const policy::WaitingRoomConfig& config);
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  // Keeps the line, the sessions and the bucket's credit; new caps apply to what comes next
  // (nothing is evicted when a cap shrinks, the room just admits/accepts less until below it).
  void reconfigure(const policy::WaitingRoomConfig& config);

  Answer visit(const Visit& v, std::int64_t now_ms);

  // What visit() would answer a newcomer now, changing nothing (Waiting gives the position it
  // would take). For a first request without a ticket: answer it with the page and a fresh
  // ticket, and call visit() only when the ticket comes back. The place is taken by the
  // ticket's first-seen time, so the person loses nothing, and a client that drops cookies
  // (a flood) never takes a place at all. Admitted means "would be admitted at once".
  Answer preview(const Visit& v, std::int64_t now_ms) const;

  // Once a second: ends idle sessions, drops gone places, admits from the head of the line.
  void tick(std::int64_t now_ms);

  // Forgets the id wherever it is (line or session). True when it was known. The caller should
  // issue a fresh ticket afterwards: the old one still carries its first-seen time.
  bool revoke(const TicketId& id);

  // In a fleet: the other nodes' places and the fleet's cap, applied at once (off again with
  // share.on false: the room is alone, at the whole rate, as without a fleet).
  void set_fleet_share(const FleetShare& share);
  bool fleet() const;
  // Whether a visit of `id` is the line's to decide: not a session (or an admission) here. And
  // whether this node has room for one more session (max_active, the fleet's share of it).
  bool in_line(const TicketId& id) const;
  bool has_room() const;
  // Another node admitted this id (its message): the place leaves this line (a visit is then
  // let through as a guest), the fleet's bucket here pays for it, and an admission of the same
  // id made here but not yet collected yields to it.
  void admitted_elsewhere(const TicketId& id, std::int64_t now_ms);
  // In a fleet: called with each id this room admits (outside the room's lock, on the thread
  // that admitted it), to tell the other nodes. Set before use.
  void on_admit(std::function<void(const TicketId&)> f);
  // The first-seen times of the `n` oldest places in the line, oldest first.
  std::vector<std::int64_t> heads(std::size_t n) const;
  // The same with their ids (the heartbeat: the fleet's line is merged by id).
  std::vector<Head> line_heads(std::size_t n) const;

  Stats stats() const;

  policy::WaitingRoomConfig config() const;

  // Milliseconds after which an unvisited place (or an unused admission) is gone.
  static std::int64_t gone_ms_for(const policy::WaitingRoomConfig& c);
  // The bucket's size in admissions for one room alone (kBurstSeconds of the rate, at least 1).
  static std::int64_t burst_for(const policy::WaitingRoomConfig& c);
  // The page's refresh in whole seconds (at least 1).
  static std::uint32_t refresh_seconds(const policy::WaitingRoomConfig& c);
  // The signed first-seen time as the line orders it, clamped into [now - ticket_lifetime, now].
  static std::int64_t clamp_first_seen(std::int64_t first_seen, std::int64_t now,
                                       const policy::WaitingRoomConfig& c);
  // ETA for `ahead` people at `per_minute` admissions, at least `refresh_s` (README.md).
  static std::uint32_t eta_for(std::uint64_t ahead, std::uint32_t per_minute,
                               std::uint32_t refresh_s);

 private:
  // Elsewhere: admitted by another node, not seen here since. Guest: a session admitted by another
  // node and used here. Neither counts against this node's cap: the admitting node counts it.
  enum class State : std::uint8_t { Free, Queued, Pending, Active, Elsewhere, Guest };
  static constexpr std::uint32_t kNil = 0xffff'ffff;

  struct Record {
    TicketId id{};
    std::int64_t first_seen = 0;  // effective (clamped) first-seen time, ms
    std::int64_t order = 0;       // the line's order: first_seen in µs (waitroom-t.h, order_us)
    // Arrival number: ties of order go in arrival order here; the fleet breaks ties between
    // nodes by ticket id (a tie within one microsecond).
    std::uint64_t seq = 0;
    std::int64_t touched = 0;  // last visit; for Pending, the admission time
    client::Cidr prefix;
    std::uint32_t prev = kNil;
    std::uint32_t next = kNil;      // also the free-list link
    std::uint32_t submissions = 0;  // non-GET requests admitted on this place
    State state = State::Free;
    std::uint64_t rival = 0;  // Queued in a fleet: the best other holder's score (0: none known)
  };

  // Intrusive doubly linked list over record indices, kept in `touched` order (appended on
  // each touch), so expiry pops from the head in O(1) per record.
  struct List {
    std::uint32_t head = kNil;
    std::uint32_t tail = kNil;
    std::uint32_t size = 0;
  };

  struct IdHash {
    std::uint64_t seed;
    std::size_t operator()(const TicketId& id) const;
  };
  struct PrefixHash {
    std::uint64_t seed;
    std::size_t operator()(const client::Cidr& c) const;
  };

  using OrderKey = std::pair<std::int64_t, std::uint64_t>;  // (order, seq)
  // Order-statistics tree: the rank of a key (the position) in O(log n).
  using OrderTree =
      __gnu_pbds::tree<OrderKey, std::uint32_t, std::less<OrderKey>, __gnu_pbds::rb_tree_tag,
                       __gnu_pbds::tree_order_statistics_node_update>;

  List& list_of(State s);
  void link_tail(List& l, std::uint32_t i);
  void unlink(List& l, std::uint32_t i);
  std::uint32_t alloc(const TicketId& id);
  void release(std::uint32_t i);  // unlinks from everything and frees the record
  void refill(std::int64_t now);
  bool can_admit() const;
  void consume(std::int64_t now);
  void admit_ready(std::int64_t now);
  void admit_ready_fleet();
  Answer visit_locked(const Visit& v, std::int64_t now);
  void publish();  // hands the ids admitted under the lock to on_admit_ (call unlocked)
  // Fleet: the other nodes' places ahead of (order, id) in the fleet's line.
  std::uint64_t others_ahead(std::int64_t order, const TicketId& id) const;
  // Fleet: whether `rank` places ahead still leave a unit of credit for this one.
  bool due_at(std::uint64_t rank, std::int64_t first_seen, std::int64_t credit) const;
  std::uint64_t fleet_rank(const Record& r) const;
  void drop_other(const TicketId& id);  // the id's entry in fleet_.others, if any
  void admitted(std::uint32_t i);       // fleet: note an admission to tell the others
  void become(std::uint32_t i, State s, std::int64_t now);  // Elsewhere or Guest
  bool visitors_full() const;
  void expire(std::int64_t now);
  Answer waiting_answer(const Record& r) const;
  Answer use(std::uint32_t i, const Visit& v);
  Answer waiting_at(std::uint64_t ahead) const;
  std::uint64_t rate_last_minute() const;
  // The fleet's bucket is kept whole on every node (debited for every admission anywhere).
  std::uint32_t rate() const { return config_.new_users_per_minute; }
  std::uint64_t cap() const { return fleet_.on ? fleet_.max_active : config_.max_active; }
  // The bucket's size from the configured rate. Under mu_.
  void set_credit_cap();

  mutable std::mutex mu_;
  policy::WaitingRoomConfig config_;
  FleetShare fleet_;
  std::int64_t gone_ms_ = 0;
  std::int64_t credit_cap_ = 0;  // in kUnit per admission

  std::vector<Record> records_;
  std::uint32_t free_head_ = kNil;
  std::unordered_map<TicketId, std::uint32_t, IdHash> index_;
  OrderTree order_;
  std::unordered_map<client::Cidr, std::uint32_t, PrefixHash> prefix_counts_;
  List queued_, pending_, active_, elsewhere_, guests_;
  std::function<void(const TicketId&)> on_admit_;
  std::vector<TicketId> to_publish_;  // under mu_: admitted here, not yet handed to on_admit_
  std::uint64_t next_seq_ = 0;

  // Token bucket in integer units: one admission costs kUnit = 60 000 (ms per minute) and each
  // millisecond adds new_users_per_minute units, so no division is ever needed.
  std::int64_t credit_ = 0;
  std::int64_t refill_at_ = 0;
  bool started_ = false;

  // Admissions per second over the last minute (the measured rate in stats()).
  std::array<std::uint32_t, 60> per_second_{};
  std::array<std::int64_t, 60> second_of_{};
  std::int64_t last_now_ = 0;

  std::uint64_t admitted_total_ = 0;
  std::uint64_t refused_full_ = 0;
  std::uint64_t refused_prefix_ = 0;
  std::uint64_t gone_total_ = 0;
  std::uint64_t expired_total_ = 0;
  std::uint64_t revoked_total_ = 0;
  std::uint64_t spent_total_ = 0;
  std::uint64_t admitted_elsewhere_total_ = 0;
};

}  // namespace gh::waitroom
