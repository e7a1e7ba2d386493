// A Redis reply as the fleet reads it: hiredis's reply copied into values we own, bounded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gh::fleet {

struct Reply {
  enum class Type : std::uint8_t { Nil, Status, Error, Integer, String, Array };
  Type type = Type::Nil;
  long long integer = 0;
  std::string str;  // Status, Error, String
  std::vector<Reply> elements;

  bool is_string() const { return type == Type::String || type == Type::Status; }
};

}  // namespace gh::fleet
