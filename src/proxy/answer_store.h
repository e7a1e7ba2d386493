// Answers a decision service could not hand over in its reply: nginx auth_request turns every
// status but 2xx, 401 and 403 into 500 and drops the body, so the refusal it gets is 403 plus an
// id, and nginx fetches the real answer (status, page, cookies, Retry-After) by that id at once.
// Process-wide (the fetch may land on another worker), bounded, each answer fetched once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "stages/answer-t.h"

namespace gh::proxy {

class AnswerStore {
 public:
  // An answer owning its bytes.
  struct Stored {
    std::uint16_t status = 0;
    std::string content_type;
    std::string body;
    std::string detail;
    std::string fields;
    std::uint32_t retry_after_s = 0;
    stages::Answer view() const;
  };

  // Holds at most `capacity` answers for `ttl_ms` each; beyond, the oldest goes (its fetch then
  // gets the plain refusal its id names).
  AnswerStore(std::size_t capacity, std::int64_t ttl_ms);

  // Keeps `a` and returns its id: "<status>-<retry after>-<16 hex>", so that even an answer no
  // longer held can be told by status.
  std::string put(const stages::Answer& a, std::int64_t now_ms);
  // The answer for `id`, removed; nullopt when unknown, expired or evicted.
  std::optional<Stored> take(std::string_view id, std::int64_t now_ms);
  // What an id names when its answer is gone: a plain refusal of its status.
  static stages::Answer fallback(std::string_view id);

  std::size_t size() const;

 private:
  struct Entry {
    Stored answer;
    std::int64_t expires_ms = 0;
  };
  void evict(std::int64_t now_ms);

  mutable std::mutex mu_;
  std::size_t capacity_;
  std::int64_t ttl_ms_;
  std::uint64_t next_ = 0;
  std::uint64_t salt_ = 0;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<std::int64_t, std::string>> order_;  // (expiry, id), oldest first
};

}  // namespace gh::proxy
