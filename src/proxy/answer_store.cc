#include "proxy/answer_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace gh::proxy {

stages::Answer AnswerStore::Stored::view() const {
  stages::Answer a;
  a.status = status;
  a.content_type = content_type;
  a.body = body;
  a.detail = detail;
  a.fields = fields;
  a.retry_after_s = retry_after_s;
  return a;
}

AnswerStore::AnswerStore(std::size_t capacity, std::int64_t ttl_ms)
    : capacity_(capacity == 0 ? 1 : capacity), ttl_ms_(ttl_ms) {
  // Ids must not be guessable: another client could fetch someone's page (and its cookies).
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&salt_), sizeof salt_) != 1) salt_ = 0;
}

std::string AnswerStore::put(const stages::Answer& a, std::int64_t now_ms) {
  std::uint64_t r = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r) != 1) r = salt_ ^ (next_ * 0x9e37);
  char id[64];
  const int n = std::snprintf(id, sizeof id, "%u-%u-%016llx", static_cast<unsigned>(a.status),
                              a.retry_after_s, static_cast<unsigned long long>(r ^ next_));
  std::string key(id, static_cast<std::size_t>(n));
  Entry e;
  e.answer.status = a.status;
  e.answer.content_type = a.content_type;
  e.answer.body = a.body;
  e.answer.detail = a.detail;
  e.answer.fields = a.fields;
  e.answer.retry_after_s = a.retry_after_s;
  e.expires_ms = now_ms + ttl_ms_;
  std::lock_guard lock(mu_);
  ++next_;
  evict(now_ms);
  // Taken answers leave their place in order_ behind; it is bounded too.
  while ((entries_.size() >= capacity_ || order_.size() >= 2 * capacity_) && !order_.empty()) {
    entries_.erase(order_.front().second);
    order_.pop_front();
  }
  order_.emplace_back(e.expires_ms, key);
  entries_.insert_or_assign(key, std::move(e));
  return key;
}

std::optional<AnswerStore::Stored> AnswerStore::take(std::string_view id, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  evict(now_ms);
  auto it = entries_.find(std::string(id));
  if (it == entries_.end()) return std::nullopt;
  Stored s = std::move(it->second.answer);
  entries_.erase(it);  // its order_ entry goes when it comes up: erase of a gone id is a no-op
  return s;
}

stages::Answer AnswerStore::fallback(std::string_view id) {
  unsigned status = 403;
  unsigned retry = 0;
  const std::size_t dash = id.find('-');
  if (dash != std::string_view::npos) {
    std::from_chars(id.data(), id.data() + dash, status);
    const std::size_t dash2 = id.find('-', dash + 1);
    if (dash2 != std::string_view::npos) {
      std::from_chars(id.data() + dash + 1, id.data() + dash2, retry);
    }
  }
  if (status < 400 || status > 599) status = 403;
  return stages::refusal(static_cast<std::uint16_t>(status), "refused; try again",
                         std::min(retry, 86'400u));
}

std::size_t AnswerStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void AnswerStore::evict(std::int64_t now_ms) {
  while (!order_.empty() && order_.front().first <= now_ms) {
    entries_.erase(order_.front().second);
    order_.pop_front();
  }
}

}  // namespace gh::proxy
