#include "stages/ratelimit/table.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <new>

namespace gh::ratelimit {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Test-and-test-and-set. Critical sections are a few dozen instructions with no call, syscall or
// allocation inside, so the wait is short unless the holder is preempted: then yield the core.
class BucketLock {
 public:
  explicit BucketLock(Bucket& b) : lock_(b.lock) {
    int spins = 0;
    while (lock_.exchange(1, std::memory_order_acquire) != 0) {
      while (lock_.load(std::memory_order_relaxed) != 0) {
        if (++spins < 128) {
          cpu_relax();
        } else {
          spins = 0;
          sched_yield();
        }
      }
    }
  }
  ~BucketLock() { lock_.store(0, std::memory_order_release); }
  BucketLock(const BucketLock&) = delete;
  BucketLock& operator=(const BucketLock&) = delete;

 private:
  std::atomic<std::uint32_t>& lock_;
};

inline void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

Slot* find(Bucket& b, std::uint64_t tag) {
  for (Slot& s : b.slots) {
    if ((s.tag & ~kBannedBit) == tag) return &s;
  }
  return nullptr;
}

// A decision about a key that has a slot: tracked, and carrying the slot's ban flag.
Decision tracked(Decision d, const Slot& s) {
  d.status = Status::Tracked;
  d.banned = (s.tag & kBannedBit) != 0;
  return d;
}

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::atomic<unsigned> next_stripe{0};
thread_local unsigned my_stripe = ~0u;  // constant-initialised: no TLS guard on access

}  // namespace

std::unique_ptr<Table> Table::create(const Limit& limit, const TableConfig& config,
                                     const HashSeed& seed) {
  if (config.capacity == 0) return nullptr;
  // Only a limit make_limit would produce: the overflow bounds rely on it.
  const std::optional<Limit> valid =
      make_limit(RateSpec{1, limit.emission_interval, limit.burst == 0 ? 1 : limit.burst});
  if (limit.burst == 0 || !valid || *valid != limit) return nullptr;
  const std::uint64_t count =
      config.capacity / kSlotsPerBucket + (config.capacity % kSlotsPerBucket != 0 ? 1 : 0);
  const long page_size = sysconf(_SC_PAGESIZE);
  const std::size_t page = page_size > 0 ? static_cast<std::size_t>(page_size) : 4096;
  if (count > (SIZE_MAX - page) / sizeof(Bucket)) return nullptr;
  const std::size_t bytes = (count * sizeof(Bucket) + page - 1) / page * page;
  // Anonymous pages: zeroed, page aligned, and eligible for transparent huge pages, which spare a
  // TLB miss per decision on a large table (each decision touches one random bucket).
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  if (bytes >= kHugePage) madvise(mem, bytes, MADV_HUGEPAGE);  // a hint; failure is harmless
  // Constructing every bucket writes all of the memory: it is resident from the start.
  Bucket* buckets = static_cast<Bucket*>(mem);
  for (std::uint64_t i = 0; i < count; ++i) new (&buckets[i]) Bucket();
  Table* t = new (std::nothrow) Table(limit, config, seed, buckets, count, bytes);
  if (t == nullptr) munmap(mem, bytes);
  return std::unique_ptr<Table>(t);
}

Table::Table(const Limit& limit, const TableConfig& config, const HashSeed& seed, Bucket* buckets,
             std::uint64_t bucket_count, std::size_t mapped_bytes)
    : limit_(limit),
      policy_(config.full_policy),
      seed_(seed),
      buckets_(buckets),
      bucket_count_(bucket_count),
      mapped_bytes_(mapped_bytes) {}

Table::~Table() {
  munmap(buckets_, mapped_bytes_);
}  // Bucket is trivially destructible

CounterStripe& Table::stripe() const {
  if (my_stripe == ~0u) {
    my_stripe = next_stripe.fetch_add(1, std::memory_order_relaxed) % kCounterStripes;
  }
  return stripes_[my_stripe];
}

Ticket Table::place(const Key& key) const {
  const KeyHash h = hash_key(seed_, key);
  // Multiply-shift maps h0 onto [0, bucket_count) without a division or a power-of-two size.
  const auto index =
      static_cast<std::uint64_t>((static_cast<unsigned __int128>(h.h0) * bucket_count_) >> 64);
  std::uint64_t tag = h.h1 & ~kBannedBit;
  if (tag == 0) tag = 2;
  return Ticket{&buckets_[index], tag, key};
}

Ticket Table::locate(const Key& key) const {
  const Ticket t = place(key);
  __builtin_prefetch(t.bucket, 1);
  __builtin_prefetch(reinterpret_cast<const char*>(t.bucket) + 64, 1);
  return t;
}

// A slot for a new key, under the bucket's lock: an empty one, else the non-banned, non-limited
// slot with the smallest TAT. An expired slot (TAT <= now) has a smaller TAT than any live one,
// so expired keys go first without a separate pass.
Slot* Table::claim(Bucket& b, Nanos now) {
  CounterStripe& c = stripe();
  Slot* best = nullptr;
  for (Slot& s : b.slots) {
    if (s.tag == 0) {
      bump(c.tracked);
      bump(c.inserts);
      return &s;
    }
    if ((s.tag & kBannedBit) != 0 || gcra_limited(limit_, s.tat, now)) continue;
    if (best == nullptr || s.tat < best->tat) best = &s;
  }
  if (best == nullptr) return nullptr;
  bump(best->tat <= now ? c.evictions_expired : c.evictions_least_limited);
  bump(c.inserts);
  return best;
}

// Every slot of the bucket is protected. `counting` selects add()'s view of the result.
Decision Table::table_full(const Bucket& b, Nanos now, std::uint32_t n, bool counting) {
  bump(stripe().table_full);
  Decision d;
  if (policy_ == FullPolicy::FailOpen) {
    Nanos tat = now;
    d = counting ? gcra_add(limit_, tat, now, n) : gcra_decide(limit_, tat, now, n);
  } else {
    // The earliest moment a limited, non-banned slot stops being protected and can be evicted.
    Nanos wait = kNever;
    for (const Slot& s : b.slots) {
      if ((s.tag & kBannedBit) != 0) continue;
      const Nanos w = gcra_detail::debt(s.tat, now) - limit_.tolerance;
      if (w < wait) wait = w;
    }
    d.retry_after = wait;
    d.reset = wait;
  }
  d.status = Status::TableFull;
  return d;
}

// A change of a key's TAT made under the bucket's lock, reported to the fleet's log after it.
struct Table::Change {
  const Table& t;
  const Ticket& p;
  Nanos now;
  const Nanos& before;
  const Nanos& after;
  ~Change() { t.report(p, now, before, after); }
};

Decision Table::decide(const Ticket& p, Nanos now, std::uint32_t n) {
  bump(stripe().lookups);
  Nanos before = now, after = now;
  const Change change{*this, p, now, before, after};  // declared first: reports once unlocked
  BucketLock guard(*p.bucket);
  if (Slot* s = find(*p.bucket, p.tag)) {
    before = s->tat;
    Decision d = tracked(gcra_decide(limit_, s->tat, now, n), *s);
    after = s->tat;
    return d;
  }
  // Absent is the same as idle: only a cost above the burst (denied) or of 0 needs no slot.
  Nanos tat = now;
  if (n == 0 || n > limit_.burst) return gcra_decide(limit_, tat, now, n);
  Slot* s = claim(*p.bucket, now);
  if (s == nullptr) return table_full(*p.bucket, now, n, false);
  s->tag = p.tag;
  s->tat = now;
  Decision d = gcra_decide(limit_, s->tat, now, n);
  after = s->tat;
  d.status = Status::Tracked;
  return d;
}

Decision Table::peek(const Ticket& p, Nanos now, std::uint32_t n) const {
  bump(stripe().lookups);
  BucketLock guard(*p.bucket);
  if (const Slot* s = find(*p.bucket, p.tag)) {
    return tracked(gcra_peek(limit_, s->tat, now, n), *s);
  }
  return gcra_peek(limit_, now, now, n);
}

Decision Table::add(const Ticket& p, Nanos now, std::uint32_t n) {
  bump(stripe().lookups);
  Nanos before = now, after = now;
  const Change change{*this, p, now, before, after};  // declared first: reports once unlocked
  BucketLock guard(*p.bucket);
  if (Slot* s = find(*p.bucket, p.tag)) {
    before = s->tat;
    Decision d = tracked(gcra_add(limit_, s->tat, now, n), *s);
    after = s->tat;
    return d;
  }
  if (n == 0) return gcra_peek(limit_, now, now, 1);
  Slot* s = claim(*p.bucket, now);
  if (s == nullptr) return table_full(*p.bucket, now, n, true);
  s->tag = p.tag;
  s->tat = now;
  Decision d = gcra_add(limit_, s->tat, now, n);
  after = s->tat;
  d.status = Status::Tracked;
  return d;
}

Decision Table::refund(const Ticket& p, Nanos now, std::uint32_t n) {
  bump(stripe().lookups);
  Nanos before = now, after = now;
  const Change change{*this, p, now, before, after};  // declared first: reports once unlocked
  BucketLock guard(*p.bucket);
  // Looked up by tag under the lock, so the refund and any charge racing with it are ordered,
  // and a slot reused by another key since the charge is never credited.
  if (Slot* s = find(*p.bucket, p.tag)) {
    before = s->tat;
    Decision d = tracked(gcra_refund(limit_, s->tat, now, n), *s);
    after = s->tat;
    return d;
  }
  return gcra_peek(limit_, now, now, 1);
}

Status Table::set_banned(const Key& key, bool banned, Nanos now) {
  const Ticket p = place(key);
  bump(stripe().lookups);
  BucketLock guard(*p.bucket);
  if (Slot* s = find(*p.bucket, p.tag)) {
    s->tag = banned ? (s->tag | kBannedBit) : (s->tag & ~kBannedBit);
    return Status::Tracked;
  }
  if (!banned) return Status::Untracked;
  Slot* s = claim(*p.bucket, now);
  if (s == nullptr) {
    bump(stripe().table_full);
    return Status::TableFull;
  }
  s->tag = p.tag | kBannedBit;
  s->tat = now;
  return Status::Tracked;
}

void Table::share(DeltaLog* log, std::uint64_t fleet_id, Sharing sharing) {
  log_ = log;
  fleet_id_ = fleet_id;
  set_sharing(sharing);
}

void Table::report(const Ticket& p, Nanos now, Nanos tat_before, Nanos tat_after) const {
  if (log_ == nullptr || tat_before == tat_after) return;
  const Sharing s = sharing();
  if (s == Sharing::Local) return;
  const Nanos delta = gcra_detail::debt(tat_after, now) - gcra_detail::debt(tat_before, now);
  if (delta != 0) log_->record(fleet_id_, p.key, delta, s == Sharing::Exact);
}

Slot* Table::slot_for(const Ticket& p, Nanos now, bool claim_new) {
  if (Slot* s = find(*p.bucket, p.tag)) return s;
  if (!claim_new) return nullptr;
  Slot* s = claim(*p.bucket, now);
  if (s == nullptr) return nullptr;
  s->tag = p.tag;
  s->tat = now;
  return s;
}

void Table::set_debt(const Key& key, Nanos now, Nanos debt) {
  const Ticket p = place(key);
  debt = std::clamp<Nanos>(debt, 0, kMaxDebt);
  BucketLock guard(*p.bucket);
  if (Slot* s = slot_for(p, now, debt > 0)) s->tat = now + debt;
}

void Table::add_debt(const Key& key, Nanos now, Nanos extra) {
  if (extra <= 0) return;
  const Ticket p = place(key);
  BucketLock guard(*p.bucket);
  if (Slot* s = slot_for(p, now, true)) {
    const Nanos d = gcra_detail::debt(s->tat, now);
    s->tat = now + (extra > kMaxDebt - d ? kMaxDebt : d + extra);
  }
}

void Table::raise_debt(const Key& key, Nanos now, Nanos debt) {
  if (debt <= 0) return;
  const Ticket p = place(key);
  debt = std::min(debt, kMaxDebt);
  BucketLock guard(*p.bucket);
  if (Slot* s = slot_for(p, now, true)) s->tat = std::max(s->tat, now + debt);
}

TableStats Table::stats() const {
  TableStats out;
  out.capacity = capacity();
  for (const CounterStripe& c : stripes_) {
    out.lookups += c.lookups.load(std::memory_order_relaxed);
    out.inserts += c.inserts.load(std::memory_order_relaxed);
    out.evictions_expired += c.evictions_expired.load(std::memory_order_relaxed);
    out.evictions_least_limited += c.evictions_least_limited.load(std::memory_order_relaxed);
    out.table_full += c.table_full.load(std::memory_order_relaxed);
    out.tracked += c.tracked.load(std::memory_order_relaxed);
  }
  return out;
}

std::uint64_t Table::count_occupied() const {
  std::uint64_t n = 0;
  for (std::uint64_t i = 0; i < bucket_count_; ++i) {
    BucketLock guard(buckets_[i]);
    for (const Slot& s : buckets_[i].slots) n += s.tag != 0 ? 1 : 0;
  }
  return n;
}

}  // namespace gh::ratelimit
