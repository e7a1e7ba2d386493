#include "stages/residents/revocations.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace gh::residents {
namespace {

bool hex_bytes(std::string_view hex, std::uint8_t* out, std::size_t n) {
  if (hex.size() != 2 * n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned v = 0;
    auto r = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (r.ec != std::errc() || r.ptr != hex.data() + 2 * i + 2) return false;
    out[i] = static_cast<std::uint8_t>(v);
  }
  return true;
}

}  // namespace

std::size_t Revocations::IdHash::operator()(const challenge::TokenId& id) const {
  std::uint64_t h = 0;
  std::memcpy(&h, id.data(), sizeof h);  // ids are random: any 8 of their bytes spread well
  return static_cast<std::size_t>(h);
}

Revocations::Revocations(std::size_t capacity, std::int64_t lifetime_ms)
    : capacity_(std::max<std::size_t>(1, capacity)), lifetime_ms_(lifetime_ms) {}

Revocations::Result Revocations::revoke_account(std::uint64_t account_hash, std::int64_t before_ms,
                                                std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  auto it = accounts_.find(account_hash);
  if (it != accounts_.end()) {
    it->second = std::max(it->second, before_ms);
  } else {
    if (accounts_.size() >= capacity_) purge(now_ms);
    if (accounts_.size() >= capacity_) return Result::Full;
    accounts_.emplace(account_hash, before_ms);
  }
  any_.store(true, std::memory_order_release);
  return Result::Ok;
}

Revocations::Result Revocations::revoke_device(const challenge::TokenId& id, std::int64_t until_ms,
                                               std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  if (devices_.size() >= capacity_ && devices_.find(id) == devices_.end()) purge(now_ms);
  if (devices_.size() >= capacity_ && devices_.find(id) == devices_.end()) return Result::Full;
  auto& until = devices_[id];
  until = std::max(until, until_ms);
  any_.store(true, std::memory_order_release);
  return Result::Ok;
}

void Revocations::purge(std::int64_t now_ms) {
  for (auto it = devices_.begin(); it != devices_.end();) {
    it = it->second <= now_ms ? devices_.erase(it) : std::next(it);
  }
  for (auto it = accounts_.begin(); it != accounts_.end();) {
    it = it->second + lifetime_ms_ <= now_ms ? accounts_.erase(it) : std::next(it);
  }
}

bool Revocations::revoked(const challenge::Token& t) const {
  if (!any_.load(std::memory_order_acquire)) return false;
  std::shared_lock lock(mu_);
  if (auto a = accounts_.find(t.subject); a != accounts_.end() && t.issued_ms < a->second) {
    return true;
  }
  return devices_.find(t.id) != devices_.end();
}

std::size_t Revocations::accounts() const {
  std::shared_lock lock(mu_);
  return accounts_.size();
}

std::size_t Revocations::devices() const {
  std::shared_lock lock(mu_);
  return devices_.size();
}

std::string Revocations::line_for_account(std::uint64_t account_hash, std::int64_t before_ms) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "account %016llx %lld",
                static_cast<unsigned long long>(account_hash), static_cast<long long>(before_ms));
  return buf;
}

std::string Revocations::line_for_device(const challenge::TokenId& id, std::int64_t until_ms) {
  std::string out = "device ";
  char b[3];
  for (std::uint8_t v : id) {
    std::snprintf(b, sizeof b, "%02x", v);
    out += b;
  }
  out += ' ';
  out += std::to_string(until_ms);
  return out;
}

bool Revocations::apply(const std::string& line, std::int64_t now_ms) {
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) return false;
  const std::string_view kind(line.data(), sp1);
  const std::string_view key(line.data() + sp1 + 1, sp2 - sp1 - 1);
  std::int64_t when = 0;
  const char* end = line.data() + line.size();
  auto r = std::from_chars(line.data() + sp2 + 1, end, when);
  if (r.ec != std::errc() || r.ptr != end) return false;
  if (kind == "account") {
    std::uint64_t h = 0;
    auto k = std::from_chars(key.data(), key.data() + key.size(), h, 16);
    if (k.ec != std::errc() || k.ptr != key.data() + key.size() || key.size() != 16) return false;
    return revoke_account(h, when, now_ms) == Result::Ok;
  }
  if (kind == "device") {
    challenge::TokenId id{};
    if (!hex_bytes(key, id.data(), id.size())) return false;
    if (when <= now_ms) return true;  // over: nothing to keep
    return revoke_device(id, when, now_ms) == Result::Ok;
  }
  return false;
}

std::vector<std::string> Revocations::lines(std::int64_t now_ms) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [h, before] : accounts_) {
    if (before + lifetime_ms_ > now_ms) out.push_back(line_for_account(h, before));
  }
  for (const auto& [id, until] : devices_) {
    if (until > now_ms) out.push_back(line_for_device(id, until));
  }
  return out;
}

}  // namespace gh::residents
