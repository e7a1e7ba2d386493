#include "stages/lists/bans.h"

#include <sched.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "client/address.h"

namespace gh::lists {
namespace {

static_assert(std::is_trivially_copyable_v<BanInfo>);
constexpr std::size_t kRecordWords = (sizeof(BanInfo) + 7) / 8;
// An index slot: 4 words. meta = record id << 8 | (128-bit length + 1); 0 marks an empty slot.
constexpr std::size_t kSlotWords = 4;
constexpr std::size_t kHi = 0;
constexpr std::size_t kLo = 1;
constexpr std::size_t kMeta = 2;
constexpr std::size_t kExpiry = 3;

// Every access to the shared words is atomic, so a torn read is defined behaviour that the
// seqlock then discards. Stores release and loads acquire (plain moves on x86) instead of
// fences around relaxed accesses: if a reader sees any word of a write, its re-check of the
// sequence sees that write's odd value. Fences would do the same, but TSan cannot see them.
inline std::uint64_t ld(const std::uint64_t& w) noexcept {
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(w))
      .load(std::memory_order_acquire);
}

inline void st(std::uint64_t& w, std::uint64_t v) noexcept {
  std::atomic_ref<std::uint64_t>(w).store(v, std::memory_order_release);
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

Seconds add_sat(Seconds a, Seconds b) {
  Seconds r = 0;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? kForever : std::numeric_limits<Seconds>::min();
  return r;
}

// `t` lies more than `window` before `now`.
bool older_than(Seconds t, Seconds now, Seconds window) {
  Seconds cut = 0;
  if (__builtin_sub_overflow(now, window, &cut)) return false;
  return t < cut;
}

// min(base << level, max), without overflow; base > 0, max >= base.
Seconds scaled(Seconds base, unsigned level, Seconds max) {
  if (level >= 63 || base > (max >> level)) return max;
  return base << level;
}

Seconds end_of(const BanInfo& b) {
  return b.expiry == kForever ? b.start : b.expiry;
}

BanInfo key_only(const client::Cidr& key) {
  BanInfo b;
  b.key = key;
  return b;
}

}  // namespace

std::size_t BanTable::KeyHash::operator()(const Key& k) const noexcept {
  // Seeded per process: ban keys are client addresses, chosen by the attacker.
  return client::hash_key(client::IpKey{k.hi, k.lo ^ (std::uint64_t{k.len} * 0x9E3779B97F4A7C15u)});
}

std::unique_ptr<BanTable> BanTable::create(const BansConfig& config) {
  if (config.capacity == 0 || config.capacity > (std::size_t{1} << 26)) return nullptr;
  std::size_t slots = 16;
  while (slots < 2 * config.capacity) slots *= 2;  // load factor <= 1/2: short probes
  return std::unique_ptr<BanTable>(new BanTable(config, slots));
}

BanTable::BanTable(const BansConfig& config, std::size_t slots)
    : index_(slots * kSlotWords),
      records_(config.capacity * kRecordWords),
      mask_(slots - 1),
      capacity_(config.capacity),
      window_(config.escalation_window < 0 ? 0 : config.escalation_window),
      history_capacity_(config.history_capacity != 0 ? config.history_capacity
                                                     : 4 * config.capacity) {
  free_.reserve(capacity_);
  for (std::size_t i = capacity_; i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
}

BanTable::~BanTable() = default;

BanTable::Key BanTable::key_of(const Prefix128& p) {
  return Key{static_cast<std::uint64_t>(p.start >> 64), static_cast<std::uint64_t>(p.start), p.len};
}

std::size_t BanTable::home(const Key& k) const noexcept {
  return KeyHash{}(k)&mask_;
}

void BanTable::write_begin() noexcept {
  // Every store of the window is a release: none can become visible before this odd value.
  seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void BanTable::write_end() noexcept {
  seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

std::optional<BanInfo> BanTable::is_banned(const client::IpAddress& ip,
                                           Seconds now) const noexcept {
  const u128 x = to_u128(ip);
  const std::atomic<std::uint64_t>* bits = is_mapped(x) ? bits_v4_ : bits_v6_;
  const std::uint64_t* index = index_.data();
  std::uint64_t words[kRecordWords];
  for (unsigned spins = 0;; ++spins) {
    const std::uint64_t s1 = seq_.load(std::memory_order_acquire);
    if ((s1 & 1) != 0) {
      // A writer is inside its window (a few hundred ns unless preempted: then let it run).
      if (spins < 64) {
        cpu_relax();
      } else {
        sched_yield();
      }
      continue;
    }
    std::uint64_t best = 0;  // meta of the best match so far
    Seconds best_expiry = now;
    for (int w = 2; w >= 0; --w) {
      std::uint64_t b = bits[w].load(std::memory_order_acquire);
      while (b != 0) {  // lengths in use, longest first
        const int bit = 63 - __builtin_clzll(b);
        b &= ~(std::uint64_t{1} << bit);
        const unsigned len = static_cast<unsigned>(w) * 64 + static_cast<unsigned>(bit);
        const u128 p = x & ~host_mask(len);
        const Key k{static_cast<std::uint64_t>(p >> 64), static_cast<std::uint64_t>(p),
                    static_cast<std::uint8_t>(len)};
        std::size_t i = home(k);
        for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
          const std::uint64_t* s = index + i * kSlotWords;
          const std::uint64_t meta = ld(s[kMeta]);
          if (meta == 0) break;
          if ((meta & 0xff) == len + 1 && ld(s[kHi]) == k.hi && ld(s[kLo]) == k.lo) {
            const auto e = static_cast<Seconds>(ld(s[kExpiry]));
            if (e > best_expiry) {
              best_expiry = e;
              best = meta;
            }
            break;
          }
        }
      }
    }
    const std::uint64_t rec = best >> 8;
    if (best != 0 && rec < capacity_) {
      const std::uint64_t* r = records_.data() + rec * kRecordWords;
      for (std::size_t j = 0; j < kRecordWords; ++j) words[j] = ld(r[j]);
    }
    if (seq_.load(std::memory_order_relaxed) != s1) continue;  // loads above acquire: not hoisted
    if (best == 0) return std::nullopt;
    BanInfo info;
    std::memcpy(&info, words, sizeof info);
    return info;
  }
}

std::optional<std::size_t> BanTable::find_slot(const Key& k) const {
  const std::uint64_t* index = index_.data();
  std::size_t i = home(k);
  for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
    const std::uint64_t* s = index + i * kSlotWords;
    const std::uint64_t meta = ld(s[kMeta]);
    if (meta == 0) return std::nullopt;
    if ((meta & 0xff) == k.len + 1u && ld(s[kHi]) == k.hi && ld(s[kLo]) == k.lo) return i;
  }
  return std::nullopt;
}

BanInfo BanTable::read_record(std::uint64_t rec) const {
  std::uint64_t words[kRecordWords];
  const std::uint64_t* r = records_.data() + rec * kRecordWords;
  for (std::size_t j = 0; j < kRecordWords; ++j) words[j] = ld(r[j]);
  BanInfo info;
  std::memcpy(&info, words, sizeof info);
  return info;
}

void BanTable::write_record(std::uint64_t rec, const BanInfo& info) {
  std::uint64_t words[kRecordWords] = {};
  std::memcpy(words, &info, sizeof info);
  std::uint64_t* r = records_.data() + rec * kRecordWords;
  for (std::size_t j = 0; j < kRecordWords; ++j) st(r[j], words[j]);
}

void BanTable::count_length(const Key& k, int delta) {
  const u128 start = u128{k.hi} << 64 | k.lo;
  // IPv4 addresses can hit IPv4 prefixes and the IPv6 prefixes that cover ::ffff:0:0/96 (::/0);
  // IPv6 addresses anything but IPv4 prefixes.
  const bool v4_prefix = k.len >= 96 && is_mapped(start);
  const bool covers_v4 = k.len < 96 && (kMappedStart & ~host_mask(k.len)) == start;
  auto update = [&](std::uint32_t* counts, std::atomic<std::uint64_t>* bits) {
    const std::uint32_t before = counts[k.len];
    counts[k.len] = static_cast<std::uint32_t>(static_cast<int>(before) + delta);
    if ((before == 0) != (counts[k.len] == 0)) {
      std::atomic<std::uint64_t>& word = bits[k.len / 64];
      word.store(word.load(std::memory_order_relaxed) ^ (std::uint64_t{1} << (k.len % 64)),
                 std::memory_order_release);
    }
  };
  if (v4_prefix || covers_v4) update(count_v4_, bits_v4_);
  if (!v4_prefix) update(count_v6_, bits_v6_);
}

void BanTable::remove_slot(std::size_t slot) {
  std::uint64_t* index = index_.data();
  std::uint64_t* s = index + slot * kSlotWords;
  const std::uint64_t meta = ld(s[kMeta]);
  const auto rec = static_cast<std::uint32_t>(meta >> 8);
  const auto expiry = static_cast<Seconds>(ld(s[kExpiry]));
  const Key k{ld(s[kHi]), ld(s[kLo]), static_cast<std::uint8_t>((meta & 0xff) - 1)};
  const BanInfo info = read_record(rec);
  write_begin();
  // Backward-shift deletion: later members of the probe run move up into the hole when their
  // home allows, so that no tombstones are needed and probes stop at the first empty slot.
  std::size_t hole = slot;
  for (std::size_t j = (slot + 1) & mask_;; j = (j + 1) & mask_) {
    std::uint64_t* sj = index + j * kSlotWords;
    const std::uint64_t mj = ld(sj[kMeta]);
    if (mj == 0) break;
    const Key kj{ld(sj[kHi]), ld(sj[kLo]), static_cast<std::uint8_t>((mj & 0xff) - 1)};
    if (((j - home(kj)) & mask_) >= ((j - hole) & mask_)) {
      std::uint64_t* sh = index + hole * kSlotWords;
      for (std::size_t w = 0; w < kSlotWords; ++w) st(sh[w], ld(sj[w]));
      hole = j;
    }
  }
  std::uint64_t* sh = index + hole * kSlotWords;
  for (std::size_t w = 0; w < kSlotWords; ++w) st(sh[w], 0);
  count_length(k, -1);
  write_end();
  free_.push_back(rec);
  by_expiry_.erase({expiry, rec});
  live_bytes_ -= encoded_size(JournalRecord{RecordType::Ban, info});
}

void BanTable::store(const Key& k, const BanInfo& info, Seconds now, bool journal) {
  std::optional<std::size_t> slot = find_slot(k);
  if (!slot) make_room(now, journal);
  if (journal) this->journal(RecordType::Ban, info);
  std::uint64_t* index = index_.data();
  const std::size_t added = encoded_size(JournalRecord{RecordType::Ban, info});
  if (slot) {
    std::uint64_t* s = index + *slot * kSlotWords;
    const auto rec = static_cast<std::uint32_t>(ld(s[kMeta]) >> 8);
    const auto old_expiry = static_cast<Seconds>(ld(s[kExpiry]));
    live_bytes_ -= encoded_size(JournalRecord{RecordType::Ban, read_record(rec)});
    write_begin();
    write_record(rec, info);
    st(s[kExpiry], static_cast<std::uint64_t>(info.expiry));
    write_end();
    by_expiry_.erase({old_expiry, rec});
    by_expiry_.insert({info.expiry, rec});
  } else {
    const std::uint32_t rec = free_.back();
    free_.pop_back();
    std::size_t i = home(k);
    while (ld(index[i * kSlotWords + kMeta]) != 0) i = (i + 1) & mask_;
    std::uint64_t* s = index + i * kSlotWords;
    write_begin();
    write_record(rec, info);
    st(s[kHi], k.hi);
    st(s[kLo], k.lo);
    st(s[kExpiry], static_cast<std::uint64_t>(info.expiry));
    st(s[kMeta], std::uint64_t{rec} << 8 | (k.len + 1u));
    count_length(k, +1);
    write_end();
    by_expiry_.insert({info.expiry, rec});
  }
  live_bytes_ += added;
}

void BanTable::make_room(Seconds now, bool journal) {
  if (!free_.empty()) return;
  expire_locked(now);
  if (!free_.empty()) return;
  const BanInfo victim = read_record(by_expiry_.begin()->second);
  const Key k = key_of(*to_prefix128(victim.key));
  if (journal) this->journal(RecordType::Unban, key_only(victim.key));
  remove_slot(*find_slot(k));
  counters_.evicted_full.fetch_add(1, std::memory_order_relaxed);
}

std::size_t BanTable::expire_locked(Seconds now) {
  last_now_ = std::max(last_now_, now);
  std::size_t n = 0;
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    const BanInfo b = read_record(by_expiry_.begin()->second);
    remove_slot(*find_slot(key_of(*to_prefix128(b.key))));
    ++n;
  }
  while (!history_order_.empty() && older_than(history_order_.begin()->first, now, window_)) {
    history_.erase(history_order_.begin()->second);
    history_order_.erase(history_order_.begin());
  }
  counters_.expired.fetch_add(n, std::memory_order_relaxed);
  return n;
}

std::uint32_t BanTable::chain_length(const Key& k, Seconds now) const {
  const auto it = history_.find(k);
  if (it == history_.end() || older_than(it->second.last, now, window_)) return 0;
  return it->second.count;
}

void BanTable::remember(const Key& k, std::uint32_t count, Seconds last, Seconds now) {
  if (older_than(last, now, window_)) return;
  auto it = history_.find(k);
  if (it != history_.end()) {
    history_order_.erase({it->second.last, k});
    it->second = History{count, last};
  } else {
    if (history_.size() >= history_capacity_) {
      history_.erase(history_order_.begin()->second);
      history_order_.erase(history_order_.begin());
      counters_.history_evicted.fetch_add(1, std::memory_order_relaxed);
    }
    history_.emplace(k, History{count, last});
  }
  history_order_.insert({last, k});
}

void BanTable::forget(const Key& k) {
  const auto it = history_.find(k);
  if (it == history_.end()) return;
  history_order_.erase({it->second.last, k});
  history_.erase(it);
}

void BanTable::journal(RecordType type, const BanInfo& info) {
  if (!journal_) return;
  if (journal_->append(JournalRecord{type, info})) {
    counters_.journal_records.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters_.journal_errors.fetch_add(1, std::memory_order_relaxed);
  }
}

std::optional<Seconds> BanTable::ban(const client::Cidr& key, BanDuration duration,
                                     std::string_view reason, std::string_view source,
                                     Seconds now) {
  const auto p = to_prefix128(key);
  if (!p || duration.base <= 0) return std::nullopt;
  std::lock_guard lock(mu_);
  last_now_ = std::max(last_now_, now);
  const Key k = key_of(*p);
  const Seconds max = duration.max < duration.base ? duration.base : duration.max;
  BanInfo info;
  info.key = to_cidr(*p);
  info.reason = ShortText<kReasonMax>::from(reason);
  info.source = ShortText<kSourceMax>::from(source);
  std::optional<BanInfo> old;
  if (const auto slot = find_slot(k)) {
    old = read_record(ld(index_[*slot * kSlotWords + kMeta]) >> 8);
    if (old->expiry <= now) old.reset();
  }
  std::uint32_t count = 0;
  if (old) {
    // Still banned: it could not offend again through this ban, so no escalation.
    info.level = old->level;
    info.start = old->start;
    info.expiry = std::max(old->expiry, add_sat(now, scaled(duration.base, info.level, max)));
    count = std::max<std::uint32_t>(chain_length(k, now), info.level + 1u);
  } else {
    const std::uint32_t chain = chain_length(k, now);
    info.level = static_cast<std::uint8_t>(std::min<std::uint32_t>(chain, 255));
    info.start = now;
    info.expiry = add_sat(now, scaled(duration.base, info.level, max));
    count = chain + 1;
  }
  if (info.expiry <= info.start) return std::nullopt;  // `now` at the end of time
  store(k, info, now, true);
  remember(k, count, end_of(info), now);
  counters_.bans.fetch_add(1, std::memory_order_relaxed);
  maybe_compact(now);
  if (observer_) observer_(info, true);
  return info.expiry;
}

void BanTable::set_observer(Observer fn) {
  std::lock_guard lock(mu_);
  observer_ = std::move(fn);
}

bool BanTable::unban(const client::Cidr& key, bool forget_history) {
  const auto p = to_prefix128(key);
  if (!p) return false;
  std::lock_guard lock(mu_);
  const Key k = key_of(*p);
  const auto slot = find_slot(k);
  const bool had_history = history_.count(k) != 0;
  if (slot || (forget_history && had_history)) {
    journal(forget_history ? RecordType::Forget : RecordType::Unban, key_only(to_cidr(*p)));
  }
  if (slot) {
    remove_slot(*slot);
    counters_.unbans.fetch_add(1, std::memory_order_relaxed);
    if (observer_) observer_(key_only(to_cidr(*p)), false);
  }
  if (forget_history) forget(k);
  maybe_compact(last_now_);
  return slot.has_value();
}

std::optional<BanInfo> BanTable::find(const client::Cidr& key, Seconds now) const {
  const auto p = to_prefix128(key);
  if (!p) return std::nullopt;
  std::lock_guard lock(mu_);
  const auto slot = find_slot(key_of(*p));
  if (!slot) return std::nullopt;
  BanInfo info = read_record(ld(index_[*slot * kSlotWords + kMeta]) >> 8);
  if (info.expiry <= now) return std::nullopt;
  return info;
}

bool BanTable::import(const BanInfo& ban, Seconds now) {
  const auto p = to_prefix128(ban.key);
  if (!p || ban.expiry <= now || ban.expiry <= ban.start) return false;
  std::lock_guard lock(mu_);
  last_now_ = std::max(last_now_, now);
  const Key k = key_of(*p);
  BanInfo info = ban;
  info.key = to_cidr(*p);
  if (const auto slot = find_slot(k)) {
    // As ban() does for a key still banned: the later expiry holds, so nodes converge whatever
    // order the news arrives in.
    const BanInfo held = read_record(ld(index_[*slot * kSlotWords + kMeta]) >> 8);
    if (held == info || (held.expiry > now && held.expiry >= info.expiry)) return false;
  }
  store(k, info, now, true);
  remember(k, info.level + 1u, end_of(info), now);
  counters_.bans.fetch_add(1, std::memory_order_relaxed);
  maybe_compact(now);
  return true;
}

std::vector<BanInfo> BanTable::list(Seconds now) const {
  std::lock_guard lock(mu_);
  std::vector<BanInfo> out;
  for (auto it = by_expiry_.upper_bound({now, UINT32_MAX}); it != by_expiry_.end(); ++it) {
    out.push_back(read_record(it->second));
  }
  return out;
}

std::size_t BanTable::expire(Seconds now) {
  std::lock_guard lock(mu_);
  const std::size_t n = expire_locked(now);
  maybe_compact(now);
  return n;
}

std::uint8_t BanTable::next_level(const client::Cidr& key, Seconds now) const {
  const auto p = to_prefix128(key);
  if (!p) return 0;
  std::lock_guard lock(mu_);
  return static_cast<std::uint8_t>(std::min<std::uint32_t>(chain_length(key_of(*p), now), 255));
}

BanStats BanTable::stats() const {
  std::lock_guard lock(mu_);
  BanStats s;
  s.live = live_locked();
  s.capacity = capacity_;
  s.bans = counters_.bans.load(std::memory_order_relaxed);
  s.unbans = counters_.unbans.load(std::memory_order_relaxed);
  s.expired = counters_.expired.load(std::memory_order_relaxed);
  s.evicted_full = counters_.evicted_full.load(std::memory_order_relaxed);
  s.history = history_.size();
  s.history_evicted = counters_.history_evicted.load(std::memory_order_relaxed);
  s.journal_records = counters_.journal_records.load(std::memory_order_relaxed);
  s.journal_errors = counters_.journal_errors.load(std::memory_order_relaxed);
  s.journal_bytes = journal_ ? journal_->bytes() : 0;
  s.compactions = counters_.compactions.load(std::memory_order_relaxed);
  return s;
}

std::size_t BanTable::memory_bytes() const noexcept {
  return sizeof(*this) + index_.memory_bytes() + records_.memory_bytes() +
         free_.capacity() * sizeof(std::uint32_t);
}

void BanTable::apply_locked(const JournalRecord& r, Seconds now, std::uint64_t* skipped_expired) {
  const auto p = to_prefix128(r.ban.key);
  if (!p) return;
  const Key k = key_of(*p);
  const auto slot = find_slot(k);
  switch (r.type) {
    case RecordType::Ban:
      if (r.ban.expiry <= now || r.ban.expiry <= r.ban.start) {
        if (slot) remove_slot(*slot);  // the latest word on this key: over
        if (skipped_expired != nullptr) ++*skipped_expired;
      } else {
        BanInfo info = r.ban;
        info.key = to_cidr(*p);
        store(k, info, now, false);
      }
      remember(k, r.ban.level + 1u, end_of(r.ban), now);
      break;
    case RecordType::Unban:
    case RecordType::Forget:
      if (slot) remove_slot(*slot);
      if (r.type == RecordType::Forget) forget(k);
      break;
    case RecordType::History:
      if (r.ban.level > 0) remember(k, r.ban.level, r.ban.start, now);
      break;
  }
}

void BanTable::apply(const JournalRecord& record, Seconds now) {
  std::lock_guard lock(mu_);
  apply_locked(record, now, nullptr);
}

std::vector<JournalRecord> BanTable::records_locked(Seconds now) const {
  std::vector<JournalRecord> out;
  out.reserve(live_locked() + history_.size());
  for (auto it = by_expiry_.upper_bound({now, UINT32_MAX}); it != by_expiry_.end(); ++it) {
    out.push_back(JournalRecord{RecordType::Ban, read_record(it->second)});
  }
  for (const auto& [last, k] : history_order_) {
    if (older_than(last, now, window_)) continue;  // replay would drop it
    const auto slot = find_slot(k);
    if (slot && static_cast<Seconds>(ld(index_[*slot * kSlotWords + kExpiry])) > now) continue;
    const History& h = history_.at(k);
    JournalRecord r{RecordType::History,
                    key_only(to_cidr(Prefix128{u128{k.hi} << 64 | k.lo, k.len}))};
    r.ban.start = last;
    r.ban.level = static_cast<std::uint8_t>(std::min<std::uint32_t>(h.count, 255));
    if (r.ban.level > 0) out.push_back(r);
  }
  return out;
}

std::vector<JournalRecord> BanTable::records(Seconds now) const {
  std::lock_guard lock(mu_);
  return records_locked(now);
}

bool BanTable::compact_locked(Seconds now) {
  if (!journal_) return false;
  if (!journal_->rewrite(records_locked(now))) {
    counters_.journal_errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  counters_.compactions.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void BanTable::maybe_compact(Seconds now) {
  if (!journal_) return;
  if (journal_->needs_rewrite()) {
    compact_locked(now);
    return;
  }
  const std::uint64_t live =
      kJournalMagic.size() + live_bytes_ + history_.size() * (kRecordHeader + kPayloadMin);
  const std::uint64_t bytes = journal_->bytes();
  if (bytes >= journal_options_.compact_min_bytes &&
      bytes / std::max<std::uint64_t>(journal_options_.compact_factor, 1) > live) {
    compact_locked(now);
  }
}

bool BanTable::compact(Seconds now) {
  std::lock_guard lock(mu_);
  return compact_locked(now);
}

void BanTable::maintain(Seconds now) {
  std::lock_guard lock(mu_);
  expire_locked(now);
  if (journal_) journal_->sync_if_due();
  maybe_compact(now);
}

std::string BanTable::journal_error() const {
  std::lock_guard lock(mu_);
  return journal_ ? journal_->last_error() : std::string();
}

ReplayReport BanTable::open_journal(const std::string& path, const JournalOptions& options,
                                    Seconds now) {
  std::lock_guard lock(mu_);
  journal_.reset();
  const bool had_state = live_locked() > 0 || !history_.empty();
  std::vector<JournalRecord> recs;
  ReplayReport report;
  std::unique_ptr<Journal> j = Journal::open(path, options, recs, report);
  if (!j) return report;
  for (const JournalRecord& r : recs) apply_locked(r, now, &report.skipped_expired);
  journal_ = std::move(j);
  journal_options_ = options;
  if (journal_->needs_rewrite() || had_state) {
    report.rewritten = compact_locked(now);
    if (!report.rewritten) report.warnings.push_back(journal_->last_error());
  } else {
    maybe_compact(now);
  }
  report.bans_live = live_locked();
  return report;
}

}  // namespace gh::lists
