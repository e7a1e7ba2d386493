// Revoked device tokens, without a per-token store: an account's tokens issued before a time
// (a per-account epoch, "log out everywhere") and single devices until their token would have
// expired. Bounded; persisted by the caller (admin thread) as text lines, read back at start.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "stages/challenge/token-t.h"

namespace gh::residents {

class Revocations {
 public:
  // `lifetime_ms`: the longest a device token lives; an account revocation older than that
  // refuses nothing any more and may go when room is needed.
  explicit Revocations(std::size_t capacity = 100'000,
                       std::int64_t lifetime_ms = 400LL * 86'400'000);

  void set_lifetime(std::int64_t lifetime_ms) { lifetime_ms_ = lifetime_ms; }

  enum class Result : std::uint8_t { Ok, Full };
  // Tokens of the account (account_hash) issued before `before_ms` are refused.
  Result revoke_account(std::uint64_t account_hash, std::int64_t before_ms, std::int64_t now_ms);
  // The device's token is refused until `until_ms` (its expiry, after which it is refused anyway).
  Result revoke_device(const challenge::TokenId& id, std::int64_t until_ms, std::int64_t now_ms);

  // Cheap when nothing was ever revoked (the usual case): one relaxed load.
  bool revoked(const challenge::Token& device_token) const;

  std::size_t accounts() const;
  std::size_t devices() const;

  // Text form, one revocation a line: "account <16 hex> <before_ms>" / "device <32 hex>
  // <until_ms>". apply() takes one line (false: not a revocation line).
  static std::string line_for_account(std::uint64_t account_hash, std::int64_t before_ms);
  static std::string line_for_device(const challenge::TokenId& id, std::int64_t until_ms);
  bool apply(const std::string& line, std::int64_t now_ms);
  // Every live revocation as lines (compaction).
  std::vector<std::string> lines(std::int64_t now_ms) const;

 private:
  struct IdHash {
    std::size_t operator()(const challenge::TokenId& id) const;
  };
  void purge(std::int64_t now_ms);

  std::size_t capacity_;
  std::int64_t lifetime_ms_;
  std::atomic<bool> any_{false};
  mutable std::shared_mutex mu_;
  std::unordered_map<std::uint64_t, std::int64_t> accounts_;
  std::unordered_map<challenge::TokenId, std::int64_t, IdHash> devices_;
};

}  // namespace gh::residents
