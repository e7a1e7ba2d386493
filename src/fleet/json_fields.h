// Readers of one field of a JSON object that another node wrote (through Redis, so untrusted):
// each refuses a field of the wrong type or out of bounds, and a missing one unless it is
// optional. The decoders of messages.h and nodes.h are built of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fleet/messages.h"

namespace gh::fleet {

// A string of at most `max` bytes; a missing one passes, `out` unchanged, when not `required`.
inline bool text_field(const nlohmann::json& j, const char* key, std::string& out,
                       bool required = true, std::size_t max = kMaxText) {
  auto it = j.find(key);
  if (it == j.end()) return !required;
  if (!it->is_string()) return false;
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) return false;
  out = s;
  return true;
}

// An integer in [lo, hi] (an unsigned one above hi is refused before it is narrowed).
inline bool int_field(const nlohmann::json& j, const char* key, std::int64_t lo, std::int64_t hi,
                      std::int64_t& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return false;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
    return false;
  }
  const std::int64_t v = it->get<std::int64_t>();
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

}  // namespace gh::fleet
